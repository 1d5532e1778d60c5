//! Turning an untrusted URL path into path segments that stay inside the served directory.
//!
//! The checks run on the raw, still percent-encoded path, segment by segment, so that an
//! encoded separator (`%2f`, `%5c`) can never create a new segment after decoding, and nothing
//! is decoded twice (`%252e%252e` is the literal name `%2e%2e`, which is harmless).

use std::fmt;
use std::path::{Component, Path};

use percent_encoding::percent_decode_str;

/// Why a request path was refused before touching the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilePathError {
    /// A segment is `..` (also when written `%2e%2e`).
    ParentDir {
        /// The raw path, truncated to 128 bytes.
        path: String,
    },
    /// A segment holds an encoded `/` or `\` (`%2f`, `%5c`), or a raw `\`.
    Separator {
        /// The raw path, truncated.
        path: String,
    },
    /// A segment holds a control character (NUL, CR, LF, ...).
    ControlCharacter {
        /// The raw path, truncated.
        path: String,
    },
    /// A segment looks like a Windows drive (`c:`) or, on Windows, holds `:` or a reserved
    /// device name (RUSTSEC-2022-0043).
    Drive {
        /// The raw path, truncated.
        path: String,
    },
    /// A segment is not valid UTF-8 once percent-decoded.
    Encoding {
        /// The raw path, truncated.
        path: String,
    },
    /// A segment starts with `.` and hidden files are not served. Answered 404, not 400.
    Hidden {
        /// The raw path, truncated.
        path: String,
    },
}

impl FilePathError {
    /// The status to answer with: 404 for hidden files (their existence is not revealed),
    /// 400 for everything else.
    pub fn status(&self) -> http::StatusCode {
        match self {
            FilePathError::Hidden { .. } => http::StatusCode::NOT_FOUND,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for FilePathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilePathError::ParentDir { path } => {
                write!(
                    f,
                    "path {path:?} climbs out with `..`; ask for paths inside the served directory"
                )
            }
            FilePathError::Separator { path } => write!(
                f,
                "path {path:?} holds an encoded `/` or a `\\`; separate segments with a plain `/`"
            ),
            FilePathError::ControlCharacter { path } => {
                write!(f, "path {path:?} holds a control character")
            }
            FilePathError::Drive { path } => {
                write!(
                    f,
                    "path {path:?} names a drive or device; drive paths are not served"
                )
            }
            FilePathError::Encoding { path } => {
                write!(f, "path {path:?} is not UTF-8 once percent-decoded")
            }
            FilePathError::Hidden { path } => write!(f, "path {path:?} is hidden"),
        }
    }
}

impl std::error::Error for FilePathError {}

impl crate::error::ClientError for FilePathError {
    fn status(&self) -> http::StatusCode {
        FilePathError::status(self)
    }

    /// A path that leads nowhere is a plain `not found`: the reason goes to logs only.
    fn public_message(&self) -> std::borrow::Cow<'static, str> {
        match FilePathError::status(self) {
            http::StatusCode::NOT_FOUND => "not found".into(),
            _ => self.to_string().into(),
        }
    }
}

/// Splits a request path (`uri.path()`, percent-encoded) into decoded segments that are safe
/// to join onto the served directory: no `..`, no separators, no drive letters, no control
/// characters. Empty and `.` segments are dropped. Segments starting with `.` are refused
/// unless `allow_hidden`.
///
/// # Errors
///
/// A [`FilePathError`] naming the first problem; nothing was touched on disk.
///
/// ```
/// use tollgate::files::resolve_path;
/// assert_eq!(resolve_path("/a//b/./c%20d", false).unwrap(), ["a", "b", "c d"]);
/// assert!(resolve_path("/a/%2e%2e/%2e%2e/etc/passwd", false).is_err());
/// assert!(resolve_path("/x/c:/windows/win.ini", false).is_err());
/// ```
pub fn resolve_path(raw_path: &str, allow_hidden: bool) -> Result<Vec<String>, FilePathError> {
    let path = || crate::syntax::excerpt(raw_path, 128);
    let mut segments = Vec::new();
    for raw in raw_path.split('/') {
        if raw.contains('\\') {
            return Err(FilePathError::Separator { path: path() });
        }
        let decoded = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| FilePathError::Encoding { path: path() })?;
        let segment = decoded.as_ref();
        if segment.contains(['/', '\\']) {
            return Err(FilePathError::Separator { path: path() });
        }
        if segment.chars().any(char::is_control) {
            return Err(FilePathError::ControlCharacter { path: path() });
        }
        match segment {
            "" | "." => continue,
            ".." => return Err(FilePathError::ParentDir { path: path() }),
            _ => {}
        }
        if looks_like_drive(segment) {
            return Err(FilePathError::Drive { path: path() });
        }
        if segment.starts_with('.') && !allow_hidden {
            return Err(FilePathError::Hidden { path: path() });
        }
        // Last line of defence: whatever this platform thinks the segment is, it must be one
        // plain name.
        let mut components = Path::new(segment).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(name)), None) if name == segment => {}
            _ => return Err(FilePathError::Separator { path: path() }),
        }
        segments.push(segment.to_owned());
    }
    Ok(segments)
}

