//! The sans-I/O floor every other module stands on: the grammar of hosts, path prefixes,
//! paths, percent-encoding, forwarding headers and configuration durations, as plain functions
//! on strings, in the spirit of Werkzeug's `sansio`. Nothing here reads a socket, a request
//! or an extension, and nothing here imports another tollgate module but
//! [`negotiate`](crate::negotiate)'s token grammar.
//!
//! - [`host`]: [`split_host_port`](host::split_host_port), the one host-name grammar
//!   ([`normalize`](host::normalize)) and [`HostPattern`](host::HostPattern)
//!   (`*.example.com`).
//! - [`prefix`]: the segment-prefix matcher (`/api` covers `/api/x`, never `/apix`) and
//!   stripping.
//! - [`path`]: path normalization (RFC 3986 §6.2.2 plus the refusals a server needs).
//! - [`forwarded`]: the `Forwarded` / `X-Forwarded-*` grammar and header family.
//! - [`duration`]: `"5s"` durations in configuration files.
//! - [`rate`]: `"100/s"` rates (rate limits, lockouts) in configuration files.
//! - [`network`]: client networks (`10.0.0.0/8`, or one address) in configuration files.
//! - [`size`]: `"10M"` byte sizes in configuration files and flags.
//!
//! Filters written with the library use them to agree with tollgate's own layers: a service
//! that checks `HostPattern::parse("*.example.com")?.matches(host)` matches exactly what a
//! dispatch host route would.
//!
//! # Example
//!
//! ```
//! use tollgate::syntax::{host::HostPattern, prefix};
//!
//! let admin = HostPattern::parse("admin.example.com").unwrap();
//! let allowed = |host: &str, path: &str| admin.matches(host) || !prefix::matches(path, "/admin");
//! assert!(allowed("ADMIN.example.com", "/admin/users"));
//! assert!(!allowed("www.example.com", "/admin"));
//! assert!(allowed("www.example.com", "/administrators"));
//! ```

pub mod duration;
#[cfg(feature = "forwarded")]
#[cfg_attr(docsrs, doc(cfg(feature = "forwarded")))]
pub mod forwarded;
pub mod host;
pub mod network;
pub mod path;
pub(crate) mod percent;
pub mod prefix;
pub mod rate;
pub mod size;

pub(crate) mod token;

/// `tchar` (RFC 9110 §5.6.2): the characters of a token (header names, methods, parameter
/// names).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// A user name for messages and logs: quotes, backslashes, control and invisible characters
/// escaped, at most 64 characters of the name (then `…`), so a client cannot forge log lines
/// or fill the log.
#[cfg(any(feature = "auth", feature = "acl", feature = "tls"))]
pub(crate) fn escape_name(user: &str) -> String {
    let mut out: String = user.chars().take(64).flat_map(char::escape_debug).collect();
    if user.chars().nth(64).is_some() {
        out.push('…');
    }
    out
}

/// At most `max` bytes of `text`, for an error message that quotes user input: cut on a
/// character boundary, with `…` when something was cut. The one truncation every error
/// message uses, so no message can carry an unbounded input.
#[cold]
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_is_the_token_alphabet() {
        let tokens: String = (0u8..=255)
            .filter(|&b| is_tchar(b))
            .map(char::from)
            .collect();
        assert_eq!(
            tokens,
            "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~"
        );
    }

    #[test]
    fn excerpts_cut_on_character_boundaries() {
        assert_eq!(excerpt("short", 64), "short");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        // `é` is two bytes: a cut inside it backs off to the boundary before it.
        assert_eq!(excerpt("aé", 2), "a…");
        assert_eq!(excerpt(&"x".repeat(300), 64).len(), 64 + '…'.len_utf8());
    }
}
