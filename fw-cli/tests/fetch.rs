//! `fetch_meta` against wiremock servers (and two hand-written ones) on 127.0.0.1, plain HTTP:
//! a good response, server errors (retried), rate limits (not retried), bodies that are invalid,
//! truncated, incomplete, empty or too big, slow and silent servers, a redirect loop, the
//! bearer token, and a refused connection. Nothing leaves loopback.

#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fw_cli::system::fetch::{FetchError, FetchOptions, fetch_meta};
use fw_cli::system::http::{HttpOptions, client};
use fw_core::config::MetaSource;
use fw_core::meta::{MAX_META_BODY, MetaError, parse_meta};
use fw_testkit::fixtures::{body, realistic_meta};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A wiremock server on its own 127.0.0.1 listener (never the shared pool).
async fn server() -> MockServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    MockServer::builder().listener(listener).start().await
}

/// A client as fw-cli builds it, trusting a throwaway CA (the tests speak plain HTTP), with
/// the given per-request timeout.
fn http(total: Duration) -> (tempfile::TempDir, reqwest::Client) {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, params.self_signed(&key).unwrap().pem()).unwrap();
    let c = client(&HttpOptions {
        ca_bundle: ca,
        connect: Duration::from_secs(2),
        total,
        redirects: 5,
        resolve: Vec::new(),
    })
    .unwrap();
    (dir, c)
}

fn src(url: String) -> MetaSource {
    MetaSource {
        url,
        keys: vec!["web".into(), "api".into(), "git".into()],
    }
}

/// Three attempts with short pauses, so retries do not slow the tests down.
fn opts() -> FetchOptions {
    FetchOptions {
        token: None,
        attempts: 3,
        backoff: Duration::from_millis(10),
        total: Duration::from_secs(20),
    }
}

async fn fetch_from(
    server: &MockServer,
    response: ResponseTemplate,
    opts: &FetchOptions,
) -> Result<fw_core::meta::MetaRanges, FetchError> {
    Mock::given(method("GET"))
        .and(path("/meta"))
        .respond_with(response)
        .mount(server)
        .await;
    let (_dir, c) = http(Duration::from_secs(10));
    fetch_meta(&c, &src(format!("{}/meta", server.uri())), opts).await
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn a_realistic_response_is_parsed() {
    let s = server().await;
    let b = body(&realistic_meta(7));
    let want = parse_meta(&b, &src(String::new()).keys).unwrap();
    let got = fetch_from(
        &s,
        ResponseTemplate::new(200)
            .set_body_raw(b, "application/json; charset=utf-8")
            .insert_header("x-ratelimit-remaining", "59"),
        &opts(),
    )
    .await
    .unwrap();
    assert_eq!(got, want);
    assert_eq!(
        got.key_counts()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["api", "git", "web"]
    );
    let reqs = s.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let h = &reqs[0].headers;
    assert_eq!(h.get("accept").unwrap(), "application/json");
    assert_eq!(
        h.get("user-agent").unwrap().to_str().unwrap(),
        format!("fw-cli/{}", env!("CARGO_PKG_VERSION"))
    );
    assert!(h.get("authorization").is_none());
}

#[tokio::test]
async fn a_server_error_is_retried_then_named() {
    let s = server().await;
    let e = fetch_from(&s, ResponseTemplate::new(500), &opts())
        .await
        .unwrap_err();
    assert_eq!(requests(&s).await, 3);
    assert!(
        matches!(&e, FetchError::Status { status, attempts: 3, .. } if status.as_u16() == 500),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}/meta answered HTTP 500 Internal Server Error (3 attempts)",
            s.uri()
        )
    );
}

#[tokio::test]
async fn a_server_error_then_success_succeeds() {
    let s = server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&s)
        .await;
    let ok = body(&realistic_meta(1));
    let got = fetch_from(&s, ResponseTemplate::new(200).set_body_bytes(ok), &opts()).await;
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(requests(&s).await, 2);
}

