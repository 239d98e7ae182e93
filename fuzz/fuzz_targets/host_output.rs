#![no_main]
//! Arbitrary bytes into `stead::fuzz::host_output`, which must never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| stead::fuzz::host_output(data));
