//! Fetching the GitHub meta ranges (`https://api.github.com/meta`).
//!
//! The response becomes part of the allowlist, so the fetch fails closed and fails clearly
//! (FAIL-01 to FAIL-05): every error names the URL, how many attempts were made and why the
//! last one failed, and nothing half-read is ever used.
//!
//! - Transient failures are retried a few times with a growing pause (by default 3 attempts,
//!   200 ms then 800 ms): a refused or failed connection, a timeout, an interrupted exchange,
//!   a 5xx. A 4xx, a rate limit, a redirect problem, an oversized or invalid body are answers,
//!   and asking again would give the same answer: they fail at once.
//! - A rate limit (403 or 429 with `x-ratelimit-remaining: 0`, any 429, or a 403 whose body
//!   says so) is its own error, which points at `GITHUB_TOKEN`.
//! - The body is read chunk by chunk and given up as soon as it passes
//!   [`MAX_META_BODY`]: a hostile or broken server cannot make the firewall hold more.
//! - One deadline ([`FetchOptions::total`]) covers every attempt and every pause, so a server
//!   that accepts and never answers fails within it (FAIL-04), however the client's own
//!   timeouts are set.

use std::fmt;
use std::time::Duration;

use fw_core::config::MetaSource;
use fw_core::meta::{MAX_META_BODY, MetaError, MetaRanges, parse_meta};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::time::Instant;

use super::http::cause_chain;

/// How many times a transient failure is tried in all, by default.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The pause after the first failed attempt; each further pause is [`BACKOFF_FACTOR`] times
/// longer.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(200);
/// How much longer each pause is than the one before.
pub const BACKOFF_FACTOR: u32 = 4;
/// The deadline over all attempts, by default: well under the 60 s of FAIL-04, with room for
/// a slow but working GitHub.
pub const DEFAULT_TOTAL: Duration = Duration::from_secs(30);

/// How much of a 403 body is read to look for a rate-limit message.
const MAX_ERROR_BODY: usize = 4096;

/// How the meta response is fetched.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Sent as `Authorization: Bearer <token>` when set (the caller reads `GITHUB_TOKEN`): an
    /// authenticated client gets 5000 requests an hour instead of 60.
    pub token: Option<String>,
    /// How many attempts a transient failure gets in all (at least 1).
    pub attempts: u32,
    /// The pause after the first failed attempt.
    pub backoff: Duration,
    /// The deadline over all attempts and pauses together.
    pub total: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            token: None,
            attempts: DEFAULT_ATTEMPTS,
            backoff: DEFAULT_BACKOFF,
            total: DEFAULT_TOTAL,
        }
    }
}

/// The token is a secret: Debug output (logs, panics) shows only whether there is one.
impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOptions")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("total", &self.total)
            .finish()
    }
}

/// "1 attempt", "3 attempts".
fn count(n: u32) -> String {
    if n == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{n} attempts")
    }
}

/// Why the meta ranges could not be fetched. Each message names the URL, the number of
/// attempts made and the cause, so that the one line init prints is enough.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot fetch {url:?}: not a valid URL: {reason}")]
    BadUrl { url: String, reason: String },
    /// The token cannot be sent as a header (a newline, say). The token itself is not shown.
    #[error("cannot fetch {url}: GITHUB_TOKEN is not a valid HTTP header value")]
    BadToken { url: String },
    #[error("cannot connect to {url} ({}): {cause}", count(*attempts))]
    Connect {
        url: String,
        attempts: u32,
        cause: String,
    },
    #[error("{url} did not answer in time ({}): {cause}", count(*attempts))]
    Timeout {
        url: String,
        attempts: u32,
        cause: String,
    },
    /// The connection was made but the exchange broke off (a reset, an incomplete response).
    #[error("the exchange with {url} failed ({}): {cause}", count(*attempts))]
    Transport {
        url: String,
        attempts: u32,
        cause: String,
    },
    #[error("{url} answered HTTP {status} ({})", count(*attempts))]
    Status {
        url: String,
        attempts: u32,
        status: StatusCode,
    },
    #[error(
        "{url} answered HTTP {status}: rate limited ({}); set GITHUB_TOKEN to raise the limit",
        count(*attempts)
    )]
    RateLimited {
        url: String,
        attempts: u32,
        status: StatusCode,
    },
    #[error(
        "{url} sent more than {limit} bytes, the size limit of a meta response ({})",
        count(*attempts)
    )]
    TooLarge {
        url: String,
        attempts: u32,
        limit: usize,
    },
    #[error("{url} sent an invalid meta response ({}): {reason}", count(*attempts))]
    Invalid {
        url: String,
        attempts: u32,
        reason: MetaError,
    },
    #[error("{url} redirected too often or unsafely ({}): {cause}", count(*attempts))]
    Redirects {
        url: String,
        attempts: u32,
        cause: String,
    },
}

