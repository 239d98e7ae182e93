#![no_main]
//! Arbitrary bytes into `stead::fuzz::parsers`, which must never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| stead::fuzz::parsers(data));
