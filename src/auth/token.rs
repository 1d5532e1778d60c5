//! API tokens: random secrets handed to programs, of which the gateway keeps only a keyed
//! hash, each mapped to a user name.
//!
//! `tollgate token NAME >> tokens` (or [`generate`]) makes a token such as
//! `tg_Ab3...` (`tg_`, an 11-character id, a 32-character secret: 192 random bits, URL-safe
//! base64) and the tokens-file line for it:
//!
//! ```text
//! ci-bot:tg1:ID:MAC
//! deploy:tg1:ID:MAC:2027-01-01T00:00:00Z
//! ```
//!
//! `MAC` is HMAC-SHA-256 keyed with the token's secret over its id and user name (URL-safe
//! base64): the file holds no token and nothing a token can be rebuilt from, and the secret's
//! 192 random bits make guessing it from the hash hopeless, so no slow password hash is
//! needed and a check costs microseconds. The last field, when present, is the expiry (UTC).
//!
//! A request presents it as `Authorization: Bearer TOKEN`, or in a header of the
//! configuration's choosing (`X-API-Key: TOKEN`). The layer looks the id up, recomputes the
//! MAC and compares it in constant time; an unknown id costs the same MAC. The user name it
//! maps to is then treated like a Basic user: authorization, the user header, the logs.
//!
//! # Example
//!
//! ```
//! use tollgate::auth::token::{generate, Tokens};
//!
//! let new = generate("ci-bot", None).unwrap();
//! let tokens = Tokens::parse(&new.line).unwrap();
//! assert_eq!(tokens.verify(new.token()).unwrap().as_ref(), "ci-bot");
//! assert!(tokens.verify("tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_err());
//! assert!(!new.line.contains(&new.token()[14..]), "the line never holds the secret");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::watch::{FileTable, ReadError};

/// What every token starts with, so scanners (and people) recognise one.
pub const TOKEN_PREFIX: &str = "tg_";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 24;
/// Base64 lengths, unpadded: 8 bytes are 11 characters, 24 bytes 32.
const ID_LEN: usize = 11;
const SECRET_LEN: usize = 32;
const SCHEME: &str = "tg1";
const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// A token just made: the token itself (show it once) and its tokens-file line.
pub struct NewToken {
    token: String,
    /// The line for the tokens file, without a line end: `USER:tg1:ID:MAC[:EXPIRY]`.
    pub line: String,
}

impl NewToken {
    /// The token, to hand to the client once; it is nowhere else.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// Makes a token for `user`, valid until `expires` (`None`: until its line is removed).
///
/// # Errors
///
/// A user name that is empty or holds `:` or control characters.
pub fn generate(user: &str, expires: Option<SystemTime>) -> Result<NewToken, TokenFileError> {
    if !valid_user(user) {
        return Err(TokenFileError::InvalidUser { line: 0 });
    }
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let id = URL_SAFE_NO_PAD.encode(id);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let mac = URL_SAFE_NO_PAD.encode(mac(&secret, &id, user));
    let mut line = format!("{user}:{SCHEME}:{id}:{mac}");
    if let Some(at) = expires {
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        line.push(':');
        line.push_str(&format_utc(secs));
    }
    Ok(NewToken {
        token: format!("{TOKEN_PREFIX}{id}{secret}"),
        line,
    })
}

fn valid_user(user: &str) -> bool {
    !user.is_empty() && !user.contains(|c: char| c == ':' || c.is_control())
}

/// HMAC-SHA-256 keyed with the secret over the scheme, id and user.
fn mac(secret: &str, id: &str, user: &str) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    for part in [SCHEME, id, user] {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    mac.finalize().into_bytes().into()
}

/// Why a presented token was refused (for logs; the client sees one `401`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not `tg_` and 43 URL-safe characters.
    Malformed,
    /// No line has its id.
    Unknown,
    /// The secret does not match.
    Wrong,
    /// Its expiry has passed.
    Expired,
}

