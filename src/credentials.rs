//! Basic credentials: parsing an `Authorization: Basic` header value (RFC 7617).
//!
//! [`parse_basic`] is a pure function: it never panics, never allocates more than the
//! header's own size, and reports what was wrong without echoing the secret. The auth layer and
//! `Request::basic_auth()` both call it.
//!
//! # Example
//!
//! ```
//! use http::HeaderValue;
//! use tollgate::credentials::{parse_basic, CredentialsError};
//!
//! // "Aladdin:open sesame", the example of RFC 7617.
//! let value = HeaderValue::from_static("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
//! let creds = parse_basic(&value).unwrap();
//! assert_eq!(creds.username, "Aladdin");
//! assert_eq!(creds.password, "open sesame");
//! // Debug never shows the password.
//! assert!(!format!("{creds:?}").contains("sesame"));
//!
//! let bearer = HeaderValue::from_static("Bearer abc");
//! assert!(matches!(parse_basic(&bearer), Err(CredentialsError::NotBasic { .. })));
//! ```

use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, Engine, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderValue;

/// The longest `Authorization` header value [`parse_basic`] decodes, in bytes.
///
/// Default is `8192` (a user name and password of about 6 KiB together), the same order as
/// the header size limits of common servers; longer values are refused before decoding.
pub const MAX_AUTHORIZATION_LEN: usize = 8 * 1024;

/// A user name and password from a `Basic` `Authorization` header.
///
/// `Debug` shows the user name only; the password is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user id: UTF-8, no control characters, no `:`.
    pub username: String,
    /// The password: UTF-8, no control characters; may be empty and may contain `:`.
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and password (e.g. for a test client's request builder).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The `Authorization` header value carrying these credentials, marked sensitive so
    /// `HeaderMap`'s `Debug` hides it.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::InvalidUsername`] when the user name contains `:` or a control
    /// character, [`CredentialsError::ControlCharacter`] for a control character in the password.
    pub fn to_header_value(&self) -> Result<HeaderValue, CredentialsError> {
        check_username(&self.username)?;
        check_password(&self.password)?;
        let mut plain = Vec::with_capacity(self.username.len() + self.password.len() + 1);
        plain.extend_from_slice(self.username.as_bytes());
        plain.push(b':');
        plain.extend_from_slice(self.password.as_bytes());
        let encoded = format!("Basic {}", BASE64.encode(&plain));
        let mut value =
            HeaderValue::from_str(&encoded).expect("base64 output is always a valid header value");
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why an `Authorization` header is not usable Basic credentials.
///
/// Unlike other parser errors of the crate, the variants do not carry the bad input: it is a
/// credential, and errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The scheme is not `Basic` (e.g. `Bearer`); carries the scheme name, truncated.
    NotBasic {
        /// The scheme the client used (at most 32 characters).
        scheme: String,
    },
    /// `Basic` with nothing after it.
    Empty,
    /// The header value is longer than [`MAX_AUTHORIZATION_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The value contains bytes that are not visible ASCII, or several `Authorization` headers
    /// were sent.
    Opaque,
    /// The token is not valid base64.
    InvalidBase64,
    /// The decoded credentials are not UTF-8.
    NotUtf8,
    /// The decoded credentials have no `:` between user and password.
    MissingColon,
    /// The user name is empty, or contains `:` or a control character.
    InvalidUsername,
    /// The password contains a control character (RFC 7617 forbids them).
    ControlCharacter,
}

impl CredentialsError {
    /// Whether the client did not even try Basic (another scheme): some deployments answer
    /// that with `400` rather than a `401` challenge.
    pub fn is_not_basic(&self) -> bool {
        matches!(self, CredentialsError::NotBasic { .. })
    }
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::NotBasic { scheme } => write!(
                f,
                "Authorization scheme `{scheme}` is not supported; send `Basic` credentials"
            ),
            CredentialsError::Empty => f.write_str(
                "Authorization header `Basic` has no credentials; send base64 of `user:password`",
            ),
            CredentialsError::TooLong { len } => write!(
                f,
                "Authorization header of {len} bytes is longer than the {MAX_AUTHORIZATION_LEN} allowed"
            ),
            CredentialsError::Opaque => f.write_str(
                "Authorization header is not a single visible-ASCII value; send one `Basic` header",
            ),
            CredentialsError::InvalidBase64 => {
                f.write_str("Basic credentials are not valid base64; encode `user:password` with base64")
            }
            CredentialsError::NotUtf8 => {
                f.write_str("Basic credentials are not UTF-8; encode user and password as UTF-8 (RFC 7617)")
            }
            CredentialsError::MissingColon => {
                f.write_str("Basic credentials have no `:` between user and password")
            }
            CredentialsError::InvalidUsername => f.write_str(
                "Basic user name is empty or contains `:` or a control character",
            ),
            CredentialsError::ControlCharacter => {
                f.write_str("Basic password contains a control character")
            }
        }
    }
}

