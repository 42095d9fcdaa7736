//! `fw-conformance bench` end to end, once per series at the smallest sizes (needs root): every
//! contender runs successfully in its sandbox and the outputs (JSON, Markdown, SVG) are written.
//! This proves the benchmark works; it asserts nothing about speed (the figures are in
//! docs/benchmarks.md, from full runs).

#![allow(clippy::unwrap_used)]

use conformance::campaigns::bench::{self, BenchArgs, Contender, SeriesKind};
use netns_tests::{repo_root, workspace_bin};

#[test]
fn bench_runs_every_series_once() {
    if !conformance::testing::privileged() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let args = BenchArgs {
        runs: 1,
        fw_cli: Some(workspace_bin("fw-cli").unwrap()),
        reference: repo_root().join("scripts/init-firewall.sh"),
        series: Vec::new(),
        cidrs: vec![1_000],
        domains: vec![10],
        dns_delay_ms: 50,
        reference_max_cidrs: 1_000,
        reference_max_domains: 10,
        out: out.path().to_owned(),
        timeout: 120,
    };
    let report = bench::run(&args, "bench smoke test").unwrap();
    let names: Vec<&str> = report.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["realistic", "cidrs-1000", "domains-10"]);
    for s in &report.series {
        let want: &[Contender] = match s.kind {
            SeriesKind::Realistic => &[Contender::FwCli, Contender::Reference, Contender::Floor],
            SeriesKind::Cidrs => &[Contender::FwCli, Contender::Floor, Contender::Reference],
            SeriesKind::Domains => &[Contender::FwCli, Contender::Reference],
        };
        let got: Vec<Contender> = s.contenders.iter().map(|c| c.contender).collect();
        assert_eq!(got, want, "{}", s.name);
        for c in &s.contenders {
            assert_eq!(c.samples.len(), 1, "{} {}", s.name, c.label);
            let ms = c.samples[0].ms;
            assert!(ms.is_finite() && ms > 0.0, "{} {}: {ms}", s.name, c.label);
            if c.contender == Contender::FwCli {
                assert!(
                    c.max_rss_kib.is_some_and(|k| k > 0),
                    "{}: no peak RSS",
                    s.name
                );
                for phase in [
                    "apply: sets",
                    "apply: IPv4 rules",
                    "apply: IPv6 rules",
                    "verify",
                    "fetch meta",
                    "resolve names",
                    "total",
                ] {
                    assert!(
                        c.phases_median_ms.contains_key(phase),
                        "{}: fw-cli's timings lack {phase}: {:?}",
                        s.name,
                        c.phases_median_ms
                    );
                }
            } else {
                assert!(c.ratio_to_fw_cli.is_some(), "{} {}", s.name, c.label);
            }
        }
    }
    bench::write_outputs(&report, out.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("bench.json")).unwrap())
            .unwrap();
    assert_eq!(json["series"].as_array().unwrap().len(), 3);
    let md = std::fs::read_to_string(out.path().join("bench.md")).unwrap();
    assert!(
        md.contains("| cidrs-1000 | floor (bare restores) |"),
        "{md}"
    );
    let svg = std::fs::read_to_string(out.path().join("scaling.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("fw-cli init"),
        "{svg}"
    );
}
