//! The test CA, the mock GitHub meta and the world's HTTPS responder.
//!
//! An implementation must see a world whose TLS validates exactly as the real one would:
//! [`TestCa`] is a CA made for one run (its PEM goes into the container's CA bundle), and the
//! responder issues a certificate from it for whatever name the client asks for in SNI (or for
//! the address it connected to, when it sends none), so every hostname and address an
//! implementation uses validates. Names listed as untrusted get a certificate from a second CA
//! nobody trusts: reachable, but not provably so (VER-03).
//!
//! One listener on 0.0.0.0:443 and [::]:443 answers for every address of the world (the world
//! has local routes for its ranges). `api.github.com` serves `/meta` with a chosen
//! [`MetaBehaviour`] (the faults of FAIL-01..05) and `/zen` (200, or GitHub's rate-limit 403 for
//! VER-04); any other host answers 200 with a body naming it. HTTP/1.1 only, one request per
//! connection (`Connection: close`): enough for curl, reqwest and every script's client.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;

use crate::world::netns::{Netns, Service};

/// The host whose `/meta` and `/zen` the mock serves.
pub const GITHUB_API: &str = "api.github.com";

/// GitHub's zen answer: a proverb, as GitHub sends one.
pub const ZEN: &str = "Design for failure.";

/// Seed of the meta fixtures: fixed, so a run's meta is the same on every machine.
pub const META_SEED: u64 = 1;

/// Longest request head read; a client sending more gets a 431 and the connection closes.
const MAX_HEAD: usize = 64 * 1024;

/// A CA made for one run, issuing (and caching) server certificates on demand.
#[derive(Debug)]
pub struct TestCa {
    label: String,
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    pem: String,
    /// One key for every leaf: generating one per name would only cost time.
    leaf_key: KeyPair,
    configs: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl TestCa {
    /// A new CA whose subject names `label` (shown by clients in certificate errors).
    pub fn new(label: &str) -> Result<TestCa> {
        let key = KeyPair::generate().context("cannot generate a CA key")?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).context("cannot make CA params")?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name.push(
            DnType::CommonName,
            format!("fw conformance test CA ({label})"),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, "fw conformance sandbox");
        let cert = params.self_signed(&key).context("cannot sign the CA")?;
        Ok(TestCa {
            label: label.to_owned(),
            cert_der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
            leaf_key: KeyPair::generate().context("cannot generate a leaf key")?,
            configs: Mutex::default(),
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The CA certificate in PEM, for the container's CA bundle.
    pub fn ca_pem(&self) -> &str {
        &self.pem
    }

    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A certificate for `name` (a DNS name, or an IP address as text) and its key.
    pub fn issue(
        &self,
        name: &str,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let mut params = CertificateParams::new(vec![name.to_owned()])
            .with_context(|| format!("{name:?} cannot be a certificate name"))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params
            .signed_by(&self.leaf_key, &self.issuer)
            .with_context(|| format!("cannot sign a certificate for {name}"))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        Ok((vec![cert.der().clone()], key))
    }

    /// A rustls server configuration presenting a certificate for `name`, made once per name.
    pub fn server_config(&self, name: &str) -> Result<Arc<ServerConfig>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(c) = self.configs.lock().ok().and_then(|m| m.get(&name).cloned()) {
            return Ok(c);
        }
        let (chain, key) = self.issue(&name)?;
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .context("no TLS versions")?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .context("rustls refused the issued certificate")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        if let Ok(mut m) = self.configs.lock() {
            m.insert(name, config.clone());
        }
        Ok(config)
    }
}

/// What `api.github.com/meta` answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MetaBehaviour {
    /// `fw_testkit::fixtures::realistic_meta`.
    #[default]
    Realistic,
    /// `fw_testkit::fixtures::scaled_meta` with this many networks.
    Large(usize),
    /// Exactly this many networks under `web`/`api`/`git`: `scaled_meta` with one fewer, plus
    /// the plan's `api` block (which holds api.github.com), so that a firewall built from it
    /// still reaches api.github.com and verifies (benchmarks at a chosen size).
    Scaled(usize),
    /// 200 with a body cut in half: not JSON.
    InvalidJson,
    /// The realistic fixture without `git`.
    MissingKey,
    /// 200 with an empty body.
    EmptyBody,
    /// 500.
    Status500,
    /// 403 with GitHub's rate-limit body and headers.
    RateLimited403,
    /// TCP and TLS accepted, the request read, no answer ever (FAIL-04). Only `/meta` hangs:
    /// `/zen` and every other host still answer, as when only GitHub's API is stuck.
    AcceptAndHang,
    /// The realistic fixture with this string as the first entry of `git`.
    BadCidr(String),
    /// 200 with exactly these bytes.
    Custom(Vec<u8>),
}

/// How the world's HTTPS responder behaves.
#[derive(Debug, Clone)]
pub struct HttpsOptions {
    /// The CA the container trusts.
    pub ca: Arc<TestCa>,
    pub meta: MetaBehaviour,
    /// `/zen` answers GitHub's rate-limit 403 (`x-ratelimit-remaining: 0`) instead of 200.
    pub zen_rate_limited: bool,
    /// Names served with a certificate from a CA nobody trusts.
    pub untrusted_names: Vec<String>,
    /// Where to listen; by default 0.0.0.0:443 and [::]:443.
    pub bind: Vec<SocketAddr>,
}

impl HttpsOptions {
    pub fn new(ca: Arc<TestCa>) -> HttpsOptions {
        HttpsOptions {
            ca,
            meta: MetaBehaviour::Realistic,
            zen_rate_limited: false,
            untrusted_names: Vec::new(),
            bind: vec![
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 443)),
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, 443)),
            ],
        }
    }
}

