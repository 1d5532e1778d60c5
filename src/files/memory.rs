//! Files kept in memory between requests ([`ServeDirConfig::memory_cache`]): every file up to
//! [`SMALL_FILE`], and larger ones up to an eighth of the budget (1 MiB of the default 8 MiB,
//! 4 MiB at most), which are then answered from memory instead of being streamed from the
//! file in chunks.
//!
//! Every request still looks the file up (`stat`, symlinks and hidden names checked as
//! always); only the `open`, `fstat`, `read` and `close` of a file already read are saved. An
//! entry is used only while the file's [`Stamp`] — length, modification and change times,
//! device and inode — is the one it was read at: a file written in place (which moves its
//! change time, whatever its modification time says) or replaced by a rename (a new inode) is
//! read again. nginx's `open_file_cache` trusts an entry for `open_file_cache_valid` (60 s)
//! without looking; this looks every time.
//!
//! On Linux, a kept file larger than [`SMALL_FILE`] is offered to the connection's socket to
//! go out with `sendfile` (`offer_to_sendfile`, `crate::sendfile`).
//!
//! [`ServeDirConfig::memory_cache`]: super::ServeDirConfig::memory_cache

use std::collections::HashMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;

use super::SMALL_FILE;

/// One version of a file, as `stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// Change time (seconds, nanoseconds), device and inode.
    #[cfg(unix)]
    identity: (i64, i64, u64, u64),
}

impl Stamp {
    pub(super) fn of(meta: &Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            identity: (meta.ctime(), meta.ctime_nsec(), meta.dev(), meta.ino()),
        }
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    pub(super) fn modified(&self) -> Option<SystemTime> {
        self.modified
    }
}

/// Files by canonical path, at most `budget` bytes of them. Past the budget everything is
/// dropped and the cache fills again: bounded, and no bookkeeping per hit.
#[derive(Debug)]
pub(super) struct MemoryCache {
    budget: usize,
    state: Mutex<State>,
    /// Bytes of files larger than [`SMALL_FILE`] being read whole to be kept: with the kept
    /// bytes, at most twice the budget is ever held for the cache, however many requests miss
    /// at once.
    reading: AtomicUsize,
}

/// The largest file kept: an eighth of the budget (1 MiB of the default 8 MiB), at most
/// [`MAX_KEPT_FILE`], at least [`SMALL_FILE`] (which is read whole anyway).
const fn largest_kept(budget: usize) -> usize {
    let eighth = budget / 8;
    if eighth > MAX_KEPT_FILE {
        MAX_KEPT_FILE
    } else if eighth < SMALL_FILE as usize {
        SMALL_FILE as usize
    } else {
        eighth
    }
}

/// The largest file kept in memory with any budget: 4 MiB, read in one blocking call.
const MAX_KEPT_FILE: usize = 4 << 20;

/// Room taken for a file larger than [`SMALL_FILE`] while it is read whole; given back on drop.
pub(super) struct Reading<'a> {
    cache: &'a MemoryCache,
    len: usize,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.cache.reading.fetch_sub(self.len, Ordering::AcqRel);
    }
}

#[derive(Debug, Default)]
struct State {
    bytes: usize,
    files: HashMap<PathBuf, (Stamp, Bytes)>,
}

impl MemoryCache {
    /// A cache of at most `budget` bytes; `None` for a budget of 0 (off).
    pub(super) fn new(budget: u64) -> Option<MemoryCache> {
        let budget = usize::try_from(budget).unwrap_or(usize::MAX);
        (budget > 0).then(|| MemoryCache {
            budget,
            state: Mutex::default(),
            reading: AtomicUsize::new(0),
        })
    }

