//! Path normalization: RFC 3986 §6.2.2 plus the refusals a server needs.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

use super::percent::{is_control, is_pchar, push_normalized, units, Unit};

/// What to do with a trailing slash once the path is otherwise normalized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrailingSlash {
    /// Leave it as the client sent it: `/a/` and `/a` stay different resources (RFC 3986).
    #[default]
    Keep,
    /// Remove every trailing slash: `/a/` → `/a`; `/` stays `/`.
    Strip,
    /// Add one when missing: `/a` → `/a/` (also `/style.css` → `/style.css/`: use it in front of
    /// services whose every path is a directory).
    Add,
}

/// Options of [`path`]. The defaults refuse everything ambiguous and keep trailing slashes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PathOptions {
    /// Merge runs of slashes into one, as nginx's `merge_slashes`: `/a//b` → `/a/b`. Not an
    /// RFC 3986 equivalence, but `//admin` must not slip past a rule written for `/admin`.
    /// Default is `true`.
    pub merge_slashes: bool,
    /// The trailing-slash policy. Default is [`TrailingSlash::Keep`].
    pub trailing_slash: TrailingSlash,
    /// Accept `%2F` (kept encoded, as `%2F`): an encoded slash is a slash to some services and a
    /// character to others, so by default it is refused. Default is `false`.
    pub allow_encoded_slash: bool,
    /// Accept `\` and `%5C` (kept as `%5C`): Windows file servers and browsers treat a backslash
    /// as a slash. Default is `false`.
    pub allow_backslash: bool,
}

impl Default for PathOptions {
    fn default() -> Self {
        PathOptions {
            merge_slashes: true,
            trailing_slash: TrailingSlash::Keep,
            allow_encoded_slash: false,
            allow_backslash: false,
        }
    }
}

impl PathOptions {
    /// The same options with another trailing-slash policy.
    #[must_use]
    pub fn trailing_slash(mut self, policy: TrailingSlash) -> Self {
        self.trailing_slash = policy;
        self
    }

    /// The same options, merging repeated slashes or not.
    #[must_use]
    pub fn merge_slashes(mut self, merge: bool) -> Self {
        self.merge_slashes = merge;
        self
    }

    /// The same options, accepting `%2F` or not.
    #[must_use]
    pub fn allow_encoded_slash(mut self, allow: bool) -> Self {
        self.allow_encoded_slash = allow;
        self
    }

    /// The same options, accepting backslashes or not.
    #[must_use]
    pub fn allow_backslash(mut self, allow: bool) -> Self {
        self.allow_backslash = allow;
        self
    }
}

/// Normalizes the path of an origin-form request target (the part before `?`).
///
/// In order, per RFC 3986 §6.2.2: percent-encoding hex digits are uppercased (`%3a` → `%3A`),
/// percent-encoded unreserved characters are decoded (`%7E` → `~`, `%2e` → `.`), characters
/// a path may not hold are encoded (a space → `%20`, non-ASCII as its UTF-8 bytes), dot-segments
/// are removed (§5.2.4, so `/a/%2E%2E/b` → `/b`); then repeated slashes are merged and the
/// trailing-slash policy applies, as `options` say. The result is borrowed when nothing changed.
///
/// Normalizing twice gives the result of normalizing once.
///
/// # Errors
///
/// A [`PathError`] (a 400 answer) when the path does not start with `/`, has a `%` not followed
/// by two hex digits, encodes NUL or another control character, holds a raw control character,
/// an encoded slash or a backslash that `options` do not allow, a dot-segment carrying a path
/// parameter (`..;`, `%2e%2e;x`, `.;`), or a `..` that would climb
/// above the root (which §5.2.4 would silently drop: a request for `/../etc/passwd` is hostile,
/// not a request for `/etc/passwd`).
///
/// # Example
///
/// ```
/// use tollgate::normalize::{path, PathOptions, TrailingSlash};
///
/// let opts = PathOptions::default();
/// assert_eq!(path("/a/./b/../c", &opts).unwrap(), "/a/c");
/// assert_eq!(path("/%7euser//%2e%2E/x%3a", &opts).unwrap(), "/x%3A");
/// assert!(path("/../etc/passwd", &opts).is_err());
///
/// let strip = PathOptions::default().trailing_slash(TrailingSlash::Strip);
/// assert_eq!(path("/docs/", &strip).unwrap(), "/docs");
/// ```
pub fn path<'a>(input: &'a str, options: &PathOptions) -> Result<Cow<'a, str>, PathError> {
    if !input.starts_with('/') {
        return Err(PathError::NotAbsolute {
            path: super::excerpt(input, 64),
        });
    }
    match quick_check(input, options) {
        Quick::Normal => return Ok(Cow::Borrowed(input)),
        Quick::StripTo(len) => return Ok(Cow::Borrowed(&input[..len])),
        Quick::AddSlash => {
            let mut out = String::with_capacity(input.len() + 1);
            out.push_str(input);
            out.push('/');
            return Ok(Cow::Owned(out));
        }
        Quick::Slow => {}
    }
    full_walk(input, options)
}

