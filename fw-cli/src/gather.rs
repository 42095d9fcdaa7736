//! Gathering the inputs of a plan: the one path `init`, `plan` and `refresh` share.
//!
//! In order: the configured resolvers, the connected subnets and what our backend's tables hold
//! (Docker's DNS rules, which tables need a clean slate), the resolved names, the GitHub meta
//! ranges. What differs between the commands is a [`Purpose`]:
//!
//! - `init` gathers everything, learns Docker's DNS upstreams from the tracked flows when
//!   resolv.conf does not list them, opens the meta host for the fetch (the only changes to the
//!   system before the apply), and fails on a required domain that does not resolve;
//! - `plan` gathers the same inputs and changes nothing; each input may come from a file
//!   instead ([`Sources`]); what cannot be read is a warning where a plan can go on;
//! - `refresh` gathers what the sets hold (names and meta ranges) and fails on a required domain
//!   that does not resolve: the previous allowlist then stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use fw_core::apply::Backend;
use fw_core::clean_slate::CleanSlate;
use fw_core::config::Config;
use fw_core::conntrack;
use fw_core::docker_dns::{DockerDnsRules, parse_nat_save};
use fw_core::exec::{Command, ExecError, Tools};
use fw_core::fetch_path::{self, FetchPath};
use fw_core::flow::Flow;
use fw_core::inputs::{Inputs, Resolution, Subnet};
use fw_core::meta::{MetaRanges, parse_meta};
use fw_core::names::{SET_ALLOW_V4, SET_ALLOW_V6};
use fw_core::render;
use fw_core::resolv::Resolvers;
use fw_core::validate::Domain;
use fw_core::world::World;

use crate::docker;
use crate::system::subnets;
use crate::system::world::read_resolvers;

/// Which command gathers, and so what it may change and what stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Init,
    Plan,
    Refresh,
}

/// Inputs given on the command line instead of asked from the system (`fw-cli plan`).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub resolv_conf: Option<PathBuf>,
    pub subnets: Option<String>,
    pub docker_nat_file: Option<PathBuf>,
    pub resolve_file: Option<PathBuf>,
    pub meta_file: Option<PathBuf>,
}

/// Why gathering stopped: what could not be gathered, and why.
#[derive(Debug)]
pub struct GatherError {
    pub what: &'static str,
    pub cause: anyhow::Error,
}

fn failed(what: &'static str) -> impl FnOnce(anyhow::Error) -> GatherError {
    move |cause| GatherError { what, cause }
}

/// One gathering, and what it learnt on the way (kept after a failure: the safe closed ruleset
/// needs the subnets and resolvers).
pub struct Gatherer<'a, W> {
    pub config: &'a Config,
    pub world: &'a W,
    pub tools: &'a dyn Tools,
    pub backend: Backend,
    pub purpose: Purpose,
    pub sources: Sources,
    pub warnings: Vec<String>,
    /// Wall time of each step (INF-01).
    pub timings: Vec<(String, Duration)>,
    pub subnets: Vec<Subnet>,
    pub resolvers: Resolvers,
}

impl<W> std::fmt::Debug for Gatherer<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatherer")
            .field("purpose", &self.purpose)
            .field("sources", &self.sources)
            .field("warnings", &self.warnings)
            .field("subnets", &self.subnets)
            .field("resolvers", &self.resolvers)
            .finish_non_exhaustive()
    }
}

/// The host of an `https://host[:port]/path` URL.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next()?.trim_start_matches('[')
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

impl<'a, W: World> Gatherer<'a, W> {
    pub fn new(
        config: &'a Config,
        world: &'a W,
        tools: &'a dyn Tools,
        backend: Backend,
        purpose: Purpose,
    ) -> Self {
        Gatherer {
            config,
            world,
            tools,
            backend,
            purpose,
            sources: Sources::default(),
            warnings: Vec::new(),
            timings: Vec::new(),
            subnets: Vec::new(),
            resolvers: Resolvers::default(),
        }
    }

    pub fn timed<R>(&mut self, what: &str, start: Instant, r: R) -> R {
        self.timings.push((what.to_owned(), start.elapsed()));
        r
    }

