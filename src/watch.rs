//! The one way a file the gateway reads is kept up to date: read with a size bound, re-read
//! every interval by a task that ends with its owner, a refused new content logged once.
//! Used by the credentials file (`auth::htpasswd`), the groups file (`acl::groups`) and
//! the tokens file (`auth::token`).

use std::future::Future;
use std::io::Read;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Why a file could not be read in full.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Opening or reading failed.
    Io(std::io::Error),
    /// The file holds more than the bound.
    TooLarge,
}

/// The content of `path`, refused when larger than `max` bytes (read at most `max + 1`).
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut text = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut text)
        .map_err(ReadError::Io)?;
    if text.len() as u64 > max {
        return Err(ReadError::TooLarge);
    }
    Ok(text)
}

/// How long a changed file's content must stay the same before it is taken.
pub(crate) const SETTLE: Duration = Duration::from_millis(50);

/// How long an empty file must have gone unmodified before it is taken: a writer truncates
/// before it writes, and may be descheduled between the two for longer than [`SETTLE`].
pub(crate) const EMPTY_SETTLE: Duration = Duration::from_secs(1);

/// Whether `path` was last modified at least `age` ago (false when that cannot be told).
fn unmodified_for(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|elapsed| elapsed >= age)
}

/// The reload step of a watched file: on the blocking pool, `read` it and, unless the
/// content's SHA-256 is `current` (then `Ok(None)`: nothing changed) or it changes within
/// [`SETTLE`] (`Ok(None)` too: still being written), `parse` it. `joined`
/// makes the caller's error when the blocking task itself failed.
pub(crate) async fn read_if_changed<T, E>(
    path: std::path::PathBuf,
    current: [u8; 32],
    read: impl Fn(&Path) -> Result<Vec<u8>, E> + Send + 'static,
    parse: impl FnOnce(&[u8]) -> Result<T, E> + Send + 'static,
    joined: impl FnOnce(std::io::Error) -> E,
) -> Result<Option<T>, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    use sha2::{Digest, Sha256};
    tokio::task::spawn_blocking(move || {
        let text = read(&path)?;
        if <[u8; 32]>::from(Sha256::digest(&text)) == current {
            return Ok(None);
        }
        // A file written in place (truncated, then written) can be read half-way, and an
        // empty or cut file may parse: new content is taken only when a second read, SETTLE
        // later, finds the same bytes; otherwise the next round looks again.
        std::thread::sleep(SETTLE);
        if read(&path)? != text || (text.is_empty() && !unmodified_for(&path, EMPTY_SETTLE)) {
            return Ok(None);
        }
        parse(&text).map(Some)
    })
    .await
    .map_err(|e| joined(std::io::Error::other(e)))?
}

/// A table parsed from a file and replaced whole when the file changes (the groups and the
/// tokens files): a reader sees the old table or the new one, never a mix.
#[derive(Debug, Default)]
pub(crate) struct FileTable<T> {
    path: Option<std::path::PathBuf>,
    table: std::sync::RwLock<Arc<T>>,
}

/// A table that remembers the SHA-256 of the text it was parsed from.
pub(crate) trait Digested {
    fn digest(&self) -> [u8; 32];
}

impl<T: Digested + Send + Sync + 'static> FileTable<T> {
    pub(crate) fn new(path: Option<std::path::PathBuf>, table: T) -> Self {
        FileTable {
            path,
            table: std::sync::RwLock::new(Arc::new(table)),
        }
    }

    pub(crate) fn current(&self) -> Arc<T> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn path_display(&self) -> String {
        self.path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Re-reads the file ([`read_if_changed`]) and swaps in the new table; `None` when there
    /// is no file or it did not change.
    pub(crate) async fn reload<E: Send + 'static>(
        &self,
        read: fn(&Path) -> Result<Vec<u8>, E>,
        parse: fn(&[u8]) -> Result<T, E>,
        joined: impl FnOnce(std::io::Error) -> E,
    ) -> Result<Option<Arc<T>>, E> {
        let Some(path) = self.path.clone() else {
            return Ok(None);
        };
        let current = self.current().digest();
        let Some(table) = read_if_changed(path, current, read, parse, joined).await? else {
            return Ok(None);
        };
        let table = Arc::new(table);
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&table);
        Ok(Some(table))
    }
}

/// What a watched file's reload returns: whether it changed, or why the new content was
/// refused (the old one stays).
pub(crate) type Reloading = Pin<Box<dyn Future<Output = Result<bool, String>> + Send>>;

/// Spawns a task that calls `reload` on `owner` every `interval` (at least 100 ms) and ends
/// once the last `Arc` of `owner` is dropped. A refusal is logged at `error` once, not every
/// interval, as `refused` (`"htpasswd: new file refused, keeping the previous users"`) with
/// `path` and the reason.
///
/// # Panics
///
/// Outside a Tokio runtime.
pub(crate) fn spawn<T>(
    owner: &Arc<T>,
    interval: Duration,
    refused: &'static str,
    path: String,
    reload: fn(Arc<T>) -> Reloading,
) where
    T: Send + Sync + 'static,
{
    let weak: Weak<T> = Arc::downgrade(owner);
    let interval = interval.max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut last_error: Option<String> = None;
        loop {
            tokio::time::sleep(interval).await;
            let Some(owner) = weak.upgrade() else {
                return;
            };
            match reload(owner).await {
                Ok(_) => last_error = None,
                Err(text) => {
                    if last_error.as_deref() != Some(&text) {
                        tracing::error!(
                            path = %path,
                            error = %text,
                            "{refused}"
                        );
                    }
                    last_error = Some(text);
                }
            }
        }
    });
}