/// Every step of [`path`], for paths [`quick_check`] cannot decide.
#[inline(never)]
fn full_walk<'a>(input: &'a str, options: &PathOptions) -> Result<Cow<'a, str>, PathError> {
    let encoded = normalize_encoding(input, options)?;
    if encoded
        .split('/')
        .any(|seg| is_dot_with_parameter(seg.as_bytes()))
    {
        return Err(PathError::DotSegmentParameter {
            path: super::excerpt(input, 64),
        });
    }
    let mut out = remove_dot_segments(&encoded, options.merge_slashes).ok_or_else(|| {
        PathError::ClimbsAboveRoot {
            path: super::excerpt(input, 64),
        }
    })?;
    apply_trailing_slash(&mut out, options.trailing_slash);
    if out == input {
        Ok(Cow::Borrowed(input))
    } else {
        Ok(Cow::Owned(out))
    }
}

/// A dot-segment with a path parameter, `..;x` or `.;`: Tomcat, Jetty and Spring drop the
/// parameter and then resolve the dots, so `/public/..;/admin` reaches `/admin` there while
/// every check in front of them saw a path under `/public`.
fn is_dot_with_parameter(segment: &[u8]) -> bool {
    segment.starts_with(b".;") || segment.starts_with(b"..;")
}

/// What [`quick_check`] found.
enum Quick {
    /// Already normal: borrow it.
    Normal,
    /// Normal but for trailing slashes the policy strips: borrow the first `len` bytes.
    StripTo(usize),
    /// Normal but for the slash the policy adds.
    AddSlash,
    /// Needs the full walk (or is refused).
    Slow,
}

/// The common case, decided in one pass over the bytes and without allocating: only plain
/// path characters, no dot-segment, no repeated slash when merging; then the trailing slash,
/// which alone can be fixed without the full walk.
fn quick_check(input: &str, options: &PathOptions) -> Quick {
    let bytes = input.as_bytes();
    // `input` starts with `/` (checked by the caller): segments start after it.
    let mut start = 1;
    for i in 1..=bytes.len() {
        let end = i == bytes.len();
        if end || bytes[i] == b'/' {
            match &bytes[start..i] {
                b"." | b".." => return Quick::Slow,
                seg if is_dot_with_parameter(seg) => return Quick::Slow,
                b"" if options.merge_slashes && !end => return Quick::Slow,
                _ => {}
            }
            start = i + 1;
        } else if !is_pchar(bytes[i]) {
            return Quick::Slow;
        }
    }
    let ends_with_slash = input.ends_with('/');
    match options.trailing_slash {
        TrailingSlash::Keep => Quick::Normal,
        TrailingSlash::Strip if input == "/" || !ends_with_slash => Quick::Normal,
        // Without merging, `/a//` strips to `/a` as the full walk would.
        TrailingSlash::Strip => Quick::StripTo(input.trim_end_matches('/').len().max(1)),
        TrailingSlash::Add if ends_with_slash => Quick::Normal,
        TrailingSlash::Add => Quick::AddSlash,
    }
}

