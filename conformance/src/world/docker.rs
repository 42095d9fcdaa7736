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
use std::ffi::CString;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
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
        let (status, killed, stdout, stderr, locked_out) = self.rt.block_on(async {
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
            let mut stdout = Vec::new();
            let mut stderr = Vec::new();
            let mut output = match self
                .docker
                .start_exec(&exec.id, None)
                .await
                .context("cannot start the exec")?
            {
                StartExecResults::Attached { output, .. } => output,
                StartExecResults::Detached => bail!("the exec started detached"),
            };
            let deadline = tokio::time::Instant::from_std(started + limit);
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
                            .inspect_exec(&exec.id)
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
                                .inspect_exec(&exec.id)
                                .await
                                .context("cannot inspect the exec")?;
                            if info.running == Some(false) {
                                exited = Some(Instant::now());
                            } else if let (Some(limit), Ok(init)) =
                                (spec.stall_limit, i32::try_from(self.pid))
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
            // The stream ends when the process does; its exit code may lag a moment.
            let mut code = None;
            for _ in 0..50 {
                let info = self
                    .docker
                    .inspect_exec(&exec.id)
                    .await
                    .context("cannot inspect the exec")?;
                if info.running != Some(true) {
                    code = info.exit_code;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok::<_, anyhow::Error>((code, killed.is_some(), stdout, stderr, locked_out))
        })?;
        let elapsed = started.elapsed();
        let status = status.and_then(|c| i32::try_from(c).ok());
        Ok(IutRun {
            status: if killed { None } else { status },
            signal: killed.then_some(libc::SIGKILL),
            timed_out: killed,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
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
            locked_out,
        })
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

/// `openat2(2)` of `path` relative to `dir`, resolved as if `dir` were the root
/// (`RESOLVE_IN_ROOT`: absolute symlinks and `..` stay beneath it) and without following magic
/// links (`/proc/.../root` and the like).
#[allow(unsafe_code)]
fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &str,
    flags: i32,
    mode: u32,
) -> std::io::Result<OwnedFd> {
    let c = CString::new(path)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL in a path"))?;
    // SAFETY: `open_how` is a plain C struct of integers; openat2(2) wants it zero-filled
    // before the fields it uses are set.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = u64::from((flags | libc::O_CLOEXEC).cast_unsigned());
    how.mode = u64::from(mode);
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: the path is a NUL-terminated string and `how` a valid `open_how` of the size
    // passed, both alive for the call; `dir` is an open descriptor.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &raw const how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| std::io::Error::other("openat2 returned no fd"))?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mkdirat(2)` or `unlinkat(2)` of one name in `dir`.
#[allow(unsafe_code)]
fn at_call(dir: BorrowedFd<'_>, name: &str, mkdir: bool) -> std::io::Result<()> {
    let c = CString::new(name)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL in a path"))?;
    // SAFETY: `dir` is an open descriptor and `c` a NUL-terminated name alive for the call.
    let rc = unsafe {
        if mkdir {
            libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755)
        } else {
            libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0)
        }
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Writes `bytes` to `inside` (an absolute path of the container) with `mode`, the way the
/// container would see it: every component resolved beneath `root` ([`open_beneath`]), missing
/// directories created, and a symlink in the last place replaced by the file. A symlink in the
/// image or one the implementation planted (`/tmp -> /etc`, `/tmp/.firewall-init-done ->
/// /etc/passwd`) thus never makes the harness write a file of the machine.
pub fn write_beneath(root: BorrowedFd<'_>, inside: &str, bytes: &[u8], mode: u32) -> Result<()> {
    let comps: Vec<&str> = inside.split('/').filter(|c| !c.is_empty()).collect();
    let Some((name, dirs)) = comps.split_last() else {
        bail!("{inside:?} names no file");
    };
    if comps.iter().any(|c| *c == "." || *c == "..") {
        bail!("{inside:?} is not a plain absolute path");
    }
    let dir_flags = libc::O_PATH | libc::O_DIRECTORY;
    let mut parent = open_beneath(root, ".", dir_flags, 0).context("cannot open the root")?;
    for (i, comp) in dirs.iter().enumerate() {
        let so_far = dirs[..=i].join("/");
        parent = match open_beneath(root, &so_far, dir_flags, 0) {
            Ok(d) => d,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                match at_call(parent.as_fd(), comp, true) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    Err(e) => return Err(e).with_context(|| format!("cannot create /{so_far}")),
                }
                open_beneath(root, &so_far, dir_flags, 0)
                    .with_context(|| format!("cannot open /{so_far}"))?
            }
            Err(e) => return Err(e).with_context(|| format!("cannot open /{so_far}")),
        };
    }
    let file_flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW;
    let fd = match open_beneath(parent.as_fd(), name, file_flags, mode) {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            at_call(parent.as_fd(), name, false)
                .with_context(|| format!("cannot remove the symlink at {inside}"))?;
            open_beneath(parent.as_fd(), name, file_flags, mode)
        }
        other => other,
    }
    .with_context(|| format!("cannot open {inside} for writing"))?;
    let mut file = File::from(fd);
    file.write_all(bytes)
        .with_context(|| format!("cannot write {inside}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {inside}"))?;
    }
    Ok(())
}

