//! Where ACME state lives: the account key, certificates and their keys, behind
//! [`CertStore`] so that replicas can share one store (a Redis implementation is the next
//! step); [`DirStore`] keeps them in a directory, written atomically, owner-only.

use std::io;
use std::path::{Path, PathBuf};

/// A small key-value store of ACME state (`account.json`, `NAME/cert.pem`, `NAME/key.pem`).
///
/// Keys are relative paths of letters, digits, `.`, `-`, `_` and `/`; values are whole
/// files. Implementations make each [`store`](Self::store) atomic: a reader sees the old value
/// or the new one, never a mix.
pub trait CertStore: Send + Sync + std::fmt::Debug {
    /// The value of `key`, `None` when there is none.
    ///
    /// # Errors
    ///
    /// When the store cannot be read.
    fn load(&self, key: &str) -> io::Result<Option<Vec<u8>>>;

    /// Replaces the value of `key`.
    ///
    /// # Errors
    ///
    /// When the store cannot be written.
    fn store(&self, key: &str, value: &[u8]) -> io::Result<()>;

    /// The file holding `key`, when the store is a directory (rustls reads the files the
    /// listener names); `None` for stores elsewhere.
    fn path(&self, key: &str) -> Option<PathBuf>;
}

/// ACME state in a directory (`--state-dir`): created `0700`, files `0600`, each written to a
/// temporary file in the same directory and renamed over the old one.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// The store in `dir`, created (owner-only) when missing.
    ///
    /// # Errors
    ///
    /// When `dir` cannot be created or is not writable, with the directory named.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        create_private_dir(&dir)?;
        let probe = dir.join(".tollgate-write-test");
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| named(&dir, "is not writable", e))?;
        Ok(DirStore { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn named(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "the ACME state directory {} {what}: {e} (set --state-dir / `state_dir` to a directory \
             the gateway's user owns)",
            path.display()
        ),
    )
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| named(dir, "cannot be created", e))
}

impl CertStore for DirStore {
    fn load(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.dir.join(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(named(&self.dir.join(key), "cannot be read", e)),
        }
    }

    fn store(&self, key: &str, value: &[u8]) -> io::Result<()> {
        use std::io::Write as _;
        let path = self.dir.join(key);
        let parent = path.parent().unwrap_or(&self.dir);
        create_private_dir(parent)?;
        let mut file = tempfile::NamedTempFile::new_in(parent)
            .map_err(|e| named(parent, "cannot hold a new file", e))?;
        // tempfile creates its files 0600 on Unix.
        file.write_all(value)?;
        file.as_file().sync_all()?;
        file.persist(&path)
            .map_err(|e| named(&path, "cannot be replaced", e.error))?;
        Ok(())
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        Some(self.dir.join(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_owner_only_and_replaced_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let store = DirStore::open(tmp.path().join("state")).unwrap();
        store.store("a.example/key.pem", b"one").unwrap();
        store.store("a.example/key.pem", b"two").unwrap();
        assert_eq!(store.load("a.example/key.pem").unwrap().unwrap(), b"two");
        assert_eq!(store.load("missing").unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&tmp.path().join("state")), 0o700);
            assert_eq!(mode(&tmp.path().join("state/a.example")), 0o700);
            assert_eq!(mode(&tmp.path().join("state/a.example/key.pem")), 0o600);
        }
    }
}
