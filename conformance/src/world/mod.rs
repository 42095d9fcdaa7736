//! The simulated world, and nothing of judging: the network namespaces built from the address
//! plan ([`fw_testkit::plan`], [`topology`]), the scenarios a run happens in ([`scenario`]), the sandbox built from them
//! ([`sandbox`]), the mocks (DNS, Docker's embedded DNS, GitHub meta over HTTPS, the world's
//! hosts), the Docker tier ([`docker`]), running the implementation under test confined
//! ([`iut`], [`confine`], [`iut_watch`], [`caps`]), the prior states a re-run starts from
//! ([`planted`], [`recovery`]), reading the container's packet-filter state ([`state`]) and the
//! probes that send from inside the container ([`probe`]), the seeded spreads of destinations
//! ([`spread`]), the positive controls that prove the world before the implementation runs
//! ([`controls`], [`spread::control`]) and the record of a run ([`record`]).

pub mod caps;
pub mod confine;
pub mod controls;
pub mod docker;
pub mod environment;
pub mod iut;
pub mod iut_watch;
pub mod mocks;
pub mod netns;
pub mod options;
pub mod planted;
pub mod probe;
pub mod record;
pub mod recovery;
pub mod sandbox;
pub mod sandbox_build;
pub mod sandbox_run;
pub mod scenario;
pub mod seed;
pub mod spread;
pub mod state;
pub mod topology;
