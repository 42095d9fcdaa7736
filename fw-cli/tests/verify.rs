//! The proofs of `fw_cli::system::verify` against real sockets.
//!
//! - The proof of a block against 127.0.0.1: a closed port (ECONNREFUSED: proven), a listening
//!   port (connected: disproven). In a throwaway network namespace (root only, else skipped
//!   with the reason printed): an unreachable route (EHOSTUNREACH), a prohibit route (EACCES),
//!   no IPv6 route (ENETUNREACH), a blackhole route (EINVAL: not a proof), a peer that drops
//!   every packet (timeout: not a proof), and a name that does not resolve. The namespace is
//!   entered by one thread only; the root namespace and its firewall are never touched.
//! - The proof of reachability against a local HTTPS server (tokio-rustls, with a certificate
//!   for `localhost` from an rcgen CA): a trusted CA with 200 or 403 proves it; an untrusted CA,
//!   a certificate for another name, or nothing listening fails it, naming the cause.
//!
//! Nothing leaves loopback or the throwaway namespaces.

#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fw_cli::system::http::{HttpOptions, client};
use fw_cli::system::verify::{
    Outcome, VerifyError, VerifyOptions, prove_blocked, prove_reachable, verify,
};
use fw_core::config::VerifyTargets;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

fn opts() -> VerifyOptions {
    VerifyOptions {
        connect: Duration::from_secs(2),
        dns: Duration::from_secs(2),
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// ---- the proof of a block on loopback ----

#[tokio::test]
async fn a_closed_port_proves_the_block() {
    let port = closed_port();
    let proof = prove_blocked(&format!("https://127.0.0.1:{port}/"), &opts())
        .await
        .unwrap();
    assert_eq!(proof.host, "127.0.0.1");
    assert_eq!(proof.probes.len(), 1);
    let p = &proof.probes[0];
    assert_eq!(p.addr, SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(p.outcome, Outcome::Refused);
    assert_eq!(p.errno.as_deref(), Some("ECONNREFUSED"));
    assert!(p.elapsed_ms < 1000, "{}", p.elapsed_ms);
    assert!(
        proof.to_string().starts_with(&format!(
            "127.0.0.1 rejected: 127.0.0.1:{port} ECONNREFUSED in "
        )),
        "{proof}"
    );
}

#[tokio::test]
async fn a_bare_host_and_port_is_a_target() {
    let port = closed_port();
    let proof = prove_blocked(&format!("127.0.0.1:{port}"), &opts())
        .await
        .unwrap();
    assert_eq!(proof.probes[0].addr.port(), port);
}

#[tokio::test]
async fn a_listening_port_disproves_the_block() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let e = prove_blocked(&format!("https://{addr}/"), &opts())
        .await
        .unwrap_err();
    match &e {
        VerifyError::NotBlocked { probes, .. } => {
            assert_eq!(probes[0].outcome, Outcome::Connected);
        }
        other => panic!("not NotBlocked: {other}"),
    }
    assert_eq!(
        e.to_string(),
        format!("127.0.0.1 ({addr}) is reachable: the block does not hold")
    );
}

#[tokio::test]
async fn a_target_without_a_host_is_refused() {
    let e = prove_blocked("https://", &opts()).await.unwrap_err();
    assert!(matches!(e, VerifyError::BadTarget { .. }), "{e}");
}

// ---- the proof of a block in a throwaway network namespace ----

/// Runs `f` on a thread of its own inside a new network namespace set up by `ip` commands;
/// `None` (with the reason printed) when this cannot be done here (not root, no `ip`).
fn in_netns<T, F, Fut>(setup: &'static [&'static str], f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    std::thread::spawn(move || {
        // unshare(CLONE_NEWNET) moves this thread only; children it forks (the `ip` commands)
        // and threads it spawns (tokio's blocking pool, used by getaddrinfo) inherit it.
        #[allow(unsafe_code)]
        // SAFETY: unshare takes flags only and changes nothing in this process's memory.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            eprintln!("skipped: cannot create a network namespace ({e}); this needs root");
            return None;
        }
        for cmd in ["link set lo up"].iter().chain(setup) {
            let args: Vec<&str> = cmd.split_whitespace().collect();
            match Command::new("ip").args(&args).status() {
                Ok(s) if s.success() => {}
                other => {
                    eprintln!("skipped: `ip {cmd}` failed in the namespace: {other:?}");
                    return None;
                }
            }
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Some(rt.block_on(f()))
    })
    .join()
    .unwrap()
}

#[test]
fn rejections_by_route_prove_the_block() {
    let setup = &[
        "route add unreachable 10.1.0.0/24",
        "route add prohibit 10.2.0.0/24",
    ];
    let Some(results) = in_netns(setup, || async {
        let mut out = Vec::new();
        // No IPv6 route at all: ENETUNREACH at once.
        for target in ["10.1.0.1", "10.2.0.1", "[2001:db8::1]"] {
            out.push(prove_blocked(target, &opts()).await);
        }
        out
    }) else {
        return;
    };
    let got: Vec<(Outcome, Option<String>)> = results
        .into_iter()
        .map(|r| {
            let p = r.unwrap().probes.remove(0);
            (p.outcome, p.errno)
        })
        .collect();
    assert_eq!(
        got,
        [
            (Outcome::Unreachable, Some("EHOSTUNREACH".to_owned())),
            (Outcome::Prohibited, Some("EACCES".to_owned())),
            (Outcome::Unreachable, Some("ENETUNREACH".to_owned())),
        ]
    );
}

#[test]
fn a_timeout_proves_nothing() {
    // A veth whose far end has no address: SYNs to 10.5.0.2 (a static neighbour) vanish.
    let setup = &[
        "link add fwv0 type veth peer name fwv1",
        "addr add 10.5.0.1/24 dev fwv0",
        "link set fwv0 up",
        "link set fwv1 up",
        "neigh add 10.5.0.2 lladdr 02:00:00:00:00:02 dev fwv0 nud permanent",
    ];
    let quick = VerifyOptions {
        connect: Duration::from_millis(500),
        ..opts()
    };
    let Some(r) = in_netns(setup, move || async move {
        prove_blocked("10.5.0.2", &quick).await
    }) else {
        return;
    };
    let e = r.unwrap_err();
    match &e {
        VerifyError::NotBlocked { probes, .. } => {
            assert_eq!(probes[0].outcome, Outcome::TimedOut);
            assert!(probes[0].elapsed_ms >= 500, "{}", probes[0].elapsed_ms);
        }
        other => panic!("not NotBlocked: {other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("10.5.0.2 (10.5.0.2:443) timed out after "),
        "{msg}"
    );
    assert!(
        msg.ends_with(" ms: a DROP or an unreachable network proves nothing"),
        "{msg}"
    );
}

#[test]
fn another_error_proves_nothing() {
    // A blackhole route fails a local connect with EINVAL: not a rejection by a firewall.
    let setup = &["route add blackhole 10.4.0.0/24"];
    let Some(r) = in_netns(setup, || async { prove_blocked("10.4.0.1", &opts()).await }) else {
        return;
    };
    let e = r.unwrap_err();
    assert_eq!(
        e.to_string(),
        "10.4.0.1 (10.4.0.1:443) failed with EINVAL, which is not a rejection: the block is not proven"
    );
}

#[test]
fn a_name_that_does_not_resolve_proves_nothing() {
    // In the namespace the configured resolver has no route: the lookup fails at once, and no
    // query leaves the machine.
    let Some(r) = in_netns(&[], || async {
        prove_blocked("https://nonexistent.invalid/", &opts()).await
    }) else {
        return;
    };
    let e = r.unwrap_err();
    assert!(matches!(e, VerifyError::NoResolve { .. }), "{e}");
    assert!(
        e.to_string().starts_with(
            "cannot prove a block of nonexistent.invalid: its name does not resolve ("
        ),
        "{e}"
    );
}

// ---- the proof of reachability against a local HTTPS server ----

/// A CA made for one test, written as a PEM bundle in its own directory.
struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    bundle: PathBuf,
    _dir: tempfile::TempDir,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("fw test CA {name}"));
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("ca.pem");
        std::fs::write(&bundle, cert.pem()).unwrap();
        Ca {
            params,
            key,
            bundle,
            _dir: dir,
        }
    }

    /// A leaf certificate for `names` and its key.
    fn leaf(&self, names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = rcgen::CertificateParams::new(names).unwrap();
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), der)
    }
}

