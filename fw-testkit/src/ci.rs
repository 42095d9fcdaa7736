//! The one rule of every privileged test in the workspace.
//!
//! A test that cannot run here (not root, no network namespaces, no Docker engine) prints why
//! and skips on a developer's machine. Under `CI=true` a skip would hide that nothing was
//! tested, so there it is a failure.

/// Whether this run is CI's (`CI=true`), where nothing may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `Ok(true)`: `name` may run. `Ok(false)`: it cannot run here, and why was printed.
/// `Err`: it cannot run and this is CI, so the caller must fail; the text says what and why.
pub fn may_run(why_not: Option<String>, what: &str, name: &str) -> Result<bool, String> {
    match why_not {
        None => Ok(true),
        Some(why) if in_ci() => Err(format!("CI=true but {what} cannot run: {why}")),
        Some(why) => {
            eprintln!("skipped {name}: {why}");
            Ok(false)
        }
    }
}

/// [`may_run`] for a plain `#[test]`: `true` to go on, `false` to return early (the reason
/// printed); under `CI=true` it panics with the reason, failing the test.
pub fn may_run_or_panic(why_not: Option<String>, what: &str, name: &str) -> bool {
    match may_run(why_not, what, name) {
        Ok(go) => go,
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_say_runs() {
        assert_eq!(may_run(None, "x", "t"), Ok(true));
    }

    #[test]
    fn a_reason_skips_or_fails_by_ci() {
        let got = may_run(Some("no root".into()), "the privileged suite", "t");
        if in_ci() {
            let e = got.expect_err("CI=true must fail");
            assert!(
                e.contains("no root") && e.contains("the privileged suite"),
                "{e}"
            );
        } else {
            assert_eq!(got, Ok(false));
        }
    }
}
