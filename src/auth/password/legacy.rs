//! The legacy hash family, refused unless legacy hashes are allowed: unsalted SHA-1
//! (`{SHA}`), MD5-crypt (`$apr1$`, `$1$`) and plain text marked `{PLAIN}`. Every comparison is
//! constant time.

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;

use super::scheme::{is_crypt_char, CRYPT_ALPHABET, PLAIN_PREFIX};
use super::{ct_eq, Scheme, BASE64};

/// Whether `pw` matches `stored`, a well-formed hash of the legacy `scheme`.
pub(super) fn verify(scheme: Scheme, pw: &[u8], stored: &str) -> bool {
    match scheme {
        Scheme::Sha1 => ct_eq(sha1(pw).as_bytes(), stored.as_bytes()),
        Scheme::Apr1 | Scheme::Md5Crypt => {
            let magic = md5_magic(scheme);
            let salt = stored[magic.len()..].split('$').next().unwrap_or_default();
            ct_eq(
                md5_crypt(pw, salt.as_bytes(), magic).as_bytes(),
                stored.as_bytes(),
            )
        }
        Scheme::Plain => ct_eq(pw, &stored.as_bytes()[PLAIN_PREFIX.len()..]),
        _ => false,
    }
}

/// A hash of `secret` in the legacy `scheme` of `template`, as costly to check as it is.
pub(super) fn dummy(scheme: Scheme, template: &str, secret: &str) -> String {
    match scheme {
        Scheme::Apr1 | Scheme::Md5Crypt => {
            let magic = md5_magic(scheme);
            let salt_len = template[magic.len()..]
                .split('$')
                .next()
                .map_or(8, str::len);
            let salt: String = secret
                .bytes()
                .filter(|b| is_crypt_char(*b))
                .take(salt_len.clamp(1, 8))
                .map(char::from)
                .collect();
            md5_crypt(secret.as_bytes(), salt.as_bytes(), magic)
        }
        Scheme::Plain => {
            // As long as the template's password: the comparison then reads as many bytes.
            let len = template.len() - PLAIN_PREFIX.len();
            let filler: String = secret.chars().cycle().take(len).collect();
            format!("{PLAIN_PREFIX}{filler}")
        }
        // `{SHA}`.
        _ => sha1(secret.as_bytes()),
    }
}

/// `{SHA}` and the base64 of the password's SHA-1 digest (`htpasswd -s`).
fn sha1(pw: &[u8]) -> String {
    format!("{{SHA}}{}", BASE64.encode(Sha1::digest(pw)))
}

/// The prefix of an MD5-crypt scheme: Apache's `$apr1$` or glibc's `$1$`.
pub(super) fn md5_magic(scheme: Scheme) -> &'static str {
    if scheme == Scheme::Apr1 {
        "$apr1$"
    } else {
        "$1$"
    }
}

/// MD5-crypt (Poul-Henning Kamp's, as Apache's `$apr1$` and glibc's `$1$` use it).
fn md5_crypt(pw: &[u8], salt: &[u8], magic: &str) -> String {
    let salt = &salt[..salt.len().min(8)];
    let alt = Md5::new()
        .chain_update(pw)
        .chain_update(salt)
        .chain_update(pw)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(pw)
        .chain_update(magic.as_bytes())
        .chain_update(salt);
    for chunk in pw.chunks(16) {
        ctx.update(&alt[..chunk.len()]);
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(pw);
        }
        if round & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    let mut out = String::with_capacity(magic.len() + salt.len() + 23);
    out.push_str(magic);
    out.extend(salt.iter().map(|&b| char::from(b)));
    out.push('$');
    let f = |i: usize| u32::from(fin[i]);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(&mut out, (f(a) << 16) | (f(b) << 8) | f(c), 4);
    }
    to64(&mut out, f(11), 2);
    out
}

fn to64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(char::from(CRYPT_ALPHABET[(v & 0x3f) as usize]));
        v >>= 6;
    }
}
