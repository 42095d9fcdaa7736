//! The conformance suite: it builds the simulated world of docs/sandbox.md in network namespaces,
//! runs an implementation under test (IUT) unmodified inside it, and judges it from outside,
//! through the network and the kernel's state, per requirement of docs/requirements.md.
//!
//! Layout, one folder a layer; a folder imports only from the folders listed before it:
//! - [`world`]: the simulated world (namespaces built from the address plan of
//!   [`fw_testkit::plan`], mocks, the Docker tier, running the implementation under test, the
//!   spreads of destinations and the positive controls); it knows nothing of judging.
//! - [`judge`]: the checks one file per family, the catalog, the runner and its results; it
//!   knows nothing of reports.
//! - [`report`]: JSON, JUnit XML, Markdown and HTML rendered from the judge's results.
//! - [`campaigns`]: stress and benchmarks, built on the three above.

pub mod campaigns;
pub mod judge;
pub mod report;
pub mod testing;
pub mod world;
