//! What a check sees: the scenario's live sandbox and the record of the implementation's run,
//! with probe helpers that confirm a surprising verdict once more before reporting it.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result};
use fw_testkit::plan::{
    BLOCKED, CONTAINER_A, DOCKER_DNS, FORWARD_PORT, FORWARD_TARGET, NPM_ADDRS, PEER_PORT, SVC,
    WORLD_RESOLVER, sa,
};

use crate::judge::verdict::ProbeRecord;
use crate::world::probe::{self, DnsOutcome, HttpsOutcome, PROBE_TIMEOUT, Verdict};
use crate::world::record::{ProberResults, RunRecord};
use crate::world::sandbox::Sandbox;
use crate::world::scenario::{DnsVariant, Scenario};

/// How a TCP target must answer a connect from the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Refused with one of the catalog's errnos within the family's fast limit.
    RejectedFast,
    /// Connected.
    Connects,
}

impl Expect {
    fn met(self, target: &SocketAddr, v: &Verdict) -> bool {
        match self {
            Expect::RejectedFast => v.is_rejected_fast(target),
            Expect::Connects => v.is_connected(),
        }
    }

    /// Whether a first verdict is confirmed by a second probe before it is reported. Only an
    /// ambiguous miss is: a connect that failed where one was expected, or a rejection that
    /// timed out or came late. A connect where a rejection was expected is not: the packet got
    /// through, which no later rejection undoes (a firewall that lets the first SYN of a flow
    /// through and rejects the next would otherwise pass).
    fn confirm(self, target: &SocketAddr, v: &Verdict) -> bool {
        match self {
            Expect::RejectedFast => !v.is_connected() && !v.is_rejected_fast(target),
            Expect::Connects => !v.is_connected(),
        }
    }

    /// The verdict on every attempt at one target, in order: `None` when the expectation holds.
    /// Where a rejection is expected, any attempt that connected is a leak, whatever came after;
    /// otherwise the last attempt decides (the earlier ones were the misses it confirms).
    pub(crate) fn judge(self, target: &SocketAddr, attempts: &[Verdict]) -> Option<String> {
        let leak = (self == Expect::RejectedFast)
            .then(|| attempts.iter().find(|v| v.is_connected()))
            .flatten();
        let Some(decisive) = leak.or(attempts.last()) else {
            return Some(format!("{target}: never probed"));
        };
        if leak.is_none() && self.met(target, decisive) {
            return None;
        }
        let tries = if attempts.len() > 1 {
            format!(
                " [attempts: {}]",
                attempts
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        Some(format!(
            "{target}: {decisive} (expected {}){tries}",
            self.words()
        ))
    }

    /// How long a probe waits: a rejection that is not fast is decided at the fast limit.
    fn wait(self, target: &SocketAddr) -> std::time::Duration {
        match self {
            Expect::RejectedFast => probe::rejection_wait(target),
            Expect::Connects => PROBE_TIMEOUT,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Expect::RejectedFast => "a fast rejection",
            Expect::Connects => "to connect",
        }
    }
}

/// A check's view.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub sb: &'a Sandbox,
    pub run: &'a RunRecord,
    pub notes: RefCell<Vec<String>>,
    /// The probes sent, structured, for the reports.
    pub probes: RefCell<Vec<ProbeRecord>>,
}

/// A TCP verdict's report fields: verdict word, errno, elapsed.
fn tcp_fields(v: &Verdict) -> (&'static str, Option<String>, Option<u64>) {
    match v {
        Verdict::Connected { elapsed_ms } => ("connected", None, Some(*elapsed_ms)),
        Verdict::Rejected { errno, elapsed_ms } => {
            ("rejected", Some(errno.clone()), Some(*elapsed_ms))
        }
        Verdict::TimedOut { elapsed_ms } => ("timed_out", None, Some(*elapsed_ms)),
    }
}

impl<'a> Ctx<'a> {
    pub fn new(sb: &'a Sandbox, run: &'a RunRecord) -> Self {
        Ctx {
            sb,
            run,
            notes: RefCell::new(Vec::new()),
            probes: RefCell::new(Vec::new()),
        }
    }