    /// Room to read a file of `len` bytes, larger than [`SMALL_FILE`], whole to keep it; `None`
    /// when it is too large to keep or other such reads already hold the budget's worth (the
    /// file is then streamed in chunks, as without the cache).
    pub(super) fn reserve(&self, len: u64) -> Option<Reading<'_>> {
        let len = usize::try_from(len).ok()?;
        if len > largest_kept(self.budget) {
            return None;
        }
        self.reading
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |reading| {
                (reading + len <= self.budget).then_some(reading + len)
            })
            .ok()?;
        Some(Reading { cache: self, len })
    }

    /// The bytes of `path` when they were read at `stamp`; an entry of another version is
    /// dropped.
    pub(super) fn get(&self, path: &Path, stamp: &Stamp) -> Option<Bytes> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (seen, bytes) = state.files.get(path)?;
        if seen == stamp {
            return Some(bytes.clone());
        }
        if let Some((_, old)) = state.files.remove(path) {
            state.bytes -= old.len();
        }
        None
    }

    /// Keeps `bytes`, read from `path` at `stamp`.
    pub(super) fn put(&self, path: &Path, stamp: Stamp, bytes: Bytes) {
        if bytes.len() > self.budget {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, old)) = state.files.remove(path) {
            state.bytes -= old.len();
        }
        if state.bytes + bytes.len() > self.budget {
            state.files.clear();
            state.bytes = 0;
        }
        state.bytes += bytes.len();
        state.files.insert(path.to_owned(), (stamp, bytes));
    }
}

/// Offers `bytes`, the content of `path` at `stamp`, to the socket of the connection whose
/// task this is, to send with `sendfile` (`crate::sendfile`): when it is a plain connection of
/// `serve` and the file opened again is still that version.
#[cfg(sendfile)]
pub(super) fn offer_to_sendfile(bytes: &Bytes, path: &Path, stamp: Stamp) {
    let Some(region) = crate::sendfile::current() else {
        return;
    };
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    if file.metadata().is_ok_and(|meta| Stamp::of(&meta) == stamp) {
        region.offer(bytes.clone(), file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp_of(path: &Path) -> Stamp {
        Stamp::of(&std::fs::metadata(path).unwrap())
    }

    #[test]
    fn an_entry_serves_only_the_version_it_was_read_at() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "one").unwrap();
        let cache = MemoryCache::new(1024).unwrap();
        let first = stamp_of(&path);
        cache.put(&path, first, Bytes::from_static(b"one"));
        assert_eq!(cache.get(&path, &first).as_deref(), Some(&b"one"[..]));
        // Written in place with the same length: the change time moves.
        std::fs::write(&path, "two").unwrap();
        let second = stamp_of(&path);
        assert_ne!(first, second);
        assert_eq!(cache.get(&path, &second), None);
        assert_eq!(
            cache.state.lock().unwrap().bytes,
            0,
            "the old version is dropped"
        );
    }

    #[test]
    fn large_files_are_kept_up_to_an_eighth_of_the_budget_and_their_reads_are_bounded() {
        let cache = MemoryCache::new(8 << 20).unwrap();
        assert!(cache.reserve((1 << 20) + 1).is_none(), "over an eighth");
        let held: Vec<_> = (0..8).map(|_| cache.reserve(1 << 20).unwrap()).collect();
        assert!(
            cache.reserve(1 << 20).is_none(),
            "eight reads at once take the whole budget"
        );
        drop(held);
        assert!(cache.reserve(1 << 20).is_some(), "given back on drop");
        assert_eq!(largest_kept(1 << 30), MAX_KEPT_FILE);
        assert_eq!(largest_kept(1024), SMALL_FILE as usize);
    }

    #[test]
    fn the_budget_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "x").unwrap();
        let stamp = stamp_of(&path);
        assert!(MemoryCache::new(0).is_none(), "0 turns it off");
        let cache = MemoryCache::new(10).unwrap();
        cache.put(Path::new("/big"), stamp, Bytes::from(vec![0; 11]));
        assert_eq!(
            cache.get(Path::new("/big"), &stamp),
            None,
            "larger than the budget"
        );
        for i in 0..5 {
            cache.put(Path::new(&format!("/{i}")), stamp, Bytes::from(vec![0; 4]));
            assert!(cache.state.lock().unwrap().bytes <= 10);
        }
        assert!(
            cache.get(Path::new("/4"), &stamp).is_some(),
            "the last one is kept"
        );
    }
}