#[tokio::test]
async fn a_rate_limit_is_its_own_error_and_not_retried() {
    let s = server().await;
    let e = fetch_from(
        &s,
        ResponseTemplate::new(403)
            .insert_header("x-ratelimit-remaining", "0")
            .set_body_string(r#"{"message":"API rate limit exceeded for 192.0.2.2."}"#),
        &opts(),
    )
    .await
    .unwrap_err();
    assert_eq!(requests(&s).await, 1);
    assert!(
        matches!(e, FetchError::RateLimited { attempts: 1, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("rate limited"), "{msg}");
    assert!(msg.contains("GITHUB_TOKEN"), "{msg}");
}

#[tokio::test]
async fn a_rate_limit_said_in_the_body_only_is_recognised() {
    let s = server().await;
    let e = fetch_from(
        &s,
        ResponseTemplate::new(403).set_body_string(
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes."}"#,
        ),
        &opts(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, FetchError::RateLimited { .. }), "{e}");
    assert_eq!(requests(&s).await, 1);
}

#[tokio::test]
async fn too_many_requests_is_a_rate_limit() {
    let s = server().await;
    let e = fetch_from(&s, ResponseTemplate::new(429), &opts())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, FetchError::RateLimited { status, .. } if status.as_u16() == 429),
        "{e}"
    );
    assert_eq!(requests(&s).await, 1);
}

#[tokio::test]
async fn a_plain_403_or_404_is_a_status_and_not_retried() {
    for code in [403, 404] {
        let s = server().await;
        let e = fetch_from(
            &s,
            ResponseTemplate::new(code).set_body_string("forbidden"),
            &opts(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&e, FetchError::Status { status, attempts: 1, .. } if status.as_u16() == code),
            "{e}"
        );
        assert_eq!(requests(&s).await, 1);
    }
}

#[tokio::test]
async fn invalid_bodies_are_refused_without_retry() {
    let mut ok = realistic_meta(3);
    ok.as_object_mut().unwrap().remove("api");
    type Check = fn(&MetaError) -> bool;
    let cases: [(&[u8], Check); 4] = [
        (b"<html>not json</html>", |m| {
            matches!(m, MetaError::Json { .. })
        }),
        (
            br#"{"web": ["192.0.2.0/26"], "api": ["192.0.2."#,
            |m| matches!(m, MetaError::Json { reason, .. } if reason.starts_with("EOF")),
        ),
        (&body(&ok), |m| {
            *m == MetaError::MissingKey { key: "api".into() }
        }),
        (b"", |m| *m == MetaError::Empty),
    ];
    for (b, want) in cases {
        let s = server().await;
        let e = fetch_from(
            &s,
            ResponseTemplate::new(200).set_body_bytes(b.to_vec()),
            &opts(),
        )
        .await
        .unwrap_err();
        match &e {
            FetchError::Invalid {
                attempts: 1,
                reason,
                ..
            } => assert!(want(reason), "{e}"),
            other => panic!("not Invalid: {other}"),
        }
        assert!(
            e.to_string().starts_with(&format!(
                "{}/meta sent an invalid meta response (1 attempt): meta ",
                s.uri()
            )),
            "{e}"
        );
        assert_eq!(requests(&s).await, 1);
    }
}

#[tokio::test]
async fn a_slow_server_fails_within_the_deadline() {
    let s = server().await;
    let o = FetchOptions {
        total: Duration::from_millis(800),
        ..opts()
    };
    let start = Instant::now();
    let e = fetch_from(
        &s,
        ResponseTemplate::new(200)
            .set_body_bytes(body(&realistic_meta(1)))
            .set_delay(Duration::from_secs(10)),
        &o,
    )
    .await
    .unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(matches!(e, FetchError::Timeout { attempts: 1, .. }), "{e}");
    assert!(e.to_string().contains("did not answer in time"), "{e}");
}

#[tokio::test]
async fn a_request_timeout_is_retried() {
    let s = server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&s)
        .await;
    let (_dir, c) = http(Duration::from_millis(300));
    let e = fetch_meta(&c, &src(format!("{}/meta", s.uri())), &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Timeout { attempts: 3, .. }), "{e}");
    assert_eq!(requests(&s).await, 3);
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let s = server().await;
    let e = fetch_from(
        &s,
        ResponseTemplate::new(200).set_body_bytes(vec![b' '; MAX_META_BODY + 1]),
        &opts(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::TooLarge {
                attempts: 1,
                limit: MAX_META_BODY,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("16777216 bytes"), "{e}");
    assert_eq!(requests(&s).await, 1);
}

/// A hand-written server that answers every request with a chunked body that never ends,
/// counting the bytes it managed to send.
async fn endless_server() -> (SocketAddr, Arc<AtomicUsize>) {
    streaming_server(None).await
}

/// Like [`endless_server`], or with `Content-Length: declared` and a body of that size when
/// `declared` is given (sent as fast as the client reads).
async fn streaming_server(declared: Option<usize>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let data = vec![b' '; 64 * 1024];
                if let Some(len) = declared {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
                    );
                    if sock.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let mut left = len;
                    while left > 0 {
                        let n = left.min(data.len());
                        if sock.write_all(&data[..n]).await.is_err() {
                            return;
                        }
                        counter.fetch_add(n, Ordering::Relaxed);
                        left -= n;
                    }
                    return;
                }
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if sock.write_all(head).await.is_err() {
                    return;
                }
                let chunk = [format!("{:x}\r\n", data.len()).as_bytes(), &data, b"\r\n"].concat();
                while sock.write_all(&chunk).await.is_ok() {
                    counter.fetch_add(data.len(), Ordering::Relaxed);
                }
            });
        }
    });
    (addr, sent)
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_limit() {
    let (addr, sent) = endless_server().await;
    let (_dir, c) = http(Duration::from_secs(20));
    let e = fetch_meta(&c, &src(format!("http://{addr}/meta")), &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::TooLarge { attempts: 1, .. }), "{e}");
    // The client stopped reading: the server could not push much past the limit (what the
    // socket buffers held is all).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < MAX_META_BODY + 16 * 1024 * 1024, "{sent}");
}