impl FetchError {
    /// How many attempts were made (0 when none could be: a bad URL or token).
    pub fn attempts(&self) -> u32 {
        match self {
            FetchError::BadUrl { .. } | FetchError::BadToken { .. } => 0,
            FetchError::Connect { attempts, .. }
            | FetchError::Timeout { attempts, .. }
            | FetchError::Transport { attempts, .. }
            | FetchError::Status { attempts, .. }
            | FetchError::RateLimited { attempts, .. }
            | FetchError::TooLarge { attempts, .. }
            | FetchError::Invalid { attempts, .. }
            | FetchError::Redirects { attempts, .. } => *attempts,
        }
    }
}

/// Why one attempt failed, before the URL and count are attached.
#[derive(Debug)]
enum Failure {
    BadToken,
    Connect(String),
    Timeout(String),
    Transport(String),
    Status(StatusCode),
    RateLimited(StatusCode),
    TooLarge,
    Redirects(String),
}

impl Failure {
    /// Whether another attempt could get a different result.
    fn transient(&self) -> bool {
        match self {
            Failure::Connect(_) | Failure::Timeout(_) | Failure::Transport(_) => true,
            Failure::Status(s) => s.is_server_error(),
            Failure::BadToken | Failure::RateLimited(_) | Failure::TooLarge => false,
            Failure::Redirects(_) => false,
        }
    }

    /// The cause, for the log line of a retry.
    fn describe(&self) -> String {
        match self {
            Failure::Connect(c)
            | Failure::Timeout(c)
            | Failure::Transport(c)
            | Failure::Redirects(c) => c.clone(),
            Failure::Status(s) | Failure::RateLimited(s) => format!("HTTP {s}"),
            Failure::TooLarge => format!("more than {MAX_META_BODY} bytes"),
            Failure::BadToken => "GITHUB_TOKEN is not a valid header value".to_owned(),
        }
    }

    fn into_error(self, url: &Url, attempts: u32) -> FetchError {
        let url = url.to_string();
        match self {
            Failure::BadToken => FetchError::BadToken { url },
            Failure::Connect(cause) => FetchError::Connect {
                url,
                attempts,
                cause,
            },
            Failure::Timeout(cause) => FetchError::Timeout {
                url,
                attempts,
                cause,
            },
            Failure::Transport(cause) => FetchError::Transport {
                url,
                attempts,
                cause,
            },
            Failure::Status(status) => FetchError::Status {
                url,
                attempts,
                status,
            },
            Failure::RateLimited(status) => FetchError::RateLimited {
                url,
                attempts,
                status,
            },
            Failure::TooLarge => FetchError::TooLarge {
                url,
                attempts,
                limit: MAX_META_BODY,
            },
            Failure::Redirects(cause) => FetchError::Redirects {
                url,
                attempts,
                cause,
            },
        }
    }
}

