//! Finding what a request's path names, on the file system: one `lstat` per segment, symlinks
//! resolved only to stay inside the served directory, hidden names refused unless allowed.

use std::fs::Metadata;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::HttpError;

/// The served directory as the walk sees it: its canonical path, and whether names starting
/// with `.` may be served.
pub(super) struct Tree<'a> {
    pub(super) root: &'a Path,
    pub(super) hidden: bool,
}

impl Tree<'_> {
    /// The canonical path `segments` lead to under the root, and its metadata (symlinks
    /// followed). Each segment costs one `lstat`; only a symlink is resolved in full (and must
    /// stay inside the root), so a plain file costs one system call per segment instead of
    /// `realpath`'s one per component of the whole path and a `stat`.
    pub(super) fn locate(&self, segments: &[String]) -> Result<(PathBuf, Metadata), HttpError> {
        let mut path = self.root.to_owned();
        let mut meta = None;
        for segment in segments {
            path.push(segment);
            let (next, next_meta) = self.entry(path)?;
            path = next;
            meta = Some(next_meta);
        }
        match meta {
            Some(meta) => Ok((path, meta)),
            None => {
                let meta = std::fs::metadata(&path).map_err(io_error)?;
                Ok((path, meta))
            }
        }
    }

    /// `path`, whose parent is canonical and inside the root, in canonical form with its
    /// metadata (symlinks followed): itself when it is no symlink, else where the link leads,
    /// if that lies inside the root.
    pub(super) fn entry(&self, path: PathBuf) -> Result<(PathBuf, Metadata), HttpError> {
        let hidden = |p: &Path| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        };
        if !self.hidden && hidden(&path) {
            return Err(HttpError::not_found("not found"));
        }
        let meta = std::fs::symlink_metadata(&path).map_err(io_error)?;
        if !meta.file_type().is_symlink() {
            return Ok((path, meta));
        }
        let canonical = self.inside_root(&path)?;
        let meta = std::fs::metadata(&canonical).map_err(io_error)?;
        Ok((canonical, meta))
    }

    /// The index file `index` of the canonical directory `dir`. A configured name with
    /// separators (`sub/index.html`) may cross a symlink the walk did not see: it is
    /// canonicalized in full.
    pub(super) fn index_entry(
        &self,
        dir: &Path,
        index: &str,
    ) -> Result<(PathBuf, Metadata), HttpError> {
        let mut components = Path::new(index).components();
        if let (Some(Component::Normal(name)), None) = (components.next(), components.next()) {
            return self.entry(dir.join(name));
        }
        let canonical = self.inside_root(&dir.join(index))?;
        let meta = std::fs::metadata(&canonical).map_err(io_error)?;
        Ok((canonical, meta))
    }

    /// The canonical form of `path`, if it lies inside the root (a symlink may point out).
    fn inside_root(&self, path: &Path) -> Result<PathBuf, HttpError> {
        let canonical = std::fs::canonicalize(path).map_err(io_error)?;
        if !canonical.starts_with(self.root) {
            tracing::debug!(path = %path.display(), "refused a symlink leaving the served directory");
            return Err(HttpError::not_found("not found"));
        }
        if !self.hidden {
            // A symlink inside the root may lead to a hidden file; do not serve it either.
            let relative = canonical.strip_prefix(self.root).unwrap_or(Path::new(""));
            if relative
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
            {
                return Err(HttpError::not_found("not found"));
            }
        }
        Ok(canonical)
    }
}

/// Not found, not a directory and permission denied are all 404: whether a file exists
/// outside what may be served is nobody's business. Anything else is a 500, logged.
pub(super) fn io_error(e: io::Error) -> HttpError {
    match e.kind() {
        io::ErrorKind::NotFound
        | io::ErrorKind::PermissionDenied
        | io::ErrorKind::NotADirectory => HttpError::not_found("not found"),
        _ if e.raw_os_error() == Some(20) || e.raw_os_error() == Some(40) => {
            // ENOTDIR on older toolchains, ELOOP (a symlink loop).
            HttpError::not_found("not found")
        }
        _ => HttpError::internal(e),
    }
}
