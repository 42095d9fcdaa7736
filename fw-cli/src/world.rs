//! The real [`World`]: resolv.conf, netlink, DNS, the meta fetch and the proofs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use fw_core::config::{Config, MetaSource, VerifyTargets};
use fw_core::inputs::{Resolution, Subnet};
use fw_core::marker::Place;
use fw_core::meta::MetaRanges;
use fw_core::resolv::{Resolvers, parse_resolv_conf};
use fw_core::validate::Domain;

use crate::fetch::{self, FetchOptions};
use crate::http::{self, HttpOptions};
use crate::init::World;
use crate::resolve::{self, ResolveOptions, ResolverSource};
use crate::subnets;
use crate::verify::{self, VerifyOptions};

/// Where the container's resolver configuration lives.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The system as fw-cli sees it inside a container.
#[derive(Debug)]
pub struct RealWorld {
    pub resolv_conf: PathBuf,
    pub per_name: Duration,
    pub http: reqwest::Client,
    pub verify_http: reqwest::Client,
    pub fetch: FetchOptions,
    pub verify: VerifyOptions,
}

impl RealWorld {
    /// Builds the world for a configuration: one HTTP client (system CA bundle), the
    /// configured timeouts, `GITHUB_TOKEN` as the meta API's bearer token when set.
    pub fn new(config: &Config) -> Result<RealWorld> {
        let t = &config.timeouts;
        let http = http::client(&HttpOptions::system(t.meta_connect, t.meta_total))
            .context("cannot build the HTTPS client")?;
        // The proof of reachability follows no redirect: a redirect to a blocked host would
        // make an open path look closed.
        let mut verify_opts = HttpOptions::system(t.verify, t.verify);
        verify_opts.redirects = 0;
        let verify_http = http::client(&verify_opts).context("cannot build the HTTPS client")?;
        let token = std::env::var("GITHUB_TOKEN")
            .ok()
            .filter(|s| !s.trim().is_empty());
        Ok(RealWorld {
            resolv_conf: PathBuf::from(RESOLV_CONF),
            per_name: t.dns_per_name,
            http,
            verify_http,
            fetch: FetchOptions {
                total: t.meta_total,
                token,
                ..FetchOptions::default()
            },
            verify: VerifyOptions {
                connect: t.verify,
                ..VerifyOptions::default()
            },
        })
    }
}

impl World for RealWorld {
    fn resolvers(&self) -> Result<Resolvers> {
        let text = std::fs::read_to_string(&self.resolv_conf)
            .with_context(|| format!("cannot read {}", self.resolv_conf.display()))?;
        Ok(parse_resolv_conf(&text))
    }

    async fn subnets(&self) -> Result<Vec<Subnet>> {
        Ok(subnets::connected_subnets().await?)
    }

    async fn resolve(&self, domains: &[Domain]) -> Vec<Resolution> {
        resolve::resolve_all(
            domains,
            &ResolveOptions {
                per_name: self.per_name,
                source: ResolverSource::System,
            },
        )
        .await
    }

    async fn fetch_meta(&self, meta: &MetaSource) -> Result<MetaRanges> {
        Ok(fetch::fetch_meta(&self.http, meta, &self.fetch).await?)
    }

    async fn verify(&self, targets: &VerifyTargets) -> Result<String> {
        Ok(verify::verify(&self.verify_http, targets, &self.verify).await?)
    }

    fn place(&self) -> Result<Place> {
        crate::system::marker::current_place()
            .context("cannot read the boot id or the network namespace")
    }
}
