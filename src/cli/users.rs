//! `tollgate users add|set|remove|verify|list FILE [USER]`: a credentials file edited in
//! place, atomically (a new file renamed over the old one), its comments, blank lines and
//! order kept. Passwords are read as `tollgate hash` reads them: twice from a terminal, or the
//! first line of standard input when it is piped.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use tollgate::auth::htpasswd::{check, HtpasswdOptions};
use tollgate::auth::password::{hash_password_with, verify_password_with, Params};
use tollgate::body::BoxError;

/// Arguments of `tollgate users`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: UsersAction,
}

/// The `tollgate users` actions.
#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Add USER with a new argon2id hash; refused if USER is already in FILE (made if missing).
    Add(UserArgs),
    /// Give USER a new password: its line is replaced where it is, or added at the end.
    Set(UserArgs),
    /// Remove USER's line.
    Remove(UserArgs),
    /// Check a password against USER's hash: exit status 0 when it matches, 1 otherwise.
    Verify(UserArgs),
    /// List the users, with their line and hash scheme (never the hash).
    List(FileArgs),
}

/// A credentials file and a user.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// The credentials file (htpasswd format).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The user name.
    #[arg(value_name = "USER")]
    pub user: String,
}

/// A credentials file.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// The credentials file (htpasswd format).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Runs the action.
pub fn run(args: UsersArgs) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    match args.action {
        UsersAction::Add(a) => {
            super::hash::check_user(&a.user)?;
            let text = read_or_empty(&a.file)?;
            if let Some(line) = find(&text, &a.user).first() {
                return Err(format!(
                    "{}: user {:?} is already on line {}; to give it a new password: \
                     tollgate users set {} {}",
                    a.file.display(),
                    a.user,
                    line + 1,
                    a.file.display(),
                    a.user
                )
                .into());
            }
            let entry = entry(&a.user)?;
            write_atomically(&a.file, &edit(&text, &a.user, Some(&entry)))?;
            let _ = writeln!(out, "{}: added {}", a.file.display(), a.user);
        }
        UsersAction::Set(a) => {
            super::hash::check_user(&a.user)?;
            let text = read_or_empty(&a.file)?;
            let entry = entry(&a.user)?;
            write_atomically(&a.file, &edit(&text, &a.user, Some(&entry)))?;
            let _ = writeln!(out, "{}: set the password of {}", a.file.display(), a.user);
        }
        UsersAction::Remove(a) => {
            let text = read(&a.file)?;
            if find(&text, &a.user).is_empty() {
                return Err(no_such_user(&a.file, &a.user));
            }
            write_atomically(&a.file, &edit(&text, &a.user, None))?;
            let _ = writeln!(out, "{}: removed {}", a.file.display(), a.user);
        }
        UsersAction::Verify(a) => {
            let text = read(&a.file)?;
            let Some(&index) = find(&text, &a.user).first() else {
                return Err(no_such_user(&a.file, &a.user));
            };
            let line = text.lines().nth(index).unwrap_or_default();
            let hash = line.trim().split_once(':').map_or("", |(_, h)| h);
            let password = super::hash::read_password()?;
            if !verify_password_with(&password, hash, true)? {
                return Err(format!("{}: wrong password for {}", a.file.display(), a.user).into());
            }
            let _ = writeln!(
                out,
                "{}: the password of {} matches",
                a.file.display(),
                a.user
            );
        }
        UsersAction::List(a) => {
            let text = read(&a.file)?;
            let options = HtpasswdOptions {
                allow_legacy_hashes: true,
                ..HtpasswdOptions::default()
            };
            for item in check(text.as_bytes(), &options) {
                match item {
                    Ok(line) => {
                        let _ =
                            writeln!(out, "line {}: {}: {}", line.number, line.user, line.scheme);
                    }
                    Err(e) => {
                        let _ = writeln!(out, "error: {e}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// `USER:$argon2id$...` for a password read as `tollgate hash` reads it.
fn entry(user: &str) -> Result<String, BoxError> {
    let password = super::hash::read_password()?;
    let hash = hash_password_with(&password, &Params::default())?;
    Ok(format!("{user}:{hash}"))
}

fn no_such_user(file: &Path, user: &str) -> BoxError {
    format!(
        "{}: no user {user:?}; `tollgate users list {}` lists them",
        file.display(),
        file.display()
    )
    .into()
}

/// The indices of the lines of `text` that define `user`, as the loader reads them (leading
/// and trailing blanks ignored, comments skipped).
fn find(text: &str, user: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim();
            !line.starts_with('#') && line.split_once(':').is_some_and(|(u, _)| u == user)
        })
        .map(|(i, _)| i)
        .collect()
}

/// `text` with `user`'s first line replaced by `entry` (or `entry` appended when there is
/// none), its other lines removed; every line removed when `entry` is `None`. Every other
/// line is kept as it was, and the file ends with a line end.
fn edit(text: &str, user: &str, entry: Option<&str>) -> String {
    let found = find(text, user);
    let mut out = String::with_capacity(text.len() + 128);
    for (i, line) in text.lines().enumerate() {
        match (found.first() == Some(&i), found.contains(&i), entry) {
            (true, _, Some(entry)) => out.push_str(entry),
            (_, true, _) => continue,
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    if let (None, Some(entry)) = (found.first(), entry) {
        out.push_str(entry);
        out.push('\n');
    }
    out
}

fn read(path: &Path) -> Result<String, BoxError> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

fn read_or_empty(path: &Path) -> Result<String, BoxError> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        other => other.map_err(|e| format!("cannot read {}: {e}", path.display()).into()),
    }
}

/// Writes `text` to a new file beside `path` (the same permissions, `0600` for a new file),
/// flushes it to disk and renames it over `path`: a gateway reading the file sees the old or
/// the new one, never a half-written one.
fn write_atomically(path: &Path, text: &str) -> Result<(), BoxError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tollgate-{}", std::process::id()));
    let fail =
        |e: std::io::Error| -> BoxError { format!("cannot write {}: {e}", path.display()).into() };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let mode = std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o777);
        options.mode(mode);
    }
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(fail(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# team\nada:HASH1\n\n  bob:HASH2  \n# end\n";

    #[test]
    fn edits_keep_comments_blank_lines_and_order() {
        assert_eq!(find(FILE, "bob"), [3]);
        assert_eq!(
            edit(FILE, "ada", Some("ada:NEW")),
            "# team\nada:NEW\n\n  bob:HASH2  \n# end\n"
        );
        assert_eq!(edit(FILE, "bob", None), "# team\nada:HASH1\n\n# end\n");
        assert_eq!(
            edit(FILE, "cy", Some("cy:H")),
            "# team\nada:HASH1\n\n  bob:HASH2  \n# end\ncy:H\n"
        );
        assert_eq!(edit("", "cy", Some("cy:H")), "cy:H\n");
        // A duplicate is folded into the first line.
        assert_eq!(edit("a:1\nb:2\na:3\n", "a", Some("a:N")), "a:N\nb:2\n");
        assert!(find("#ada:x\n", "ada").is_empty(), "comments are not users");
    }
}