/// Process ids and parent ids of every live process in the machine's /proc (zombies left out).
fn process_table() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
        let mut rest = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
        let state = rest.next()?;
        let ppid: u32 = rest.next()?.parse().ok()?;
        (state != "Z" && state != "X").then_some((pid, ppid))
    })
    .collect()
}

/// The pid namespace of a process (the inode of /proc/PID/ns/pid).
fn pid_ns(pid: u32) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

/// `pid` and every process under it, in parent-before-child order.
fn tree(table: &[(u32, u32)], pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while let Some(&p) = out.get(i) {
        let children: Vec<u32> = table
            .iter()
            .filter(|(c, pp)| *pp == p && !out.contains(c))
            .map(|(c, _)| *c)
            .collect();
        out.extend(children);
        i += 1;
    }
    out.retain(|p| table.iter().any(|(q, _)| q == p));
    out
}

/// SIGKILLs `pid` (the run's process, a machine pid) and every process under it, from the
/// machine's side, until none is left: the time limit, as coreutils' `timeout -s KILL` gave it
/// in the container before, without needing anything of the image. Only processes of the
/// container's pid namespace (that of `container_init`, which is spared) are touched;
/// processes that left the tree (daemons re-parented to the container's init) are not, as
/// `timeout` left them.
#[allow(unsafe_code)]
pub fn kill_tree(pid: u32, container_init: u32) -> Result<usize> {
    let ns = pid_ns(container_init).context("the container's init is gone")?;
    let mut killed = 0;
    for _ in 0..50 {
        let table = process_table();
        let victims: Vec<u32> = tree(&table, pid)
            .into_iter()
            .filter(|p| *p > 1 && *p != container_init && *p != std::process::id())
            .filter(|p| pid_ns(*p) == Some(ns))
            .collect();
        if victims.is_empty() {
            return Ok(killed);
        }
        for p in victims {
            let Ok(raw) = i32::try_from(p) else { continue };
            // SAFETY: kill(2) has no memory effects; `raw` is a positive pid of the container's
            // pid namespace, checked just above.
            if unsafe { libc::kill(raw, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("processes under {pid} survive SIGKILL")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn root_fd(dir: &Path) -> File {
        File::open(dir).unwrap()
    }

    #[test]
    fn files_are_written_beneath_the_root_whatever_the_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("passwd");
        std::fs::write(&victim, "machine's own\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        // The image's /tmp is an absolute symlink; the marker a symlink to a machine's file;
        // /etc/ssl a relative symlink climbing out.
        std::fs::create_dir(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("var/tmp")).unwrap();
        std::os::unix::fs::symlink("/var/tmp", r.join("tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, r.join("marker")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", r.join("etc/ssl")).unwrap();
        let fd = root_fd(r);
        write_beneath(fd.as_fd(), "/tmp/.firewall-init-done", b"stale\n", 0o644).unwrap();
        write_beneath(fd.as_fd(), "/marker", b"stale\n", 0o644).unwrap();
        write_beneath(fd.as_fd(), "/etc/ssl/certs/ca.crt", b"ca\n", 0o600).unwrap();
        write_beneath(
            fd.as_fd(),
            "/opt/fw-conformance/0-x.sh",
            b"#!/bin/sh\n",
            0o755,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "machine's own\n");
        // Resolved as the container would: /tmp -> /var/tmp inside, ../.. stops at the root.
        assert_eq!(
            std::fs::read_to_string(r.join("var/tmp/.firewall-init-done")).unwrap(),
            "stale\n"
        );
        assert!(!r.join("marker").is_symlink());
        assert_eq!(
            std::fs::read_to_string(r.join("marker")).unwrap(),
            "stale\n"
        );
        assert_eq!(
            std::fs::read_to_string(r.join("certs/ca.crt")).unwrap(),
            "ca\n"
        );
        let mode = std::fs::metadata(r.join("opt/fw-conformance/0-x.sh"))
            .unwrap()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(write_beneath(fd.as_fd(), "/a/../b", b"", 0o644).is_err());
        assert!(write_beneath(fd.as_fd(), "/", b"", 0o644).is_err());
    }

    #[test]
    fn a_tree_is_the_process_and_its_descendants() {
        let table = [(10, 1), (11, 10), (12, 11), (13, 1), (14, 13), (15, 12)];
        assert_eq!(tree(&table, 10), [10, 11, 12, 15]);
        assert_eq!(tree(&table, 13), [13, 14]);
        assert!(tree(&table, 99).is_empty());
    }

    #[test]
    fn a_missing_image_is_named_with_how_to_get_one() {
        let hint = missing_image_hint("my-devcontainer:1");
        assert!(hint.contains("my-devcontainer:1"));
        assert!(hint.contains("scripts/setup-docker.sh"));
        assert!(hint.contains("--image"));
    }
}
