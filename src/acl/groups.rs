//! Groups files in Apache's `AuthGroupFile` format: `group: user1 user2` lines, re-read when
//! they change.
//!
//! Comments (`#`), blank lines, CRLF line ends and runs of spaces or tabs are accepted; a
//! group named on several lines has the members of all of them (as Apache reads it). A line
//! without `:`, an empty or spaced group name, or a line that is not UTF-8 is an error naming
//! the line.
//!
//! # Example
//!
//! ```
//! use tollgate::acl::Groups;
//!
//! let groups = Groups::parse("# who runs what\nops: alice bob\nadmins:\tcarol\r\nops: dan\n").unwrap();
//! assert!(groups.is_member("dan", "ops"));
//! assert!(!groups.is_member("carol", "ops"));
//! assert_eq!(groups.len(), 2);
//!
//! let err = Groups::parse("ops alice\n").unwrap_err();
//! assert_eq!(err.to_string(), "groups line 1: no `:`; expected `group: user1 user2`");
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::watch::{FileTable, ReadError};

/// The largest groups file read, in bytes (16 MiB).
const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Why a groups file, or one of its lines, was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum GroupsError {
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
    /// A line has no `:`.
    MissingColon {
        /// The line number, from 1.
        line: usize,
    },
    /// The group name is empty or holds spaces or control characters.
    InvalidGroup {
        /// The line number, from 1.
        line: usize,
    },
}

impl fmt::Display for GroupsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupsError::Io { path, .. } => write!(f, "cannot read {}", path.display()),
            GroupsError::TooLarge { path } => {
                write!(f, "{} is larger than {MAX_FILE_SIZE} bytes", path.display())
            }
            GroupsError::NotUtf8 { line } => {
                write!(f, "groups line {line}: not UTF-8; save the file as UTF-8")
            }
            GroupsError::MissingColon { line } => {
                write!(
                    f,
                    "groups line {line}: no `:`; expected `group: user1 user2`"
                )
            }
            GroupsError::InvalidGroup { line } => write!(
                f,
                "groups line {line}: the group name before `:` must be non-empty, without \
                 spaces or control characters"
            ),
        }
    }
}

impl std::error::Error for GroupsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GroupsError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Group name to its members.
#[derive(Debug, Default)]
struct Table {
    groups: HashMap<String, HashSet<String>>,
    digest: [u8; 32],
}

impl Table {
    fn from_text(text: &[u8]) -> Result<Table, GroupsError> {
        let mut groups: HashMap<String, HashSet<String>> = HashMap::new();
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let raw = std::str::from_utf8(raw).map_err(|_| GroupsError::NotUtf8 { line })?;
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (group, members) = raw
                .split_once(':')
                .ok_or(GroupsError::MissingColon { line })?;
            let group = group.trim_end();
            if group.is_empty() || group.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(GroupsError::InvalidGroup { line });
            }
            groups
                .entry(group.to_owned())
                .or_default()
                .extend(members.split_whitespace().map(str::to_owned));
        }
        Ok(Table {
            groups,
            digest: Sha256::digest(text).into(),
        })
    }
}

/// The groups of a groups file, optionally kept up to date.
///
/// A reload builds the new table aside and swaps it in, so a request sees the old or the new
/// file, never a mix.
#[derive(Debug, Default)]
pub struct Groups {
    file: FileTable<Table>,
}

impl Groups {
    /// Parses the content of a groups file.
    ///
    /// # Errors
    ///
    /// The first [`GroupsError`] in the text.
    pub fn parse(text: &str) -> Result<Groups, GroupsError> {
        Ok(Groups {
            file: FileTable::new(None, Table::from_text(text.as_bytes())?),
        })
    }

