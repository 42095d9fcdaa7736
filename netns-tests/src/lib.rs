//! The conformance suite run against fw-cli, the bash reference and mutants.