impl std::error::Error for CredentialsError {}

/// `400 Bad Request` with the error's message: a handler that reads credentials itself has
/// no realm to challenge with. The auth layer answers `401` with its challenge instead.
impl crate::error::ClientError for CredentialsError {}

/// Standard base64, accepting values with or without padding (clients differ).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses an `Authorization` header value as RFC 7617 Basic credentials.
///
/// The scheme is matched case-insensitively; the token may be padded or not; the decoded
/// `user:password` must be UTF-8 without control characters, and is split at the first `:`
/// (so passwords may contain `:`). Values longer than [`MAX_AUTHORIZATION_LEN`] are refused
/// before decoding.
///
/// # Errors
///
/// A [`CredentialsError`] saying what is wrong; it never contains the credentials.
pub fn parse_basic(value: &HeaderValue) -> Result<Credentials, CredentialsError> {
    let bytes = value.as_bytes();
    if bytes.len() > MAX_AUTHORIZATION_LEN {
        return Err(CredentialsError::TooLong { len: bytes.len() });
    }
    let text = value.to_str().map_err(|_| CredentialsError::Opaque)?;
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = match text.find([' ', '\t']) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(CredentialsError::NotBasic {
            scheme: crate::syntax::excerpt(scheme, 32),
        });
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(CredentialsError::Empty);
    }
    let decoded = BASE64
        .decode(token)
        .map_err(|_| CredentialsError::InvalidBase64)?;
    let decoded = String::from_utf8(decoded).map_err(|_| CredentialsError::NotUtf8)?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or(CredentialsError::MissingColon)?;
    check_username(username)?;
    check_password(password)?;
    Ok(Credentials::new(username, password))
}

/// The token of an `Authorization: Bearer TOKEN` value (RFC 6750 §2.1; the scheme matched
/// case-insensitively, spaces around the token ignored), `None` for another scheme, an empty
/// token, a value that is not visible ASCII, or one over [`MAX_AUTHORIZATION_LEN`].
///
/// ```
/// use http::HeaderValue;
/// use tollgate::credentials::bearer_token;
///
/// assert_eq!(bearer_token(&HeaderValue::from_static("bearer  abc.def ")), Some("abc.def"));
/// assert_eq!(bearer_token(&HeaderValue::from_static("Basic YTpi")), None);
/// assert_eq!(bearer_token(&HeaderValue::from_static("Bearer a b")), None);
/// ```
pub fn bearer_token(value: &HeaderValue) -> Option<&str> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return None;
    }
    let text = value.to_str().ok()?.trim_matches([' ', '\t']);
    let (scheme, token) = text.split_once([' ', '\t'])?;
    let token = token.trim_start_matches([' ', '\t']);
    let visible = |c: char| c.is_ascii_graphic();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.chars().all(visible))
        .then_some(token)
}

fn check_username(username: &str) -> Result<(), CredentialsError> {
    if username.is_empty() || username.chars().any(|c| c == ':' || c.is_control()) {
        return Err(CredentialsError::InvalidUsername);
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), CredentialsError> {
    if password.chars().any(char::is_control) {
        return Err(CredentialsError::ControlCharacter);
    }
    Ok(())
}

/// The Basic credentials of a request's one `Authorization` header: `Ok(None)` without one.
/// Several `Authorization` headers are refused ([`CredentialsError::Opaque`]): which one a
/// server or proxy would believe is not defined. The auth layer and
/// `Request::basic_auth()` both call this.
///
/// # Errors
///
/// As [`parse_basic`], and for repeated headers.
pub fn basic_from_headers(
    headers: &http::HeaderMap,
) -> Result<Option<Credentials>, CredentialsError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(CredentialsError::Opaque);
    }
    parse_basic(value).map(Some)
}