impl TokenRejection {
    /// A short reason for the log.
    pub fn reason(self) -> &'static str {
        match self {
            TokenRejection::Malformed => "malformed token",
            TokenRejection::Unknown => "unknown token",
            TokenRejection::Wrong => "wrong token",
            TokenRejection::Expired => "expired token",
        }
    }
}

/// Why a tokens file, or one of its lines, was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenFileError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than 16 MiB.
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A line is not UTF-8.
    NotUtf8 {
        /// The line number, from 1.
        line: usize,
    },
    /// A line is not `USER:tg1:ID:MAC[:EXPIRY]`.
    Malformed {
        /// The line number, from 1.
        line: usize,
    },
    /// The user name is empty or holds control characters (line 0: given to [`generate`]).
    InvalidUser {
        /// The line number, from 1.
        line: usize,
    },
    /// The expiry is not `YYYY-MM-DDTHH:MM:SSZ`.
    InvalidExpiry {
        /// The line number, from 1.
        line: usize,
    },
    /// Two lines have the same id.
    DuplicateId {
        /// The second line.
        line: usize,
    },
}

impl fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenFileError::Io { path, .. } => write!(f, "cannot read {}", path.display()),
            TokenFileError::TooLarge { path } => {
                write!(f, "{} is larger than {MAX_FILE_SIZE} bytes", path.display())
            }
            TokenFileError::NotUtf8 { line } => {
                write!(f, "tokens line {line}: not UTF-8; save the file as UTF-8")
            }
            TokenFileError::Malformed { line } => write!(
                f,
                "tokens line {line}: expected `USER:tg1:ID:MAC` or `USER:tg1:ID:MAC:EXPIRY`, \
                 as `tollgate token USER` prints it"
            ),
            TokenFileError::InvalidUser { line: 0 } => f.write_str(
                "a token's user name must be non-empty, without `:` or control characters",
            ),
            TokenFileError::InvalidUser { line } => write!(
                f,
                "tokens line {line}: the user name must be non-empty, without control characters"
            ),
            TokenFileError::InvalidExpiry { line } => write!(
                f,
                "tokens line {line}: the expiry must be a UTC time like 2027-01-01T00:00:00Z"
            ),
            TokenFileError::DuplicateId { line } => write!(
                f,
                "tokens line {line}: the same token id is on an earlier line; keep one of them"
            ),
        }
    }
}

impl std::error::Error for TokenFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenFileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Entry {
    user: Arc<str>,
    mac: [u8; 32],
    expires: Option<u64>,
}

#[derive(Debug, Default)]
struct Table {
    by_id: HashMap<String, Entry>,
    digest: [u8; 32],
}

impl Table {
    fn from_text(text: &[u8]) -> Result<Table, TokenFileError> {
        let mut by_id = HashMap::new();
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let raw = std::str::from_utf8(raw).map_err(|_| TokenFileError::NotUtf8 { line })?;
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (id, entry) = parse_line(line, raw)?;
            if by_id.insert(id, entry).is_some() {
                return Err(TokenFileError::DuplicateId { line });
            }
        }
        Ok(Table {
            by_id,
            digest: Sha256::digest(text).into(),
        })
    }
}

fn parse_line(line: usize, raw: &str) -> Result<(String, Entry), TokenFileError> {
    let malformed = TokenFileError::Malformed { line };
    // The expiry holds `:` itself: split the four fixed fields off the front.
    let mut fields = raw.splitn(5, ':');
    let (Some(user), Some(scheme), Some(id), Some(mac)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed);
    };
    if !valid_user(user) {
        return Err(TokenFileError::InvalidUser { line });
    }
    let mac = URL_SAFE_NO_PAD
        .decode(mac)
        .ok()
        .and_then(|m| <[u8; 32]>::try_from(m).ok());
    let (true, true, Some(mac)) = (scheme == SCHEME, id.len() == ID_LEN, mac) else {
        return Err(malformed);
    };
    let expires = match fields.next() {
        None => None,
        Some(text) => Some(parse_utc(text).ok_or(TokenFileError::InvalidExpiry { line })?),
    };
    let entry = Entry {
        user: user.into(),
        mac,
        expires,
    };
    Ok((id.to_owned(), entry))
}