/// `c:`, `C:foo` everywhere; on Windows also any `:` (alternate data streams), reserved device
/// names and trailing dots or spaces, which Windows strips.
fn looks_like_drive(segment: &str) -> bool {
    let b = segment.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return true;
    }
    if cfg!(windows) {
        let stem = segment.split('.').next().unwrap_or("").trim_end();
        let reserved = ["CON", "PRN", "AUX", "NUL"]
            .iter()
            .any(|r| stem.eq_ignore_ascii_case(r))
            || (stem.len() == 4
                && (stem[..3].eq_ignore_ascii_case("COM")
                    || stem[..3].eq_ignore_ascii_case("LPT"))
                && stem.as_bytes()[3].is_ascii_digit());
        return reserved || segment.contains(':') || segment.ends_with(['.', ' ']);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_segments() {
        assert_eq!(resolve_path("/", false), Ok(vec![]));
        assert_eq!(
            resolve_path("/a/b.txt", false),
            Ok(vec!["a".into(), "b.txt".into()])
        );
        assert_eq!(
            resolve_path("//a///b/", false),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(resolve_path("/./a/.", false), Ok(vec!["a".into()]));
        assert_eq!(
            resolve_path("/what%3F%23%25%20x", false),
            Ok(vec!["what?#% x".into()])
        );
        assert_eq!(
            resolve_path("/%D1%84%D0%BE%D1%82%D0%BE.jpg", false),
            Ok(vec!["фото.jpg".into()])
        );
        // Not decoded twice.
        assert_eq!(
            resolve_path("/%252e%252e", false),
            Ok(vec!["%2e%2e".into()])
        );
        assert_eq!(
            resolve_path("/a..b/...x", true),
            Ok(vec!["a..b".into(), "...x".into()])
        );
        // A colon is an ordinary character on Unix, except as a drive letter.
        if cfg!(windows) {
            assert!(resolve_path("/12:30.txt", false).is_err());
        } else {
            assert_eq!(
                resolve_path("/12:30.txt", false),
                Ok(vec!["12:30.txt".into()])
            );
        }
    }

    #[test]
    fn refuses_traversal() {
        for (name, path) in [
            ("dotdot", "/../secret"),
            ("nested dotdot", "/a/b/../../../secret"),
            ("encoded dotdot", "/%2e%2e/secret"),
            ("upper encoded dotdot", "/%2E%2E/secret"),
            ("mixed dotdot", "/.%2e/secret"),
            ("encoded slash", "/..%2fsecret"),
            ("encoded slash upper", "/a%2F..%2F..%2Fsecret"),
            ("backslash", "/..\\secret"),
            ("encoded backslash", "/..%5csecret"),
            ("nul", "/a%00.txt"),
            ("newline", "/a%0a.txt"),
            ("drive", "/c:/windows/win.ini"),
            ("encoded drive", "/c%3A/windows/win.ini"),
            ("drive deeper", "/x/C:/windows/win.ini"),
            ("invalid utf-8", "/%ff%fe"),
        ] {
            assert!(resolve_path(path, false).is_err(), "{name}: {path}");
            assert!(resolve_path(path, true).is_err(), "{name}: {path}");
        }
    }

    #[test]
    fn hidden_is_a_404() {
        let e = resolve_path("/.git/config", false).unwrap_err();
        assert_eq!(e.status(), http::StatusCode::NOT_FOUND);
        assert_eq!(
            resolve_path("/.git/config", true),
            Ok(vec![".git".into(), "config".into()])
        );
        assert_eq!(
            resolve_path("/%2egit", false).unwrap_err().status(),
            http::StatusCode::NOT_FOUND
        );
        let e = resolve_path("/..", true).unwrap_err();
        assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn errors_are_send_sync_and_name_the_path() {
        fn check<T: Send + Sync + std::error::Error>() {}
        check::<FilePathError>();
        let e = resolve_path("/a/../b", false).unwrap_err();
        assert!(e.to_string().contains("/a/../b"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn segments_are_plain_names(raw in "/[a-zA-Z0-9./%\\\\:_-]{0,40}") {
            if let Ok(segments) = resolve_path(&raw, true) {
                for s in segments {
                    proptest::prop_assert!(!s.is_empty() && s != "." && s != "..");
                    proptest::prop_assert!(!s.contains('/') && !s.contains('\\'));
                }
            }
        }
    }
}
