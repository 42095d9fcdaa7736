//! The Docker tier: the implementation runs in a real Docker container, so that Docker's own
//! daemon writes the embedded-DNS rules, forwards external queries from inside the container's
//! namespace, and grants its own capability set.
//!
//! Per sandbox, through the engine's API (bollard):
//!
//! - two user-defined, `--internal` networks with the plan's subnets: net A (172.18.0.0/16,
//!   the container at .2) and net B (172.19.0.0/16, the container at .2, a sidecar at .5).
//!   Internal, so that Docker routes nothing of them off the machine; their gateways are
//!   Docker's bridges in the machine's namespace;
//! - the container, from the locally built test image (`scripts/build-test-image.sh`) or the
//!   user's own (`--image`), running `sleep infinity` as its entrypoint with Docker's default
//!   capabilities plus NET_ADMIN and NET_RAW, and `--dns` naming the world's resolver, so that
//!   Docker's embedded resolver forwards there;
//! - a sidecar on net B, from the same image.
//!
//! Nothing of the harness runs inside the image: the only program it starts there besides the
//! implementation is the keep-alive `sleep`. Files are written into the container from the
//! machine's side, resolved beneath the container's root ([`write_beneath`]: a symlink in the
//! image or one the implementation planted never leads to a file of the machine); probes and
//! kernel-state reads enter the container's network namespace with the machine's own tools; the
//! time limit is the harness's: at the limit it kills the run's processes by pid from the
//! machine ([`kill_tree`]), not with the image's `timeout`.
//!
//! [`crate::world::topology::Topology::docker`] then attaches the simulated world with a veth into the
//! container's namespace and moves its default route onto it, before anything runs in it.
//!
//! The fixed subnets mean one Docker sandbox at a time on a machine: [`DockerBox::start`] holds
//! a process-wide slot, and a network left over by a killed run is a clear error until
//! `fw-conformance sweep` removes it.
//!
//! Why not testcontainers: testcontainers 0.28 talks to the engine at API version 1.53 without
//! negotiating, and Debian bookworm's engine (20.10) answers only up to 1.41 ("client version
//! 1.53 is too new"). The tier uses bollard, the client testcontainers is built on, with version
//! negotiation, and keeps testcontainers' model: one container per case, removed on drop.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures::StreamExt;

mod beneath;
mod kill;
pub use beneath::write_beneath;
pub use kill::kill_tree;

use crate::world::iut::{IutRun, RunSpec};
use crate::world::netns::PREFIX;
use fw_testkit::plan::{CONTAINER_A, CONTAINER_B, NET_A, NET_A_GATEWAY, NET_B, NET_B_GATEWAY, SVC};

/// The image the tier uses unless told otherwise (`scripts/build-test-image.sh` tags it).
pub const DEFAULT_IMAGE: &str = "fw-conformance-debian:latest";

/// The label every container and network of the tier carries: the harness's pid.
const LABEL: &str = "fw-conformance.pid";

/// Where files of the implementation are copied in the container.
const IUT_DIR: &str = "/opt/fw-conformance";

/// After the time limit's kill, how long the run's output may stay open (held by a process that
/// left the run's tree) before the harness stops reading it.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(5);

/// After the run's main process exited, how long its output may stay open (held by a daemon it
/// started without redirecting its output) before the harness stops reading it.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// An attached exec's output, as the engine streams it.
type ExecOutput = std::pin::Pin<
    Box<
        dyn futures::Stream<
                Item = std::result::Result<bollard::container::LogOutput, bollard::errors::Error>,
            > + Send,
    >,
>;

/// What [`DockerBox::watch_exec`] saw of one exec: its output, whether the harness killed it
/// (at the time limit or locked out) and, if locked out, why.
struct Watched {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    killed: bool,
    locked_out: Option<String>,
}

