//! The one HTTP client of fw-cli, for the GitHub meta fetch and the proof of reachability.
//!
//! Both of its uses are about trust: the meta response becomes an allowlist, and the proof of
//! reachability must show that the real host answered. So the client is deliberately narrow:
//!
//! - TLS is rustls with the `ring` provider, configured here rather than by reqwest, and it
//!   trusts exactly the system CA bundle (`SSL_CERT_FILE` when set, else
//!   [`DEFAULT_CA_BUNDLE`]): no platform verifier, no built-in roots, so what the container
//!   trusts is what the firewall trusts, and a test CA can be swapped in by path. A bundle that
//!   cannot be read or holds no certificate is an error naming the path, never a client that
//!   silently trusts nothing (or everything).
//! - No proxy from the environment: a firewall's own proof must reach the host itself, not a
//!   proxy that happens to be allowed.
//! - Few redirects, and never from `https` to `http`.
//! - Connect and total timeouts, so that a silent peer cannot hold init forever (FAIL-04).
//!
//! Names are resolved by reqwest's default resolver (getaddrinfo), like the rest of the
//! container.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Where Debian (and the devcontainer images) keep the system CA bundle.
pub const DEFAULT_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The environment variable that, as for OpenSSL and rustls-native-certs, names another bundle.
pub const CA_BUNDLE_ENV: &str = "SSL_CERT_FILE";

/// The User-Agent of every request: GitHub's API refuses requests without one.
pub const USER_AGENT: &str = concat!("fw-cli/", env!("CARGO_PKG_VERSION"));

/// How many redirects a request follows by default. GitHub's meta endpoint does not redirect;
/// a few are allowed for a mirror, a loop must end.
pub const DEFAULT_REDIRECTS: usize = 5;

/// How the client is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// The PEM bundle of trusted CA certificates; the only roots the client trusts.
    pub ca_bundle: PathBuf,
    /// The most a TCP connect may take.
    pub connect: Duration,
    /// The most one request may take, from connect to the end of the body.
    pub total: Duration,
    /// How many redirects to follow; 0 returns the redirect response itself (what the proof of
    /// reachability wants: any answer of the host proves the path to it).
    pub redirects: usize,
    /// Names pinned to addresses, bypassing DNS (the URL's port is kept). For tests and for
    /// pointing the client at a mock; empty in production.
    pub resolve: Vec<(String, SocketAddr)>,
}

impl HttpOptions {
    /// The production options: the system bundle (honouring `SSL_CERT_FILE`), the given
    /// timeouts, [`DEFAULT_REDIRECTS`], the system resolver.
    pub fn system(connect: Duration, total: Duration) -> Self {
        HttpOptions {
            ca_bundle: system_ca_bundle(),
            connect,
            total,
            redirects: DEFAULT_REDIRECTS,
            resolve: Vec::new(),
        }
    }
}

/// The CA bundle the system uses: `SSL_CERT_FILE` when set and not empty, else
/// [`DEFAULT_CA_BUNDLE`].
pub fn system_ca_bundle() -> PathBuf {
    match std::env::var_os(CA_BUNDLE_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_CA_BUNDLE),
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot read the CA bundle {}: {source}", path.display())]
    ReadBundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the CA bundle {} is not valid PEM: {reason}", path.display())]
    BadBundle { path: PathBuf, reason: String },
    #[error(
        "the CA bundle {} holds no usable CA certificate ({ignored} unparsable)",
        path.display()
    )]
    EmptyBundle { path: PathBuf, ignored: usize },
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] rustls::Error),
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

/// Builds the client described by `opts`.
pub fn client(opts: &HttpOptions) -> Result<reqwest::Client, HttpError> {
    let roots = load_roots(&opts.ca_bundle)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(HttpError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // A preconfigured rustls config gets no ALPN from reqwest: offer what it can speak.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let max = opts.redirects;
    let policy = if max == 0 {
        redirect::Policy::none()
    } else {
        redirect::Policy::custom(move |attempt| {
            let downgrade = attempt.url().scheme() != "https"
                && attempt
                    .previous()
                    .last()
                    .is_some_and(|u| u.scheme() == "https");
            if downgrade {
                attempt.error("refused a redirect from https to http")
            } else if attempt.previous().len() > max {
                attempt.error(format!("more than {max} redirects"))
            } else {
                attempt.follow()
            }
        })
    };

    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(USER_AGENT)
        .connect_timeout(opts.connect)
        .timeout(opts.total)
        .no_proxy()
        .redirect(policy);
    for (name, addr) in &opts.resolve {
        builder = builder.resolve(name, *addr);
    }
    builder.build().map_err(HttpError::Build)
}

/// Reads the PEM bundle at `path` into a root store with at least one certificate.
fn load_roots(path: &Path) -> Result<rustls::RootCertStore, HttpError> {
    let pem = std::fs::read(path).map_err(|source| HttpError::ReadBundle {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HttpError::BadBundle {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let mut roots = rustls::RootCertStore::empty();
    // Bundles may hold a certificate webpki cannot use (an odd extension, an old algorithm):
    // skip those, as OpenSSL would, but refuse a bundle with nothing left.
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(HttpError::EmptyBundle {
            path: path.to_owned(),
            ignored,
        });
    }
    Ok(roots)
}

/// An error and its sources as one line, `a: b: c`, leaving out a source whose text the line
/// already holds (hyper and io errors often repeat their inner error). This is where
/// "invalid peer certificate: UnknownIssuer" or "Connection refused" become visible.
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = s.source();
    }
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn opts(path: &Path) -> HttpOptions {
        HttpOptions {
            ca_bundle: path.to_owned(),
            connect: Duration::from_secs(1),
            total: Duration::from_secs(2),
            redirects: DEFAULT_REDIRECTS,
            resolve: Vec::new(),
        }
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_good_bundle_builds_a_client() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca_pem()).unwrap();
        client(&opts(&path)).unwrap();
    }

    #[test]
    fn a_missing_bundle_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.pem");
        let e = client(&opts(&path)).unwrap_err();
        assert!(matches!(e, HttpError::ReadBundle { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("cannot read the CA bundle {}: ", path.display())),
            "{msg}"
        );
    }

    #[test]
    fn an_empty_or_junk_bundle_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        for junk in ["", "not a certificate\n"] {
            std::fs::write(&path, junk).unwrap();
            let e = client(&opts(&path)).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "the CA bundle {} holds no usable CA certificate (0 unparsable)",
                    path.display()
                )
            );
        }
        std::fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\nnot base64 !!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = client(&opts(&path)).unwrap_err();
        assert!(matches!(e, HttpError::BadBundle { .. }), "{e}");
        std::fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = client(&opts(&path)).unwrap_err();
        assert!(
            matches!(e, HttpError::EmptyBundle { ignored: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn the_user_agent_names_the_version() {
        assert_eq!(USER_AGENT, format!("fw-cli/{}", env!("CARGO_PKG_VERSION")));
    }
}
