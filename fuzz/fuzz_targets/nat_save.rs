//! cargo-fuzz target: see fw_testkit::fuzzing::nat_save for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fw_testkit::fuzzing::nat_save(data));