    /// Gathers the inputs of the plan.
    pub async fn gather(&mut self) -> Result<Inputs, GatherError> {
        let t = Instant::now();
        self.read_resolvers();
        let (docker_dns, clean_slate) = if self.purpose == Purpose::Refresh {
            // Refresh renders only the sets; the tables are not touched.
            Default::default()
        } else {
            self.subnets = self.read_subnets().await?;
            self.docker_dns()?
        };
        self.timed("gather local state", t, ());

        let domains: Vec<Domain> = self
            .config
            .domains
            .iter()
            .map(|d| d.domain.clone())
            .collect();
        let (mut resolved, path) = self.resolve(&domains).await?;
        if self.purpose == Purpose::Init {
            // The meta host was resolved for the fetch only.
            resolved.retain(|r| domains.contains(&r.domain));
        }
        self.check_required(&resolved)?;

        let t = Instant::now();
        let meta = self.meta().await;
        let closed = path.close(self.tools, self.backend);
        self.warnings.extend(closed);
        let meta = self
            .timed("fetch meta", t, meta)
            .map_err(failed("the GitHub meta ranges"))?;
        Ok(Inputs {
            meta,
            resolved,
            subnets: self.subnets.clone(),
            docker_dns,
            resolvers: self.resolvers.clone(),
            clean_slate,
        })
    }

    fn read_resolvers(&mut self) {
        let read = match &self.sources.resolv_conf {
            Some(p) => read_resolvers(p),
            None => self.world.resolvers().map_err(anyhow::Error::from_boxed),
        };
        match (read, self.purpose) {
            (Ok(r), _) => self.resolvers = r,
            (Err(e), Purpose::Init) => self
                .warnings
                .push(format!("cannot read the configured resolvers: {e:#}")),
            (Err(e), Purpose::Plan) => self.warnings.push(format!("{e:#}; no resolvers")),
            (Err(_), Purpose::Refresh) => {}
        }
    }

    async fn read_subnets(&self) -> Result<Vec<Subnet>, GatherError> {
        let what = "the connected subnets";
        match (&self.sources.subnets, self.purpose) {
            (Some(s), _) => subnets::parse_subnets_arg(s)
                .context("--subnets")
                .map_err(failed(what)),
            (None, Purpose::Plan) => self
                .world
                .subnets()
                .await
                .map_err(anyhow::Error::from_boxed)
                .context("cannot list the connected subnets")
                .map_err(failed(what)),
            (None, _) => self
                .world
                .subnets()
                .await
                .map_err(|e| failed(what)(anyhow::Error::from_boxed(e))),
        }
    }

