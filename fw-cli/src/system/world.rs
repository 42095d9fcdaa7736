//! The real [`World`]: resolv.conf, netlink, DNS, the meta fetch and the proofs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use fw_core::config::{Config, MetaSource, Timeouts, VerifyTargets};
use fw_core::inputs::{Resolution, Subnet};
use fw_core::marker::Place;
use fw_core::meta::MetaRanges;
use fw_core::resolv::{Resolvers, parse_resolv_conf};
use fw_core::validate::Domain;
use fw_core::world::{World, WorldError};

use super::fetch::{self, FetchOptions};
use super::http::{self, HttpOptions};
use super::resolve::{self, ResolveOptions, ResolverSource};
use super::subnets;
use super::verify::{self, VerifyOptions};

/// Where the container's resolver configuration lives.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The system as fw-cli sees it inside a container.
#[derive(Debug)]
pub struct RealWorld {
    pub resolv_conf: PathBuf,
    pub per_name: Duration,
    /// The HTTPS clients; `None` until the first fetch or proof of an offline world.
    https: Option<Https>,
    timeouts: Timeouts,
}

/// The HTTPS clients of the meta fetch and of the proofs, and their options.
#[derive(Debug)]
struct Https {
    http: reqwest::Client,
    verify_http: reqwest::Client,
    fetch: FetchOptions,
    verify: VerifyOptions,
}

impl Https {
    /// One HTTP client (system CA bundle), the configured timeouts, `GITHUB_TOKEN` as the meta
    /// API's bearer token when set.
    fn new(t: &Timeouts) -> Result<Https> {
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
        Ok(Https {
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

impl RealWorld {
    /// Builds the world for a configuration, its HTTPS clients included.
    pub fn new(config: &Config) -> Result<RealWorld> {
        let mut world = RealWorld::offline(config);
        world.https = Some(Https::new(&config.timeouts)?);
        Ok(world)
    }

    /// A world whose HTTPS clients are built only when a fetch or a proof needs them
    /// (`fw-cli plan` may take the meta ranges from a file).
    pub fn offline(config: &Config) -> RealWorld {
        RealWorld {
            resolv_conf: PathBuf::from(RESOLV_CONF),
            per_name: config.timeouts.dns_per_name,
            https: None,
            timeouts: config.timeouts.clone(),
        }
    }

    async fn with_https<R, F: AsyncFnOnce(&Https) -> Result<R>>(&self, f: F) -> Result<R> {
        match &self.https {
            Some(h) => f(h).await,
            None => f(&Https::new(&self.timeouts)?).await,
        }
    }
}

/// The resolvers a resolv.conf configures.
pub fn read_resolvers(path: &Path) -> Result<Resolvers> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse_resolv_conf(&text))
}

impl World for RealWorld {
    fn resolvers(&self) -> Result<Resolvers, WorldError> {
        Ok(read_resolvers(&self.resolv_conf)?)
    }

    async fn subnets(&self) -> Result<Vec<Subnet>, WorldError> {
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

    async fn fetch_meta(&self, meta: &MetaSource) -> Result<MetaRanges, WorldError> {
        Ok(self
            .with_https(async |h| Ok(fetch::fetch_meta(&h.http, meta, &h.fetch).await?))
            .await?)
    }

    async fn verify(&self, targets: &VerifyTargets) -> Result<String, WorldError> {
        Ok(self
            .with_https(async |h| Ok(verify::verify(&h.verify_http, targets, &h.verify).await?))
            .await?)
    }

    fn place(&self) -> Result<Place, WorldError> {
        Ok(super::marker::current_place()
            .context("cannot read the boot id or the network namespace")?)
    }
}
