#![no_main]
//! Arbitrary bytes into `stead::fuzz::template`, which must never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| stead::fuzz::template(data));
