#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn summary_is_median_min_max() {
    let s = Summary::of(&[5.0, 1.0, 3.0]).unwrap();
    assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
    let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
    assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
    assert!(Summary::of(&[]).is_none());
    assert!(Summary::of(&[f64::NAN]).is_none());
}

#[test]
fn temporary_sets_are_restored_under_live_names() {
    let text = "create fw-allow-v4-next hash:net family inet hashsize 1024 maxelem 65536\nflush fw-allow-v4-next\nadd fw-allow-v4-next 192.0.2.0/26\ncreate fw-allow-v6-next hash:net family inet6 hashsize 1024 maxelem 65536\n";
    let out = live_set_names(text);
    assert!(!out.contains("-next"), "{out}");
    assert!(out.contains("add fw-allow-v4 192.0.2.0/26\n"), "{out}");
    assert!(
        out.contains("create fw-allow-v6 hash:net family inet6"),
        "{out}"
    );
}

#[test]
fn the_reference_is_left_out_of_large_series() {
    let args = BenchArgs {
        runs: 1,
        fw_cli: None,
        reference: PathBuf::from("x"),
        series: Vec::new(),
        cidrs: vec![1_000, 100_000],
        domains: vec![10, 1_000],
        dns_delay_ms: 50,
        reference_max_cidrs: 1_000,
        reference_max_domains: 100,
        out: PathBuf::from("o"),
        timeout: 10,
    };
    let p = plans(&args);
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "realistic",
            "cidrs-1000",
            "cidrs-100000",
            "domains-10",
            "domains-1000"
        ]
    );
    let has_ref = |i: usize| p[i].contenders.contains(&Contender::Reference);
    assert!(has_ref(0) && has_ref(1) && !has_ref(2) && has_ref(3) && !has_ref(4));
    assert_eq!(p[2].scenario.meta, Meta::Scaled(100_000));
    assert_eq!(p[4].scenario.bench_domains.unwrap().names().len(), 1_000);
}
