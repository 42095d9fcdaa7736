//! Helpers for the crate's privileged tests.

use crate::world::netns::available;

/// Whether privileged tests can run here. Without network namespaces (not root, no iproute2)
/// a test skips with a printed reason, except under `CI=true`, where it fails
/// ([`fw_testkit::ci`]).
pub fn privileged() -> bool {
    fw_testkit::ci::may_run_or_panic(
        available().err().map(|e| format!("{e:#}")),
        "a test that needs network namespaces",
        "this test",
    )
}