    /// Records one probe for the reports (the scenario is filled in by the runner).
    fn record(
        &self,
        kind: &str,
        from: &str,
        target: SocketAddr,
        (verdict, errno, elapsed_ms): (&str, Option<String>, Option<u64>),
        detail: String,
    ) {
        self.probes.borrow_mut().push(ProbeRecord {
            scenario: self.scenario().name.to_owned(),
            kind: kind.to_owned(),
            from: from.to_owned(),
            address: target.ip().to_string(),
            port: target.port(),
            verdict: verdict.to_owned(),
            errno,
            elapsed_ms,
            detail,
        });
    }

    pub fn scenario(&self) -> &Scenario {
        &self.sb.scenario
    }

    /// Adds a line of evidence to the case's result.
    pub fn note(&self, s: String) {
        self.notes.borrow_mut().push(s);
    }

    /// `Some(reason)` when the implementation did not succeed ([`RunRecord::init_failed`]).
    pub fn init_failed(&self) -> Option<String> {
        self.run.init_failed()
    }

    /// `Some(reason)` when the scenario's measured run never happened: the first run of a
    /// re-run scenario failed.
    pub fn not_measured(&self) -> Option<String> {
        self.run
            .prior_failed
            .then(|| self.run.init_failed())
            .flatten()
    }

    pub fn iut_elapsed(&self) -> Duration {
        self.run.iut.elapsed
    }

    pub fn iut_timed_out(&self) -> bool {
        self.run.iut.timed_out
    }

    pub fn iut_status(&self) -> Option<i32> {
        self.run.iut.status
    }

    /// stdout and stderr of the run, together.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.run.iut.stdout, self.run.iut.stderr)
    }

    /// A successful run of the same implementation where nothing is hidden: its output. The
    /// run is made in a fresh sandbox of this scenario without its hidden tools, so nothing of
    /// this sandbox changes and nothing this run left (a firewall closed by a failure) makes it
    /// fail (FAIL-09's control, see [`crate::judge::output_evidence`]). `Ok(Err(why))` when the
    /// implementation failed there too; `Err` when the control could not be made.
    pub fn control_run_output(&self) -> Result<Result<String, String>> {
        let opts = self
            .run
            .opts
            .as_ref()
            .context("the suite's options were not recorded with the run")?;
        if opts.tier != crate::world::scenario::Tier::Netns {
            anyhow::bail!("a control sandbox is built in the netns tier only");
        }
        let mut scenario = self.scenario().clone();
        scenario.hidden_tools.clear();
        let sb = Sandbox::build(&scenario, opts).context("building the control sandbox")?;
        let run = sb.execute(opts).context("the control run")?.iut;
        if let Some(how) = run.how_ended() {
            let tail: Vec<&str> = run.stderr.lines().rev().take(3).collect();
            return Ok(Err(format!(
                "the control run (a fresh sandbox, nothing hidden) {how} (its last lines: {:?})",
                tail.into_iter().rev().collect::<Vec<_>>()
            )));
        }
        self.note(format!(
            "control run (a fresh sandbox, nothing hidden): succeeded in {} ms",
            run.elapsed.as_millis()
        ));
        Ok(Ok(format!("{}\n{}", run.stdout, run.stderr)))
    }

    /// VER-04: `None` when the implementation asked api.github.com for `/zen` and got the rate
    /// limit's 403 (noted); else why the scenario's fault was never met. Read before any probe
    /// of the check (the harness's probes ask for `/`, never `/zen`).
    pub fn rate_limit_met(&self) -> Option<String> {
        let asked = self.sb.https_requests_to("api.github.com");
        let limited = asked
            .iter()
            .filter(|r| r.path.starts_with("/zen") && r.status == Some(403))
            .count();
        if limited > 0 {
            self.note(format!(
                "api.github.com answered the implementation's /zen with the rate limit's 403 \
                 {limited} time(s)"
            ));
            return None;
        }
        let seen: Vec<String> = asked
            .iter()
            .map(|r| format!("{} {} -> {:?}", r.method, r.path, r.status))
            .collect();
        Some(format!(
            "not applicable: the implementation never asked api.github.com for /zen, so it never \
             met the rate limit (its requests there: {})",
            if seen.is_empty() {
                "none".to_owned()
            } else {
                seen.join(", ")
            }
        ))
    }

