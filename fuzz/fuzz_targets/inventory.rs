#![no_main]
//! Arbitrary bytes into `stead::fuzz::inventory`, which must never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| stead::fuzz::inventory(data));