/// An `Authorization` header by scheme (RFC 9110 §11.6.2): Basic decoded, Bearer's token,
/// Digest's parameters parsed, any other scheme kept raw.
///
/// `Debug` never shows a password, token or Digest response.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authorization {
    /// `Basic` (RFC 7617).
    Basic(Credentials),
    /// `Bearer TOKEN` (RFC 6750).
    Bearer(String),
    /// `Digest name=value, ...` (RFC 7616): the parameters, names lower-cased, values
    /// unquoted, in order.
    Digest(Vec<(String, String)>),
    /// Another scheme: its name as sent and the rest of the value.
    Other {
        /// The scheme.
        scheme: String,
        /// What followed it, trimmed.
        data: String,
    },
}

impl Authorization {
    /// A Digest parameter (`username`, `realm`, `nonce`, `uri`, `response`, ...).
    pub fn digest_param(&self, name: &str) -> Option<&str> {
        match self {
            Authorization::Digest(params) => params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authorization::Basic(c) => f.debug_tuple("Basic").field(c).finish(),
            Authorization::Bearer(_) => f.write_str("Bearer(..)"),
            Authorization::Digest(params) => {
                let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
                f.debug_struct("Digest").field("params", &names).finish()
            }
            Authorization::Other { scheme, .. } => f
                .debug_struct("Other")
                .field("scheme", scheme)
                .finish_non_exhaustive(),
        }
    }
}