/// One accepted connection and how its TLS handshake went.
#[derive(Debug, Clone)]
pub struct TlsConnection {
    pub sni: Option<String>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The name the presented certificate was issued for (SNI, else the local address).
    pub cert_name: Option<String>,
    /// Whether the handshake completed (a client refusing the certificate aborts it).
    pub handshake_ok: bool,
    pub at: Instant,
}

/// One HTTP request read over TLS.
#[derive(Debug, Clone)]
pub struct HttpsRequest {
    pub sni: Option<String>,
    /// The Host header without its port.
    pub host: Option<String>,
    pub method: String,
    pub path: String,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The status answered; `None` when the request was left hanging.
    pub status: Option<u16>,
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Logs {
    connections: Mutex<Vec<TlsConnection>>,
    requests: Mutex<Vec<HttpsRequest>>,
}

/// A prepared answer.
#[derive(Debug, Clone)]
enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Arc<Vec<u8>>,
    },
    Hang,
}

struct State {
    ca: Arc<TestCa>,
    untrusted_ca: TestCa,
    untrusted: HashSet<String>,
    meta: Reply,
    zen_rate_limited: bool,
    logs: Arc<Logs>,
}

/// A running HTTPS responder; dropping it stops it (hanging connections included).
#[derive(Debug)]
pub struct HttpsServer {
    addrs: Vec<SocketAddr>,
    logs: Arc<Logs>,
    untrusted_pem: String,
    _service: Service,
}

impl HttpsServer {
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The PEM of the CA the untrusted names' certificates come from.
    pub fn untrusted_ca_pem(&self) -> &str {
        &self.untrusted_pem
    }

