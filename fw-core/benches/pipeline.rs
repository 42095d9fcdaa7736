//! Micro-benchmarks of fw-core's pure pipeline at 1,000, 10,000 and 100,000 allowlist entries
//! (`fixtures::scaled_meta`, whose networks no aggregation can merge): parsing the meta body,
//! aggregating the networks, building the plan, rendering the restore texts; and loading the
//! configuration with 1,000, 10,000 and 100,000 extra domains, from `.cspace.json` and from
//! `CSPACE_FIREWALL_DOMAINS` (validation and de-duplication: a per-entry cost that must stay
//! flat; it was a linear scan per entry once, quadratic in all).
//!
//! `cargo bench -p fw-core --bench pipeline` (the figures are in docs/benchmarks.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fw_core::config::{DOMAINS_VAR, LoadOptions, MetaSource, load};
use fw_core::meta::{MetaRanges, parse_meta};
use fw_core::validate::split_families;
use fw_core::{Config, Inputs, Plan, render};
use fw_testkit::env::FakeEnv;
use fw_testkit::fixtures;
use ipnet::{Ipv4Net, Ipv6Net};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn keys() -> Vec<String> {
    MetaSource::default().keys
}

fn body(n: usize) -> Vec<u8> {
    fixtures::body(&fixtures::scaled_meta(1, n))
}

fn meta(n: usize) -> MetaRanges {
    match parse_meta(&body(n), &keys()) {
        Ok(m) => m,
        Err(e) => panic!("the scaled fixture of {n} does not parse: {e}"),
    }
}

fn inputs(n: usize) -> Inputs {
    Inputs {
        meta: meta(n),
        ..Inputs::default()
    }
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_meta");
    let keys = keys();
    for n in SIZES {
        let b = body(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &b, |bench, b| {
            bench.iter(|| parse_meta(black_box(b), &keys));
        });
    }
    g.finish();
}

fn aggregate(c: &mut Criterion) {
    let mut g = c.benchmark_group("aggregate");
    for n in SIZES {
        let (v4, v6) = split_families(meta(n).nets());
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::from_parameter(n),
            &(v4, v6),
            |bench, (v4, v6)| {
                bench.iter(|| {
                    (
                        Ipv4Net::aggregate(black_box(v4)),
                        Ipv6Net::aggregate(black_box(v6)),
                    )
                });
            },
        );
    }
    g.finish();
}

fn plan(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan");
    let config = Config::defaults(None);
    for n in SIZES {
        let i = inputs(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &i, |bench, i| {
            bench.iter(|| Plan::build(&config, black_box(i)));
        });
    }
    g.finish();
}

fn rendering(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    let config = Config::defaults(None);
    for n in SIZES {
        let p = Plan::build(&config, &inputs(n));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &p, |bench, p| {
            bench.iter(|| render::render(black_box(p)));
        });
    }
    g.finish();
}

fn config_load(c: &mut Criterion) {
    const CSPACE: &str = "/w/.cspace.json";
    let mut g = c.benchmark_group("config_load");
    for n in SIZES {
        let names: Vec<String> = (0..n).map(|i| format!("h{i}.example.com")).collect();
        let json = serde_json::json!({ "firewall": { "domains": names } }).to_string();
        let file_env = FakeEnv::new().with_file(CSPACE, &json);
        let file_opts = LoadOptions {
            cspace_json: Some(CSPACE.into()),
            ..LoadOptions::default()
        };
        let var_env = FakeEnv::new().with_var(DOMAINS_VAR, &names.join(" "));
        let var_opts = LoadOptions::default();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("cspace_json", n), &n, |bench, _| {
            bench.iter(|| load(black_box(&file_env), &file_opts));
        });
        g.bench_with_input(BenchmarkId::new("domains_var", n), &n, |bench, _| {
            bench.iter(|| load(black_box(&var_env), &var_opts));
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = parse, aggregate, plan, rendering, config_load
}
criterion_main!(benches);