/// The tokens of a tokens file, optionally kept up to date.
#[derive(Debug, Default)]
pub struct Tokens {
    file: FileTable<Table>,
}

impl Tokens {
    /// Parses the content of a tokens file.
    ///
    /// # Errors
    ///
    /// The first bad line.
    pub fn parse(text: &str) -> Result<Tokens, TokenFileError> {
        Ok(Tokens {
            file: FileTable::new(None, Table::from_text(text.as_bytes())?),
        })
    }

    /// Reads a tokens file once (blocking file I/O).
    ///
    /// # Errors
    ///
    /// The file cannot be read, is over 16 MiB, or has a bad line.
    pub fn open(path: impl AsRef<Path>) -> Result<Tokens, TokenFileError> {
        let path = path.as_ref().to_path_buf();
        let table = Table::from_text(&read(&path)?)?;
        Ok(Tokens {
            file: FileTable::new(Some(path), table),
        })
    }

    /// Reads a tokens file and re-reads it every `interval` when it changed, as the
    /// credentials file is (a bad new file is logged and the old tokens stay). The task ends
    /// when the last `Arc` is dropped.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), for the first read.
    pub fn watch(
        path: impl AsRef<Path>,
        interval: Duration,
    ) -> Result<Arc<Tokens>, TokenFileError> {
        let tokens = Arc::new(Self::open(path)?);
        let path = tokens.file.path_display();
        crate::watch::spawn(
            &tokens,
            interval,
            "tokens: new file refused, keeping the previous tokens",
            path,
            |tokens| Box::pin(async move { tokens.reload().await.map_err(|e| e.to_string()) }),
        );
        Ok(tokens)
    }

    /// Re-reads the file now. Returns whether the tokens changed.
    ///
    /// # Errors
    ///
    /// Why the file was not taken; the old tokens stay in use.
    pub async fn reload(&self) -> Result<bool, TokenFileError> {
        let changed = self
            .file
            .reload(read, Table::from_text, |source| TokenFileError::Io {
                path: self.file.path().map(Path::to_path_buf).unwrap_or_default(),
                source,
            })
            .await?;
        let Some(table) = changed else {
            return Ok(false);
        };
        let count = table.by_id.len();
        tracing::info!(path = %self.file.path_display(), tokens = count, "tokens: reloaded");
        Ok(true)
    }

    /// The user `token` maps to, checked in constant time against the stored MAC.
    ///
    /// # Errors
    ///
    /// Why the token is refused.
    pub fn verify(&self, token: &str) -> Result<Arc<str>, TokenRejection> {
        self.verify_at(token, SystemTime::now())
    }

    fn verify_at(&self, token: &str, now: SystemTime) -> Result<Arc<str>, TokenRejection> {
        let rest = token
            .strip_prefix(TOKEN_PREFIX)
            .filter(|r| r.len() == ID_LEN + SECRET_LEN && r.is_ascii())
            .ok_or(TokenRejection::Malformed)?;
        let (id, secret) = rest.split_at(ID_LEN);
        let table = self.current();
        let Some(entry) = table.by_id.get(id) else {
            // The same work for an unknown id as for a known one.
            std::hint::black_box(mac(secret, id, "").ct_eq(&[0; 32]));
            return Err(TokenRejection::Unknown);
        };
        if !bool::from(mac(secret, id, &entry.user).ct_eq(&entry.mac)) {
            return Err(TokenRejection::Wrong);
        }
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if entry.expires.is_some_and(|at| now >= at) {
            return Err(TokenRejection::Expired);
        }
        Ok(entry.user.clone())
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.current().by_id.len()
    }

