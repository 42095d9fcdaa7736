//! A scripted [`World`]: answers from the sample inputs ([`crate::sample`]) unless told to
//! fail, and records what it was asked (the names resolved; what the fake kernel held when the
//! meta fetch ran, to check what init opened for it).

use std::cell::RefCell;

use fw_core::config::{MetaSource, VerifyTargets};
use fw_core::inputs::{Inputs, Resolution, Subnet};
use fw_core::marker::Place;
use fw_core::meta::MetaRanges;
use fw_core::resolv::Resolvers;
use fw_core::validate::Domain;
use fw_core::world::{World, WorldError};

use crate::kernel::FakeKernel;
use crate::sample::sample_inputs;

/// A scripted world: answers from the sample inputs unless told to fail.
#[derive(Debug)]
pub struct FakeWorld {
    pub inputs: Inputs,
    pub meta_error: Option<&'static str>,
    pub verify_error: Option<&'static str>,
    pub subnets_error: bool,
    pub resolved_names: RefCell<Vec<Domain>>,
    /// What the fake kernel held when the meta fetch ran (to check the pre-open).
    pub sets_at_fetch: RefCell<Option<String>>,
    /// Its IPv4 tables then (to check the temporary path).
    pub rules_at_fetch: RefCell<Option<String>>,
    pub kernel: Option<&'static FakeKernel>,
    /// The tracked flows the kernel lists once the names are resolved.
    pub flows_after_resolve: Option<&'static str>,
}

impl Default for FakeWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeWorld {
    pub fn new() -> Self {
        FakeWorld {
            inputs: sample_inputs(),
            meta_error: None,
            verify_error: None,
            subnets_error: false,
            resolved_names: RefCell::new(Vec::new()),
            sets_at_fetch: RefCell::new(None),
            rules_at_fetch: RefCell::new(None),
            kernel: None,
            flows_after_resolve: None,
        }
    }
}

impl World for FakeWorld {
    fn resolvers(&self) -> Result<Resolvers, WorldError> {
        Ok(self.inputs.resolvers.clone())
    }
    async fn subnets(&self) -> Result<Vec<Subnet>, WorldError> {
        if self.subnets_error {
            return Err("netlink: permission denied".into());
        }
        Ok(self.inputs.subnets.clone())
    }
    async fn resolve(&self, domains: &[Domain]) -> Vec<Resolution> {
        if let (Some(k), Some(flows)) = (self.kernel, self.flows_after_resolve) {
            k.set_flows(flows);
        }
        self.resolved_names
            .borrow_mut()
            .extend(domains.iter().cloned());
        let mut out: Vec<Resolution> = self.inputs.resolved.clone();
        for d in domains {
            if d.as_str() == "api.github.com" {
                out.push(Resolution::ok(
                    d.clone(),
                    vec![std::net::IpAddr::from([192, 0, 2, 70])],
                ));
            }
        }
        out
    }
    async fn fetch_meta(&self, _meta: &MetaSource) -> Result<MetaRanges, WorldError> {
        if let Some(k) = self.kernel {
            *self.sets_at_fetch.borrow_mut() = Some(format!(
                "{:?}",
                k.sets().get("fw-allow-v4").map(|s| s.members.clone())
            ));
            *self.rules_at_fetch.borrow_mut() = Some(k.save("nft", false));
        }
        match self.meta_error {
            Some(e) => Err(e.into()),
            None => Ok(self.inputs.meta.clone()),
        }
    }
    async fn verify(&self, _targets: &VerifyTargets) -> Result<String, WorldError> {
        match self.verify_error {
            Some(e) => Err(e.into()),
            None => Ok("blocked: 198.51.100.10:443 refused; allowed: HTTP 200".to_owned()),
        }
    }
    fn place(&self) -> Result<Place, WorldError> {
        Ok(Place {
            boot_id: "boot".into(),
            netns_inode: 42,
        })
    }
}
