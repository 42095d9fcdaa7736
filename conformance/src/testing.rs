//! Helpers for the crate's privileged tests.

use crate::netns::available;

/// Whether privileged tests can run here. Without network namespaces (not root, no iproute2)
/// a test skips with a printed reason, except under `CI=true`, where a silent skip would hide
/// that nothing was tested: there it panics.
pub fn privileged() -> bool {
    match available() {
        Ok(()) => true,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but network namespaces are unavailable: {e:#}")
        }
        Err(e) => {
            eprintln!("skipped: {e:#}");
            false
        }
    }
}