    pub fn marker_present(&self) -> bool {
        self.sb.marker_present()
    }

    pub fn npm_host(&self) -> &str {
        &self.sb.npm_host
    }

    pub fn npm_addrs(&self) -> &[Ipv4Addr] {
        NPM_ADDRS
    }

    /// The resolver `/etc/resolv.conf` names in the container.
    pub fn configured_resolver(&self) -> SocketAddr {
        match self.scenario().dns {
            DnsVariant::None => sa(WORLD_RESOLVER, 53),
            _ => sa(DOCKER_DNS, 53),
        }
    }

    /// One TCP connect from the container.
    pub fn probe_tcp(&self, target: SocketAddr) -> Result<Verdict> {
        self.probe_tcp_all(Expect::Connects, &[target])?
            .pop()
            .context("no verdict for the probe")
    }

    /// `None` when the connect is rejected fast; otherwise the reason, after one confirmation.
    /// Each probe waits only [`probe::rejection_wait`]: a DROP is decided then.
    pub fn expect_rejected_fast(&self, target: SocketAddr) -> Result<Option<String>> {
        Ok(self
            .expect_all(Expect::RejectedFast, &[target])?
            .into_iter()
            .next())
    }

    /// `None` when the connect succeeds; otherwise the reason, after one confirmation.
    pub fn expect_connects(&self, target: SocketAddr) -> Result<Option<String>> {
        Ok(self
            .expect_all(Expect::Connects, &[target])?
            .into_iter()
            .next())
    }

    /// Probes every target at once: the reasons of those that do not answer as expected, in the
    /// targets' order. An ambiguous miss is probed once more to confirm it ([`Expect::confirm`]);
    /// a connect where a rejection was expected is final ([`Expect::judge`]). At once, because a
    /// firewall that drops makes each probe wait out its limit.
    pub fn expect_all(&self, expect: Expect, targets: &[SocketAddr]) -> Result<Vec<String>> {
        let first = self.probe_tcp_all(expect, targets)?;
        let confirm: Vec<bool> = targets
            .iter()
            .zip(&first)
            .map(|(t, v)| expect.confirm(t, v))
            .collect();
        let retry: Vec<SocketAddr> = targets
            .iter()
            .zip(&confirm)
            .filter(|(_, c)| **c)
            .map(|(t, _)| *t)
            .collect();
        let mut again = self.probe_tcp_all(expect, &retry)?.into_iter();
        let mut bad = Vec::new();
        for ((t, v), c) in targets.iter().zip(first).zip(confirm) {
            let mut attempts = vec![v];
            if c {
                attempts.extend(again.next());
            }
            bad.extend(expect.judge(t, &attempts));
        }
        Ok(bad)
    }

