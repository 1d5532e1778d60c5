//! Value templates: `"{scheme}://{host}{path}"` parsed once, rendered per request.

use std::fmt;
use std::io::Write as _;
use std::net::IpAddr;

use http::header::{HeaderName, HeaderValue};
use http::{Extensions, HeaderMap, Method, Uri};

use crate::ext::{AuthenticatedUser, PeerAddr, RequestId};
use crate::origin::Origin;

/// What a template reads from the request it renders for.
pub(crate) struct Ctx<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) extensions: &'a Extensions,
}

impl<'a> Ctx<'a> {
    pub(crate) fn of<B>(req: &'a http::Request<B>) -> Self {
        Ctx {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            extensions: req.extensions(),
        }
    }

    /// The client's scheme, host and address, as every reader of the request sees them.
    pub(crate) fn origin(&self) -> Origin<'a> {
        Origin::new(self.uri, self.headers, self.extensions)
    }
}

/// A compiled value template. A template without placeholders is a ready [`HeaderValue`].
#[derive(Debug, Clone)]
pub(crate) enum Template {
    Static(HeaderValue),
    Dynamic {
        parts: Vec<Part>,
        literal_len: usize,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Part {
    Literal(String),
    PeerAddr,
    ClientAddr,
    Host,
    Scheme,
    Method,
    Path,
    RequestId,
    User,
    Header(HeaderName),
}

/// Why a value template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// `{name}` is not a placeholder this crate knows.
    UnknownPlaceholder(String),
    /// A `{` without its `}`.
    Unclosed,
    /// A `}` without its `{` (write `}}` for a literal brace).
    UnmatchedClose,
    /// `{header:Name}` with a name that is not a valid header name.
    InvalidHeaderName(String),
    /// `{env:NAME}` for a variable that is not set (or not UTF-8).
    MissingEnv(String),
    /// The fixed text (or an `{env:…}` value) holds a character a header value cannot carry
    /// (CR, LF, NUL or another control character).
    InvalidValue,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::UnknownPlaceholder(name) => write!(
                f,
                "unknown placeholder `{{{name}}}`; known: {{peer_addr}}, {{client_addr}}, {{host}}, \
                 {{scheme}}, {{method}}, {{path}}, {{request_id}}, {{user}}, {{header:Name}}, \
                 {{env:NAME}} (write `{{{{` for a literal brace)"
            ),
            TemplateError::Unclosed => f.write_str("`{` without a closing `}` (write `{{` for a literal brace)"),
            TemplateError::UnmatchedClose => f.write_str("`}` without an opening `{` (write `}}` for a literal brace)"),
            TemplateError::InvalidHeaderName(name) => {
                write!(f, "`{{header:{name}}}`: `{name}` is not a valid header name")
            }
            TemplateError::MissingEnv(name) => {
                write!(f, "`{{env:{name}}}`: the environment variable `{name}` is not set")
            }
            TemplateError::InvalidValue => f.write_str(
                "the value holds a control character (CR, LF, NUL, ...) a header cannot carry",
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

/// A rendered value that a header cannot carry (CR, LF, NUL or another control character).
#[derive(Debug)]
pub(crate) struct InvalidRendered;

/// Longest placeholder name kept in an error message.
const MAX_NAME_IN_ERROR: usize = 64;

impl Template {
    /// Parses `text` once; `{env:NAME}` is read now, at build time.
    pub(crate) fn compile(text: &str) -> Result<Self, TemplateError> {
        Self::compile_with_env(text, |name| std::env::var(name).ok())
    }

    pub(crate) fn compile_with_env(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let (brace, after) = (rest.as_bytes()[i], &rest[i + 1..]);
            if after.as_bytes().first() == Some(&brace) {
                literal.push(brace as char);
                rest = &after[1..];
                continue;
            }
            if brace == b'}' {
                return Err(TemplateError::UnmatchedClose);
            }
            let end = after.find('}').ok_or(TemplateError::Unclosed)?;
            let name = &after[..end];
            rest = &after[end + 1..];
            let part = match name {
                "peer_addr" => Part::PeerAddr,
                "client_addr" => Part::ClientAddr,
                "host" => Part::Host,
                "scheme" => Part::Scheme,
                "method" => Part::Method,
                "path" => Part::Path,
                "request_id" => Part::RequestId,
                "user" => Part::User,
                _ => {
                    if let Some(var) = name.strip_prefix("env:") {
                        let value = env(var).ok_or_else(|| {
                            TemplateError::MissingEnv(crate::syntax::excerpt(
                                var,
                                MAX_NAME_IN_ERROR,
                            ))
                        })?;
                        literal.push_str(&value);
                        continue;
                    }
                    let Some(header) = name.strip_prefix("header:") else {
                        return Err(TemplateError::UnknownPlaceholder(crate::syntax::excerpt(
                            name,
                            MAX_NAME_IN_ERROR,
                        )));
                    };
                    Part::Header(HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                        TemplateError::InvalidHeaderName(crate::syntax::excerpt(
                            header,
                            MAX_NAME_IN_ERROR,
                        ))
                    })?)
                }
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
        }
        literal.push_str(rest);
        if parts.is_empty() {
            return HeaderValue::from_str(&literal)
                .map(Template::Static)
                .map_err(|_| TemplateError::InvalidValue);
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let mut literal_len = 0;
        for part in &parts {
            if let Part::Literal(text) = part {
                // Checked once here, so a rendered value can only go wrong through a
                // placeholder.
                HeaderValue::from_str(text).map_err(|_| TemplateError::InvalidValue)?;
                literal_len += text.len();
            }
        }
        Ok(Template::Dynamic { parts, literal_len })
    }

    /// Whether rendering needs the request (it has placeholders).
    pub(crate) fn is_dynamic(&self) -> bool {
        matches!(self, Template::Dynamic { .. })
    }

    /// Renders for one request. A placeholder with nothing to show renders as empty.
    ///
    /// # Errors
    ///
    /// When the result holds CR, LF, NUL or another byte a header value cannot carry.
    pub(crate) fn render(&self, ctx: &Ctx<'_>) -> Result<HeaderValue, InvalidRendered> {
        let (parts, literal_len) = match self {
            Template::Static(value) => return Ok(value.clone()),
            Template::Dynamic { parts, literal_len } => (parts, *literal_len),
        };
        let mut out = Vec::with_capacity(literal_len + 32);
        for part in parts {
            render_part(part, ctx, &mut out);
        }
        HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).map_err(|_| InvalidRendered)
    }
}

fn render_part(part: &Part, ctx: &Ctx<'_>, out: &mut Vec<u8>) {
    let ext = ctx.extensions;
    match part {
        Part::Literal(text) => out.extend_from_slice(text.as_bytes()),
        Part::PeerAddr => {
            if let Some(PeerAddr(addr)) = ext.get() {
                write_ip(out, addr.ip());
            }
        }
        Part::ClientAddr => {
            if let Some(ip) = ctx.origin().client_addr() {
                write_ip(out, ip);
            }
        }
        Part::Host => {
            if let Some(authority) = ctx.origin().authority() {
                out.extend_from_slice(authority.as_bytes());
            }
        }
        Part::Scheme => out.extend_from_slice(ctx.origin().scheme().as_bytes()),
        Part::Method => out.extend_from_slice(ctx.method.as_str().as_bytes()),
        Part::Path => out.extend_from_slice(ctx.uri.path().as_bytes()),
        Part::RequestId => {
            if let Some(RequestId(id)) = ext.get() {
                out.extend_from_slice(id.as_bytes());
            }
        }
        Part::User => {
            if let Some(user) = ext.get::<AuthenticatedUser>() {
                out.extend_from_slice(user.name().as_bytes());
            }
        }
        Part::Header(name) => {
            for (i, value) in ctx.headers.get_all(name).iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(value.as_bytes());
            }
        }
    }
}