/// An HTTPS server on 127.0.0.1 answering every request with `status` and a short body.
async fn https_server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    status: u16,
) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to do.
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let body = if status == 403 {
                    "{\"message\":\"API rate limit exceeded\"}"
                } else {
                    "Design for failure."
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nx-ratelimit-remaining: 0\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

/// fw-cli's client trusting `ca`, with `localhost` pinned to 127.0.0.1, following no redirect.
fn trusting(ca: &Ca) -> reqwest::Client {
    client(&HttpOptions {
        ca_bundle: ca.bundle.clone(),
        connect: Duration::from_secs(2),
        total: Duration::from_secs(5),
        redirects: 0,
        resolve: vec![(
            "localhost".to_owned(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )],
    })
    .unwrap()
}

#[tokio::test]
async fn a_trusted_answer_proves_reachability() {
    let ca = Ca::new("trusted");
    let (cert, key) = ca.leaf(&["localhost"]);
    for status in [200, 403] {
        let addr = https_server(cert.clone(), key.clone_key(), status).await;
        let url = format!("https://localhost:{}/zen", addr.port());
        let proof = prove_reachable(&trusting(&ca), &url).await.unwrap();
        assert_eq!(proof.status, status);
        assert_eq!(proof.addr, Some(addr));
        assert!(
            proof.to_string().starts_with(&format!(
                "{url} answered HTTP {status} over validated TLS from {addr} in "
            )),
            "{proof}"
        );
    }
}

#[tokio::test]
async fn an_untrusted_certificate_fails_naming_it() {
    let trusted = Ca::new("trusted");
    let other = Ca::new("other");
    let (cert, key) = other.leaf(&["localhost"]);
    let addr = https_server(cert, key, 200).await;
    let url = format!("https://localhost:{}/zen", addr.port());
    let e = prove_reachable(&trusting(&trusted), &url)
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::Unreachable { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("cannot prove that {url} is reachable: ")),
        "{msg}"
    );
    assert!(
        msg.contains("invalid peer certificate: UnknownIssuer"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_fails() {
    let ca = Ca::new("trusted");
    let (cert, key) = ca.leaf(&["api.github.com"]);
    let addr = https_server(cert, key, 200).await;
    let url = format!("https://localhost:{}/zen", addr.port());
    let e = prove_reachable(&trusting(&ca), &url).await.unwrap_err();
    assert!(e.to_string().contains("invalid peer certificate"), "{e}");
    assert!(
        e.to_string()
            .contains("certificate not valid for name \"localhost\""),
        "{e}"
    );
}

#[tokio::test]
async fn nothing_listening_fails() {
    let ca = Ca::new("trusted");
    let url = format!("https://localhost:{}/zen", closed_port());
    let e = prove_reachable(&trusting(&ca), &url).await.unwrap_err();
    assert!(matches!(e, VerifyError::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains("Connection refused"), "{e}");
}

#[tokio::test]
async fn plain_http_is_no_proof() {
    let ca = Ca::new("trusted");
    let e = prove_reachable(&trusting(&ca), "http://localhost:1/zen")
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::BadTarget { .. }), "{e}");
    assert!(e.to_string().contains("needs an https URL"), "{e}");
}

// ---- both proofs ----

#[tokio::test]
async fn verify_reports_both_proofs() {
    let ca = Ca::new("trusted");
    let (cert, key) = ca.leaf(&["localhost"]);
    let addr = https_server(cert, key, 403).await;
    let port = closed_port();
    let targets = VerifyTargets {
        blocked: format!("https://127.0.0.1:{port}/"),
        allowed: format!("https://localhost:{}/zen", addr.port()),
    };
    let summary = verify(&trusting(&ca), &targets, &opts()).await.unwrap();
    assert!(
        summary.starts_with(&format!(
            "blocked: 127.0.0.1 rejected: 127.0.0.1:{port} ECONNREFUSED in "
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "; reachable: {} answered HTTP 403 over validated TLS",
            targets.allowed
        )),
        "{summary}"
    );
}

#[tokio::test]
async fn verify_reports_both_failures() {
    let ca = Ca::new("trusted");
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let open_addr = open.local_addr().unwrap();
    let targets = VerifyTargets {
        blocked: format!("https://{open_addr}/"),
        allowed: format!("https://localhost:{}/zen", closed_port()),
    };
    let e = verify(&trusting(&ca), &targets, &opts()).await.unwrap_err();
    assert!(matches!(e, VerifyError::Both { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "127.0.0.1 ({open_addr}) is reachable: the block does not hold; and cannot prove that {} is reachable: ",
            targets.allowed
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn verify_reports_the_one_failure() {
    let ca = Ca::new("trusted");
    let (cert, key) = ca.leaf(&["localhost"]);
    let addr = https_server(cert, key, 200).await;
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let targets = VerifyTargets {
        blocked: format!("https://{}/", open.local_addr().unwrap()),
        allowed: format!("https://localhost:{}/zen", addr.port()),
    };
    let e = verify(&trusting(&ca), &targets, &opts()).await.unwrap_err();
    assert!(matches!(e, VerifyError::NotBlocked { .. }), "{e}");
}
