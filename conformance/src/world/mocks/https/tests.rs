#![allow(clippy::unwrap_used)]

use super::*;
use crate::world::mocks::testing::{privileged, run, world_like};

const PREFIXES: [&str; 4] = [
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "2001:db8:10::/48",
];

struct Curl {
    ca: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// (exit code, status as curl saw it, headers, body, stderr)
type Got = (i32, u16, String, Vec<u8>, String);

impl Curl {
    fn new(ca: &TestCa) -> Curl {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.ca_pem()).unwrap();
        Curl {
            ca: path,
            _dir: dir,
        }
    }

    /// `curl` in `ns` for `url`, `name` pinned to `addr` when given.
    fn get(&self, ns: &Netns, url: &str, pin: Option<(&str, &str)>, max: &str) -> Got {
        let dir = self.ca.parent().unwrap();
        let headers = dir.join(format!("h-{}", rand_suffix()));
        let body = dir.join(format!("b-{}", rand_suffix()));
        let resolve;
        let mut args = vec![
            "-sS",
            "--noproxy",
            "*",
            "--max-time",
            max,
            "--cacert",
            self.ca.to_str().unwrap(),
            "-D",
            headers.to_str().unwrap(),
            "-o",
            body.to_str().unwrap(),
            "-w",
            "%{http_code}",
        ];
        if let Some((name, addr)) = pin {
            resolve = format!("{name}:443:{addr}");
            args.extend(["--resolve", resolve.as_str()]);
        }
        args.push(url);
        let (code, out, err) = run(ns, "curl", &args);
        (
            code,
            out.trim().parse().unwrap_or(0),
            std::fs::read_to_string(&headers).unwrap_or_default(),
            std::fs::read(&body).unwrap_or_default(),
            err,
        )
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

fn meta_via(curl: &Curl, ns: &Netns) -> Got {
    curl.get(
        ns,
        "https://api.github.com/meta",
        Some(("api.github.com", "192.0.2.70")),
        "5",
    )
}

fn json(body: &[u8]) -> serde_json::Map<String, Value> {
    match serde_json::from_slice(body).unwrap() {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn strips_ports_from_hosts() {
    assert_eq!(strip_port("api.github.com:443"), "api.github.com");
    assert_eq!(strip_port("api.github.com"), "api.github.com");
    assert_eq!(strip_port("[2001:db8::1]:443"), "2001:db8::1");
    assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    let (m, p, h) =
        parse_head(b"GET /meta?x=1 HTTP/1.1\r\nHOST: API.github.com:443\r\nAccept: */*").unwrap();
    assert_eq!(
        (m.as_str(), p.as_str(), h.as_deref()),
        ("GET", "/meta?x=1", Some("api.github.com"))
    );
}

#[test]
fn meta_behaviours_answer_as_specified() {
    if !privileged() {
        return;
    }
    let ns = world_like("https-meta", &PREFIXES);
    let ca = Arc::new(TestCa::new("meta").unwrap());
    let curl = Curl::new(&ca);
    let realistic = fw_testkit::fixtures::body(&fw_testkit::fixtures::realistic_meta(1));
    let cases = [
        MetaBehaviour::Realistic,
        MetaBehaviour::Large(3000),
        MetaBehaviour::Scaled(2000),
        MetaBehaviour::InvalidJson,
        MetaBehaviour::MissingKey,
        MetaBehaviour::EmptyBody,
        MetaBehaviour::Status500,
        MetaBehaviour::RateLimited403,
        MetaBehaviour::BadCidr("300.1.1.1/24".to_owned()),
        MetaBehaviour::Custom(b"{\"web\":[]}".to_vec()),
    ];
    for behaviour in cases {
        let mut opts = HttpsOptions::new(ca.clone());
        opts.meta = behaviour.clone();
        let server = start_https(&ns, opts).unwrap();
        let (code, status, headers, body, err) = meta_via(&curl, &ns);
        assert_eq!(code, 0, "{behaviour:?}: {err}");
        match &behaviour {
            MetaBehaviour::Realistic => {
                assert_eq!(status, 200);
                assert_eq!(body, realistic);
                let m = json(&body);
                assert!(["web", "api", "git"].iter().all(|k| m.contains_key(*k)));
            }
            MetaBehaviour::Large(n) => {
                assert_eq!(status, 200);
                let want = fw_testkit::fixtures::body(&fw_testkit::fixtures::scaled_meta(1, *n));
                assert_eq!(body, want);
            }
            MetaBehaviour::Scaled(n) => {
                assert_eq!(status, 200);
                let m = json(&body);
                let total: usize = ["web", "api", "git"]
                    .iter()
                    .map(|k| m[*k].as_array().unwrap().len())
                    .sum();
                assert_eq!(total, *n);
                let api = m["api"].as_array().unwrap();
                assert!(api.contains(&Value::String("192.0.2.64/26".to_owned())));
            }
            MetaBehaviour::InvalidJson => {
                assert_eq!(status, 200);
                assert!(!body.is_empty());
                assert!(serde_json::from_slice::<Value>(&body).is_err());
            }
            MetaBehaviour::MissingKey => {
                let m = json(&body);
                assert!(m.contains_key("web") && m.contains_key("api"));
                assert!(!m.contains_key("git"));
            }
            MetaBehaviour::EmptyBody => {
                assert_eq!(status, 200);
                assert!(body.is_empty());
            }
            MetaBehaviour::Status500 => assert_eq!(status, 500),
            MetaBehaviour::RateLimited403 => {
                assert_eq!(status, 403);
                assert!(headers.contains("x-ratelimit-remaining: 0"), "{headers}");
                let m = json(&body);
                let msg = m["message"].as_str().unwrap();
                // Names the client, as GitHub does.
                assert!(
                    msg.starts_with("API rate limit exceeded for 192.0.2.70."),
                    "{msg}"
                );
            }
            MetaBehaviour::BadCidr(bad) => {
                let m = json(&body);
                assert_eq!(m["git"][0].as_str(), Some(bad.as_str()));
                assert!(m["git"].as_array().unwrap().len() > 1);
            }
            MetaBehaviour::Custom(bytes) => assert_eq!(&body, bytes),
            MetaBehaviour::AcceptAndHang => unreachable!(),
        }
        let reqs = server.requests_to("api.github.com");
        assert_eq!(reqs.len(), 1, "{behaviour:?}");
        assert_eq!(reqs[0].path, "/meta");
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(reqs[0].sni.as_deref(), Some("api.github.com"));
        assert_eq!(reqs[0].local, SocketAddr::from(([192, 0, 2, 70], 443)));
        assert_eq!(reqs[0].status, Some(status));
        // zen is independent of the meta behaviour.
        let (_, status, _, body, _) = curl.get(
            &ns,
            "https://api.github.com/zen",
            Some(("api.github.com", "192.0.2.70")),
            "5",
        );
        assert_eq!((status, body.as_slice()), (200, ZEN.as_bytes()));
    }
}

#[test]
fn a_hanging_meta_accepts_and_never_answers() {
    if !privileged() {
        return;
    }
    let ns = world_like("https-hang", &PREFIXES);
    let ca = Arc::new(TestCa::new("hang").unwrap());
    let curl = Curl::new(&ca);
    let mut opts = HttpsOptions::new(ca.clone());
    opts.meta = MetaBehaviour::AcceptAndHang;
    let server = start_https(&ns, opts).unwrap();
    let start = Instant::now();
    let (code, _, _, _, err) = curl.get(
        &ns,
        "https://api.github.com/meta",
        Some(("api.github.com", "192.0.2.70")),
        "2",
    );
    assert_eq!(code, 28, "curl times out: {err}");
    assert!(start.elapsed() >= Duration::from_secs(2));
    let conns = server.connections();
    assert!(conns[0].handshake_ok);
    assert_eq!(server.requests_to("api.github.com")[0].status, None);
    // Other hosts still answer.
    let (_, status, _, _, _) = curl.get(
        &ns,
        "https://other.fw.test/",
        Some(("other.fw.test", "203.0.113.5")),
        "5",
    );
    assert_eq!(status, 200);
    drop(server);
}

#[test]
fn any_name_and_address_validates_except_untrusted_names() {
    if !privileged() {
        return;
    }
    let ns = world_like("https-names", &PREFIXES);
    let ca = Arc::new(TestCa::new("names").unwrap());
    let curl = Curl::new(&ca);
    let mut opts = HttpsOptions::new(ca.clone());
    opts.zen_rate_limited = true;
    opts.untrusted_names = vec!["Example.com.".to_owned()];
    let server = start_https(&ns, opts).unwrap();
    assert_eq!(server.addrs().len(), 2);

    for (name, addr) in [
        ("registry.npmjs.org", "203.0.113.9"),
        ("statsig.anthropic.com", "203.0.113.200"),
        ("github.com", "192.0.2.10"),
    ] {
        let (code, status, _, body, err) =
            curl.get(&ns, &format!("https://{name}/x"), Some((name, addr)), "5");
        assert_eq!((code, status), (0, 200), "{name}: {err}");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!("fwt https {name}\n")
        );
    }
    // No SNI: a certificate for the address reached, IPv4 and IPv6.
    for (url, host) in [
        ("https://198.51.100.10/", "198.51.100.10"),
        ("https://[2001:db8:10::5]/", "2001:db8:10::5"),
    ] {
        let (code, status, _, body, err) = curl.get(&ns, url, None, "5");
        assert_eq!((code, status), (0, 200), "{url}: {err}");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!("fwt https {host}\n")
        );
    }
    // Reachable, but its certificate does not validate: curl's error 60.
    let (code, _, _, _, err) = curl.get(
        &ns,
        "https://example.com/",
        Some(("example.com", "198.51.100.10")),
        "5",
    );
    assert_eq!(code, 60, "{err}");
    assert!(err.contains("SSL certificate problem"), "{err}");
    let refused = server
        .connections()
        .into_iter()
        .find(|c| c.sni.as_deref() == Some("example.com"))
        .unwrap();
    assert!(!refused.handshake_ok);
    assert!(server.requests_to("example.com").is_empty());

    // zen rate-limited (VER-04), meta still normal.
    let (_, status, headers, _, _) = curl.get(
        &ns,
        "https://api.github.com/zen",
        Some(("api.github.com", "192.0.2.70")),
        "5",
    );
    assert_eq!(status, 403);
    assert!(headers.contains("x-ratelimit-remaining: 0"), "{headers}");
    let (_, status, _, _, _) = meta_via(&curl, &ns);
    assert_eq!(status, 200);

    // The [::] listener answered for an address of the IPv6 local route.
    let locals: Vec<IpAddr> = server.requests().iter().map(|r| r.local.ip()).collect();
    assert!(
        locals.contains(&"2001:db8:10::5".parse().unwrap()),
        "{locals:?}"
    );
}
