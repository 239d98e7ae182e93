#![no_main]
//! Arbitrary bytes into `stead::fuzz::yaml`, which must never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| stead::fuzz::yaml(data));