    /// Whether the file has no token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn current(&self) -> Arc<Table> {
        self.file.current()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TokenFileError> {
    crate::watch::read_bounded(path, MAX_FILE_SIZE).map_err(|e| match e {
        ReadError::Io(source) => TokenFileError::Io {
            path: path.to_path_buf(),
            source,
        },
        ReadError::TooLarge => TokenFileError::TooLarge {
            path: path.to_path_buf(),
        },
    })
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SSZ` as seconds since the epoch; `None` for anything else (or before
/// 1970).
fn parse_utc(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let shape = b.len() == 20
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && b[19] == b'Z';
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = &text[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    u64::try_from(secs).ok()
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (Hinnant's `civil_from_days`).
fn format_utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl crate::watch::Digested for Table {
    fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_url_safe_and_differ() {
        let a = generate("a", None).unwrap();
        let b = generate("a", None).unwrap();
        assert_ne!(a.token(), b.token());
        assert_eq!(a.token().len(), 3 + ID_LEN + SECRET_LEN);
        assert!(a.token()[3..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert!(
            format!("{a:?}").find(&a.token()[3..]).is_none(),
            "Debug hides the token"
        );
    }

    #[test]
    fn verify_checks_secret_user_and_expiry() {
        let new = generate("bot", Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))).unwrap();
        assert!(new.line.ends_with(":2033-05-18T03:33:20Z"), "{}", new.line);
        let tokens = Tokens::parse(&format!("# ci\n{}\r\n", new.line)).unwrap();
        let before = UNIX_EPOCH + Duration::from_secs(1_999_999_999);
        assert_eq!(
            tokens.verify_at(new.token(), before).unwrap().as_ref(),
            "bot"
        );
        let after = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        assert_eq!(
            tokens.verify_at(new.token(), after),
            Err(TokenRejection::Expired)
        );
        let mut wrong = new.token().to_owned();
        wrong.replace_range(20..21, if &wrong[20..21] == "A" { "B" } else { "A" });
        assert_eq!(tokens.verify(&wrong), Err(TokenRejection::Wrong));
        // The MAC binds the user: the same line under another name refuses the token.
        let renamed = Tokens::parse(&new.line.replacen("bot", "admin", 1)).unwrap();
        assert_eq!(
            renamed.verify_at(new.token(), before),
            Err(TokenRejection::Wrong)
        );
        assert_eq!(tokens.verify("tg_short"), Err(TokenRejection::Malformed));
        assert_eq!(
            tokens.verify(&new.token()[3..]),
            Err(TokenRejection::Malformed)
        );
    }

    #[test]
    fn file_errors_name_the_line() {
        let good = generate("a", None).unwrap().line;
        let cases = [
            (
                "no mac",
                "a:tg1:AAAAAAAAAAA".to_owned(),
                "tokens line 1: expected",
            ),
            (
                "other scheme",
                good.replacen("tg1", "tg9", 1),
                "tokens line 1: expected",
            ),
            (
                "bad expiry",
                format!("{good}:tomorrow"),
                "tokens line 1: the expiry",
            ),
            (
                "duplicate",
                format!("{good}\n{good}"),
                "tokens line 2: the same token id",
            ),
            (
                "empty user",
                good[1..].to_owned(),
                "tokens line 1: the user name",
            ),
        ];
        for (name, text, start) in cases {
            let err = Tokens::parse(&text).unwrap_err().to_string();
            assert!(err.starts_with(start), "{name}: {err}");
        }
        assert!(generate("a:b", None).is_err());
    }

    #[test]
    fn utc_times_round_trip() {
        for secs in [0, 951_782_400, 1_767_225_599, 4_102_444_800] {
            assert_eq!(parse_utc(&format_utc(secs)), Some(secs), "{secs}");
        }
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        for bad in [
            "2027-13-01T00:00:00Z",
            "2027-01-01 00:00:00Z",
            "2027-01-01T00:00:00",
            "+027-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = Table::from_text(&bytes);
        }

        #[test]
        fn verify_never_panics(token in "\\PC{0,80}") {
            let _ = Tokens::default().verify(&token);
        }
    }
}
