//! What a case is: its ID, level, texts, the scenarios it is judged on and its check, and what
//! a check concludes. The families of checks ([`crate::judge::checks`]) build them; the catalog
//! ([`crate::judge::catalog`]) lists them.

use anyhow::Result;

use crate::judge::ctx::Ctx;
use crate::judge::verdict::Level;
use crate::world::scenario::Scenario;

/// What a check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    /// Not applicable here, with the reason.
    Skip(String),
    /// A measurement (INFO rows).
    Info(String),
}

pub type Check = fn(&Ctx) -> Result<Outcome>;

/// One case.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    /// How the case observes the requirement (docs/requirements.md's last column, abridged).
    pub observation: &'static str,
    pub scenarios: fn() -> Vec<Scenario>,
    pub check: Check,
    /// The check changes the sandbox (routes, sysctls): it runs after the others.
    pub mutates: bool,
    /// Why the row exists and has its level, when neither is obvious (the BYP rows); empty
    /// otherwise.
    pub rationale: &'static str,
}

impl Case {
    /// A row with no rationale that does not change the sandbox.
    pub(crate) fn new(
        id: &'static str,
        level: Level,
        title: &'static str,
        observation: &'static str,
        scenarios: fn() -> Vec<Scenario>,
        check: Check,
    ) -> Case {
        Case {
            id,
            level,
            title,
            observation,
            scenarios,
            check,
            mutates: false,
            rationale: "",
        }
    }
}