/// Parses an `Authorization` header value by its scheme (matched case-insensitively).
///
/// ```
/// use http::HeaderValue;
/// use tollgate::credentials::{parse_authorization, Authorization};
///
/// let bearer = parse_authorization(&HeaderValue::from_static("Bearer abc.def")).unwrap();
/// assert_eq!(bearer, Authorization::Bearer("abc.def".into()));
/// let digest = HeaderValue::from_static(r#"Digest username="Mufasa", realm="x@y", qop=auth"#);
/// let digest = parse_authorization(&digest).unwrap();
/// assert_eq!(digest.digest_param("username"), Some("Mufasa"));
/// ```
///
/// # Errors
///
/// As [`parse_basic`] for Basic; for the others, a value that is not visible ASCII or too
/// long ([`CredentialsError::Opaque`], [`CredentialsError::TooLong`]), a Bearer without a
/// token or a Digest parameter that does not parse ([`CredentialsError::Empty`],
/// [`CredentialsError::Opaque`]).
pub fn parse_authorization(value: &HeaderValue) -> Result<Authorization, CredentialsError> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(CredentialsError::TooLong { len: value.len() });
    }
    let text = value.to_str().map_err(|_| CredentialsError::Opaque)?;
    let text = text.trim_matches([' ', '\t']);
    let (scheme, rest) = text.split_once([' ', '\t']).unwrap_or((text, ""));
    let rest = rest.trim_matches([' ', '\t']);
    if scheme.eq_ignore_ascii_case("basic") {
        return parse_basic(value).map(Authorization::Basic);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        let body = rest.trim_end_matches('=');
        let ok = !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        return if ok {
            Ok(Authorization::Bearer(rest.to_owned()))
        } else {
            Err(CredentialsError::Empty)
        };
    }
    if scheme.eq_ignore_ascii_case("digest") {
        let params = crate::syntax::token::split_outside_quotes(rest, ',')
            .filter(|p| !p.trim().is_empty())
            .take(32)
            .map(crate::syntax::token::parse_param)
            .collect::<Option<Vec<_>>>()
            .ok_or(CredentialsError::Opaque)?;
        return Ok(Authorization::Digest(params));
    }
    Ok(Authorization::Other {
        scheme: scheme.to_owned(),
        data: rest.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HttpError;

    fn parse(value: &str) -> Result<Credentials, CredentialsError> {
        parse_basic(&HeaderValue::from_str(value).unwrap())
    }

    fn basic(plain: &[u8]) -> String {
        format!("Basic {}", BASE64.encode(plain))
    }

    #[test]
    fn rfc_7617_example() {
        let c = parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("Aladdin", "open sesame")
        );
    }

    #[test]
    fn scheme_is_case_insensitive_and_spaces_are_tolerated() {
        for v in [
            "basic dTpw",
            "BASIC   dTpw",
            "  Basic dTpw  ",
            "Basic\tdTpw",
        ] {
            let c = parse(v).unwrap();
            assert_eq!(
                (c.username.as_str(), c.password.as_str()),
                ("u", "p"),
                "{v}"
            );
        }
    }

    #[test]
    fn padding_is_optional() {
        assert_eq!(parse("Basic dTpwYQ").unwrap().password, "pa");
        assert_eq!(parse("Basic dTpwYQ==").unwrap().password, "pa");
    }

    #[test]
    fn utf8_user_and_password() {
        let c = parse(&basic("Jürgen:pässwörd€".as_bytes())).unwrap();
        assert_eq!(c.username, "Jürgen");
        assert_eq!(c.password, "pässwörd€");
    }

    #[test]
    fn password_may_contain_colons_and_be_empty() {
        assert_eq!(parse(&basic(b"u:a:b")).unwrap().password, "a:b");
        assert_eq!(parse(&basic(b"u:")).unwrap().password, "");
    }

    #[test]
    fn hostile_values_are_typed_errors() {
        let long = format!("Basic {}", "A".repeat(100 * 1024));
        let cases: &[(&str, String, CredentialsError)] = &[
            (
                "bearer",
                "Bearer abc".into(),
                CredentialsError::NotBasic {
                    scheme: "Bearer".into(),
                },
            ),
            ("scheme only", "Basic".into(), CredentialsError::Empty),
            (
                "scheme and spaces",
                "Basic   ".into(),
                CredentialsError::Empty,
            ),
            (
                "bad base64",
                "Basic !!!notbase64".into(),
                CredentialsError::InvalidBase64,
            ),
            (
                "two tokens",
                "Basic dTpw dTpw".into(),
                CredentialsError::InvalidBase64,
            ),
            (
                "no colon",
                basic(b"userpass"),
                CredentialsError::MissingColon,
            ),
            (
                "empty user",
                basic(b":pass"),
                CredentialsError::InvalidUsername,
            ),
            (
                "control in user",
                basic(b"u\x01:p"),
                CredentialsError::InvalidUsername,
            ),
            (
                "control in password",
                basic(b"u:p\x7f"),
                CredentialsError::ControlCharacter,
            ),
            (
                "newline in password",
                basic(b"u:p\nq"),
                CredentialsError::ControlCharacter,
            ),
            ("not utf-8", basic(b"\xff\xfe:p"), CredentialsError::NotUtf8),
            (
                "100 KB",
                long,
                CredentialsError::TooLong {
                    len: 6 + 100 * 1024,
                },
            ),
        ];
        for (name, value, expected) in cases {
            assert_eq!(parse(value).as_ref().err(), Some(expected), "{name}");
        }
    }

    #[test]
    fn opaque_bytes_are_refused() {
        let value = HeaderValue::from_bytes(b"Basic \xe4\xf6").unwrap();
        assert_eq!(parse_basic(&value), Err(CredentialsError::Opaque));
    }

    #[test]
    fn long_scheme_is_truncated_in_the_error() {
        let value = format!("{} x", "X".repeat(1000));
        match parse(&value) {
            Err(CredentialsError::NotBasic { scheme }) => {
                assert_eq!(scheme, format!("{}…", "X".repeat(32)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let c = Credentials::new("alice", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        let err = parse(&basic(b"u:hunter2\x01")).unwrap_err();
        assert!(!format!("{err:?} {err}").contains("hunter2"));
    }

    #[test]
    fn header_value_round_trips() {
        let c = Credentials::new("Jürgen", "a:b c");
        let value = c.to_header_value().unwrap();
        assert!(value.is_sensitive());
        assert_eq!(parse_basic(&value).unwrap(), c);
        assert_eq!(
            Credentials::new("a:b", "x").to_header_value(),
            Err(CredentialsError::InvalidUsername)
        );
    }

    #[test]
    fn errors_are_send_sync_and_map_to_400() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CredentialsError>();
        let err: HttpError = CredentialsError::InvalidBase64.into();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let _ = parse_basic(&value);
            }
            let _ = parse(&basic(&bytes));
        }
    }
}
