//! The seam to the world besides the firewall tools: what gathering the inputs and proving the
//! firewall need from the system.
//!
//! [`World`] answers the container's resolver configuration, its connected subnets, the
//! resolved names, the GitHub meta ranges, the proofs of reachability and the place (boot and
//! network namespace) the firewall lives in. fw-cli's `system::world::RealWorld` asks the real
//! system (resolv.conf, netlink, DNS, HTTPS); fw-testkit's `world::FakeWorld` answers from the
//! sample inputs and can be scripted to fail. The firewall tools have their own trait,
//! [`crate::exec::Tools`].

use crate::config::{MetaSource, VerifyTargets};
use crate::inputs::{Resolution, Subnet};
use crate::marker::Place;
use crate::meta::MetaRanges;
use crate::resolv::Resolvers;
use crate::validate::Domain;

/// Why the world could not answer: any error, its causes kept as its sources.
pub type WorldError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What init needs from the world besides the firewall tools.
pub trait World {
    /// The configured resolvers (`/etc/resolv.conf`).
    fn resolvers(&self) -> Result<Resolvers, WorldError>;
    /// The connected subnets (netlink).
    fn subnets(&self) -> impl Future<Output = Result<Vec<Subnet>, WorldError>>;
    /// Resolves every name; failures are warnings inside the results.
    fn resolve(&self, domains: &[Domain]) -> impl Future<Output = Vec<Resolution>>;
    /// Fetches and validates the GitHub meta ranges.
    fn fetch_meta(&self, meta: &MetaSource)
    -> impl Future<Output = Result<MetaRanges, WorldError>>;
    /// Runs both verification proofs; `Ok` carries a one-line summary of the evidence.
    fn verify(&self, targets: &VerifyTargets) -> impl Future<Output = Result<String, WorldError>>;
    /// The boot and network namespace we run in.
    fn place(&self) -> Result<Place, WorldError>;
}