/// Applies the trailing-slash policy to a path [`path`] already normalized with
/// [`TrailingSlash::Keep`] and the same other options: the same as normalizing again with
/// `policy`, without the walk. Borrows when it can.
#[cfg_attr(not(feature = "normalize"), allow(dead_code))]
pub(crate) fn with_trailing_slash(path: Cow<'_, str>, policy: TrailingSlash) -> Cow<'_, str> {
    match (policy, path) {
        (TrailingSlash::Strip, Cow::Borrowed(p)) => {
            Cow::Borrowed(&p[..p.trim_end_matches('/').len().max(1)])
        }
        (TrailingSlash::Add, Cow::Borrowed(p)) if !p.ends_with('/') => {
            let mut out = String::with_capacity(p.len() + 1);
            out.push_str(p);
            out.push('/');
            Cow::Owned(out)
        }
        (policy, Cow::Owned(mut p)) => {
            apply_trailing_slash(&mut p, policy);
            Cow::Owned(p)
        }
        (_, path) => path,
    }
}

/// §6.2.2.1 and §6.2.2.2 over the whole path, with the refusals; `/` stays the separator.
fn normalize_encoding(input: &str, options: &PathOptions) -> Result<String, PathError> {
    let path = || super::excerpt(input, 64);
    let mut out = String::with_capacity(input.len() + 8);
    for unit in units(input) {
        let unit = unit.map_err(|at| PathError::MalformedPercent { path: path(), at })?;
        match unit {
            Unit::Encoded(0) => return Err(PathError::EncodedNul { path: path() }),
            Unit::Encoded(b) | Unit::Raw(b) if is_control(b) => {
                return Err(PathError::ControlCharacter {
                    path: path(),
                    byte: b,
                })
            }
            Unit::Encoded(b'/') if !options.allow_encoded_slash => {
                return Err(PathError::EncodedSlash { path: path() })
            }
            Unit::Encoded(b'\\') | Unit::Raw(b'\\') if !options.allow_backslash => {
                return Err(PathError::Backslash { path: path() })
            }
            Unit::Raw(b'/') => out.push('/'),
            Unit::Raw(b) if is_pchar(b) => out.push(char::from(b)),
            Unit::Encoded(b) | Unit::Raw(b) => push_normalized(&mut out, b),
        }
    }
    Ok(out)
}

/// RFC 3986 §5.2.4 on an absolute path whose encoding is already normalized (so `%2E` is `.`
/// by now), optionally dropping empty segments. `None` when a `..` climbs above the root.
fn remove_dot_segments(path: &str, merge_slashes: bool) -> Option<String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut segments = path[1..].split('/').peekable();
    // A path ending in a dot-segment names a directory: `/a/b/..` is `/a/`.
    let mut ends_as_directory = false;
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        ends_as_directory = false;
        match segment {
            "." => ends_as_directory = last,
            ".." => {
                stack.pop()?;
                ends_as_directory = last;
            }
            "" if merge_slashes && !last => {}
            s => stack.push(s),
        }
    }
    if ends_as_directory {
        stack.push("");
    }
    let mut out = String::with_capacity(path.len());
    for segment in stack {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

fn apply_trailing_slash(path: &mut String, policy: TrailingSlash) {
    match policy {
        TrailingSlash::Keep => {}
        TrailingSlash::Strip => {
            let kept = path.trim_end_matches('/').len().max(1);
            path.truncate(kept);
        }
        TrailingSlash::Add => {
            if !path.ends_with('/') {
                path.push('/');
            }
        }
    }
}

/// Why a path was refused: each is a `400 Bad Request` with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/` (not an origin-form target).
    NotAbsolute {
        /// The path (truncated).
        path: String,
    },
    /// A `%` not followed by two hex digits.
    MalformedPercent {
        /// The path (truncated).
        path: String,
        /// Byte offset of the `%`.
        at: usize,
    },
    /// `%00`.
    EncodedNul {
        /// The path (truncated).
        path: String,
    },
    /// A control character, raw or encoded (`%0D`, `%0A`, `%7F`, ...).
    ControlCharacter {
        /// The path (truncated).
        path: String,
        /// The character's byte.
        byte: u8,
    },
    /// `%2F` while [`PathOptions::allow_encoded_slash`] is off.
    EncodedSlash {
        /// The path (truncated).
        path: String,
    },
    /// `\` or `%5C` while [`PathOptions::allow_backslash`] is off.
    Backslash {
        /// The path (truncated).
        path: String,
    },
    /// A dot-segment carrying a path parameter (`..;`, `%2e%2e;x`, `.;`), which servers that
    /// strip parameters (Tomcat, Jetty, Spring) resolve as `..`.
    DotSegmentParameter {
        /// The path (truncated).
        path: String,
    },
    /// A `..` segment with no segment left to remove.
    ClimbsAboveRoot {
        /// The path (truncated).
        path: String,
    },
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::NotAbsolute { path } => {
                write!(f, "path {path:?} does not start with `/`; request targets are origin-form paths like `/a/b`")
            }
            PathError::MalformedPercent { path, at } => write!(
                f,
                "malformed percent-encoding at byte {at} of path {path:?}: `%` must be followed by two hex digits (write `%25` for a literal `%`)"
            ),
            PathError::EncodedNul { path } => {
                write!(f, "path {path:?} contains an encoded NUL (`%00`), which no resource name holds")
            }
            PathError::ControlCharacter { path, byte } => write!(
                f,
                "path {path:?} contains the control character 0x{byte:02X}, which no resource name holds"
            ),
            PathError::EncodedSlash { path } => write!(
                f,
                "path {path:?} contains an encoded slash (`%2F`), which is ambiguous; use `/` or enable `allow_encoded_slash`"
            ),
            PathError::Backslash { path } => write!(
                f,
                "path {path:?} contains a backslash, which some servers read as `/`; use `/` or enable `allow_backslash`"
            ),
            PathError::DotSegmentParameter { path } => write!(
                f,
                "path {path:?} has a dot-segment with a parameter (`..;`), which some servers \
                 resolve as `..`; remove the `;` part"
            ),
            PathError::ClimbsAboveRoot { path } => {
                write!(f, "path {path:?} climbs above the root with `..`")
            }
        }
    }
}

