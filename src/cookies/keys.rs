//! [`CookieKeys`]: signed and private (encrypted) cookies with key rotation.

use std::fmt;

pub use cookie::Key;
use cookie::{Cookie, CookieJar};

/// The keys of signed and private cookies: the current one signs and encrypts, older ones are
/// still accepted when reading, so rotating a key logs nobody out.
///
/// A signed cookie's value is readable by the client but cannot be changed without the key
/// (HMAC-SHA256); a private one is also unreadable (AES-256-GCM) and bound to its name. Both
/// come from the [`cookie`] crate's `signed` and `private` features, in its formats. A signed
/// value is not bound to its name (the crate signs the value only): a client may copy one
/// signed cookie's value into another cookie of the same keys; use private cookies, or put
/// the name in the value, when that matters.
///
/// ```
/// use tollgate::cookies::{Cookie, CookieKeys, Key};
/// use tollgate::{Request, Response};
///
/// let old = Key::generate();
/// let keys = CookieKeys::new(old.clone());
/// let res = Response::text("hi").set_cookie(keys.sign(Cookie::new("user", "ada")));
/// let set = res.headers()["set-cookie"].to_str().unwrap();
/// let value = set.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
///
/// // Later: a new key; cookies signed with the old one still read.
/// let keys = keys.rotate(Key::generate());
/// let req = Request::from_http(Request::get("/").header("cookie", format!("user={value}")).build().unwrap());
/// assert_eq!(req.signed_cookie(&keys, "user").as_deref(), Some("ada"));
/// // A value changed by the client does not.
/// let forged = Request::from_http(Request::get("/").header("cookie", "user=admin").build().unwrap());
/// assert_eq!(forged.signed_cookie(&keys, "user"), None);
/// ```
#[derive(Clone)]
#[must_use]
pub struct CookieKeys {
    current: Key,
    previous: Vec<Key>,
}

impl CookieKeys {
    /// Keys that sign and encrypt with `current`.
    pub fn new(current: Key) -> Self {
        CookieKeys {
            current,
            previous: Vec::new(),
        }
    }

    /// Keys from secret bytes (at least 64 of them, cryptographically random; keep them out of
    /// the source).
    ///
    /// # Errors
    ///
    /// When `secret` is shorter than 64 bytes.
    pub fn from_secret(secret: &[u8]) -> Result<Self, KeyLengthError> {
        Key::try_from(secret)
            .map(CookieKeys::new)
            .map_err(|_| KeyLengthError { len: secret.len() })
    }

    /// Makes `new` the current key; the current one is still accepted when reading.
    pub fn rotate(mut self, new: Key) -> Self {
        let old = std::mem::replace(&mut self.current, new);
        self.previous.insert(0, old);
        self
    }

    /// Accepts cookies signed or encrypted with `old` too.
    pub fn accepting(mut self, old: Key) -> Self {
        self.previous.push(old);
        self
    }

    /// `cookie` with its value signed by the current key.
    pub fn sign(&self, cookie: Cookie<'static>) -> Cookie<'static> {
        let name = cookie.name().to_owned();
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.current).add(cookie);
        jar.get(&name)
            .cloned()
            .expect("the jar holds the cookie just added")
    }

    /// `cookie` with its value encrypted by the current key.
    pub fn encrypt(&self, cookie: Cookie<'static>) -> Cookie<'static> {
        let name = cookie.name().to_owned();
        let mut jar = CookieJar::new();
        jar.private_mut(&self.current).add(cookie);
        jar.get(&name)
            .cloned()
            .expect("the jar holds the cookie just added")
    }

    /// The value of a signed cookie `name=value` when one of the keys signed it.
    pub fn verify(&self, name: &str, value: &str) -> Option<String> {
        let jar = CookieJar::new();
        self.keys().find_map(|key| {
            let cookie = Cookie::new(name.to_owned(), value.to_owned());
            jar.signed(key).verify(cookie).map(|c| c.value().to_owned())
        })
    }

    /// The value of a private cookie `name=value` when one of the keys encrypted it.
    pub fn decrypt(&self, name: &str, value: &str) -> Option<String> {
        let jar = CookieJar::new();
        self.keys().find_map(|key| {
            let cookie = Cookie::new(name.to_owned(), value.to_owned());
            jar.private(key)
                .decrypt(cookie)
                .map(|c| c.value().to_owned())
        })
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

impl fmt::Debug for CookieKeys {
    /// Never shows the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieKeys")
            .field("previous", &self.previous.len())
            .finish_non_exhaustive()
    }
}

/// A secret too short to make [`CookieKeys`] from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLengthError {
    len: usize,
}

impl fmt::Display for KeyLengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a cookie key needs at least 64 random bytes, got {}; make one with `head -c 64 /dev/urandom`",
            self.len
        )
    }
}

impl std::error::Error for KeyLengthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_cookies_hide_and_round_trip() {
        let keys = CookieKeys::new(Key::generate());
        let sealed = keys.encrypt(Cookie::new("sid", "secret; value"));
        assert!(!sealed.value().contains("secret"));
        assert_eq!(
            keys.decrypt("sid", sealed.value()).as_deref(),
            Some("secret; value")
        );
        let other = CookieKeys::new(Key::generate());
        assert_eq!(other.decrypt("sid", sealed.value()), None);
    }

    #[test]
    fn rotation_keeps_old_cookies_readable_and_signs_with_the_new_key() {
        let old = Key::generate();
        let signed_old = CookieKeys::new(old.clone()).sign(Cookie::new("a", "1"));
        let new = Key::generate();
        let keys = CookieKeys::new(old).rotate(new.clone());
        assert_eq!(keys.verify("a", signed_old.value()).as_deref(), Some("1"));
        let signed_new = keys.sign(Cookie::new("a", "2"));
        let only_new = CookieKeys::new(new);
        assert_eq!(
            only_new.verify("a", signed_new.value()).as_deref(),
            Some("2")
        );
        assert_eq!(only_new.verify("a", signed_old.value()), None);
    }

    #[test]
    fn a_private_value_is_bound_to_its_name() {
        let keys = CookieKeys::new(Key::generate());
        let sealed = keys.encrypt(Cookie::new("role", "user"));
        assert_eq!(keys.decrypt("other", sealed.value()), None);
    }

    #[test]
    fn short_secrets_are_refused_with_the_fix() {
        let err = CookieKeys::from_secret(&[0; 16]).unwrap_err();
        assert!(err.to_string().contains("at least 64"));
        assert!(CookieKeys::from_secret(&[7; 64]).is_ok());
    }
}
