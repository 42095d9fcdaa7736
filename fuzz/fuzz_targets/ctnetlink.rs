//! cargo-fuzz target: see fw_testkit::fuzzing::ctnetlink for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fw_testkit::fuzzing::ctnetlink(data));
