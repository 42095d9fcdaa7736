//! Names of the kernel objects the firewall owns, in one place.

/// The ipset holding every allowlisted IPv4 network.
pub const SET_ALLOW_V4: &str = "fw-allow-v4";
/// The ipset holding every allowlisted IPv6 network.
pub const SET_ALLOW_V6: &str = "fw-allow-v6";
/// Suffix of the temporary set that a new allowlist is loaded into before `ipset swap`.
pub const TEMP_SUFFIX: &str = "-next";
/// Prefix of every rule comment we own: `-m comment --comment "fw: <why>"`.
pub const COMMENT_PREFIX: &str = "fw: ";
/// Docker's embedded DNS resolver address inside a container.
pub const DOCKER_DNS_ADDR: &str = "127.0.0.11";
/// Docker's chains in the nat table of a container.
pub const DOCKER_OUTPUT: &str = "DOCKER_OUTPUT";
pub const DOCKER_POSTROUTING: &str = "DOCKER_POSTROUTING";

/// The temporary name for a set.
pub fn temp_set(name: &str) -> String {
    format!("{name}{TEMP_SUFFIX}")
}
