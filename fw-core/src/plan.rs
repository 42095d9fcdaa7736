//! The plan: pure data built from configuration and inputs.
//! (being written)

/// Placeholder until the plan lands.
#[derive(Debug)]
pub struct Plan;
