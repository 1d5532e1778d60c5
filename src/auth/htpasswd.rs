//! Apache-style credential files (`user:hash` lines) and the [`CredentialStore`] trait.
//!
//! Comments (`#`), blank lines, CRLF line ends and trailing spaces are accepted; a duplicate
//! user, a user name with `:` or control characters, an unknown or malformed hash, and (unless
//! allowed) a weak legacy hash are errors naming the line. [`Htpasswd::watch`] re-reads the
//! file when its content changes and keeps the old table, logging why, when the new one is
//! invalid.
//!
//! # Example
//!
//! ```
//! use tollgate::auth::htpasswd::{CredentialStore, Htpasswd, HtpasswdOptions};
//!
//! let file = "# made with htpasswd -B\n\
//!             ada:$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\r\n";
//! let store = Htpasswd::parse(file, &HtpasswdOptions::default()).unwrap();
//! assert!(store.lookup("ada").is_some());
//! assert!(store.lookup("bob").is_none());
//!
//! let err = Htpasswd::parse("ada:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", &HtpasswdOptions::default())
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("htpasswd line 1: weak legacy hash scheme `{SHA}`"));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::password::{self, PasswordError, Scheme};
use crate::watch::ReadError;

/// Where the Basic auth layer looks users up: a file, a database, a map in code.
///
/// Implementations must be cheap (the layer calls [`lookup`](Self::lookup) on every request,
/// on the async runtime): keep the table in memory, or cache it.
pub trait CredentialStore: Send + Sync + 'static {
    /// The stored hash for `user`, or `None` when there is no such user.
    fn lookup(&self, user: &str) -> Option<Arc<str>>;

    /// A hash unknown users are verified against, so that answering them costs the same as
    /// answering a known user with a wrong password. Called on a blocking thread.
    ///
    /// Default is one argon2id hash with the default parameters, made once per process.
    fn dummy_hash(&self) -> Arc<str> {
        password::default_dummy_hash()
    }
}

impl<T: CredentialStore + ?Sized> CredentialStore for Arc<T> {
    fn lookup(&self, user: &str) -> Option<Arc<str>> {
        (**self).lookup(user)
    }
    fn dummy_hash(&self) -> Arc<str> {
        (**self).dummy_hash()
    }
}

/// A map of user names to stored hashes, e.g. built in code from hashes made at startup.
impl<S: std::hash::BuildHasher + Send + Sync + 'static> CredentialStore
    for HashMap<String, String, S>
{
    fn lookup(&self, user: &str) -> Option<Arc<str>> {
        self.get(user).map(|h| Arc::from(h.as_str()))
    }
}

/// Options for reading credential files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HtpasswdOptions {
    /// Accept the weak legacy schemes (`{SHA}`, `$apr1$`, `$1$`, `{PLAIN}` text), logging a
    /// warning for each such line at load. Default is `false`.
    pub allow_legacy_hashes: bool,
    /// How often [`Htpasswd::watch`] checks the file for changes (`"5s"`; a number is
    /// seconds; `reload_interval_secs` is accepted as the old name). Default is 5 seconds.
    #[serde(
        alias = "reload_interval_secs",
        deserialize_with = "crate::syntax::duration::deserialize"
    )]
    pub reload_interval: Duration,
    /// The largest file accepted, in bytes. Default is `16777216` (16 MiB).
    pub max_file_size: u64,
}

impl Default for HtpasswdOptions {
    fn default() -> Self {
        HtpasswdOptions {
            allow_legacy_hashes: false,
            reload_interval: Duration::from_secs(5),
            max_file_size: 16 * 1024 * 1024,
        }
    }
}

/// One valid line of a credentials file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line number, from 1.
    pub number: usize,
    /// The user name.
    pub user: String,
    /// The stored hash.
    pub hash: String,
    /// Its scheme.
    pub scheme: Scheme,
}