/// A meta body of hundreds of megabytes (issue 7): refused as too large, without being read
/// (the client stops near the limit) and without a retry.
#[tokio::test]
async fn a_body_of_hundreds_of_megabytes_is_refused_unread() {
    const HUNDREDS_OF_MB: usize = 512 * 1024 * 1024;
    let (addr, sent) = streaming_server(Some(HUNDREDS_OF_MB)).await;
    let (_dir, c) = http(Duration::from_secs(20));
    let e = fetch_meta(&c, &src(format!("http://{addr}/meta")), &opts())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::TooLarge {
                attempts: 1,
                limit: MAX_META_BODY,
                ..
            }
        ),
        "{e}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < MAX_META_BODY + 16 * 1024 * 1024, "{sent}");
}

#[tokio::test]
async fn a_redirect_loop_ends() {
    let s = server().await;
    let e = fetch_from(
        &s,
        ResponseTemplate::new(302).insert_header("location", "/meta"),
        &opts(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, FetchError::Redirects { attempts: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("more than 5 redirects"), "{e}");
    assert_eq!(requests(&s).await, 6);
}

#[tokio::test]
async fn the_token_is_sent_as_a_bearer() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/meta"))
        .and(header("authorization", "Bearer ghp_test123"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body(&realistic_meta(2))))
        .expect(1)
        .mount(&s)
        .await;
    let (_dir, c) = http(Duration::from_secs(10));
    let o = FetchOptions {
        token: Some("ghp_test123".into()),
        ..opts()
    };
    fetch_meta(&c, &src(format!("{}/meta", s.uri())), &o)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_token_that_is_not_a_header_value_is_refused_unshown() {
    let (_dir, c) = http(Duration::from_secs(10));
    let o = FetchOptions {
        token: Some("ghp_bad\nsecret".into()),
        ..opts()
    };
    let e = fetch_meta(&c, &src("http://127.0.0.1:9/meta".into()), &o)
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::BadToken { .. }), "{e}");
    assert!(!e.to_string().contains("secret"), "{e}");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_named() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (_dir, c) = http(Duration::from_secs(10));
    let url = format!("http://127.0.0.1:{port}/meta");
    let e = fetch_meta(&c, &src(url.clone()), &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Connect { attempts: 3, .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("cannot connect to {url} (3 attempts): ")),
        "{msg}"
    );
    assert!(msg.contains("Connection refused"), "{msg}");
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_fails_within_the_deadline() {
    // The kernel completes the handshake into the backlog; nobody ever reads.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let (_dir, c) = http(Duration::from_secs(30));
    let o = FetchOptions {
        total: Duration::from_secs(1),
        ..opts()
    };
    let start = Instant::now();
    let e = fetch_meta(&c, &src(format!("http://{addr}/meta")), &o)
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(matches!(e, FetchError::Timeout { .. }), "{e}");
    drop(silent);
}

#[tokio::test]
async fn a_bad_url_is_named() {
    let (_dir, c) = http(Duration::from_secs(10));
    let e = fetch_meta(&c, &src("not a url".into()), &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::BadUrl { .. }), "{e}");
    assert_eq!(e.attempts(), 0);
}
