//! How a server reads the ambiguous shapes of HTTP/1.1: the engine of `tollgate probe`.
//!
//! A built-in [`corpus`] of [`Case`]s (Content-Length/Transfer-Encoding combinations and
//! obfuscations, chunk-size and chunk-extension oddities, bare CR and LF, obs-fold,
//! whitespace before the colon, duplicate and malformed `Host`, request-line oddities,
//! absolute-form targets, HTTP/1.0 with `Transfer-Encoding`, pipelining, `Upgrade: h2c`,
//! `Expect`) is sent to a server, each case on its own connection, followed by a plain `GET`
//! on the same connection. Each [`Outcome`] says what the server answered, whether the
//! connection stayed in step, and whether the server answered more requests than the client
//! sent: the request-smuggling signal ([`Verdict::Desync`]). The cases are made of the
//! fuzzing generator's [`Mutation`](crate::wire::Mutation)s; `docs/probe.md` explains each.
//!
//! Only `http://` URLs, and only loopback or private addresses unless the caller says it owns
//! the target ([`Target::resolve`]). Each case sends at most three requests, and every
//! connect, write and read is bounded by [`ProbeOptions::timeout`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tollgate::probe::{self, ProbeOptions, Target};
//!
//! let target = Target::resolve("http://127.0.0.1:8080/", false).await?;
//! let report = probe::run(&target, probe::corpus(), &ProbeOptions::default()).await;
//! print!("{}", report.table());
//! assert!(report.desync().is_empty());
//! # Ok(()) }
//! ```

mod corpus;
mod exchange;
mod report;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use corpus::{case, corpus, Case};
pub use report::{compare, differences_table, DesyncFound, Difference, Outcome, Report, Verdict};

use exchange::Waits;

/// How a probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeOptions {
    /// The bound on connecting, on each write and on each read while an answer is missing.
    /// Default 2 s.
    pub timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            timeout: Duration::from_secs(2),
        }
    }
}

impl ProbeOptions {
    /// Options with this timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        ProbeOptions { timeout }
    }
}

/// A server to probe: an `http://` URL resolved to an address the probe may send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    url: String,
    authority: String,
    path: String,
    addr: SocketAddr,
}

/// Why a URL cannot be probed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TargetError {
    /// Not a URL with a host.
    Url(String),
    /// A scheme other than `http`.
    Scheme(String),
    /// The host did not resolve.
    Resolve(String, std::io::Error),
    /// A public address without the owner's say-so.
    Public(String, IpAddr),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Url(url) => write!(
                f,
                "{url:?} is not a URL the probe can use: give http://HOST[:PORT][/PATH]"
            ),
            TargetError::Scheme(scheme) if scheme.eq_ignore_ascii_case("https") => f.write_str(
                "https is not supported: the probe writes raw HTTP/1.1 bytes on plain TCP; probe the \
                 plain-HTTP listener behind your TLS terminator (http://...)",
            ),
            TargetError::Scheme(scheme) => {
                write!(f, "scheme {scheme:?} is not supported: give an http:// URL")
            }
            TargetError::Resolve(host, e) => write!(f, "cannot resolve {host}: {e}"),
            TargetError::Public(host, ip) => {
                if *host != ip.to_string() {
                    write!(f, "{host} is {ip}, which is ")?;
                } else {
                    write!(f, "{ip} is ")?;
                }
                f.write_str(
                    "not a loopback, private (RFC 1918, fc00::/7) or link-local address: probe \
                     only servers you run, and pass --i-own-the-target if you own it",
                )
            }
        }
    }
}

impl std::error::Error for TargetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TargetError::Resolve(_, e) => Some(e),
            _ => None,
        }
    }
}

impl Target {
    /// Parses `url` (`http://HOST[:PORT][/PATH]`) and resolves its host. Every address it
    /// resolves to must be loopback, private (RFC 1918, fc00::/7) or link-local unless
    /// `owned` (the user said the target is theirs).
    pub async fn resolve(url: &str, owned: bool) -> Result<Target, TargetError> {
        let uri: http::Uri = url.parse().map_err(|_| TargetError::Url(url.to_owned()))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(match scheme {
                "" => TargetError::Url(url.to_owned()),
                s => TargetError::Scheme(s.to_owned()),
            });
        }
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty() && !a.as_str().contains('@'))
            .ok_or_else(|| TargetError::Url(url.to_owned()))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| TargetError::Resolve(host.to_owned(), e))?
            .collect();
        let Some(&addr) = addrs.first() else {
            let e = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
            return Err(TargetError::Resolve(host.to_owned(), e));
        };
        if !owned {
            if let Some(public) = addrs.iter().find(|a| !is_private(a.ip())) {
                return Err(TargetError::Public(host.to_owned(), public.ip()));
            }
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Ok(Target {
            url: url.to_owned(),
            authority: authority.as_str().to_owned(),
            path: if path.is_empty() { "/" } else { path }.to_owned(),
            addr,
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the cases are sent to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Whether `ip` is loopback, private (RFC 1918, fc00::/7) or link-local (169.254.0.0/16,
/// fe80::/10); IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
}

/// Sends `cases` to `target`, one connection each, in order, and reports what came back.
/// Requests sent: each case's (one, two when pipelined) plus one follow-up `GET` per case
/// whose connection is still open.
pub async fn run(target: &Target, cases: &[Case], options: &ProbeOptions) -> Report {
    let waits = Waits {
        timeout: options.timeout,
        quiet: (options.timeout / 5).min(Duration::from_millis(400)),
    };
    let follow_up = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        target.path, target.authority
    );
    let mut report = Report {
        target: target.url.clone(),
        requests_sent: 0,
        cases: Vec::with_capacity(cases.len()),
    };
    for case in cases {
        let meant = case.requests_meant();
        let bytes = case.bytes(&target.authority, &target.path);
        let outcome =
            match exchange::exchange(target.addr, &bytes, meant, follow_up.as_bytes(), waits).await
            {
                Ok(ex) => {
                    report.requests_sent += meant + usize::from(ex.follow_up.is_some());
                    Outcome::from_exchange(case.id, meant, &ex)
                }
                Err(why) => Outcome::error(case.id, meant, why),
            };
        report.cases.push(outcome);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_the_allowed_ones() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "2001:db8::1",
            "::ffff:1.1.1.1",
            "0.0.0.0",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn only_http_urls_of_private_hosts() {
        let https = Target::resolve("https://127.0.0.1/", false)
            .await
            .unwrap_err();
        assert!(
            https.to_string().contains("https is not supported"),
            "{https}"
        );
        let public = Target::resolve("http://8.8.8.8/", false).await.unwrap_err();
        assert!(
            public.to_string().contains("--i-own-the-target"),
            "{public}"
        );
        assert!(Target::resolve("http://8.8.8.8/", true).await.is_ok());
        assert!(Target::resolve("127.0.0.1:80", false).await.is_err());
        let ok = Target::resolve("http://127.0.0.1:9/x?y", false)
            .await
            .unwrap();
        assert_eq!(
            (ok.path.as_str(), ok.authority.as_str()),
            ("/x?y", "127.0.0.1:9")
        );
    }
}