/// Why a credentials file, or one of its lines, was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum HtpasswdError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than [`HtpasswdOptions::max_file_size`].
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        max: u64,
    },
    /// A line is not UTF-8.
    NotUtf8 {
        /// The line number.
        line: usize,
    },
    /// A line has no `:`.
    MissingColon {
        /// The line number.
        line: usize,
    },
    /// The user name is empty, contains control characters, or the line has a second `:`.
    InvalidUser {
        /// The line number.
        line: usize,
        /// The user name (escaped, at most 64 characters).
        user: String,
    },
    /// The same user appears twice.
    DuplicateUser {
        /// The user name (escaped, at most 64 characters).
        user: String,
        /// Where it first appears.
        first_line: usize,
        /// Where it appears again.
        line: usize,
    },
    /// The hash is unknown, malformed, or legacy while legacy hashes are not allowed.
    Hash {
        /// The line number.
        line: usize,
        /// What is wrong with the hash.
        source: PasswordError,
    },
}

impl HtpasswdError {
    /// The line the error is on, when it is about one line.
    pub fn line(&self) -> Option<usize> {
        match self {
            HtpasswdError::NotUtf8 { line }
            | HtpasswdError::MissingColon { line }
            | HtpasswdError::InvalidUser { line, .. }
            | HtpasswdError::DuplicateUser { line, .. }
            | HtpasswdError::Hash { line, .. } => Some(*line),
            HtpasswdError::Io { .. } | HtpasswdError::TooLarge { .. } => None,
        }
    }
}

impl fmt::Display for HtpasswdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HtpasswdError::Io { path, .. } => write!(f, "cannot read {}", path.display()),
            HtpasswdError::TooLarge { path, max } => {
                write!(f, "{} is larger than {max} bytes", path.display())
            }
            HtpasswdError::NotUtf8 { line } => {
                write!(f, "htpasswd line {line}: not UTF-8; save the file as UTF-8")
            }
            HtpasswdError::MissingColon { line } => {
                write!(f, "htpasswd line {line}: no `:`; expected `user:hash`")
            }
            HtpasswdError::InvalidUser { line, user } => write!(
                f,
                "htpasswd line {line}: invalid user name \"{user}\"; user names must be \
                 non-empty, without `:` or control characters"
            ),
            HtpasswdError::DuplicateUser {
                user,
                first_line,
                line,
            } => write!(
                f,
                "htpasswd line {line}: user \"{user}\" already defined on line {first_line}; \
                 keep one of them (`tollgate users set FILE USER` does); until then the file \
                 is refused as a whole, so neither line wins"
            ),
            // One level, with the hash error's text: it says what to do.
            HtpasswdError::Hash { line, source } => write!(f, "htpasswd line {line}: {source}"),
        }
    }
}

impl std::error::Error for HtpasswdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HtpasswdError::Io { source, .. } => Some(source),
            // Its text is already in ours (see `Display`); a second time would repeat it in
            // every error chain printed.
            _ => None,
        }
    }
}

/// Reads every line of a credentials file: each valid `user:hash` line, or the error on it.
///
/// Comments and blank lines are skipped. Legacy schemes are reported as [`Line`]s here; the
/// caller decides (see [`Htpasswd::parse`]). Duplicates are not detected here.
pub fn lines(text: &[u8]) -> impl Iterator<Item = Result<Line, HtpasswdError>> + '_ {
    text.split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, raw)| parse_line(i + 1, raw).transpose())
}

fn parse_line(number: usize, raw: &[u8]) -> Result<Option<Line>, HtpasswdError> {
    let text = std::str::from_utf8(raw).map_err(|_| HtpasswdError::NotUtf8 { line: number })?;
    let text = text.trim_end_matches(['\r', ' ', '\t']);
    let trimmed = text.trim_start_matches([' ', '\t']);
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let (user, hash) = text
        .split_once(':')
        .ok_or(HtpasswdError::MissingColon { line: number })?;
    if user.is_empty() || user.chars().any(char::is_control) || hash.contains(':') {
        return Err(HtpasswdError::InvalidUser {
            line: number,
            user: escape(user),
        });
    }
    let scheme = Scheme::detect(hash).map_err(|source| HtpasswdError::Hash {
        line: number,
        source,
    })?;
    Ok(Some(Line {
        number,
        user: user.to_owned(),
        hash: hash.to_owned(),
        scheme,
    }))
}

