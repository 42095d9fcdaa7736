use super::*;

#[test]
fn kill_moments_are_spread_over_the_whole_run() {
    let mut rng = Rng(7);
    let d = Duration::from_millis(1000);
    let at = kill_moments(&mut rng, 10, d);
    assert_eq!(at.len(), 10);
    for (i, t) in at.iter().enumerate() {
        let lo = Duration::from_millis(100 * i as u64);
        assert!(
            *t >= lo && *t < lo + Duration::from_millis(100),
            "{i}: {t:?}"
        );
    }
    // Another seed gives other moments.
    let other = kill_moments(&mut Rng(8), 10, d);
    assert_ne!(at, other);
}

#[test]
fn only_fw_cli_gets_a_compat_profile_by_default() {
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        default_compat(&v(&["/x/target/release/fw-cli", "init"])),
        Some(v(&[
            "/x/target/release/fw-cli",
            "init",
            "--profile",
            "compat"
        ]))
    );
    assert_eq!(default_compat(&v(&["bash", "/x/fw-cli"])), None);
    assert_eq!(default_compat(&v(&["/x/init-firewall.sh"])), None);
    assert_eq!(default_compat(&[]), None);
}

#[test]
fn the_report_shows_only_the_parts_that_ran() {
    let report = StressReport {
        implementation: "x".into(),
        parts: vec![Part::Reruns],
        ..StressReport::default()
    };
    let md = report.to_markdown();
    assert!(md.contains("Re-runs: 0 runs"), "{md}");
    assert!(
        md.contains("not run: kills-firewalled, kills-fresh, concurrency, matrix"),
        "{md}"
    );
    for absent in ["| part | runs | killed", "Concurrency:", "Fault matrix:"] {
        assert!(!md.contains(absent), "{absent} in {md}");
    }
}

fn obs(blocked_open: bool, allowed_ok: bool, dns_ok: bool, peer_ok: bool) -> Observed {
    Observed {
        blocked_open,
        allowed_unreachable: (!allowed_ok).then_some(WEB_HOST),
        dns_ok,
        peer_ok,
    }
}

#[test]
fn states_after_a_kill_are_classified() {
    let mut v = Vec::new();
    assert_eq!(
        classify(obs(true, true, true, true), true, &mut v),
        AfterKill::Untouched
    );
    assert_eq!(
        classify(obs(false, true, true, true), false, &mut v),
        AfterKill::Firewalled
    );
    assert_eq!(
        classify(obs(false, false, true, true), false, &mut v),
        AfterKill::SafeClosed
    );
    assert!(v.is_empty(), "{v:?}");
    assert_eq!(
        classify(obs(true, true, true, true), false, &mut v),
        AfterKill::Other
    );
    assert_eq!(v.len(), 1, "{v:?}");
    v.clear();
    assert_eq!(
        classify(obs(false, false, false, true), false, &mut v),
        AfterKill::Other
    );
    assert_eq!(v.len(), 1, "{v:?}");
    v.clear();
    classify(obs(false, true, true, false), true, &mut v);
    assert_eq!(
        v.len(),
        1,
        "a lost peer is a violation even when untouched: {v:?}"
    );
}