    /// One TCP connect from the container to each target, concurrently, each waiting as long as
    /// `expect` needs; noted and recorded in the targets' order.
    fn probe_tcp_all(&self, expect: Expect, targets: &[SocketAddr]) -> Result<Vec<Verdict>> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let owned = targets.to_vec();
        let got = self.sb.topo.container.block_on(move || async move {
            futures::future::join_all(owned.iter().map(|t| probe::tcp_connect(*t, expect.wait(t))))
                .await
        })?;
        let mut out = Vec::with_capacity(got.len());
        for (target, v) in targets.iter().zip(got) {
            let v = v?;
            self.note(format!("tcp {target}: {v}"));
            self.record("tcp", "container", *target, tcp_fields(&v), String::new());
            out.push(v);
        }
        Ok(out)
    }

    /// One HTTPS GET from the container, trusting the sandbox's test CA.
    pub fn https(&self, host: &str, target: SocketAddr) -> Result<HttpsOutcome> {
        let host_owned = host.to_owned();
        let ca = self.sb.ca_pem.clone();
        let got = self.sb.topo.container.block_on(move || async move {
            probe::https_get(target, &host_owned, "/", &ca, PROBE_TIMEOUT).await
        })??;
        self.note(format!("https {host} at {target}: {got:?}"));
        let (fields, detail) = match &got {
            HttpsOutcome::Status { status, elapsed_ms } => (
                ("answered", None, Some(*elapsed_ms)),
                format!("{host}: HTTP {status}"),
            ),
            HttpsOutcome::Connect { verdict } => (tcp_fields(verdict), host.to_owned()),
            HttpsOutcome::Tls { reason } => {
                (("tls_failed", None, None), format!("{host}: {reason}"))
            }
            HttpsOutcome::NoAnswer { reason } => {
                (("no_answer", None, None), format!("{host}: {reason}"))
            }
        };
        self.record("https", "container", target, fields, detail);
        Ok(got)
    }

    /// `None` when an HTTPS exchange completes; otherwise the reason, after one confirmation.
    pub fn expect_https(&self, host: &str, target: SocketAddr) -> Result<Option<String>> {
        if self.https(host, target)?.proves_reachable() {
            return Ok(None);
        }
        let again = self.https(host, target)?;
        Ok((!again.proves_reachable()).then(|| format!("https {host} at {target}: {again:?}")))
    }

    /// One A query from the container.
    pub fn dns(&self, server: SocketAddr, name: &str, tcp: bool) -> Result<DnsOutcome> {
        let n = name.to_owned();
        let got = self.sb.topo.container.block_on(move || async move {
            probe::dns_query(server, &n, tcp, Duration::from_secs(3)).await
        })??;
        self.note(format!(
            "dns {name} via {server} over {}: {got:?}",
            if tcp { "tcp" } else { "udp" }
        ));
        let (verdict, detail) = match &got {
            DnsOutcome::Answered { rcode, addrs } => (
                "answered",
                format!(
                    "{name}: rcode {rcode}, A {}",
                    addrs
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ),
            DnsOutcome::Failed { reason } => ("failed", format!("{name}: {reason}")),
        };
        self.record(
            if tcp { "dns-tcp" } else { "dns-udp" },
            "container",
            server,
            (verdict, None, None),
            detail,
        );
        Ok(got)
    }

    /// Sends a datagram to `target` from the container and tells whether it reached the world.
    pub fn udp_arrives(&self, target: SocketAddr) -> Result<bool> {
        let payload = format!("fwt-udp-{}", crate::world::probe::rand_tag());
        let p = payload.clone();
        let local = self
            .sb
            .topo
            .container
            .block_on(move || async move { probe::udp_send(target, p.as_bytes()).await })??;
        std::thread::sleep(Duration::from_millis(300));
        let arrived = self.sb.udp_arrived(payload.as_bytes());
        self.note(format!(
            "udp to {target}: local result {}, arrived: {arrived}",
            local.as_deref().unwrap_or("sent")
        ));
        self.record(
            "udp",
            "container",
            target,
            (if arrived { "arrived" } else { "lost" }, local, None),
            String::new(),
        );
        Ok(arrived)
    }

    /// TCP and UDP on 127.0.0.1 and on [::1] on arbitrary ports, inside the container: a
    /// listener on a fresh port, a connect and a byte back; a datagram between two sockets.
    /// [::1] whenever the container had IPv6 loopback before the run (a network namespace
    /// always has; a Docker container may not, and then it is noted as not applicable), so a
    /// firewall that filters IPv6 loopback fails with evidence naming [::1].
    pub fn loopback_problems(&self) -> Result<Vec<String>> {
        let mut addrs = vec!["127.0.0.1"];
        if self.sb.loopback_v6 {
            addrs.push("::1");
        } else {
            self.note(
                "[::1] not probed: the container had no IPv6 loopback before the run".to_owned(),
            );
        }
        let results = self.sb.topo.container.block_on(move || async move {
            let mut out = Vec::new();
            for a in addrs {
                out.push((a, loopback_roundtrip(a).await));
            }
            out
        })?;
        let mut problems = Vec::new();
        for (a, r) in results {
            let shown = if a.contains(':') {
                format!("[{a}]")
            } else {
                a.to_owned()
            };
            match r {
                Ok(ports) => self.note(format!("loopback {shown}: {ports}")),
                Err(e) => problems.push(format!("loopback {shown}: {e:#}")),
            }
        }
        for p in &problems {
            self.note(p.clone());
        }
        Ok(problems)
    }

    /// A new TCP connection from a world address to the container's listener. `Some` when it
    /// got through.
    pub fn world_connects_to_container(&self) -> Result<Option<String>> {
        let target = sa(CONTAINER_A, PEER_PORT);
        let v = self.sb.topo.world.block_on(move || async move {
            probe::tcp_connect(target, Duration::from_secs(2)).await
        })??;
        self.note(format!("from the world to {target}: {v}"));
        self.record("tcp", "world", target, tcp_fields(&v), String::new());
        Ok(v.is_connected().then(|| v.to_string()))
    }

    /// A new TCP connection from a Docker-network peer (`peer` is its address: the sidecar or a
    /// gateway) to the container at `to`. `Some(reason)` when it fails.
    pub fn peer_connects_to_container(
        &self,
        peer: Ipv4Addr,
        to: Ipv4Addr,
    ) -> Result<Option<String>> {
        let ns = if peer == SVC {
            &self.sb.topo.svc
        } else {
            &self.sb.topo.host
        };
        let target = sa(to, PEER_PORT);
        let v = ns.block_on(move || async move {
            probe::tcp_connect(target, Duration::from_secs(2)).await
        })??;
        self.note(format!("from {peer} to {target}: {v}"));
        let from = if peer == SVC { "svc" } else { "host" };
        self.record("tcp", from, target, tcp_fields(&v), String::new());
        Ok((!v.is_connected()).then(|| format!("{peer} to {target}: {v} (expected to connect)")))
    }

    /// POL-03's positive control ([`crate::world::controls::prove_forwarding`]): `None` when
    /// forwarding through the container was proven before the run (noted); `Some(why)` when the
    /// control failed (the Docker tier: the machine's own Docker rules drop routed traffic on
    /// the bridge, so POL-03 cannot be observed there); `Err` when it was not made.
    pub fn forwarding_unobservable(&self) -> Result<Option<String>> {
        match &self.sb.forwarding {
            Some(Ok(evidence)) => {
                self.note(evidence.clone());
                Ok(None)
            }
            Some(Err(why)) => Ok(Some(format!(
                "not observable here: before the run, with nothing of the implementation in \
                 place, {why}"
            ))),
            None => anyhow::bail!("forwarding through the container was not tried before the run"),
        }
    }

    /// Turns on forwarding in the container and routes a sidecar's traffic to a world host
    /// through it. `Some(evidence)` when a connection got through. Judged only after
    /// [`Ctx::forwarding_unobservable`] showed the same connection getting through before the
    /// run: nothing getting through now is the implementation's doing.
    pub fn forwarded_through_container(&self) -> Result<Option<String>> {
        let target = sa(FORWARD_TARGET, FORWARD_PORT);
        let v = crate::world::controls::connect_routed_through_container(&self.sb.topo)?;
        self.note(format!(
            "after the run, the sidecar's connection to {target} through the container: {v}"
        ));
        self.record(
            "tcp",
            "svc",
            target,
            tcp_fields(&v),
            "routed through the container".into(),
        );
        Ok(v.is_connected().then(|| format!("{target}: {v}")))
    }

    /// Docker's embedded DNS: resolution through 127.0.0.11 over UDP and TCP, and Docker's
    /// DNAT/SNAT targets as they were installed.
    pub fn docker_dns_problems(&self) -> Result<Vec<String>> {
        let mut bad = Vec::new();
        let server = sa(DOCKER_DNS, 53);
        for tcp in [false, true] {
            let got = self.dns(server, "api.anthropic.com", tcp)?;
            if !got.resolved() {
                bad.push(format!(
                    "resolution through 127.0.0.11 over {} fails: {got:?}",
                    if tcp { "TCP" } else { "UDP" }
                ));
            }
        }
        bad.extend(self.sb.docker_rules_problems()?);
        Ok(bad)
    }

    /// Stale rules the harness planted (SEQ-03) that are still present.
    pub fn stale_rules_left(&self) -> Result<Vec<String>> {
        let saved = self.sb.iptables_save("iptables-save")?;
        Ok(saved
            .lines()
            .filter(|l| {
                l.contains(crate::world::sandbox::STALE_TAG)
                    || l.contains(crate::world::sandbox::STALE_CHAIN)
            })
            .map(|l| format!("stale rule still present: {l}"))
            .collect())
    }

    /// How the state after the re-run differs from the state the first (single, clean) run
    /// left, every object of every tool compared ([`crate::world::state`]); `None` when identical.
    /// `Err` when the states were not recorded or the observer failed its positive control.
    pub fn state_difference(&self) -> Result<Option<String>> {
        match &self.run.observer_control {
            Some(Ok(())) => {}
            Some(Err(why)) => anyhow::bail!("{why}"),
            None => anyhow::bail!("the state observer's control did not run in this scenario"),
        }
        let (Some(first), Some(second)) = (&self.run.state_before, &self.run.state_after) else {
            anyhow::bail!("the states of the two runs were not recorded");
        };
        self.note(format!(
            "state after the first run: {} objects ({} rules, {} sets, {} set entries)",
            first.objects().len(),
            first.counts().0,
            first.counts().1,
            first.counts().2
        ));
        let d = second.compare(first);
        if d.is_empty() {
            return Ok(None);
        }
        let mut parts = Vec::new();
        if !d.extra.is_empty() {
            parts.push(format!(
                "extra after the re-run (not left by a single clean run): {}",
                d.extra.join(", ")
            ));
        }
        if !d.missing.is_empty() {
            parts.push(format!(
                "gone after the re-run (left by a single clean run): {}",
                d.missing.join(", ")
            ));
        }
        for (source, a, b) in &d.changed {
            parts.push(format!(
                "{source} changed: first run only {a:?}, re-run only {b:?}"
            ));
        }
        Ok(Some(parts.join("; ")))
    }

    pub fn prober_results(&self) -> Result<ProberResults> {
        self.run
            .probers
            .clone()
            .context("the probers did not run in this scenario")
    }

    fn long_lived_works(stream: &mut TcpStream) -> Option<String> {
        crate::world::controls::echo_fails(stream, b"fwt-long-lived\n")
    }

    /// The positive control of the long-lived connections: `Err` unless both were proven to
    /// carry data before the run (the sandbox fails to build otherwise, so this holds whenever
    /// they were opened), else the evidence, noted.
    fn long_lived_proven(&self) -> Result<()> {
        let ll = self.run.long_lived.borrow();
        if ll.proof.len() < 2 {
            anyhow::bail!(
                "the long-lived connections were not proven to carry data before the run"
            );
        }
        for p in &ll.proof {
            self.note(p.clone());
        }
        Ok(())
    }

    /// `None` when the connection to the sidecar opened before init still carries data.
    pub fn long_lived_to_peer_works(&self) -> Result<Option<String>> {
        self.long_lived_proven()?;
        let mut ll = self.run.long_lived.borrow_mut();
        let s = ll
            .to_peer
            .as_mut()
            .context("no connection to the peer was opened")?;
        let r = Self::long_lived_works(s);
        self.note(format!(
            "long-lived to the peer: {}",
            r.as_deref().unwrap_or("carries data")
        ));
        Ok(r)
    }

    /// `Some(evidence)` when the connection to a blocked host opened before init still carries
    /// data. A harness error unless it was proven to carry data before the run: "no echo now"
    /// means the run cut it only if one came back before.
    pub fn long_lived_to_blocked_works(&self) -> Result<Option<String>> {
        self.long_lived_proven()?;
        let mut ll = self.run.long_lived.borrow_mut();
        let s = ll
            .to_blocked
            .as_mut()
            .context("no connection to the blocked host was opened")?;
        let r = Self::long_lived_works(s);
        self.note(format!(
            "long-lived to {BLOCKED}: {}",
            r.as_deref().unwrap_or("carries data")
        ));
        Ok(match r {
            None => Some("an echo came back".into()),
            Some(_) => None,
        })
    }

    pub fn concurrent_statuses(&self) -> Result<(Option<i32>, Option<i32>)> {
        let second = self
            .run
            .second
            .as_ref()
            .context("no second run in this scenario")?;
        let a = (!self.run.iut.timed_out)
            .then_some(self.run.iut.status)
            .flatten();
        let b = (!second.timed_out).then_some(second.status).flatten();
        Ok((a, b))
    }

    /// How each of the two concurrent runs ended, in words (`None`: it succeeded).
    pub fn concurrent_endings(&self) -> Result<(Option<String>, Option<String>)> {
        let second = self
            .run
            .second
            .as_ref()
            .context("no second run in this scenario")?;
        Ok((self.run.iut.how_ended(), second.how_ended()))
    }

    /// The allowlist's size as the kernel holds it.
    pub fn allowlist_size(&self) -> Result<String> {
        let out = self.sb.topo.container.exec_unchecked("ipset", &["save"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        let entries = text.lines().filter(|l| l.starts_with("add ")).count();
        let sets = text.lines().filter(|l| l.starts_with("create ")).count();
        let rules = self
            .sb
            .iptables_save("iptables-save")?
            .lines()
            .filter(|l| l.starts_with("-A "))
            .count();
        Ok(format!(
            "{entries} set entries in {sets} sets, {rules} IPv4 rules"
        ))
    }
}

/// A TCP exchange and a UDP datagram on loopback address `ip` (fresh ports): which ports
/// worked, or what failed, naming the port.
async fn loopback_roundtrip(ip: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bind = SocketAddr::new(ip.parse().context("a loopback address")?, 0);
    let l = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let addr = l.local_addr()?;
    let accept = tokio::spawn(async move {
        let (mut s, _) = l.accept().await?;
        s.write_all(b"ok").await?;
        Ok::<_, std::io::Error>(())
    });
    let mut c = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
        .await
        .with_context(|| format!("TCP connect to {addr} timed out"))?
        .with_context(|| format!("TCP connect to {addr}"))?;
    let mut buf = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(2), c.read_exact(&mut buf))
        .await
        .with_context(|| format!("TCP read from {addr} timed out"))??;
    accept.abort();
    let u1 = tokio::net::UdpSocket::bind(bind).await?;
    let u2 = tokio::net::UdpSocket::bind(bind).await?;
    let to = u2.local_addr()?;
    u1.connect(to).await?;
    u1.send(b"ok").await?;
    let mut b = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(2), u2.recv(&mut b))
        .await
        .with_context(|| format!("UDP datagram to {to} lost"))??;
    Ok(format!("TCP to {addr} and UDP to {to} work"))
}
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn connected() -> Verdict {
        Verdict::Connected { elapsed_ms: 1 }
    }

    fn refused() -> Verdict {
        Verdict::Rejected {
            errno: "EHOSTUNREACH".into(),
            elapsed_ms: 3,
        }
    }

    fn timed_out() -> Verdict {
        Verdict::TimedOut { elapsed_ms: 2250 }
    }

    /// A firewall that lets the first SYN of a flow through and rejects the next: the connect
    /// is final, never re-probed, and no later rejection hides it.
    #[test]
    fn a_connect_where_a_rejection_is_expected_is_a_leak_whatever_follows() {
        let t: SocketAddr = "198.51.100.10:8080".parse().unwrap();
        let e = Expect::RejectedFast;
        assert!(!e.confirm(&t, &connected()), "a connect is not re-probed");
        let why = e.judge(&t, &[connected(), refused()]).unwrap();
        assert!(
            why.starts_with("198.51.100.10:8080: connected in 1 ms (expected a fast rejection)"),
            "{why}"
        );
        assert!(why.contains("EHOSTUNREACH after 3 ms"), "{why}");
        assert!(e.judge(&t, &[connected()]).is_some());
        assert!(e.judge(&t, &[refused(), connected()]).is_some());
    }

    #[test]
    fn an_ambiguous_miss_is_confirmed_by_the_second_attempt() {
        let t: SocketAddr = "198.51.100.10:443".parse().unwrap();
        let e = Expect::RejectedFast;
        assert!(e.confirm(&t, &timed_out()));
        assert!(!e.confirm(&t, &refused()));
        assert_eq!(e.judge(&t, &[refused()]), None);
        assert_eq!(e.judge(&t, &[timed_out(), refused()]), None);
        let why = e.judge(&t, &[timed_out(), timed_out()]).unwrap();
        assert!(
            why.starts_with("198.51.100.10:443: timed out after 2250 ms"),
            "{why}"
        );

        let c = Expect::Connects;
        assert!(c.confirm(&t, &refused()));
        assert!(!c.confirm(&t, &connected()));
        assert_eq!(c.judge(&t, &[refused(), connected()]), None);
        let why = c.judge(&t, &[refused(), refused()]).unwrap();
        assert!(why.contains("(expected to connect)"), "{why}");
        assert!(c.judge(&t, &[]).is_some(), "no attempt is no proof");
    }
}
