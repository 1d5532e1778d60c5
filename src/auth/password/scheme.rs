//! Recognizing a stored hash: which [`Scheme`] it is in, and whether it is well formed. Errors
//! never quote the value (it may be a password typed in the wrong place).

use std::fmt;

use argon2::password_hash::PasswordHash;
use base64::Engine as _;

use super::{PasswordError, BASE64, MAX_HASH_LEN, MAX_ITERATIONS, MAX_MEMORY_KIB, MAX_PARALLELISM};

/// The format of a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `$argon2id$`: what [`hash_password`](super::hash_password) writes.
    Argon2id,
    /// `$argon2i$`.
    Argon2i,
    /// `$2y$`, `$2b$` or `$2a$` bcrypt (`htpasswd -B`).
    Bcrypt,
    /// Legacy: `{SHA}` unsalted SHA-1 (`htpasswd -s`).
    Sha1,
    /// Legacy: `$apr1$` Apache MD5 (`htpasswd -m`, its default).
    Apr1,
    /// Legacy: `$1$` MD5-crypt.
    Md5Crypt,
    /// 13-character DES crypt (`htpasswd -d`): recognized only to be refused with advice.
    Crypt,
    /// Legacy: the password in clear, marked `{PLAIN}` (as Dovecot writes it). Apache's
    /// `htpasswd -p` writes no marker: such lines are refused, so that a typo in a hash is
    /// never taken as a password.
    Plain,
    /// A locked account (an empty field, `*`, or `!` before anything, as in `/etc/shadow`):
    /// no password matches it.
    Locked,
}

impl Scheme {
    /// Whether this is a weak format refused unless legacy hashes are allowed.
    pub fn is_legacy(self) -> bool {
        !matches!(
            self,
            Scheme::Argon2id | Scheme::Argon2i | Scheme::Bcrypt | Scheme::Locked
        )
    }

