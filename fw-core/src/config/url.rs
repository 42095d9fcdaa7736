//! URLs: the strict `http`/`https` parser, the check of a configured URL, and redaction of
//! credentials for messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::validate::{Domain, DomainError, shown};

/// The parts of an `http`/`https` URL that the firewall cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub https: bool,
    pub host: UrlHost,
    pub port: Option<u16>,
    /// Whether the URL carries `user[:password]@` before the host.
    pub has_userinfo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost {
    Domain(Domain),
    Ip(IpAddr),
}

/// Why a value is not an acceptable `http`/`https` URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("empty url")]
    Empty,
    #[error("character {0:?} is not allowed in a url")]
    BadChar(char),
    #[error("no http:// or https:// scheme")]
    NoScheme,
    #[error("scheme {0:?} is not http or https")]
    Scheme(String),
    #[error("no host")]
    NoHost,
    #[error("port {0:?} is not a number from 1 to 65535")]
    Port(String),
    #[error("{0:?} is not an IPv6 address")]
    Ipv6(String),
    /// The host is neither an IP literal nor a valid host name (the value names the host).
    #[error("bad host: {0}")]
    Host(DomainError),
    #[error("user:password@ credentials are not allowed in this url")]
    Userinfo,
}

/// Parses `http[s]://[userinfo@]host[:port][/path][?query][#fragment]` without a URL crate: the
/// firewall only needs the host, and a strict, small parser is easy to audit. The host is a
/// validated [`Domain`] or an IP literal (`[v6]` in brackets). Whitespace, control characters,
/// non-ASCII and the characters URLs never carry unencoded (`"<>\^`{|}`) are refused anywhere.
pub fn parse_http_url(s: &str) -> Result<HttpUrl, UrlError> {
    if s.is_empty() {
        return Err(UrlError::Empty);
    }
    if let Some(c) = s.chars().find(|c| {
        !c.is_ascii_graphic() || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
    }) {
        return Err(UrlError::BadChar(c));
    }
    let (scheme, rest) = s.split_once("://").ok_or(UrlError::NoScheme)?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        "" => return Err(UrlError::NoScheme),
        _ => return Err(UrlError::Scheme(shown(scheme))),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (has_userinfo, hostport) = match authority.rsplit_once('@') {
        Some((_, hp)) => (true, hp),
        None => (false, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| UrlError::Ipv6(shown(hostport)))?;
        let ip: Ipv6Addr = addr.parse().map_err(|_| UrlError::Ipv6(shown(addr)))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| UrlError::Port(shown(p)))?,
            ),
        };
        (UrlHost::Ip(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = match hostport.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (hostport, None),
        };
        if name.is_empty() {
            return Err(UrlError::NoHost);
        }
        let host = match name.parse::<Ipv4Addr>() {
            Ok(ip) => UrlHost::Ip(IpAddr::V4(ip)),
            Err(_) => UrlHost::Domain(name.parse().map_err(UrlError::Host)?),
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| UrlError::Port(shown(p)))?,
        ),
    };
    Ok(HttpUrl {
        https,
        host,
        port,
        has_userinfo,
    })
}

/// An `http`/`https` URL with a valid host and no credentials: these URLs are printed in plans
/// and logs, and none of the firewall's own requests needs a password.
pub(crate) fn check_url(s: &str) -> Result<String, UrlError> {
    if parse_http_url(s)?.has_userinfo {
        return Err(UrlError::Userinfo);
    }
    Ok(s.to_owned())
}

/// A value for messages: `scheme://user:password@host` becomes `scheme://***@host`, so that a
/// registry token in the URL never reaches a log.
pub fn redact(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else {
        return value.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => value.to_owned(),
    }
}