/// How a missing image is reported: which image, and how to get one.
fn missing_image_hint(image: &str) -> String {
    format!(
        "image {image} is not present in the local Docker engine (`docker images` lists the \
         present ones): build the suite's test image with scripts/setup-docker.sh (or \
         scripts/build-test-image.sh), or build your devcontainer's image and tag it \
         (`docker build -t my-devcontainer:latest .devcontainer`, `docker tag IMAGE_ID \
         my-devcontainer:latest`), then pass that name to --image"
    )
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One Docker sandbox at a time (the subnets are fixed).
static SLOT: Mutex<bool> = Mutex::new(false);
static SLOT_FREE: Condvar = Condvar::new();

/// Holds the machine's Docker sandbox slot until dropped.
#[derive(Debug)]
struct Slot;

impl Slot {
    fn take() -> Slot {
        let mut busy = SLOT.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            busy = SLOT_FREE.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy = true;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut busy = SLOT.lock().unwrap_or_else(|e| e.into_inner());
        *busy = false;
        SLOT_FREE.notify_one();
    }
}

/// What the container is started with.
#[derive(Debug, Clone)]
pub struct DockerOptions {
    /// `repository:tag` of a local image.
    pub image: String,
    /// The upstream resolver Docker's embedded DNS forwards to (`--dns`).
    pub dns: String,
}

/// Files the harness writes into the container before anything runs.
#[derive(Debug, Clone)]
pub struct DockerFiles {
    pub ca_bundle_pem: String,
    pub npmrc: String,
}

/// A connection to the engine, with its own runtime. Fails with the reason when there is no
/// engine to talk to.
fn connect(rt: &tokio::runtime::Runtime) -> Result<Docker> {
    rt.block_on(async {
        let docker = Docker::connect_with_local_defaults()
            .context("cannot connect to the Docker engine")?
            .negotiate_version()
            .await
            .context("the Docker engine does not answer")?;
        docker
            .ping()
            .await
            .context("the Docker engine does not answer")?;
        Ok(docker)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot build a runtime for the Docker client")
}

/// Whether the tier can run here: an engine answers and the image exists. `Err` says why not;
/// `Ok` is the image's id (`sha256:...`), for the report.
pub fn available(image: &str) -> Result<String> {
    let rt = runtime()?;
    let docker = connect(&rt)?;
    let info = rt
        .block_on(docker.inspect_image(image))
        .map_err(|e| anyhow::anyhow!("{}: {e}", missing_image_hint(image)))?;
    if let Some(os) = info.os.as_deref()
        && os != "linux"
    {
        bail!("image {image} is for {os}: the Docker tier needs a Linux image");
    }
    Ok(info.id.unwrap_or_else(|| image.to_owned()))
}

/// The live containers and networks of one Docker sandbox. Dropping it removes them.
pub struct DockerBox {
    rt: tokio::runtime::Runtime,
    docker: Docker,
    /// The container the implementation runs in.
    pub id: String,
    /// Its main process, in the machine's pid namespace.
    pub pid: u32,
    sidecar: Option<String>,
    /// The sidecar's main process.
    pub sidecar_pid: u32,
    networks: Vec<String>,
    /// The container's root directory, opened through /proc once it runs: every file the
    /// harness writes in the container is resolved beneath it.
    root_dir: Option<File>,
    /// Host files of the implementation already copied in, with their path in the container.
    copied: Mutex<HashMap<PathBuf, String>>,
    _slot: Slot,
}

impl std::fmt::Debug for DockerBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerBox")
            .field("id", &self.id)
            .field("pid", &self.pid)
            .field("sidecar", &self.sidecar)
            .field("networks", &self.networks)
            .finish_non_exhaustive()
    }
}

fn endpoint(ip: std::net::Ipv4Addr) -> EndpointSettings {
    EndpointSettings {
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: Some(ip.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn labels() -> HashMap<String, String> {
    HashMap::from([(LABEL.to_owned(), std::process::id().to_string())])
}

impl DockerBox {
    /// Creates the networks, the container and the sidecar, and writes the container's files.
    pub fn start(opts: &DockerOptions, files: &DockerFiles) -> Result<DockerBox> {
        let slot = Slot::take();
        let rt = runtime()?;
        let docker = connect(&rt)?;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = format!("{PREFIX}{}-{n}", std::process::id());
        let mut b = DockerBox {
            rt,
            docker,
            id: String::new(),
            pid: 0,
            sidecar: None,
            sidecar_pid: 0,
            networks: Vec::new(),
            root_dir: None,
            copied: Mutex::new(HashMap::new()),
            _slot: slot,
        };
        // On any error below, dropping `b` removes what was created so far.
        let net_a = format!("{base}-net-a");
        let net_b = format!("{base}-net-b");
        for (name, subnet, gateway) in [
            (&net_a, NET_A, NET_A_GATEWAY),
            (&net_b, NET_B, NET_B_GATEWAY),
        ] {
            b.create_network(name, &subnet.to_string(), &gateway.to_string())?;
        }
        // Each id is recorded before the start, so that a failed start is still removed.
        b.id = b.create_container(
            &format!("{base}-ctr"),
            &opts.image,
            &net_a,
            CONTAINER_A,
            Some(&opts.dns),
            true,
        )?;
        b.pid = b.start_container(&b.id, &opts.image)?;
        b.root_dir = Some(
            File::open(format!("/proc/{}/root", b.pid))
                .with_context(|| format!("cannot open the root of container {}", b.id))?,
        );
        b.rt.block_on(b.docker.connect_network(
            &net_b,
            NetworkConnectRequest {
                container: b.id.clone(),
                endpoint_config: Some(endpoint(CONTAINER_B)),
            },
        ))
        .with_context(|| format!("cannot connect the container to {net_b}"))?;
        let sid = b.create_container(
            &format!("{base}-svc"),
            &opts.image,
            &net_b,
            SVC,
            None,
            false,
        )?;
        b.sidecar = Some(sid.clone());
        b.sidecar_pid = b.start_container(&sid, &opts.image)?;
        b.write_file(
            "/etc/ssl/certs/ca-certificates.crt",
            files.ca_bundle_pem.as_bytes(),
            0o644,
        )?;
        b.write_file("/root/.npmrc", files.npmrc.as_bytes(), 0o600)?;
        Ok(b)
    }

    fn create_network(&mut self, name: &str, subnet: &str, gateway: &str) -> Result<()> {
        let req = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            internal: Some(true),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_owned()),
                    gateway: Some(gateway.to_owned()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(labels()),
            ..Default::default()
        };
        let created = self.rt.block_on(self.docker.create_network(req)).with_context(|| {
            format!(
                "cannot create Docker network {name} ({subnet}): a network left by a killed run \
                 holds the subnet? `fw-conformance sweep` removes those"
            )
        })?;
        self.networks.push(created.id);
        Ok(())
    }

    fn create_container(
        &self,
        name: &str,
        image: &str,
        network: &str,
        ip: std::net::Ipv4Addr,
        dns: Option<&str>,
        net_caps: bool,
    ) -> Result<String> {
        let host_config = HostConfig {
            network_mode: Some(network.to_owned()),
            cap_add: net_caps.then(|| vec!["NET_ADMIN".to_owned(), "NET_RAW".to_owned()]),
            dns: dns.map(|d| vec![d.to_owned()]),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            // The entrypoint, so that an image's own ENTRYPOINT and CMD (a devcontainer's
            // `docker-init.sh`, tini, a shell) are not started around it.
            entrypoint: Some(vec!["sleep".to_owned(), "infinity".to_owned()]),
            hostname: Some("devcontainer".to_owned()),
            labels: Some(labels()),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(network.to_owned(), endpoint(ip))])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        let created = self
            .rt
            .block_on(self.docker.create_container(Some(options), body))
            .with_context(|| format!("cannot create container {name} from {image}"))?;
        Ok(created.id)
    }

    /// Starts a created container; its main process's pid.
    fn start_container(&self, id: &str, image: &str) -> Result<u32> {
        self.rt
            .block_on(self.docker.start_container(id, None))
            .with_context(|| {
                format!(
                    "cannot start container {id} from {image} (the image needs a `sleep` that \
                     takes `infinity`, coreutils' or busybox's, as the container's keep-alive)"
                )
            })?;
        let info = self
            .rt
            .block_on(self.docker.inspect_container(id, None))
            .with_context(|| format!("cannot inspect container {id}"))?;
        info.state
            .and_then(|s| s.pid)
            .filter(|p| *p > 0)
            .and_then(|p| u32::try_from(p).ok())
            .with_context(|| {
                format!(
                    "container {id} from {image} has no running process: its `sleep infinity` \
                     exited (the image needs a `sleep` that takes `infinity`)"
                )
            })
    }

    /// A path inside the container, as the machine sees it (through /proc). For reading only:
    /// an absolute symlink inside resolves against the machine's root on this path; files are
    /// written with [`DockerBox::write_file`].
    pub fn host_path(&self, inside: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid)).join(inside.trim_start_matches('/'))
    }

    /// Writes a file into the container, creating directories, resolved beneath the
    /// container's root ([`write_beneath`]).
    pub fn write_file(&self, inside: &str, bytes: &[u8], mode: u32) -> Result<()> {
        let root = self
            .root_dir
            .as_ref()
            .context("the container's root is not open")?;
        write_beneath(root.as_fd(), inside, bytes, mode)
            .with_context(|| format!("cannot write {inside} in the container"))
    }

    /// The argv as the container sees it: each word that names a file on the machine (it holds
    /// a `/` and the file exists) is copied into the container once and replaced by the copy's
    /// path. Bare program names are looked up in the container's own PATH.
    pub fn container_argv(&self, argv: &[String]) -> Result<Vec<String>> {
        let mut copied = self
            .copied
            .lock()
            .map_err(|_| anyhow::anyhow!("the copy table lock is poisoned"))?;
        let mut out = Vec::with_capacity(argv.len());
        for word in argv {
            let host = Path::new(word);
            if !word.contains('/') || !host.is_file() {
                out.push(word.clone());
                continue;
            }
            let key = host
                .canonicalize()
                .with_context(|| format!("cannot resolve {word}"))?;
            if let Some(inside) = copied.get(&key) {
                out.push(inside.clone());
                continue;
            }
            let name = key
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".to_owned());
            let inside = format!("{IUT_DIR}/{}-{name}", copied.len());
            let bytes = std::fs::read(&key).with_context(|| format!("cannot read {word}"))?;
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(&key)
                    .map(|m| m.permissions().mode() & 0o777)
                    .unwrap_or(0o755)
            };
            self.write_file(&inside, &bytes, mode)?;
            copied.insert(key, inside.clone());
            out.push(inside);
        }
        Ok(out)
    }

    /// Runs a command in the container as root, from `/`, with the spec's environment (on top
    /// of the image's own, PATH included) and time limit. At the limit the harness kills the
    /// run's process and every process under it, by pid from the machine's side ([`kill_tree`]):
    /// nothing of the image (no `timeout`) is needed for that.
    pub fn run(&self, spec: &RunSpec) -> Result<IutRun> {
        let argv = self.container_argv(&spec.argv)?;
        if argv.is_empty() {
            bail!("the IUT's argv is empty");
        }
        let limit = spec.timeout.max(Duration::from_secs(1));
        let mut env = vec!["HOME=/root".to_owned(), "LANG=C.UTF-8".to_owned()];
        env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
        let started = Instant::now();
        let (status, watched) = self.rt.block_on(async {
            let (exec, output) = self.start_exec(argv, env).await?;
            let deadline = tokio::time::Instant::from_std(started + limit);
            let watched = self
                .watch_exec(&exec, output, deadline, spec.stall_limit)
                .await?;
            let code = self.exit_code(&exec).await?;
            Ok::<_, anyhow::Error>((code, watched))
        })?;
        let elapsed = started.elapsed();
        let killed = watched.killed;
        let status = status.and_then(|c| i32::try_from(c).ok());
        Ok(IutRun {
            status: if killed { None } else { status },
            signal: killed.then_some(libc::SIGKILL),
            timed_out: killed,
            stdout: String::from_utf8_lossy(&watched.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&watched.stderr).into_owned(),
            elapsed,
            // The process runs under the engine, not as the harness's child: not measured.
            max_rss_kib: None,
            // A `docker exec` gets the container's capability set: its first process's.
            caps: spec.watch_caps.then(|| {
                let mut seen = crate::world::caps::CapsSeen::default();
                crate::world::caps::sample_pid(self.pid, true, &mut seen);
                seen
            }),
            cpu: Duration::ZERO,
            locked_out: watched.locked_out,
        })
    }

    /// Creates and starts an exec of `argv` as root from `/`, attached: its id and its output.
    async fn start_exec(
        &self,
        argv: Vec<String>,
        env: Vec<String>,
    ) -> Result<(String, ExecOutput)> {
        let exec = self
            .docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(argv),
                    env: Some(env),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    user: Some("root".to_owned()),
                    working_dir: Some("/".to_owned()),
                    ..Default::default()
                },
            )
            .await
            .context("cannot create the exec")?;
        match self
            .docker
            .start_exec(&exec.id, None)
            .await
            .context("cannot start the exec")?
        {
            StartExecResults::Attached { output, .. } => Ok((exec.id, output)),
            StartExecResults::Detached => bail!("the exec started detached"),
        }
    }

    /// Gathers an exec's output until its stream ends (or a moment after it exits or is
    /// killed), killing its process tree at `deadline` or when it locks itself out (see
    /// [`crate::world::iut_watch`]).
    async fn watch_exec(
        &self,
        exec: &str,
        mut output: ExecOutput,
        deadline: tokio::time::Instant,
        stall_limit: Option<Duration>,
    ) -> Result<Watched> {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut killed: Option<Instant> = None;
        let mut exited: Option<Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut stalls = crate::world::iut_watch::Stalls::default();
        let mut locked_out: Option<String> = None;
        loop {
            tokio::select! {
                item = output.next() => match item {
                    None => break,
                    Some(item) => match item.context("reading the exec's output")? {
                        bollard::container::LogOutput::StdOut { message } => {
                            stdout.extend_from_slice(&message);
                        }
                        bollard::container::LogOutput::StdErr { message } => {
                            stderr.extend_from_slice(&message);
                        }
                        _ => {}
                    },
                },
                _ = tokio::time::sleep_until(deadline), if killed.is_none() && exited.is_none() => {
                    let info = self
                        .docker
                        .inspect_exec(exec)
                        .await
                        .context("cannot inspect the exec to stop it at the time limit")?;
                    if info.running == Some(true) {
                        let pid = exec_pid(&info)
                            .context("the exec runs but has no pid to stop at the time limit")?;
                        kill_tree(pid, self.pid)?;
                        killed = Some(Instant::now());
                    } else {
                        exited = Some(Instant::now());
                    }
                },
                _ = tick.tick() => {
                    if let Some(at) = killed
                        && at.elapsed() >= DRAIN_AFTER_KILL
                    {
                        break;
                    }
                    if let Some(at) = exited
                        && at.elapsed() >= DRAIN_AFTER_EXIT
                    {
                        break;
                    }
                    if exited.is_none() && killed.is_none() {
                        let info = self
                            .docker
                            .inspect_exec(exec)
                            .await
                            .context("cannot inspect the exec")?;
                        if info.running == Some(false) {
                            exited = Some(Instant::now());
                        } else if let (Some(limit), Ok(init)) =
                            (stall_limit, i32::try_from(self.pid))
                            && let Some(why) = stalls.check(init, limit, Instant::now())
                        {
                            // Locked out (see crate::world::iut_watch): stopped as at the limit.
                            if let Some(pid) = exec_pid(&info) {
                                kill_tree(pid, self.pid)?;
                                killed = Some(Instant::now());
                                locked_out = Some(why);
                            }
                        }
                    }
                },
            }
        }
        Ok(Watched {
            stdout,
            stderr,
            killed: killed.is_some(),
            locked_out,
        })
    }

    /// The exec's exit code. The output stream ends when the process does; its exit code may
    /// lag a moment, so it is asked for up to a second.
    async fn exit_code(&self, exec: &str) -> Result<Option<i64>> {
        for _ in 0..50 {
            let info = self
                .docker
                .inspect_exec(exec)
                .await
                .context("cannot inspect the exec")?;
            if info.running != Some(true) {
                return Ok(info.exit_code);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(None)
    }

    fn remove_container(&self, id: &str) {
        let opts = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(e) = self
            .rt
            .block_on(self.docker.remove_container(id, Some(opts)))
        {
            eprintln!("cannot remove container {id}: {e}");
        }
    }
}

/// The exec's process as the machine sees it (never the container's init).
fn exec_pid(info: &bollard::models::ExecInspectResponse) -> Option<u32> {
    info.pid
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 1)
}

