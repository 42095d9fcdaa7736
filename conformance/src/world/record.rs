//! What happened in one scenario's run(s), as the sandbox recorded it: the implementation's
//! run(s), the probers' samples, the connections opened before, the states before and after.

use std::cell::RefCell;
use std::net::TcpStream;

use fw_testkit::plan::{API_HOST, BLOCKED, sa};

use crate::world::iut::IutRun;
use crate::world::options::SuiteOptions;
use crate::world::probe::Verdict;

/// What the background probers saw while the implementation ran (SEQ-06, SEQ-07).
#[derive(Debug, Clone, Default)]
pub struct ProberResults {
    /// The positive control before the implementation started: `Some(None)` when the first DNS
    /// query through the configured resolver answered, `Some(Some(why))` when it did not.
    pub control_dns: Option<Option<String>>,
    /// The same for a connect to the Docker peer (proof that the prober's connects connect).
    pub control_connect: Option<Option<String>>,
    /// Samples taken while the implementation ran (the control's not counted).
    pub dns_queries: usize,
    pub dns_failures: usize,
    pub first_dns_failure: String,
    pub blocked_attempts: usize,
    pub blocked_connected: usize,
}

/// Connections opened before the run (SEQ-08, SEQ-09).
#[derive(Debug, Default)]
pub struct LongLived {
    pub to_peer: Option<TcpStream>,
    pub to_blocked: Option<TcpStream>,
    /// The positive control: each connection carried an echo before the run (evidence lines).
    pub proof: Vec<String>,
}

/// Everything recorded about the implementation's run(s) in one scenario.
#[derive(Debug)]
pub struct RunRecord {
    pub iut: IutRun,
    /// The second of two concurrent runs (SEQ-10).
    pub second: Option<IutRun>,
    pub probers: Option<ProberResults>,
    /// The container's state after the prior run and after the measured run (SEQ-05).
    pub state_before: Option<crate::world::state::Snapshot>,
    pub state_after: Option<crate::world::state::Snapshot>,
    /// The state observer's positive control ([`crate::world::state::observer_control`]), run on the
    /// fresh container of a re-run scenario: `Err` with why it failed.
    pub observer_control: Option<Result<(), String>>,
    pub long_lived: RefCell<LongLived>,
    /// The first run of a re-run scenario failed: `iut` is that run, and the measured run
    /// (with the probers, the fault, the stale marker) never happened.
    pub prior_failed: bool,
    /// The failed first run of a `Prior::FailedRun` scenario and what it left (FAIL-10).
    pub prior_run: Option<PriorRun>,
    /// The suite's options the run was made with, for a control run of the same
    /// implementation in a sandbox of its own (the judge's control run).
    pub opts: Option<SuiteOptions>,
}

impl RunRecord {
    /// A record of the measured run alone.
    pub fn of(iut: IutRun) -> RunRecord {
        RunRecord {
            iut,
            second: None,
            probers: None,
            state_before: None,
            state_after: None,
            observer_control: None,
            long_lived: RefCell::default(),
            prior_failed: false,
            prior_run: None,
            opts: None,
        }
    }

    /// How the measured run ended when it did not succeed, without its subject ("exited 6",
    /// "was stopped after 15 s, locked out: ...").
    pub fn how_ended(&self) -> Option<String> {
        self.iut.how_ended()
    }

    /// `Some(reason)` when the implementation did not succeed ("init exited 6"; "the first
    /// run, before the re-run, exited 6: the re-run was not attempted").
    pub fn init_failed(&self) -> Option<String> {
        let how = self.how_ended()?;
        Some(if self.prior_failed {
            format!("the first run (before the re-run) {how}: the re-run was not attempted")
        } else {
            format!("init {how}")
        })
    }

    /// Whether the run (both runs, when two ran at once) failed.
    pub fn failed(&self) -> bool {
        self.init_failed().is_some() && self.second.as_ref().is_none_or(|s| !s.success())
    }
}

/// The first run of a scenario that starts from a failed run, and what it left.
#[derive(Debug, Clone)]
pub struct PriorRun {
    /// How it ended when it failed ("exited 1"); `None` when it succeeded despite the fault.
    pub failed: Option<String>,
    /// A connect from the container to the meta API's address (api.github.com:443) after it.
    pub meta_api: Verdict,
    /// A connect from the container to a blocked host's port 443 after it.
    pub blocked: Verdict,
}

impl PriorRun {
    /// What the first run left, for evidence: "a connect to the meta API at 192.0.2.70:443:
    /// ECONNREFUSED after 1 ms, to 198.51.100.10:443: ECONNREFUSED after 1 ms".
    pub fn left(&self) -> String {
        let open = if self.blocked.is_connected() {
            " (it failed open: no closed state to recover from)"
        } else {
            ""
        };
        format!(
            "a connect to the meta API at {}: {}, to {}: {}{open}",
            sa(API_HOST, 443),
            self.meta_api,
            sa(BLOCKED, 443),
            self.blocked
        )
    }
}