    /// Reads a groups file once (blocking file I/O: call it at startup or from a blocking
    /// thread).
    ///
    /// # Errors
    ///
    /// The file cannot be read, is over 16 MiB, or has a bad line.
    pub fn open(path: impl AsRef<Path>) -> Result<Groups, GroupsError> {
        let path = path.as_ref().to_path_buf();
        let table = Table::from_text(&read(&path)?)?;
        Ok(Groups {
            file: FileTable::new(Some(path), table),
        })
    }

    /// Reads a groups file and re-reads it every `interval` (at least 100 ms) when its
    /// content changed, as the credentials file is: a new valid file replaces the groups at
    /// once, an invalid one is logged and the old groups stay. The task ends when the last
    /// `Arc` is dropped.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), for the first read.
    pub fn watch(path: impl AsRef<Path>, interval: Duration) -> Result<Arc<Groups>, GroupsError> {
        let groups = Arc::new(Self::open(path)?);
        let path = groups.file.path_display();
        crate::watch::spawn(
            &groups,
            interval,
            "groups: new file refused, keeping the previous groups",
            path,
            |groups| Box::pin(async move { groups.reload().await.map_err(|e| e.to_string()) }),
        );
        Ok(groups)
    }

    /// Re-reads the file now (e.g. on `SIGHUP`). Returns whether the groups changed.
    ///
    /// # Errors
    ///
    /// Why the file was not taken; the old groups stay in use.
    pub async fn reload(&self) -> Result<bool, GroupsError> {
        let changed = self
            .file
            .reload(read, Table::from_text, |source| GroupsError::Io {
                path: self.file.path().map(Path::to_path_buf).unwrap_or_default(),
                source,
            })
            .await?;
        let Some(table) = changed else {
            return Ok(false);
        };
        let count = table.groups.len();
        tracing::info!(path = %self.file.path_display(), groups = count, "groups: reloaded");
        Ok(true)
    }

    /// Whether `user` is a member of `group`.
    pub fn is_member(&self, user: &str, group: &str) -> bool {
        self.current()
            .groups
            .get(group)
            .is_some_and(|members| members.contains(user))
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.current().groups.len()
    }

    /// Whether the file names no group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file the groups were read from.
    pub fn path(&self) -> Option<&Path> {
        self.file.path()
    }

    fn current(&self) -> Arc<Table> {
        self.file.current()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, GroupsError> {
    crate::watch::read_bounded(path, MAX_FILE_SIZE).map_err(|e| match e {
        ReadError::Io(source) => GroupsError::Io {
            path: path.to_path_buf(),
            source,
        },
        ReadError::TooLarge => GroupsError::TooLarge {
            path: path.to_path_buf(),
        },
    })
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
    fn members_of_repeated_groups_add_up() {
        let groups = Groups::parse("ops: a b\nops: c\n\n# x: y\n").unwrap();
        assert!(["a", "b", "c"].iter().all(|u| groups.is_member(u, "ops")));
        assert!(!groups.is_member("y", "x"));
        assert_eq!(groups.len(), 1);
    }

    #[test]
    fn an_empty_group_is_a_group_without_members() {
        let groups = Groups::parse("nobody:\n").unwrap();
        assert_eq!(groups.len(), 1);
        assert!(!groups.is_member("", "nobody"));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("no colon", "ops: a\nops b\n", "groups line 2: no `:`"),
            ("empty name", ": a\n", "groups line 1: the group name"),
            ("spaced name", "o ps: a\n", "groups line 1: the group name"),
        ];
        for (name, text, start) in cases {
            let err = Groups::parse(text).unwrap_err().to_string();
            assert!(err.starts_with(start), "{name}: {err}");
        }
        let err = Table::from_text(b"ops: a\n\xff: b\n").unwrap_err();
        assert!(matches!(err, GroupsError::NotUtf8 { line: 2 }));
    }

    #[test]
    fn errors_are_send_sync() {
        fn assert_send_sync<T: Send + Sync + std::error::Error>() {}
        assert_send_sync::<GroupsError>();
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = Table::from_text(&bytes);
        }
    }
}