/// Writes an address as `Display` does; IPv4, the usual case, without the formatting machinery.
fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if octet >= 100 {
                    out.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    out.push(b'0' + octet / 10 % 10);
                }
                out.push(b'0' + octet % 10);
            }
        }
        // Writing into a Vec cannot fail.
        IpAddr::V6(_) => {
            let _ = write!(out, "{ip}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::ClientInfo;
    use std::sync::Arc;

    fn render(template: &str, req: &http::Request<()>) -> Result<HeaderValue, InvalidRendered> {
        Template::compile_with_env(template, |n| (n == "REGION").then(|| "eu-1".into()))
            .unwrap()
            .render(&Ctx::of(req))
    }

    fn request() -> http::Request<()> {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("/a/b?q=1")
            .header("host", "example.com:8080")
            .header("x-tag", "one")
            .header("x-tag", "two")
            .body(())
            .unwrap();
        req.extensions_mut()
            .insert(PeerAddr("10.0.0.7:5555".parse().unwrap()));
        req.extensions_mut()
            .insert(AuthenticatedUser(Arc::from("ada")));
        req.extensions_mut().insert(RequestId(Arc::from("rid-1")));
        req
    }

    #[test]
    fn literal_only_is_static() {
        let t = Template::compile("nosniff").unwrap();
        assert!(!t.is_dynamic());
    }

    #[test]
    fn renders_every_placeholder() {
        let req = request();
        let v = render(
            "{method} {scheme}://{host}{path} peer={peer_addr} client={client_addr} \
             user={user} id={request_id} tags={header:X-Tag} region={env:REGION}",
            &req,
        )
        .unwrap();
        assert_eq!(
            v,
            "POST http://example.com:8080/a/b peer=10.0.0.7 client=10.0.0.7 user=ada \
             id=rid-1 tags=one, two region=eu-1"
        );
    }

    #[test]
    fn client_info_wins_for_host_scheme_and_client_addr() {
        let mut req = request();
        let info = ClientInfo {
            addr: Some("203.0.113.9".parse().unwrap()),
            scheme: Some("https".into()),
            host: Some("public.example".into()),
            ..ClientInfo::default()
        };
        req.extensions_mut().insert(info);
        let v = render("{scheme}://{host} {client_addr} {peer_addr}", &req).unwrap();
        assert_eq!(v, "https://public.example 203.0.113.9 10.0.0.7");
    }

    #[test]
    fn missing_values_render_empty() {
        let req = http::Request::new(());
        assert_eq!(
            render("[{user}][{header:x-none}][{peer_addr}]", &req).unwrap(),
            "[][][]"
        );
    }

    #[test]
    fn doubled_braces_are_literal() {
        let req = request();
        assert_eq!(render("{{x}} {method}", &req).unwrap(), "{x} POST");
        assert!(!Template::compile("{{}}").unwrap().is_dynamic());
    }

    #[test]
    fn crlf_from_a_header_is_refused_at_render() {
        // A header value itself cannot hold CR/LF, but a user name can.
        let mut req = request();
        req.extensions_mut()
            .insert(AuthenticatedUser(Arc::from("eve\r\nSet-Cookie: x=1")));
        assert!(render("{user}", &req).is_err());
        req.extensions_mut()
            .insert(AuthenticatedUser(Arc::from("nul\0")));
        assert!(render("u={user}", &req).is_err());
    }

    #[test]
    fn build_errors_name_the_problem() {
        let cases = [
            ("{nope}", TemplateError::UnknownPlaceholder("nope".into())),
            ("{host", TemplateError::Unclosed),
            ("a}b", TemplateError::UnmatchedClose),
            (
                "{header:bad name}",
                TemplateError::InvalidHeaderName("bad name".into()),
            ),
            (
                "{env:TOLLGATE_SURELY_UNSET_VAR}",
                TemplateError::MissingEnv("TOLLGATE_SURELY_UNSET_VAR".into()),
            ),
            ("a\r\nb", TemplateError::InvalidValue),
            ("{host}\n", TemplateError::InvalidValue),
        ];
        for (text, expected) in cases {
            assert_eq!(Template::compile(text).unwrap_err(), expected, "{text:?}");
        }
    }

    #[test]
    fn env_value_with_newline_is_refused() {
        let err = Template::compile_with_env("{env:X}", |_| Some("a\nb".into())).unwrap_err();
        assert_eq!(err, TemplateError::InvalidValue);
    }

    #[test]
    fn long_names_are_truncated_in_errors() {
        let long = "x".repeat(1000);
        let err = Template::compile(&format!("{{{long}}}")).unwrap_err();
        assert!(err.to_string().len() < 400);
    }

    #[test]
    fn addresses_render_as_display_does() {
        for ip in [
            "0.0.0.0",
            "10.0.0.7",
            "192.168.100.255",
            "203.0.113.9",
            "2001:db8::1",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            write_ip(&mut out, ip);
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
        }
    }
}