/// Fetches `src.url` and validates the ranges under `src.keys` (see the module docs).
pub async fn fetch_meta(
    client: &reqwest::Client,
    src: &MetaSource,
    opts: &FetchOptions,
) -> Result<MetaRanges, FetchError> {
    let url = Url::parse(&src.url).map_err(|e| FetchError::BadUrl {
        url: src.url.clone(),
        reason: e.to_string(),
    })?;
    let deadline = Instant::now() + opts.total;
    let max = opts.attempts.max(1);
    let mut pause = opts.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match tokio::time::timeout_at(deadline, fetch_once(client, &url, opts)).await
        {
            Ok(Ok(body)) => {
                return parse_meta(&body, &src.keys).map_err(|reason| FetchError::Invalid {
                    url: url.to_string(),
                    attempts: attempt,
                    reason,
                });
            }
            Ok(Err(failure)) => failure,
            Err(_elapsed) => Failure::Timeout(format!(
                "no complete answer within {}",
                humantime::format_duration(opts.total)
            )),
        };
        // A pause that would end past the deadline is not worth taking: fail now, with the
        // real cause rather than a timeout.
        if !failure.transient() || attempt >= max || Instant::now() + pause >= deadline {
            return Err(failure.into_error(&url, attempt));
        }
        tracing::warn!(
            "fetching {url} failed (attempt {attempt} of {max}), retrying in {}: {}",
            humantime::format_duration(pause),
            failure.describe()
        );
        tokio::time::sleep(pause).await;
        pause = pause.saturating_mul(BACKOFF_FACTOR);
    }
}

/// One attempt: the body of a 2xx answer, read up to the size limit.
async fn fetch_once(
    client: &reqwest::Client,
    url: &Url,
    opts: &FetchOptions,
) -> Result<Vec<u8>, Failure> {
    let mut request = client
        .get(url.clone())
        .header(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(token) = &opts.token {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Failure::BadToken)?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    let mut response = request.send().await.map_err(classify)?;
    let status = response.status();
    if !status.is_success() {
        return Err(refusal(response).await);
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_META_BODY as u64)
    {
        return Err(Failure::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > MAX_META_BODY {
            return Err(Failure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What a non-2xx answer means: a rate limit or a plain status.
async fn refusal(mut response: reqwest::Response) -> Failure {
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Failure::RateLimited(status);
    }
    if status != StatusCode::FORBIDDEN {
        return Failure::Status(status);
    }
    let exhausted = response
        .headers()
        .get("x-ratelimit-remaining")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"0");
    if exhausted {
        return Failure::RateLimited(status);
    }
    // GitHub's secondary rate limits answer 403 with the reason in the body only.
    let mut head = Vec::new();
    while head.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    if String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .contains("rate limit")
    {
        Failure::RateLimited(status)
    } else {
        Failure::Status(status)
    }
}

/// Sorts a reqwest error into a failure, with its cause chain as the message.
fn classify(e: reqwest::Error) -> Failure {
    let kind: fn(String) -> Failure = if e.is_timeout() {
        Failure::Timeout
    } else if e.is_redirect() {
        Failure::Redirects
    } else if e.is_connect() {
        Failure::Connect
    } else {
        Failure::Transport
    };
    kind(cause_chain(&e.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_not_in_debug_output() {
        let opts = FetchOptions {
            token: Some("ghp_secret".into()),
            ..FetchOptions::default()
        };
        let shown = format!("{opts:?}");
        assert!(!shown.contains("ghp_secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn which_failures_are_retried() {
        assert!(Failure::Connect(String::new()).transient());
        assert!(Failure::Timeout(String::new()).transient());
        assert!(Failure::Transport(String::new()).transient());
        assert!(Failure::Status(StatusCode::BAD_GATEWAY).transient());
        assert!(!Failure::Status(StatusCode::NOT_FOUND).transient());
        assert!(!Failure::RateLimited(StatusCode::FORBIDDEN).transient());
        assert!(!Failure::TooLarge.transient());
        assert!(!Failure::Redirects(String::new()).transient());
        assert!(!Failure::BadToken.transient());
    }

    #[test]
    fn messages() {
        let url = "https://api.github.com/meta".to_owned();
        let e = FetchError::RateLimited {
            url: url.clone(),
            attempts: 1,
            status: StatusCode::FORBIDDEN,
        };
        assert_eq!(
            e.to_string(),
            "https://api.github.com/meta answered HTTP 403 Forbidden: rate limited (1 attempt); set GITHUB_TOKEN to raise the limit"
        );
        let e = FetchError::Status {
            url,
            attempts: 3,
            status: StatusCode::INTERNAL_SERVER_ERROR,
        };
        assert_eq!(
            e.to_string(),
            "https://api.github.com/meta answered HTTP 500 Internal Server Error (3 attempts)"
        );
    }
}
