//! The conformance suite: sandbox, mocks, case catalog and runner.