/// The user table of one version of the file.
struct Table {
    users: HashMap<Box<str>, Arc<str>>,
    /// A hash of the same class as `template`, made on first use (on a blocking thread).
    dummy: OnceLock<Arc<str>>,
    /// A hash of the file's most common cost class (see [`representative`]).
    template: Option<Arc<str>>,
    digest: [u8; 32],
}

/// The hash unknown users are verified against is one of the class (scheme and cost, see
/// [`password::cost_class`]) that most users of the file are in, ties going to the class
/// that comes first in the file: it makes the most users indistinguishable from an unknown
/// one. Users of another class remain distinguishable by timing (documented in
/// `docs/auth.md`; `tollgate check-htpasswd` warns about mixed classes). Locked entries have
/// no class: they are verified against the dummy too.
fn representative<'a>(hashes: impl Iterator<Item = &'a Arc<str>>) -> Option<Arc<str>> {
    // (class, count, first hash of the class), in order of first appearance.
    let mut classes: Vec<(String, usize, &Arc<str>)> = Vec::new();
    for hash in hashes {
        let Some(class) = password::cost_class(hash) else {
            continue;
        };
        match classes.iter_mut().find(|(c, _, _)| *c == class) {
            Some((_, n, _)) => *n += 1,
            None => classes.push((class, 1, hash)),
        }
    }
    // `max_by_key` keeps the last of equals: walk backwards so the first one wins ties.
    classes
        .iter()
        .rev()
        .max_by_key(|(_, n, _)| *n)
        .map(|(_, _, hash)| Arc::clone(hash))
}

impl Table {
    fn from_text(text: &[u8], options: &HtpasswdOptions) -> Result<Table, HtpasswdError> {
        let mut users: HashMap<Box<str>, Arc<str>> = HashMap::new();
        let mut in_order: Vec<Arc<str>> = Vec::new();
        for line in check(text, options) {
            let line = line?;
            if line.scheme.is_legacy() {
                tracing::warn!(
                    line = line.number,
                    user = %escape(&line.user),
                    scheme = %line.scheme,
                    "htpasswd: weak legacy hash accepted (allow_legacy_hashes); make a new one with `tollgate hash`"
                );
            }
            let hash: Arc<str> = line.hash.into();
            in_order.push(hash.clone());
            users.insert(line.user.into(), hash);
        }
        Ok(Table {
            users,
            dummy: OnceLock::new(),
            template: representative(in_order.iter()),
            digest: Sha256::digest(text).into(),
        })
    }
}

/// Checks every line of a credentials file as [`Htpasswd`] would load it: each valid line, or
/// the error on it (including duplicates, and legacy schemes unless allowed), in file order.
///
/// This is what `tollgate check-htpasswd` reports; a file loads when no item is an error.
pub fn check<'a>(
    text: &'a [u8],
    options: &HtpasswdOptions,
) -> impl Iterator<Item = Result<Line, HtpasswdError>> + 'a {
    let allow_legacy = options.allow_legacy_hashes;
    let mut first_lines: HashMap<String, usize> = HashMap::new();
    lines(text).map(move |line| {
        let line = line?;
        if line.scheme.is_legacy() && !allow_legacy {
            return Err(HtpasswdError::Hash {
                line: line.number,
                source: PasswordError::Legacy {
                    scheme: line.scheme,
                },
            });
        }
        if let Some(&first_line) = first_lines.get(&line.user) {
            return Err(HtpasswdError::DuplicateUser {
                user: escape(&line.user),
                first_line,
                line: line.number,
            });
        }
        first_lines.insert(line.user.clone(), line.number);
        Ok(line)
    })
}

/// Credentials read from an Apache-style `htpasswd` file, optionally kept up to date.
///
/// Lookups take a read lock for the time of an `Arc` clone; a reload builds the new table
/// aside and swaps it in atomically, so in-flight requests see the old or the new file, never
/// a mix.
pub struct Htpasswd {
    table: RwLock<Arc<Table>>,
    path: Option<PathBuf>,
    options: HtpasswdOptions,
}

