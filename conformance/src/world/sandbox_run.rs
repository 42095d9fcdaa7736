//! Running the implementation in a sandbox: the prior state (a re-run, stale rules, a planted
//! firewall, a failed run), the long-lived connections and the probers, the run(s), and the
//! record of what happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use fw_testkit::plan::{
    API_HOST_REFUSING, BLOCKED, DOCKER_DNS, PEER_PORT, STALE_NAT_TARGET, SVC, WORLD_RESOLVER, sa,
};

use crate::world::options::SuiteOptions;
use crate::world::probe;
use crate::world::record::{LongLived, ProberResults, RunRecord};
use crate::world::sandbox::{STALE_CHAIN, STALE_TAG, Sandbox};
use crate::world::scenario::{DnsVariant, Meta, Prior};

impl Sandbox {
    fn plant_stale_rules(&self) -> Result<()> {
        let c = &self.topo.container;
        c.exec(
            "iptables",
            &[
                "-I",
                "OUTPUT",
                "-m",
                "comment",
                "--comment",
                STALE_TAG,
                "-j",
                "ACCEPT",
            ],
        )?;
        c.exec("iptables", &["-N", STALE_CHAIN])?;
        c.exec(
            "iptables",
            &[
                "-A",
                STALE_CHAIN,
                "-m",
                "comment",
                "--comment",
                STALE_TAG,
                "-j",
                "ACCEPT",
            ],
        )?;
        c.exec(
            "iptables",
            &[
                "-t",
                "mangle",
                "-A",
                "OUTPUT",
                "-m",
                "comment",
                "--comment",
                STALE_TAG,
                "-j",
                "MARK",
                "--set-mark",
                "7",
            ],
        )?;
        c.exec(
            "iptables",
            &[
                "-t",
                "nat",
                "-A",
                "OUTPUT",
                "-d",
                &format!("{STALE_NAT_TARGET}/32"),
                "-m",
                "comment",
                "--comment",
                STALE_TAG,
                "-j",
                "DNAT",
                "--to-destination",
                &BLOCKED.to_string(),
            ],
        )?;
        Ok(())
    }

    /// Prepares the prior state, runs the implementation (with the scenario's probers and
    /// long-lived connections), and records what happened.
    pub fn execute(&self, opts: &SuiteOptions) -> Result<RunRecord> {
        let mut state_before = None;
        let mut observer_control = None;
        let mut prior_run = None;
        match self.scenario.prior {
            Prior::Fresh => {}
            Prior::FailedRun => prior_run = Some(crate::world::recovery::fail_first(self, opts)?),
            Prior::StaleRules => self.plant_stale_rules().context("planting stale rules")?,
            Prior::Planted => {
                crate::world::planted::plant(self).context("planting the prior state")?
            }
            Prior::Firewalled => {
                // SEQ-05's observer, proved on the fresh container before anything runs.
                observer_control = Some(
                    crate::world::state::observer_control(&self.topo.container)
                        .map_err(|e| format!("{e:#}")),
                );
                let first = self.run_in_container(&self.run_spec(opts, false))?;
                if !first.success() {
                    // The implementation failed where it must succeed: that run is the record.
                    return Ok(RunRecord {
                        prior_failed: true,
                        observer_control,
                        ..RunRecord::of(first)
                    });
                }
                state_before = Some(self.snapshot()?);
                if self.scenario.meta != Meta::Realistic {
                    self.restart_https(&self.scenario.meta)?;
                }
            }
        }
        if self.scenario.meta == Meta::Refused {
            self.topo.world.exec(
                "iptables",
                &[
                    "-I",
                    "INPUT",
                    "-d",
                    &API_HOST_REFUSING.to_string(),
                    "-p",
                    "tcp",
                    "--dport",
                    "443",
                    "-j",
                    "REJECT",
                    "--reject-with",
                    "tcp-reset",
                ],
            )?;
        }
        let long_lived = if self.scenario.long_lived {
            crate::world::controls::open_long_lived(&self.topo.container)?
        } else {
            LongLived::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let probers = self
            .scenario
            .probers
            .then(|| self.start_probers(Arc::clone(&stop)));
        let spec = self.run_spec(opts, true);
        let (iut, second) = if self.scenario.concurrent {
            std::thread::scope(|s| {
                let a = s.spawn(|| self.run_in_container(&spec));
                let b = s.spawn(|| self.run_in_container(&spec));
                let a = a
                    .join()
                    .map_err(|_| anyhow::anyhow!("a run thread panicked"))?;
                let b = b
                    .join()
                    .map_err(|_| anyhow::anyhow!("a run thread panicked"))?;
                Ok::<_, anyhow::Error>((a?, Some(b?)))
            })?
        } else {
            (self.run_in_container(&spec)?, None)
        };
        stop.store(true, Ordering::SeqCst);
        let probers = match probers {
            Some(h) => Some(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a prober panicked"))??,
            ),
            None => None,
        };
        let state_after = if self.scenario.prior == Prior::Firewalled {
            Some(self.snapshot()?)
        } else {
            None
        };
        Ok(RunRecord {
            iut,
            second,
            probers,
            state_before,
            state_after,
            observer_control,
            long_lived: std::cell::RefCell::new(long_lived),
            prior_failed: false,
            prior_run,
            opts: Some(opts.clone()),
        })
    }

    /// Probers on a thread in the container: a DNS query to the configured resolver and a
    /// connect to a blocked host, every 10 ms, until `stop`.
    ///
    /// First, before this returns (so before the implementation starts), the positive
    /// control: one DNS query and one connect to the Docker peer, which must both succeed
    /// (a prober that cannot resolve or connect would count nothing worth counting). Its
    /// result is in [`ProberResults::control_dns`] and [`ProberResults::control_connect`].
    pub fn start_probers(
        &self,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<Result<ProberResults>> {
        let server = match self.scenario.dns {
            DnsVariant::None => sa(WORLD_RESOLVER, 53),
            _ => sa(DOCKER_DNS, 53),
        };
        let path = self.topo.container.path();
        let name = self.topo.container.name().to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || -> Result<ProberResults> {
            crate::world::netns::enter_path(&path).with_context(|| format!("entering {name}"))?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut r = ProberResults::default();
                let got =
                    probe::dns_query(server, "api.anthropic.com", false, Duration::from_secs(2))
                        .await?;
                r.control_dns = Some((!got.resolved()).then(|| format!("{got:?}")));
                let peer = sa(SVC, PEER_PORT);
                let v = probe::tcp_connect(peer, Duration::from_secs(2)).await?;
                r.control_connect = Some((!v.is_connected()).then(|| v.to_string()));
                let _ = ready_tx.send(());
                while !stop.load(Ordering::SeqCst) {
                    let got = probe::dns_query(
                        server,
                        "api.anthropic.com",
                        false,
                        Duration::from_millis(500),
                    )
                    .await?;
                    r.dns_queries += 1;
                    if !got.resolved() {
                        r.dns_failures += 1;
                        if r.first_dns_failure.is_empty() {
                            r.first_dns_failure = format!("{got:?}");
                        }
                    }
                    let v =
                        probe::tcp_connect(sa(BLOCKED, 443), Duration::from_millis(200)).await?;
                    r.blocked_attempts += 1;
                    if v.is_connected() {
                        r.blocked_connected += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(r)
            })
        });
        // The control's two probes take milliseconds; a prober that failed before them has
        // dropped the sender, and its error comes out of the join.
        let _ = ready_rx.recv_timeout(Duration::from_secs(10));
        handle
    }
}
