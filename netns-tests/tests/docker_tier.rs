//! The Docker tier: the catalog in real Docker containers (`fw-conformance run --tier docker`),
//! against `fw-cli init` and against `scripts/init-firewall.sh`, one test per case and
//! implementation.
//!
//! - fw-cli: every case that applies in a container passes; the ones that cannot apply
//!   (`DOCKER_NOT_APPLICABLE`: IPv6, the emulated DNS backends, hidden tools) are reported as such and
//!   nothing else is.
//! - the bash reference: every MUST case passes; a failing SHOULD case must be on its
//!   expected-failures list (`netns-tests/expected/init-firewall.sh.txt`).
//!
//! Needs root, network namespaces, a Docker engine and the test image
//! (`scripts/build-test-image.sh`, which scripts/test.sh runs first). Without them the trials
//! print why and pass, except under CI=true, where they fail.

use std::sync::OnceLock;

use conformance::judge::catalog::catalog;
use conformance::report::{Level, Report, Verdict};
use conformance::world::scenario::Tier;
use libtest_mimic::{Arguments, Failed, Trial};
use netns_tests::{
    DOCKER_NOT_APPLICABLE, DOCKER_UNOBSERVABLE, case_result, docker_may_run,
    expected_bash_failures, explain, repo_root, run_once_in, workspace_bin,
};

static FW_CLI: OnceLock<Result<Report, String>> = OnceLock::new();
static BASH: OnceLock<Result<Report, String>> = OnceLock::new();

fn judge(which: &'static str, id: &'static str, level: Level) -> Result<(), Failed> {
    if !docker_may_run(&format!("docker::{which}::{id}"))? {
        return Ok(());
    }
    let report = match which {
        "fw-cli" => {
            let bin = workspace_bin("fw-cli").map_err(|e| Failed::from(format!("{e:#}")))?;
            let argv = vec![bin.to_string_lossy().into_owned(), "init".to_owned()];
            run_once_in(&FW_CLI, "fw-cli init", argv, false, Tier::Docker)
        }
        _ => {
            let script = repo_root().join("scripts/init-firewall.sh");
            let argv = vec!["bash".to_owned(), script.to_string_lossy().into_owned()];
            run_once_in(
                &BASH,
                "bash scripts/init-firewall.sh",
                argv,
                false,
                Tier::Docker,
            )
        }
    }
    .as_ref()
    .map_err(|e| Failed::from(e.clone()))?;
    let r = case_result(report, id)
        .ok_or_else(|| Failed::from(format!("{id} is not in the report")))?;
    let na = DOCKER_NOT_APPLICABLE.contains(&id);
    match r.verdict {
        Verdict::Error => Err(explain(r).into()),
        Verdict::Skip if na || DOCKER_UNOBSERVABLE.contains(&id) => Ok(()),
        Verdict::Skip if level == Level::Info => Ok(()),
        Verdict::Skip => {
            Err(format!("{id} was skipped in the Docker tier:\n{}", explain(r)).into())
        }
        Verdict::Pass if na => {
            Err(format!("{id} ran in the Docker tier: remove it from DOCKER_NOT_APPLICABLE").into())
        }
        Verdict::Pass => Ok(()),
        Verdict::Fail if which == "bash" && level == Level::Should => {
            if expected_bash_failures()?.iter().any(|e| e == id) {
                Ok(())
            } else {
                Err(format!(
                    "{id} fails in the Docker tier but is not on the bash reference's expected-failures list:\n{}",
                    explain(r)
                )
                .into())
            }
        }
        Verdict::Fail => Err(explain(r).into()),
    }
}

fn main() {
    let mut args = Arguments::from_args();
    // The first trial of each implementation runs its catalog; Docker sandboxes go one at a
    // time anyway (the networks use the plan's fixed subnets).
    args.test_threads.get_or_insert(1);
    let mut trials = Vec::new();
    for which in ["fw-cli", "bash"] {
        for c in catalog() {
            let (id, level) = (c.id, c.level);
            trials.push(Trial::test(format!("docker::{which}::{id}"), move || {
                judge(which, id, level)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