impl fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Htpasswd")
            .field("path", &self.path)
            .field("users", &self.len())
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// Parses the content of a credentials file.
    ///
    /// # Errors
    ///
    /// The first [`HtpasswdError`] in the file.
    pub fn parse(text: &str, options: &HtpasswdOptions) -> Result<Htpasswd, HtpasswdError> {
        Ok(Htpasswd {
            table: RwLock::new(Arc::new(Table::from_text(text.as_bytes(), options)?)),
            path: None,
            options: options.clone(),
        })
    }

    /// Reads a credentials file once (blocking file I/O: call it at startup or from a blocking
    /// thread).
    ///
    /// # Errors
    ///
    /// [`HtpasswdError::Io`], [`HtpasswdError::TooLarge`], or the first error in the file.
    pub fn open(
        path: impl AsRef<Path>,
        options: &HtpasswdOptions,
    ) -> Result<Htpasswd, HtpasswdError> {
        let path = path.as_ref().to_path_buf();
        let text = read_bounded(&path, options.max_file_size)?;
        Ok(Htpasswd {
            table: RwLock::new(Arc::new(Table::from_text(&text, options)?)),
            path: Some(path),
            options: options.clone(),
        })
    }

    /// Reads a credentials file with the default options and keeps it up to date: see
    /// [`watch_with`](Self::watch_with).
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn watch(path: impl AsRef<Path>) -> Result<Arc<Htpasswd>, HtpasswdError> {
        Self::watch_with(path, &HtpasswdOptions::default())
    }

    /// Reads a credentials file and spawns a task that re-reads it every
    /// [`reload_interval`](HtpasswdOptions::reload_interval) when its content
    /// changed. A new valid file replaces the table atomically; an invalid one is logged and
    /// the old table stays. The task ends when the last `Arc` is dropped.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), for the first read.
    pub fn watch_with(
        path: impl AsRef<Path>,
        options: &HtpasswdOptions,
    ) -> Result<Arc<Htpasswd>, HtpasswdError> {
        let store = Arc::new(Self::open(path, options)?);
        crate::watch::spawn(
            &store,
            options.reload_interval,
            "htpasswd: new file refused, keeping the previous users",
            store.path_display(),
            |store| Box::pin(async move { store.reload().await.map_err(|e| e.to_string()) }),
        );
        Ok(store)
    }

    /// Re-reads the file now (e.g. on `SIGHUP`). Returns whether the table changed.
    ///
    /// # Errors
    ///
    /// The reason the file was not taken; the old table stays in use.
    pub async fn reload(&self) -> Result<bool, HtpasswdError> {
        let Some(path) = self.path.clone() else {
            return Ok(false);
        };
        let options = self.options.clone();
        let current = self.current().digest;
        let max = options.max_file_size;
        let changed = crate::watch::read_if_changed(
            path,
            current,
            move |path| read_bounded(path, max),
            move |text| Table::from_text(text, &options),
            |source| HtpasswdError::Io {
                path: self.path.clone().unwrap_or_default(),
                source,
            },
        )
        .await?;
        match changed {
            None => Ok(false),
            Some(table) => {
                let users = table.users.len();
                *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
                tracing::info!(path = %self.path_display(), users, "htpasswd: reloaded");
                Ok(true)
            }
        }
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.current().users.len()
    }

    /// Whether the file has no users.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file this table was read from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn current(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn path_display(&self) -> String {
        self.path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

impl CredentialStore for Htpasswd {
    fn lookup(&self, user: &str) -> Option<Arc<str>> {
        self.table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .get(user)
            .cloned()
    }

    fn dummy_hash(&self) -> Arc<str> {
        let table = self.current();
        table
            .dummy
            .get_or_init(|| match &table.template {
                Some(t) => password::dummy_hash_like(Some(t)).into(),
                None => password::default_dummy_hash(),
            })
            .clone()
    }
}

fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, HtpasswdError> {
    crate::watch::read_bounded(path, max).map_err(|e| match e {
        ReadError::Io(source) => HtpasswdError::Io {
            path: path.to_path_buf(),
            source,
        },
        ReadError::TooLarge => HtpasswdError::TooLarge {
            path: path.to_path_buf(),
            max,
        },
    })
}

pub(crate) use crate::syntax::escape_name as escape;

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT: &str = "$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W";

    fn parse(text: &str) -> Result<Htpasswd, HtpasswdError> {
        Htpasswd::parse(text, &HtpasswdOptions::default())
    }

    #[test]
    fn comments_blank_lines_crlf_and_trailing_spaces() {
        let text =
            format!("# users\n\n   \r\nada:{BCRYPT}  \r\n  # indented comment\nbob:{BCRYPT}\t\n");
        let store = parse(&text).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.lookup("ada").as_deref(), Some(BCRYPT));
        assert_eq!(store.lookup("bob").as_deref(), Some(BCRYPT));
        assert_eq!(store.lookup("Ada"), None);
    }

    #[test]
    fn errors_name_the_line() {
        let cases: &[(&str, String, &str)] = &[
            (
                "no colon",
                format!("ada:{BCRYPT}\nbob\n"),
                "htpasswd line 2: no `:`",
            ),
            (
                "duplicate",
                format!("ada:{BCRYPT}\n#\nada:{BCRYPT}\n"),
                "htpasswd line 3: user \"ada\" already defined on line 1",
            ),
            (
                "empty user",
                format!(":{BCRYPT}"),
                "htpasswd line 1: invalid user name \"\"",
            ),
            (
                "colon in user",
                format!("a:b:{BCRYPT}"),
                "htpasswd line 1: invalid user name \"a\"",
            ),
            (
                "control in user",
                format!("a\x07b:{BCRYPT}"),
                "htpasswd line 1: invalid user name \"a\\u{7}b\"",
            ),
            (
                "unknown",
                "ada:$6$salt$hash".into(),
                "htpasswd line 1: unknown hash scheme `$6$`",
            ),
            (
                "legacy",
                "ada:$apr1$gy0lbsh7$FXrfI.WzmiPTQ4CS1.CZW1".into(),
                "htpasswd line 1: weak legacy hash scheme `apr1` refused",
            ),
            (
                "malformed bcrypt",
                "ada:$2y$05$é".into(),
                "htpasswd line 1: malformed bcrypt hash",
            ),
        ];
        for (name, text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{name}: {err}");
        }
        let err = Htpasswd::parse("x", &HtpasswdOptions::default()).unwrap_err();
        assert_eq!(err.line(), Some(1));
    }

    #[test]
    fn non_utf8_line_is_an_error() {
        let err = Table::from_text(b"ada:\xff\xfe\n", &HtpasswdOptions::default())
            .err()
            .unwrap();
        assert!(matches!(err, HtpasswdError::NotUtf8 { line: 1 }));
    }

    #[test]
    fn legacy_allowed_when_asked() {
        let options = HtpasswdOptions {
            allow_legacy_hashes: true,
            ..Default::default()
        };
        let store = Htpasswd::parse(
            "ada:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nbob:{PLAIN}plain",
            &options,
        )
        .unwrap();
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn lines_reports_every_line() {
        let text = format!("ada:{BCRYPT}\nbad\nbob:{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
        let all: Vec<_> = lines(text.as_bytes()).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].as_ref().unwrap().scheme, Scheme::Bcrypt);
        assert!(all[1].is_err());
        assert_eq!(all[2].as_ref().unwrap().scheme, Scheme::Sha1);
    }

    #[test]
    fn check_reports_every_problem() {
        let text = format!("ada:{BCRYPT}\nada:{BCRYPT}\nbob:plain\nbad\n");
        let all: Vec<_> = check(text.as_bytes(), &HtpasswdOptions::default()).collect();
        let lines: Vec<_> = all
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.line()))
            .collect();
        assert!(lines[0].is_ok());
        assert_eq!(lines[1].as_ref().err(), Some(&Some(2)), "duplicate");
        assert_eq!(lines[2].as_ref().err(), Some(&Some(3)), "legacy");
        assert_eq!(lines[3].as_ref().err(), Some(&Some(4)), "no colon");
    }

    #[test]
    fn dummy_hash_follows_the_file() {
        let store = parse(&format!("ada:{BCRYPT}")).unwrap();
        assert!(store.dummy_hash().starts_with("$2b$05$"));
    }

    #[test]
    fn dummy_hash_is_of_the_most_common_class() {
        let b4 = "$2y$04$kYyEPbrVqWOkJSMcMg2bBOIDr0jZf.9W2w8v2.GEWqFAa8u9YwZRa";
        let b6 = "$2y$06$kYyEPbrVqWOkJSMcMg2bBOIDr0jZf.9W2w8v2.GEWqFAa8u9YwZRa";
        let legacy = HtpasswdOptions {
            allow_legacy_hashes: true,
            ..Default::default()
        };
        let cases: &[(&str, String, &str)] = &[
            (
                "first of one",
                format!("a:{b6}\nb:{BCRYPT}\nc:{BCRYPT}\n"),
                "$2b$05$",
            ),
            (
                "tie goes to the first",
                format!("a:{b4}\nb:{b6}\n"),
                "$2b$04$",
            ),
            (
                "locked lines have no class",
                format!("a:!\nb:*\nc:\nd:{b6}\n"),
                "$2b$06$",
            ),
            (
                "legacy only",
                "a:$apr1$gy0lbsh7$FXrfI.WzmiPTQ4CS1.CZW1\nb:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n\
                 c:$apr1$gy0lbsh7$FXrfI.WzmiPTQ4CS1.CZW1\n"
                    .into(),
                "$apr1$",
            ),
        ];
        for (name, text, prefix) in cases {
            let store = Htpasswd::parse(text, &legacy).unwrap();
            let dummy = store.dummy_hash();
            assert!(dummy.starts_with(prefix), "{name}: {dummy}");
        }
    }

    #[test]
    fn locked_and_empty_entries_load_and_never_match() {
        let text = "empty:\nstar:*\nbang:!{PLAIN}pw\nplain:{PLAIN}pw\n";
        let legacy = HtpasswdOptions {
            allow_legacy_hashes: true,
            ..Default::default()
        };
        let store = Htpasswd::parse(text, &legacy).unwrap();
        for user in ["empty", "star", "bang"] {
            let stored = store.lookup(user).unwrap();
            assert_eq!(Scheme::detect(&stored), Ok(Scheme::Locked), "{user}");
        }
        // Locked lines need no legacy switch; the `{PLAIN}` one does.
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with("htpasswd line 4: weak legacy"), "{err}");
        assert_eq!(parse("empty:\nstar:*\nbang:!x\n").unwrap().len(), 3);
    }

    #[test]
    fn unmarked_plain_text_is_refused_without_quoting_it() {
        let legacy = HtpasswdOptions {
            allow_legacy_hashes: true,
            ..Default::default()
        };
        for value in ["hunter2", "$hunter2", "{hunter2}"] {
            let err = Htpasswd::parse(&format!("ada:{value}"), &legacy)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("htpasswd line 1: "), "{err}");
            assert!(!err.contains("hunter"), "{err}");
        }
    }

    #[test]
    fn escape_bounds_and_escapes() {
        assert_eq!(escape("ada"), "ada");
        assert_eq!(escape("a\"b\u{202e}"), "a\\\"b\\u{202e}");
        let long = "x".repeat(10_000);
        assert_eq!(escape(&long), format!("{}…", "x".repeat(64)));
    }

    #[test]
    fn errors_are_send_sync() {
        fn assert_send_sync<T: Send + Sync + std::error::Error>() {}
        assert_send_sync::<HtpasswdError>();
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            for line in lines(&bytes) {
                let _ = line.map_err(|e| e.to_string());
            }
        }
    }
}