    /// Every connection accepted so far.
    pub fn connections(&self) -> Vec<TlsConnection> {
        self.logs
            .connections
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Every request read so far.
    pub fn requests(&self) -> Vec<HttpsRequest> {
        self.logs
            .requests
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// The requests for `host` (by Host header, else SNI).
    pub fn requests_to(&self, host: &str) -> Vec<HttpsRequest> {
        let host = host.to_ascii_lowercase();
        self.requests()
            .into_iter()
            .filter(|r| r.host.as_ref().or(r.sni.as_ref()) == Some(&host))
            .collect()
    }
}

fn json_headers() -> Vec<(String, String)> {
    vec![(
        "content-type".to_owned(),
        "application/json; charset=utf-8".to_owned(),
    )]
}

/// GitHub's answer to an unauthenticated client over its rate limit.
fn rate_limited(peer: IpAddr) -> Reply {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() + 3600)
        .unwrap_or_default();
    let body = serde_json::json!({
        "message": format!(
            "API rate limit exceeded for {peer}. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
        ),
        "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
    });
    let mut headers = json_headers();
    for (k, v) in [
        ("x-ratelimit-limit", "60".to_owned()),
        ("x-ratelimit-remaining", "0".to_owned()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-used", "60".to_owned()),
        ("x-ratelimit-resource", "core".to_owned()),
    ] {
        headers.push((k.to_owned(), v));
    }
    Reply::Respond {
        status: 403,
        headers,
        body: Arc::new(body.to_string().into_bytes()),
    }
}

fn ok_json(body: Vec<u8>) -> Reply {
    let mut headers = json_headers();
    headers.push(("x-ratelimit-remaining".to_owned(), "59".to_owned()));
    Reply::Respond {
        status: 200,
        headers,
        body: Arc::new(body),
    }
}

/// The meta body of a fixture with `edit` applied.
fn realistic_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut v = fw_testkit::fixtures::realistic_meta(META_SEED);
    if let Value::Object(m) = &mut v {
        edit(m);
    }
    fw_testkit::fixtures::body(&v)
}

/// [`MetaBehaviour::Scaled`]'s document.
fn scaled_with_api(n: usize) -> Value {
    let mut v = fw_testkit::fixtures::scaled_meta(META_SEED, n.saturating_sub(1));
    let api_block = fw_testkit::fixtures::ALLOWED_BLOCKS[1].1;
    if n > 0
        && let Some(Value::Array(api)) = v.get_mut("api")
    {
        api.push(Value::String(api_block.to_string()));
    }
    v
}

/// The answer to `/meta` for a behaviour. `RateLimited403` is made per request (it names the
/// client, as GitHub's does), so here it is a placeholder resolved later.
fn prepare_meta(b: &MetaBehaviour) -> Reply {
    match b {
        MetaBehaviour::Realistic => ok_json(realistic_with(|_| {})),
        MetaBehaviour::Large(n) => ok_json(fw_testkit::fixtures::body(
            &fw_testkit::fixtures::scaled_meta(META_SEED, *n),
        )),
        MetaBehaviour::Scaled(n) => ok_json(fw_testkit::fixtures::body(&scaled_with_api(*n))),
        MetaBehaviour::InvalidJson => {
            let mut body = realistic_with(|_| {});
            body.truncate(body.len() / 2);
            ok_json(body)
        }
        MetaBehaviour::MissingKey => ok_json(realistic_with(|m| {
            m.remove("git");
        })),
        MetaBehaviour::EmptyBody => ok_json(Vec::new()),
        MetaBehaviour::Status500 => Reply::Respond {
            status: 500,
            headers: json_headers(),
            body: Arc::new(br#"{"message":"Server Error"}"#.to_vec()),
        },
        MetaBehaviour::RateLimited403 => rate_limited(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        MetaBehaviour::AcceptAndHang => Reply::Hang,
        MetaBehaviour::BadCidr(bad) => ok_json(realistic_with(|m| {
            if let Some(Value::Array(git)) = m.get_mut("git") {
                git.insert(0, Value::String(bad.clone()));
            }
        })),
        MetaBehaviour::Custom(bytes) => ok_json(bytes.clone()),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// A request head: method, path, Host without port.
fn parse_head(head: &[u8]) -> Option<(String, String, Option<String>)> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let host = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| strip_port(v.trim()).to_ascii_lowercase());
    Some((method, path, host))
}

/// `name:port`, `[v6]:port` or `[v6]` without the port and brackets.
fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.parse::<u16>().is_ok() => name,
        _ => h,
    }
}

impl State {
    fn route(&self, host: &str, path: &str, peer: SocketAddr) -> Reply {
        let path = path.split('?').next().unwrap_or(path);
        if host == GITHUB_API {
            match path {
                "/meta" => {
                    return match &self.meta {
                        Reply::Respond { status: 403, .. } => rate_limited(peer.ip()),
                        other => other.clone(),
                    };
                }
                "/zen" if self.zen_rate_limited => return rate_limited(peer.ip()),
                "/zen" => {
                    return Reply::Respond {
                        status: 200,
                        headers: vec![(
                            "content-type".to_owned(),
                            "text/plain;charset=utf-8".to_owned(),
                        )],
                        body: Arc::new(ZEN.as_bytes().to_vec()),
                    };
                }
                _ => {}
            }
        }
        Reply::Respond {
            status: 200,
            headers: vec![("content-type".to_owned(), "text/plain".to_owned())],
            body: Arc::new(format!("fwt https {host}\n").into_bytes()),
        }
    }

    fn config_for(&self, name: &str) -> Result<Arc<ServerConfig>> {
        if self.untrusted.contains(name) {
            self.untrusted_ca.server_config(name)
        } else {
            self.ca.server_config(name)
        }
    }

    fn log_connection(&self, c: TlsConnection) {
        if let Ok(mut l) = self.logs.connections.lock() {
            l.push(c);
        }
    }