    /// A short name: `argon2id`, `bcrypt`, `{SHA}`, `apr1`, ...
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Argon2id => "argon2id",
            Scheme::Argon2i => "argon2i",
            Scheme::Bcrypt => "bcrypt",
            Scheme::Sha1 => "{SHA}",
            Scheme::Apr1 => "apr1",
            Scheme::Md5Crypt => "md5-crypt",
            Scheme::Crypt => "crypt",
            Scheme::Plain => "{PLAIN}",
            Scheme::Locked => "locked",
        }
    }

    /// Recognizes the format of a stored hash and checks it is well formed.
    ///
    /// An empty value, `*` or a value starting with `!` or `*` is [`Scheme::Locked`]; plain
    /// text needs the `{PLAIN}` prefix. A value with no known prefix is DES crypt when it is
    /// 13 characters of the crypt alphabet (as Apache reads it on Unix), otherwise an error;
    /// so is a value starting with `$` or `{` and an unknown prefix. Errors never quote the
    /// value (it may be a password typed in the wrong place).
    ///
    /// # Errors
    ///
    /// [`PasswordError::UnknownScheme`], [`PasswordError::Unrecognized`] or
    /// [`PasswordError::Malformed`].
    pub fn detect(stored: &str) -> Result<Scheme, PasswordError> {
        if stored.len() > MAX_HASH_LEN {
            return Err(PasswordError::Malformed {
                scheme: "hash",
                reason: format!("longer than {MAX_HASH_LEN} bytes"),
            });
        }
        let scheme = if stored.is_empty() || stored.starts_with(['!', '*']) {
            Scheme::Locked
        } else if stored.starts_with(PLAIN_PREFIX) {
            Scheme::Plain
        } else if stored.starts_with("$argon2id$") {
            Scheme::Argon2id
        } else if stored.starts_with("$argon2i$") {
            Scheme::Argon2i
        } else if ["$2y$", "$2b$", "$2a$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            Scheme::Bcrypt
        } else if stored.starts_with("{SHA}") {
            Scheme::Sha1
        } else if stored.starts_with("$apr1$") {
            Scheme::Apr1
        } else if stored.starts_with("$1$") {
            Scheme::Md5Crypt
        } else if stored.starts_with('$') || stored.starts_with('{') {
            return Err(PasswordError::UnknownScheme {
                prefix: scheme_prefix(stored),
            });
        } else if stored.len() == 13 && stored.bytes().all(is_crypt_char) {
            Scheme::Crypt
        } else {
            return Err(PasswordError::Unrecognized);
        };
        scheme.check(stored)?;
        Ok(scheme)
    }

    fn check(self, stored: &str) -> Result<(), PasswordError> {
        let malformed = |reason: String| PasswordError::Malformed {
            scheme: self.name(),
            reason,
        };
        match self {
            Scheme::Argon2id | Scheme::Argon2i => {
                let hash = PasswordHash::new(stored).map_err(|e| malformed(phc_error(e)))?;
                // Bounds before argon2 sees them: its own check computes `p * 8` and
                // overflows on a huge lane count. Every occurrence counts: argon2 takes the
                // last of a repeated parameter (fuzz: htpasswd crashes c2a15a7f, 98ce8efc).
                for (name, value) in hash.params.iter() {
                    let max = match name.as_str() {
                        "m" => MAX_MEMORY_KIB,
                        "t" => MAX_ITERATIONS,
                        "p" => MAX_PARALLELISM,
                        _ => continue,
                    };
                    if value.decimal().map_or(true, |v| v > max) {
                        return Err(malformed(format!(
                            "{} is not a number up to its limit of {max}",
                            name.as_str()
                        )));
                    }
                }
                let params =
                    argon2::Params::try_from(&hash).map_err(|e| malformed(phc_error(e)))?;
                if hash.hash.is_none() || hash.salt.is_none() {
                    return Err(malformed("no salt or no hash part".into()));
                }
                if params.m_cost() > MAX_MEMORY_KIB
                    || params.t_cost() > MAX_ITERATIONS
                    || params.p_cost() > MAX_PARALLELISM
                {
                    return Err(malformed(format!(
                        "cost m={},t={},p={} is above the limits (m <= {MAX_MEMORY_KIB}, \
                         t <= {MAX_ITERATIONS}, p <= {MAX_PARALLELISM})",
                        params.m_cost(),
                        params.t_cost(),
                        params.p_cost()
                    )));
                }
                Ok(())
            }
            Scheme::Bcrypt => {
                let b = stored.as_bytes();
                let cost_ok = b.len() == 60
                    && b[6] == b'$'
                    && b[4].is_ascii_digit()
                    && b[5].is_ascii_digit()
                    && (4..=31).contains(&(u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0')));
                if !cost_ok || !b[7..].iter().copied().all(is_crypt_char) {
                    return Err(malformed(
                        "expected `$2y$NN$` (cost 04 to 31) and 53 characters of `./A-Za-z0-9`"
                            .into(),
                    ));
                }
                Ok(())
            }
            Scheme::Sha1 => match BASE64.decode(&stored[5..]) {
                Ok(digest) if digest.len() == 20 => Ok(()),
                _ => Err(malformed(
                    "expected base64 of a 20-byte SHA-1 digest".into(),
                )),
            },
            Scheme::Apr1 | Scheme::Md5Crypt => {
                let magic = super::legacy::md5_magic(self);
                let rest = &stored[magic.len()..];
                match rest.split_once('$') {
                    Some((salt, digest))
                        if salt.len() <= 8
                            && !salt.is_empty()
                            && salt.bytes().all(is_crypt_char)
                            && digest.len() == 22
                            && digest.bytes().all(is_crypt_char) =>
                    {
                        Ok(())
                    }
                    _ => Err(malformed(format!(
                        "expected `{magic}SALT$` and 22 characters of `./A-Za-z0-9`"
                    ))),
                }
            }
            // Deliberately not verifiable: DES crypt reads only 8 characters of a password, and
            // the crates that implement it are unmaintained.
            Scheme::Crypt => Err(malformed(
                "DES crypt (`htpasswd -d`) uses only the first 8 characters of a password and \
                 is not supported, even with `allow_legacy_hashes`; set a new password with \
                 `tollgate hash USER`"
                    .into(),
            )),
            Scheme::Plain | Scheme::Locked => Ok(()),
        }
    }
}

/// The marker of a password kept in clear (Dovecot's).
pub(super) const PLAIN_PREFIX: &str = "{PLAIN}";

/// An argon2 parse error's text without the character it quotes: the stored value may be a
/// password, and errors about it are printed and logged.
pub(super) fn phc_error(e: argon2::password_hash::Error) -> String {
    use argon2::password_hash::errors::InvalidValue;
    use argon2::password_hash::Error as E;
    match e {
        E::ParamValueInvalid(InvalidValue::InvalidChar(_)) => {
            "a parameter value has a character outside its alphabet".into()
        }
        E::SaltInvalid(InvalidValue::InvalidChar(_)) => {
            "the salt has a character outside its alphabet".into()
        }
        other => other.to_string(),
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Scheme identifiers that are known elsewhere but not supported here: the only part of a
/// stored value an error may quote (anything else could be part of a password).
const KNOWN_UNSUPPORTED: &[&str] = &[
    "$2x$",
    "$3$",
    "$5$",
    "$6$",
    "$7$",
    "$y$",
    "$gy$",
    "$md5$",
    "$sha1$",
    "$scrypt$",
    "$pbkdf2$",
    "$pbkdf2-sha256$",
    "$pbkdf2-sha512$",
    "$argon2d$",
    "$bcrypt-sha256$",
    "{SSHA}",
    "{SSHA256}",
    "{SSHA512}",
    "{SHA256}",
    "{SHA512}",
    "{MD5}",
    "{SMD5}",
    "{CRYPT}",
    "{CLEARTEXT}",
    "{CLEAR}",
    "{BLF-CRYPT}",
    "{PBKDF2}",
    "{ARGON2ID}",
];

/// The leading `$xxx$` or `{xxx}` of a stored hash when it is a known scheme identifier, for
/// error messages; empty otherwise.
fn scheme_prefix(stored: &str) -> String {
    KNOWN_UNSUPPORTED
        .iter()
        .find(|p| stored.starts_with(**p))
        .map_or_else(String::new, |p| (*p).to_owned())
}

pub(super) const CRYPT_ALPHABET: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `b` is in the alphabet of crypt salts and digests (`./0-9A-Za-z`).
pub(super) fn is_crypt_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'/'
}
