//! Typical rule sets, as constants and as [`Rule`] lists.
//!
//! | preset | rules (response side) |
//! | --- | --- |
//! | [`Preset::HideServer`] | `remove` each of [`HIDDEN_HEADERS`] (`Server`, `X-Powered-By`) |
//! | [`Preset::SecurityHeaders`] | `set_if_missing` `Strict-Transport-Security: `[`HSTS`], `X-Content-Type-Options: `[`X_CONTENT_TYPE_OPTIONS`], `Referrer-Policy: `[`REFERRER_POLICY`], `Content-Security-Policy: `[`CONTENT_SECURITY_POLICY`] |
//!
//! The security headers use `set_if_missing`, so a policy the application (or a per-route
//! rule) already set is kept; add your own `set` rule to enforce a value instead.
//!
//! In the gateway's TOML: `presets = ["hide_server", "security_headers"]`.

use serde::Deserialize;

use super::Rule;

/// Response headers [`Preset::HideServer`] removes: they advertise the software behind the
/// gateway.
pub const HIDDEN_HEADERS: &[&str] = &["server", "x-powered-by"];

/// `Strict-Transport-Security`: one year, subdomains included. Browsers ignore it over plain
/// HTTP, so it is harmless there; add `preload` yourself only once you mean it.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// `X-Content-Type-Options`: no MIME sniffing.
pub const X_CONTENT_TYPE_OPTIONS: &str = "nosniff";

/// `Referrer-Policy`: full referrer to the same origin, only the origin cross-origin, nothing on
/// an HTTPS→HTTP downgrade (what browsers default to today, made explicit).
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// `Content-Security-Policy`: resources only from the page's own origin, no plugins, no
/// `<base>` hijacking, framing only by the same origin. Loosen it per route when a page needs
/// a CDN.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'";

/// A named rule set, applied before the configuration's own response rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Preset {
    /// Remove `Server` and `X-Powered-By` from responses ([`hide_server`]).
    HideServer,
    /// Add HSTS, `X-Content-Type-Options`, `Referrer-Policy` and a CSP to responses that do not
    /// have them ([`security_headers`]).
    SecurityHeaders,
}

impl Preset {
    /// The preset's response rules.
    pub fn response_rules(self) -> Vec<Rule> {
        match self {
            Preset::HideServer => hide_server(),
            Preset::SecurityHeaders => security_headers(),
        }
    }
}

/// `remove` rules for each of [`HIDDEN_HEADERS`].
pub fn hide_server() -> Vec<Rule> {
    HIDDEN_HEADERS
        .iter()
        .map(|name| Rule::remove(*name))
        .collect()
}

/// `set_if_missing` rules for HSTS, `X-Content-Type-Options`, `Referrer-Policy` and CSP.
pub fn security_headers() -> Vec<Rule> {
    vec![
        Rule::set_if_missing("strict-transport-security", HSTS),
        Rule::set_if_missing("x-content-type-options", X_CONTENT_TYPE_OPTIONS),
        Rule::set_if_missing("referrer-policy", REFERRER_POLICY),
        Rule::set_if_missing("content-security-policy", CONTENT_SECURITY_POLICY),
    ]
}