    fn log_request(&self, r: HttpsRequest) {
        if let Ok(mut l) = self.logs.requests.lock() {
            l.push(r);
        }
    }
}

/// The address a client reached, as a certificate name (a v4-mapped address as plain IPv4).
fn local_name(local: SocketAddr) -> String {
    local.ip().to_canonical().to_string()
}

async fn serve_connection(state: Arc<State>, tcp: TcpStream, peer: SocketAddr, local: SocketAddr) {
    let mut conn = TlsConnection {
        sni: None,
        peer,
        local,
        cert_name: None,
        handshake_ok: false,
        at: Instant::now(),
    };
    let start = match LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await {
        Ok(s) => s,
        Err(_) => return state.log_connection(conn),
    };
    conn.sni = start
        .client_hello()
        .server_name()
        .map(|s| s.trim_end_matches('.').to_ascii_lowercase());
    let name = conn.sni.clone().unwrap_or_else(|| local_name(local));
    conn.cert_name = Some(name.clone());
    let config = match state.config_for(&name) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("https mock: no certificate for {name}: {e:#}");
            return state.log_connection(conn);
        }
    };
    let mut tls = match start.into_stream(config).await {
        Ok(t) => t,
        Err(_) => return state.log_connection(conn),
    };
    conn.handshake_ok = true;
    let sni = conn.sni.clone();
    state.log_connection(conn);

    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let too_big = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end);
            break false;
        }
        if head.len() > MAX_HEAD {
            break true;
        }
        match tls.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
    let parsed = if too_big { None } else { parse_head(&head) };
    let (method, path, host) = parsed.unwrap_or_else(|| (String::new(), String::new(), None));
    let target = host
        .clone()
        .or_else(|| sni.clone())
        .unwrap_or_else(|| local_name(local));
    let reply = if too_big {
        Reply::Respond {
            status: 431,
            headers: Vec::new(),
            body: Arc::default(),
        }
    } else if method.is_empty() {
        Reply::Respond {
            status: 400,
            headers: Vec::new(),
            body: Arc::default(),
        }
    } else {
        state.route(&target, &path, peer)
    };
    let mut record = HttpsRequest {
        sni,
        host,
        method: method.clone(),
        path,
        peer,
        local,
        status: None,
        at: Instant::now(),
    };
    let (status, headers, body) = match reply {
        Reply::Hang => {
            state.log_request(record);
            // Hold the connection, answering nothing, until the server stops.
            std::future::pending::<()>().await;
            return;
        }
        Reply::Respond {
            status,
            headers,
            body,
        } => (status, headers, body),
    };
    record.status = Some(status);
    state.log_request(record);
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    out.push_str("server: fwt-mock\r\n");
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    if method != "HEAD" {
        bytes.extend_from_slice(&body);
    }
    if tls.write_all(&bytes).await.is_ok() {
        let _ = tls.shutdown().await;
    }
}

/// Starts the world's HTTPS responder in `world`.
pub fn start_https(world: &Netns, opts: HttpsOptions) -> Result<HttpsServer> {
    let untrusted_ca = TestCa::new("untrusted")?;
    let untrusted_pem = untrusted_ca.ca_pem().to_owned();
    let logs = Arc::new(Logs::default());
    let state = Arc::new(State {
        ca: opts.ca.clone(),
        untrusted_ca,
        untrusted: opts
            .untrusted_names
            .iter()
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .collect(),
        meta: prepare_meta(&opts.meta),
        zen_rate_limited: opts.zen_rate_limited,
        logs: logs.clone(),
    });
    let bind = opts.bind.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let service = world.spawn_service("https", move |stop| async move {
        let listeners = bind
            .iter()
            .map(|a| super::tcp_listen(*a))
            .collect::<Result<Vec<_>>>()
            .and_then(|ls| {
                let addrs = ls
                    .iter()
                    .map(|l| l.local_addr().map_err(|e| anyhow!(e)))
                    .collect::<Result<Vec<_>>>()?;
                Ok((ls, addrs))
            });
        let listeners = match listeners {
            Ok((ls, addrs)) => {
                let _ = tx.send(Ok(addrs));
                ls
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for l in listeners {
            let state = state.clone();
            tasks.spawn(async move {
                loop {
                    let Ok((tcp, peer)) = l.accept().await else {
                        // Out of descriptors or the like: pause rather than spin.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let local = tcp.local_addr().unwrap_or(peer);
                    tokio::spawn(serve_connection(state.clone(), tcp, peer, local));
                }
            });
        }
        let _ = stop.await;
    })?;
    let addrs = super::wait_ready(&rx, "https")?;
    Ok(HttpsServer {
        addrs,
        logs,
        untrusted_pem,
        _service: service,
    })
}

#[cfg(test)]
mod tests;
