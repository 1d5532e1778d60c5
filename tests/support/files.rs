//! Files on disk: temporary directories that remove themselves, the fixtures in
//! `tests/fixtures/`, and htpasswd files made by Apache's own `htpasswd`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh temporary directory, removed with everything in it when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The path of `tests/fixtures/NAME` (e.g. `tls/cert.pem`).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs Apache's `htpasswd` with `args` (Debian: apache2-utils; `.ci/run` installs it),
/// panicking with its standard error when it fails, and returns its standard output.
pub fn htpasswd(args: &[&str]) -> Vec<u8> {
    let out = Command::new("htpasswd")
        .args(args)
        .output()
        .expect("htpasswd is installed (Debian: apache2-utils)");
    assert!(
        out.status.success(),
        "htpasswd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Writes `dir/users.htpasswd` with one bcrypt user (`htpasswd -nbB -C 5`) and returns its
/// path.
pub fn htpasswd_file(dir: &Path, user: &str, password: &str) -> PathBuf {
    let line = htpasswd(&["-nbB", "-C", "5", user, password]);
    let path = dir.join("users.htpasswd");
    std::fs::write(&path, line).unwrap();
    path
}

/// A self-signed certificate for the DNS name `name`, written to `dir/NAME.pem` and
/// `dir/NAME.key`; their paths.
pub fn self_signed_pair(dir: &Path, name: &str) -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert.display().to_string(), key.display().to_string())
}