impl std::error::Error for PathError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc() -> PathOptions {
        PathOptions::default().merge_slashes(false)
    }

    fn norm(input: &str) -> Result<String, PathError> {
        path(input, &PathOptions::default()).map(Cow::into_owned)
    }

    macro_rules! cases {
        ($($name:ident: $opts:expr, $input:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                let got = path($input, &$opts).map(Cow::into_owned);
                assert_eq!(got.as_deref().ok(), Some($expected), "{:?} gave {:?}", $input, got);
            }
        )*};
    }

    // RFC 3986 §5.4.1 and §5.4.2: the merged paths of the reference resolution examples against
    // base `http://a/b/c/d;p?q`, i.e. remove_dot_segments of `/b/c/` + reference.
    cases! {
        rfc_5_4_1_g: rfc(), "/b/c/g" => "/b/c/g";
        rfc_5_4_1_dot_g: rfc(), "/b/c/./g" => "/b/c/g";
        rfc_5_4_1_g_slash: rfc(), "/b/c/g/" => "/b/c/g/";
        rfc_5_4_1_dot: rfc(), "/b/c/." => "/b/c/";
        rfc_5_4_1_dot_slash: rfc(), "/b/c/./" => "/b/c/";
        rfc_5_4_1_dotdot: rfc(), "/b/c/.." => "/b/";
        rfc_5_4_1_dotdot_slash: rfc(), "/b/c/../" => "/b/";
        rfc_5_4_1_dotdot_g: rfc(), "/b/c/../g" => "/b/g";
        rfc_5_4_1_dotdot_dotdot: rfc(), "/b/c/../.." => "/";
        rfc_5_4_1_dotdot_dotdot_slash: rfc(), "/b/c/../../" => "/";
        rfc_5_4_1_dotdot_dotdot_g: rfc(), "/b/c/../../g" => "/g";
        rfc_5_4_2_slash_dot_g: rfc(), "/./g" => "/g";
        rfc_5_4_2_g_dot: rfc(), "/b/c/g." => "/b/c/g.";
        rfc_5_4_2_dot_g_name: rfc(), "/b/c/.g" => "/b/c/.g";
        rfc_5_4_2_g_dotdot: rfc(), "/b/c/g.." => "/b/c/g..";
        rfc_5_4_2_dotdot_g_name: rfc(), "/b/c/..g" => "/b/c/..g";
        rfc_5_4_2_dot_dotdot_g: rfc(), "/b/c/./../g" => "/b/g";
        rfc_5_4_2_g_dot_tail: rfc(), "/b/c/./g/." => "/b/c/g/";
        rfc_5_4_2_g_dot_h: rfc(), "/b/c/g/./h" => "/b/c/g/h";
        rfc_5_4_2_g_dotdot_h: rfc(), "/b/c/g/../h" => "/b/c/h";
        rfc_5_4_2_semicolon_dot: rfc(), "/b/c/g;x=1/./y" => "/b/c/g;x=1/y";
        rfc_5_4_2_semicolon_dotdot: rfc(), "/b/c/g;x=1/../y" => "/b/c/y";
        // §5.2.4's own walk-through.
        rfc_5_2_4_example_1: rfc(), "/a/b/c/./../../g" => "/a/g";
        rfc_5_2_4_example_2: rfc(), "/mid/content=5/../6" => "/mid/6";

        // §6.2.2.1 and §6.2.2.2.
        uppercases_percent_hex: rfc(), "/a%3ab%c3%a9" => "/a%3Ab%C3%A9";
        decodes_unreserved: rfc(), "/%7Euser/%41%2D%5f" => "/~user/A-_";
        keeps_reserved_encoded: rfc(), "/a%3Fb%23c%26" => "/a%3Fb%23c%26";
        encodes_space_and_non_ascii: rfc(), "/a b/é" => "/a%20b/%C3%A9";
        encodes_query_and_fragment_marks: rfc(), "/a?b#c" => "/a%3Fb%23c";
        keeps_sub_delims_and_colon_at: rfc(), "/a:b@c!$&'()*+,;=" => "/a:b@c!$&'()*+,;=";
        // The `%2e` forms of dot-segments.
        encoded_dot_segments_lower: rfc(), "/a/%2e/b/%2e%2e/c" => "/a/c";
        encoded_dot_segments_upper: rfc(), "/a/b/%2E%2E/c" => "/a/c";
        encoded_dot_segments_mixed: rfc(), "/a/b/.%2E/c/%2e." => "/a/";
        double_encoded_dot_is_a_name: rfc(), "/a/%252e%252e/b" => "/a/%252e%252e/b";

        // Repeated slashes.
        keeps_empty_segments_without_merge: rfc(), "/a//b" => "/a//b";
        rfc_dotdot_pops_an_empty_segment: rfc(), "/a//b/.." => "/a//";
        merges_slashes: PathOptions::default(), "//a///b//" => "/a/b/";
        merges_before_dot_segments: PathOptions::default(), "/a//..//b" => "/b";
        merge_keeps_root: PathOptions::default(), "//" => "/";

        // Trailing slash.
        strip_trailing: PathOptions::default().trailing_slash(TrailingSlash::Strip), "/a/b/" => "/a/b";
        strip_keeps_root: PathOptions::default().trailing_slash(TrailingSlash::Strip), "/" => "/";
        strip_after_dotdot: PathOptions::default().trailing_slash(TrailingSlash::Strip), "/a/b/.." => "/a";
        strip_all_unmerged: rfc().trailing_slash(TrailingSlash::Strip), "/a//" => "/a";
        add_trailing: PathOptions::default().trailing_slash(TrailingSlash::Add), "/a/b" => "/a/b/";
        add_keeps_root: PathOptions::default().trailing_slash(TrailingSlash::Add), "/" => "/";

        // What may be allowed.
        encoded_slash_kept_when_allowed: rfc().allow_encoded_slash(true), "/a%2fb" => "/a%2Fb";
        backslash_encoded_when_allowed: rfc().allow_backslash(true), "/a\\b%5c" => "/a%5Cb%5C";
    }

    #[test]
    fn unchanged_paths_are_borrowed() {
        for p in ["/", "/a/b", "/a/b/", "/a%20b", "/~u/x.y", "/a:b@c"] {
            assert!(
                matches!(path(p, &PathOptions::default()), Ok(Cow::Borrowed(_))),
                "{p}"
            );
        }
    }

    #[test]
    fn refuses_a_relative_path() {
        assert!(matches!(norm("a/b"), Err(PathError::NotAbsolute { .. })));
        assert!(matches!(norm(""), Err(PathError::NotAbsolute { .. })));
        assert!(matches!(norm("*"), Err(PathError::NotAbsolute { .. })));
    }

    #[test]
    fn refuses_malformed_percent_encoding() {
        for p in ["/%", "/%2", "/%zz", "/a%g0", "/%%41", "/%2"] {
            assert!(
                matches!(norm(p), Err(PathError::MalformedPercent { .. })),
                "{p}"
            );
        }
        assert!(matches!(
            norm("/abc%4"),
            Err(PathError::MalformedPercent { at: 4, .. })
        ));
    }

    #[test]
    fn refuses_encoded_nul() {
        assert!(matches!(
            norm("/a%00.html"),
            Err(PathError::EncodedNul { .. })
        ));
    }

    #[test]
    fn refuses_control_characters() {
        for p in [
            "/a%0d%0aSet-Cookie:x",
            "/a%7f",
            "/a%09",
            "/a\tb",
            "/a\u{7f}",
        ] {
            assert!(
                matches!(norm(p), Err(PathError::ControlCharacter { .. })),
                "{p}"
            );
        }
    }

    #[test]
    fn refuses_encoded_slash_by_default() {
        assert!(matches!(
            norm("/a%2fb"),
            Err(PathError::EncodedSlash { .. })
        ));
        assert!(matches!(
            norm("/..%2f..%2fetc"),
            Err(PathError::EncodedSlash { .. })
        ));
    }

    #[test]
    fn refuses_backslash_by_default() {
        for p in ["/a\\b", "/..\\..\\windows", "/a%5cb", "/\\evil.example"] {
            assert!(matches!(norm(p), Err(PathError::Backslash { .. })), "{p}");
        }
    }

    #[test]
    fn refuses_climbing_above_the_root() {
        for p in [
            "/..",
            "/../",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/etc/passwd",
            "/a/%2E%2E/%2e%2e/x",
            "/.%2e/x",
            "/./../x",
        ] {
            assert!(
                matches!(norm(p), Err(PathError::ClimbsAboveRoot { .. })),
                "{p}"
            );
        }
        // Merged empty segments do not count as directories to climb out of.
        assert!(matches!(
            norm("//../x"),
            Err(PathError::ClimbsAboveRoot { .. })
        ));
        // Without merging they do, as in §5.2.4.
        assert_eq!(path("//../x", &rfc()).unwrap(), "/x");
    }

    #[test]
    fn refuses_dot_segments_with_parameters() {
        for p in [
            "/public/..;/admin",
            "/public/..;x=1/admin",
            "/public/%2e%2e;/admin",
            "/public/.%2E;/admin",
            "/public/.;/admin",
            "/..;",
        ] {
            assert!(
                matches!(norm(p), Err(PathError::DotSegmentParameter { .. })),
                "{p}: {:?}",
                norm(p)
            );
        }
        // A parameter on an ordinary segment is the upstream's business.
        assert_eq!(norm("/a;jsessionid=1/b").unwrap(), "/a;jsessionid=1/b");
        assert_eq!(norm("/a/...;/b").unwrap(), "/a/...;/b");
    }

    #[test]
    fn error_messages_carry_truncated_input() {
        let long = format!("/{}%zz", "a".repeat(500));
        let err = norm(&long).unwrap_err();
        let msg = err.to_string();
        assert!(msg.len() < 200, "{msg}");
        assert!(msg.contains("percent"), "{msg}");
    }

    #[test]
    fn long_paths_do_not_blow_up() {
        let deep = "/a".repeat(10_000) + &"/..".repeat(10_000);
        assert_eq!(norm(&deep).unwrap(), "/");
        let climbing = "/..".repeat(10_000);
        assert!(norm(&climbing).is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn options() -> impl Strategy<Value = PathOptions> {
            (
                any::<bool>(),
                prop_oneof![
                    Just(TrailingSlash::Keep),
                    Just(TrailingSlash::Strip),
                    Just(TrailingSlash::Add)
                ],
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(|(merge, trailing, slash, backslash)| PathOptions {
                    merge_slashes: merge,
                    trailing_slash: trailing,
                    allow_encoded_slash: slash,
                    allow_backslash: backslash,
                })
        }

        /// Paths made of the pieces that matter: separators, dots in every encoding, escapes.
        fn hostile_path() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("/".to_owned()),
                Just(".".to_owned()),
                Just("..".to_owned()),
                Just("%2e".to_owned()),
                Just("%2E".to_owned()),
                Just("%2f".to_owned()),
                Just("%5C".to_owned()),
                Just("\\".to_owned()),
                Just("%".to_owned()),
                Just("%7e".to_owned()),
                Just("%c3%a9".to_owned()),
                Just("é".to_owned()),
                Just(" ".to_owned()),
                "[a-zA-Z0-9]{1,3}",
                "%[0-9a-fA-F]{2}",
            ];
            proptest::collection::vec(piece, 0..24).prop_map(|v| format!("/{}", v.concat()))
        }

        fn check(input: &str, opts: &PathOptions) -> Result<(), TestCaseError> {
            if let Ok(once) = path(input, opts) {
                let twice = path(&once, opts);
                prop_assert_eq!(
                    twice.as_deref().ok(),
                    Some(once.as_ref()),
                    "input {:?}",
                    input
                );
                prop_assert!(once.starts_with('/'));
                prop_assert!(
                    once.split('/').all(|s| s != "." && s != ".."),
                    "{:?} → {:?}",
                    input,
                    once
                );
                prop_assert!(!once.to_ascii_lowercase().contains("%2e"));
                prop_assert!(!once.contains('\\'));
                prop_assert!(once.bytes().all(|b| b.is_ascii_graphic()));
            }
            Ok(())
        }

        /// The shortcuts (quick check, trailing slash applied alone) give what the full walk
        /// gives.
        fn shortcuts_agree(input: &str, opts: &PathOptions) -> Result<(), TestCaseError> {
            let fast = path(input, opts);
            let full = if input.starts_with('/') {
                full_walk(input, opts)
            } else {
                fast.clone()
            };
            prop_assert_eq!(&fast, &full, "input {:?}", input);
            let keep = opts.clone().trailing_slash(TrailingSlash::Keep);
            let split = path(input, &keep).map(|p| with_trailing_slash(p, opts.trailing_slash));
            prop_assert_eq!(&fast, &split, "input {:?}", input);
            Ok(())
        }

        proptest! {
            #[test]
            fn shortcuts_agree_with_the_full_walk(input in hostile_path(), opts in options()) {
                shortcuts_agree(&input, &opts)?;
            }

            #[test]
            fn shortcuts_agree_on_plain_paths(input in "/[a-z/.]{0,16}", opts in options()) {
                shortcuts_agree(&input, &opts)?;
            }

            #[test]
            fn is_idempotent_and_never_climbs(input in hostile_path(), opts in options()) {
                check(&input, &opts)?;
            }

            #[test]
            fn never_panics_on_any_string(input in "/\\PC{0,64}", opts in options()) {
                check(&input, &opts)?;
            }

            /// A path that only goes down and comes back never climbs: every accepted path,
            /// applied segment by segment to a depth counter, stays at depth >= 0.
            #[test]
            fn refuses_exactly_the_climbing_paths(segs in proptest::collection::vec(prop_oneof![Just(".."), Just("."), Just("a")], 0..12)) {
                let input = format!("/{}", segs.join("/"));
                let mut depth: i32 = 0;
                let mut climbs = false;
                for s in &segs {
                    match *s { ".." => { depth -= 1; if depth < 0 { climbs = true; } } "." => {} _ => depth += 1 }
                }
                let result = path(&input, &rfc());
                prop_assert_eq!(climbs, matches!(result, Err(PathError::ClimbsAboveRoot { .. })), "{:?}", input);
            }
        }
    }
}