    /// Docker's DNS rules and which tables need a clean slate. From a file, what the other
    /// tables hold is not known: nat and mangle are rewritten.
    fn docker_dns(&mut self) -> Result<(DockerDnsRules, CleanSlate), GatherError> {
        let what = "Docker's DNS rules";
        if let Some(p) = &self.sources.docker_nat_file {
            let t = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))
                .map_err(failed(what))?;
            let rules = parse_nat_save(&t)
                .with_context(|| format!("{}", p.display()))
                .map_err(failed(what))?;
            return Ok((rules, CleanSlate::Unknown));
        }
        match docker::gather(self.tools) {
            Ok(found) => {
                self.warnings.extend(found.warnings);
                Ok((found.ours, found.clean_slate))
            }
            Err(e) if self.purpose == Purpose::Plan => {
                self.warnings.push(format!(
                    "cannot read Docker's DNS rules ({e:#}); the plan shows none"
                ));
                Ok(Default::default())
            }
            Err(cause) => Err(GatherError { what, cause }),
        }
    }

    /// Resolves the configured names; for init, the meta host's too, and on the way it learns
    /// Docker's DNS upstreams and opens the meta host for the fetch (the returned path is
    /// closed right after it).
    async fn resolve(
        &mut self,
        domains: &[Domain],
    ) -> Result<(Vec<Resolution>, FetchPath), GatherError> {
        if let Some(p) = &self.sources.resolve_file {
            let mut from_file = read_resolutions(p).map_err(failed("the resolved names"))?;
            // A configured domain the file does not mention is reported, not silently dropped.
            for d in domains {
                if !from_file.iter().any(|r| &r.domain == d) {
                    from_file.push(Resolution::failed(d.clone(), "not in --resolve-file"));
                }
            }
            return Ok((from_file, FetchPath::default()));
        }
        if self.purpose != Purpose::Init {
            return Ok((self.world.resolve(domains).await, FetchPath::default()));
        }
        // Names first: DNS is allowed under any ruleset of ours, so this works on a re-run.
        let t = Instant::now();
        let meta_host: Option<Domain> =
            url_host(&self.config.meta.url).and_then(|h| h.parse().ok());
        let mut names = domains.to_vec();
        if let Some(h) = &meta_host
            && !names.contains(h)
        {
            names.push(h.clone());
        }
        // Docker before 25.0 does not list its upstreams: the DNS flows that appear while we
        // resolve through 127.0.0.11 show them (flows tracked before are someone else's).
        let unknown = self.resolvers.upstreams_unknown();
        let flows_before = if unknown {
            self.tracked_flows().ok()
        } else {
            None
        };
        let resolved = self.world.resolve(&names).await;
        self.timed("resolve names", t, ());
        if unknown {
            self.learn_dns_upstreams(flows_before.as_deref());
        }

        // On a re-run, open the meta host's fresh addresses before the fetch, so that a GitHub
        // address that changed since the last run cannot fail it; and where the rules in place
        // could block the fetch (the safe closed ruleset of a failed run, FAIL-10), a narrow
        // temporary path to those addresses, closed right after the fetch. Nothing else is
        // opened.
        let mut path = FetchPath::default();
        if let Some(h) = &meta_host {
            let t = Instant::now();
            self.open_meta_host(h, &resolved);
            path = self.open_fetch_path(h, &resolved);
            self.timed("open the meta host", t, ());
        }
        Ok((resolved, path))
    }

    /// Fail closed: a required domain that does not resolve is an error (init, refresh), an
    /// extra one a warning (the plan's).
    fn check_required(&self, resolved: &[Resolution]) -> Result<(), GatherError> {
        let unresolved = self.config.required_unresolved(resolved);
        if unresolved.is_empty() {
            return Ok(());
        }
        let cause = match self.purpose {
            Purpose::Plan => return Ok(()),
            Purpose::Init => anyhow::anyhow!(
                "{} did not resolve: a firewall without a domain the seed requires is not \
                 applied",
                unresolved.join(", ")
            ),
            Purpose::Refresh => anyhow::anyhow!(
                "required domains did not resolve: {}",
                unresolved.join(", ")
            ),
        };
        Err(GatherError {
            what: "the required domains",
            cause,
        })
    }

    async fn meta(&self) -> Result<MetaRanges> {
        match &self.sources.meta_file {
            Some(p) => {
                let body =
                    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
                Ok(parse_meta(&body, &self.config.meta.keys)
                    .with_context(|| format!("{}", p.display()))?)
            }
            None => self
                .world
                .fetch_meta(&self.config.meta)
                .await
                .map_err(anyhow::Error::from_boxed),
        }
    }

    /// Adds the meta host's addresses to the live sets, in one `ipset -exist restore` that
    /// also creates the live sets when they are missing (empty; the apply step would create
    /// them anyway, and no rule of ours refers to them yet).
    fn open_meta_host(&mut self, host: &Domain, resolved: &[Resolution]) {
        let Some(r) = resolved.iter().find(|r| &r.domain == host) else {
            return;
        };
        if r.addrs.is_empty() {
            return;
        }
        let mut script = render::ipset_live_sets();
        for a in &r.addrs {
            let set = if a.is_ipv4() {
                SET_ALLOW_V4
            } else {
                SET_ALLOW_V6
            };
            script.push_str(&format!("add {set} {a}\n"));
        }
        let cmd = Command::new("ipset", ["-exist", "restore"]).stdin(script);
        if let Err(e) = self.tools.run(&cmd) {
            let shown: Vec<String> = r.addrs.iter().map(ToString::to_string).collect();
            self.warnings.push(format!(
                "cannot open {host} ({}) for the meta fetch: {e}",
                shown.join(", ")
            ));
        }
    }

    /// Opens a temporary path to the meta host's addresses through rules that could block the
    /// fetch ([`fetch_path`]); failures are warnings (the fetch then meets the rules as they
    /// are).
    fn open_fetch_path(&mut self, host: &Domain, resolved: &[Resolution]) -> FetchPath {
        let addrs = resolved
            .iter()
            .find(|r| &r.domain == host)
            .map(|r| r.addrs.clone())
            .unwrap_or_default();
        let port = reqwest::Url::parse(&self.config.meta.url)
            .ok()
            .and_then(|u| u.port_or_known_default())
            .unwrap_or(443);
        let (path, warnings) = fetch_path::open(self.tools, self.backend, &addrs, port);
        self.warnings.extend(warnings);
        path
    }

    /// The tracked flows ([`conntrack::dns_upstreams`] picks the DNS ones).
    fn tracked_flows(&self) -> Result<Vec<Flow>, ExecError> {
        Ok(self
            .tools
            .tracked_flows()?
            .into_iter()
            .map(|t| t.flow)
            .collect())
    }

    /// resolv.conf names only Docker's 127.0.0.11 and does not list its upstreams (engines
    /// before 25.0). Those engines forward from inside this namespace, so the lookups just made
    /// through 127.0.0.11 left tracked flows to the upstreams: DNS is allowed to exactly those.
    /// `before`: the flows tracked before our lookups, left out (a flow some process of the
    /// container opened to another resolver is not an upstream of Docker's).
    fn learn_dns_upstreams(&mut self, before: Option<&[Flow]>) {
        let subnets: Vec<ipnet::IpNet> = self.subnets.iter().map(|s| s.net).collect();
        let flows = match self.tracked_flows() {
            Ok(f) => f,
            Err(e) => {
                self.warnings.push(format!(
                    "resolv.conf does not list Docker's DNS upstreams and the tracked flows cannot be read ({e}): external names may not resolve through 127.0.0.11"
                ));
                return;
            }
        };
        let new: Vec<Flow> = flows
            .into_iter()
            .filter(|f| before.is_none_or(|b| !b.contains(f)))
            .collect();
        let learned = conntrack::dns_upstreams(&new, &subnets);
        if learned.is_empty() {
            self.warnings.push(
                "resolv.conf does not list Docker's DNS upstreams (no ExtServers comment) and none was seen in the tracked flows: external names may not resolve through 127.0.0.11".to_owned(),
            );
            return;
        }
        let shown: Vec<String> = learned.iter().map(ToString::to_string).collect();
        self.warnings.push(format!(
            "resolv.conf does not list Docker's DNS upstreams (no ExtServers comment, Docker before 25.0); DNS is allowed to the ones seen in the tracked flows: {}",
            shown.join(", ")
        ));
        for a in learned {
            if !self.resolvers.ext_servers.contains(&a) {
                self.resolvers.ext_servers.push(a);
            }
        }
    }
}

/// Resolved names from a file: `[{"domain": .., "addrs": [..]}]` or `{"name": ["addr", ..]}`.
fn read_resolutions(path: &Path) -> Result<Vec<Resolution>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(list) = serde_json::from_str::<Vec<Resolution>>(&text) {
        return Ok(list);
    }
    let map: std::collections::BTreeMap<String, Vec<std::net::IpAddr>> =
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is neither a list of resolutions nor a map of name to addresses",
                path.display()
            )
        })?;
    map.into_iter()
        .map(|(name, addrs)| {
            let domain: Domain = name
                .parse()
                .with_context(|| format!("{}: {name:?} is not a valid domain", path.display()))?;
            Ok(if addrs.is_empty() {
                Resolution::failed(domain, "no addresses in the file")
            } else {
                Resolution::ok(domain, addrs)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("https://api.github.com/meta"),
            Some("api.github.com")
        );
        assert_eq!(url_host("https://u:p@h.test:8443/x?y"), Some("h.test"));
        assert_eq!(url_host("https://[2001:db8::1]:443/"), Some("2001:db8::1"));
        assert_eq!(url_host("https:///x"), None);
    }
}
