//! cargo-fuzz target: see fw_core::fuzzing::ctnetlink for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fw_core::fuzzing::ctnetlink(data));
