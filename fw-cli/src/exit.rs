//! fw-cli's exit statuses, one per kind of outcome. Documented in README.md and `--help`.

/// The command did what it was asked (init: firewall applied, verified, marker written).
pub const OK: i32 = 0;
/// The firewall could not be built or applied; the safe closed ruleset is in place (unless
/// `--fail-open`). No marker.
pub const FIREWALL: i32 = 1;
/// Bad usage, an invalid configuration, missing privileges or a missing tool. Nothing applied
/// beyond the safe closed ruleset (a missing tool on init still closes what it can).
pub const USAGE: i32 = 2;
/// The firewall was applied but did not prove itself (a blocked target reachable, or the
/// allowed target unreachable); the safe closed ruleset is in place. No marker.
pub const VERIFY: i32 = 3;
/// Another fw-cli run held the lock for longer than the lock timeout. Nothing changed.
pub const LOCK: i32 = 4;