impl Drop for DockerBox {
    fn drop(&mut self) {
        if let Some(s) = self.sidecar.take() {
            self.remove_container(&s);
        }
        if !self.id.is_empty() {
            let id = std::mem::take(&mut self.id);
            self.remove_container(&id);
        }
        for n in std::mem::take(&mut self.networks) {
            if let Err(e) = self.rt.block_on(self.docker.remove_network(&n)) {
                eprintln!("cannot remove network {n}: {e}");
            }
        }
    }
}

/// Removes the containers and networks of dead runs (labelled with a pid that no longer
/// exists). Returns their names. `Ok(empty)` when there is no engine.
pub fn sweep() -> Result<Vec<String>> {
    let rt = runtime()?;
    let Ok(docker) = connect(&rt) else {
        return Ok(Vec::new());
    };
    let dead = |labels: Option<&HashMap<String, String>>| -> bool {
        labels
            .and_then(|l| l.get(LABEL))
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(crate::world::netns::run_is_dead)
    };
    let mut removed = Vec::new();
    let filters = HashMap::from([("label", vec![LABEL])]);
    let containers = rt
        .block_on(
            docker.list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            )),
        )
        .context("cannot list containers")?;
    for c in containers {
        if !dead(c.labels.as_ref()) {
            continue;
        }
        if let Some(id) = c.id {
            let opts = RemoveContainerOptionsBuilder::new().force(true).build();
            rt.block_on(docker.remove_container(&id, Some(opts)))
                .with_context(|| format!("cannot remove container {id}"))?;
            removed.push(c.names.unwrap_or_default().join(","));
        }
    }
    let networks = rt
        .block_on(docker.list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        )))
        .context("cannot list networks")?;
    for n in networks {
        if !dead(n.labels.as_ref()) {
            continue;
        }
        if let Some(id) = n.id {
            rt.block_on(docker.remove_network(&id))
                .with_context(|| format!("cannot remove network {id}"))?;
            removed.push(n.name.unwrap_or(id));
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
