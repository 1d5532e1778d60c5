//! `tollgate hash [USER]` and `tollgate check-htpasswd FILE`.
//!
//! Both only read arguments and stdin and call the library
//! ([`tollgate::auth::password`], [`tollgate::auth::htpasswd`]).

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use tollgate::auth::htpasswd::{check, HtpasswdOptions};
use tollgate::auth::password::{cost_class, Scheme};
use tollgate::auth::password::{hash_password_with, Params};
use tollgate::body::BoxError;

/// The longest password read from stdin, in bytes.
const MAX_PASSWORD_LEN: usize = 4096;

/// Arguments of `tollgate hash`.
#[derive(Debug, clap::Args)]
pub struct HashArgs {
    /// The user name: the output is a `USER:HASH` line for a credentials file (the hash alone
    /// without it).
    pub user: Option<String>,
    /// argon2id cost as `m=KIB,t=PASSES,p=LANES` (default `m=19456,t=2,p=1`, the OWASP
    /// recommendation); `--params` alone prints the defaults and exits.
    #[arg(long, value_name = "m=KIB,t=N,p=N", num_args = 0..=1, default_missing_value = "")]
    pub params: Option<String>,
}

/// Arguments of `tollgate check-htpasswd`.
#[derive(Debug, clap::Args)]
pub struct CheckHtpasswdArgs {
    /// The credentials file to check.
    pub file: PathBuf,
    /// Accept the weak legacy schemes (`{SHA}`, `$apr1$`, `$1$`, `{PLAIN}` text) as the server
    /// does with `allow_legacy_hashes = true`.
    #[arg(long)]
    pub allow_legacy_hashes: bool,
}

/// Runs `tollgate hash`: prompts for the password twice without echo (or reads one line from
/// stdin when it is not a terminal) and prints `USER:$argon2id$...`.
///
/// # Errors
///
/// Invalid `--params` or user name, mismatching or empty passwords.
pub fn hash(args: HashArgs) -> Result<(), BoxError> {
    let params = match args.params.as_deref() {
        Some("") => {
            let d = Params::default();
            println!(
                "argon2id {d} (memory {} KiB, {} passes, {} lane): the OWASP recommendation.\n\
                 Select others with --params m=KIB,t=N,p=N, e.g. --params m=65536,t=3,p=1.",
                d.memory_kib, d.iterations, d.parallelism
            );
            return Ok(());
        }
        Some(spec) => Params::parse(spec)?,
        None => Params::default(),
    };
    if let Some(user) = &args.user {
        check_user(user)?;
    }
    let password = read_password()?;
    let hashed = hash_password_with(&password, &params)?;
    eprintln!("argon2id {params}");
    match &args.user {
        Some(user) => println!("{user}:{hashed}"),
        None => println!("{hashed}"),
    }
    Ok(())
}

/// Runs `tollgate check-htpasswd`: prints each line's scheme or error.
///
/// # Errors
///
/// When the file cannot be read or any line is an error (the server would refuse the file),
/// so the exit code is non-zero.
pub fn check_htpasswd(args: CheckHtpasswdArgs) -> Result<(), BoxError> {
    let options = HtpasswdOptions {
        allow_legacy_hashes: args.allow_legacy_hashes,
        ..HtpasswdOptions::default()
    };
    let text = read_file(&args.file, options.max_file_size)?;
    let (report, errors) = check_report(&text, &options);
    let mut out = std::io::stdout().lock();
    for line in report {
        let _ = writeln!(out, "{line}");
    }
    if errors > 0 {
        return Err(format!("{}: {errors} error(s)", args.file.display()).into());
    }
    let _ = writeln!(out, "{}: ok", args.file.display());
    Ok(())
}

/// One report line per user line or error (never a line's hash), a warning when users are
/// in several cost classes, and the number of errors.
fn check_report(text: &[u8], options: &HtpasswdOptions) -> (Vec<String>, usize) {
    let mut report = Vec::new();
    let mut errors = 0;
    // (class, users), in order of first appearance.
    let mut classes: Vec<(String, usize)> = Vec::new();
    for item in check(text, options) {
        match item {
            Ok(line) => {
                let user: String = line.user.chars().flat_map(char::escape_debug).collect();
                if let Some(class) = cost_class(&line.hash) {
                    match classes.iter_mut().find(|(c, _)| *c == class) {
                        Some((_, n)) => *n += 1,
                        None => classes.push((class, 1)),
                    }
                }
                let note = if line.scheme == Scheme::Locked {
                    " (account locked: no password matches)"
                } else if line.scheme.is_legacy() {
                    " (weak legacy scheme; replace with `tollgate hash`)"
                } else {
                    ""
                };
                report.push(format!(
                    "line {}: {user}: {}{note}",
                    line.number, line.scheme
                ));
            }
            Err(err) => {
                errors += 1;
                report.push(format!("error: {err}"));
            }
        }
    }
    if classes.len() > 1 {
        let list: Vec<String> = classes
            .iter()
            .map(|(class, n)| format!("{class} ({n})"))
            .collect();
        report.push(format!(
            "warning: users' hashes have {} different costs: {}; how long a wrong password \
             takes tells which one a user has, and unknown users take as long as the most \
             common one; give everyone a new hash of one cost with `tollgate hash`",
            classes.len(),
            list.join(", ")
        ));
    }
    (report, errors)
}

pub(super) fn check_user(user: &str) -> Result<(), String> {
    if user.is_empty() || user.chars().any(|c| c == ':' || c.is_control()) {
        return Err("user names must be non-empty, without `:` or control characters".into());
    }
    Ok(())
}

pub(super) fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the passwords do not match".into());
        }
        first
    } else {
        read_line_bounded(stdin.lock())?
    };
    if password.is_empty() {
        return Err("empty password refused".into());
    }
    if password.chars().any(char::is_control) {
        return Err("passwords cannot contain control characters (RFC 7617)".into());
    }
    Ok(password)
}

/// The first line of `input`, without its line end, at most [`MAX_PASSWORD_LEN`] bytes.
fn read_line_bounded(input: impl BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    input
        .take(MAX_PASSWORD_LEN as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(|e| e.to_string())?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > MAX_PASSWORD_LEN {
        return Err(format!("password longer than {MAX_PASSWORD_LEN} bytes"));
    }
    String::from_utf8(line).map_err(|_| "the password is not UTF-8".into())
}

fn read_file(path: &std::path::Path, max: u64) -> Result<Vec<u8>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut text = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > max {
        return Err(format!("{} is larger than {max} bytes", path.display()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_line_without_its_end() {
        assert_eq!(read_line_bounded(&b"secret\r\nmore"[..]).unwrap(), "secret");
        assert_eq!(read_line_bounded("pä:ss".as_bytes()).unwrap(), "pä:ss");
        assert!(read_line_bounded(&vec![b'a'; 5000][..]).is_err());
        assert!(read_line_bounded(&b"\xff\n"[..]).is_err());
    }

    #[test]
    fn report_names_schemes_and_errors() {
        let text = b"ada:$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\n\
                     bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\neve:$2y$05$\xc3\xa9\n";
        let (report, errors) = check_report(text, &HtpasswdOptions::default());
        assert_eq!(errors, 2, "{report:?}");
        assert_eq!(report[0], "line 1: ada: bcrypt");
        assert!(
            report[1].starts_with("error: htpasswd line 2: weak legacy"),
            "{report:?}"
        );
        assert!(
            report[2].starts_with("error: htpasswd line 3: malformed bcrypt"),
            "{report:?}"
        );
    }

    #[test]
    fn report_names_locked_lines_and_mixed_costs() {
        let text = b"ada:$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\n\
                     bob:!$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\n\
                     cy:*\ndee:\n\
                     eve:$2y$04$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\n";
        let (report, errors) = check_report(text, &HtpasswdOptions::default());
        assert_eq!(errors, 0, "{report:?}");
        for (i, user) in ["bob", "cy", "dee"].iter().enumerate() {
            assert_eq!(
                report[i + 1],
                format!(
                    "line {}: {user}: locked (account locked: no password matches)",
                    i + 2
                )
            );
        }
        let warning = report.last().unwrap();
        assert!(
            warning.starts_with("warning: users' hashes have 2 different costs: bcrypt cost 05 (1), bcrypt cost 04 (1);"),
            "{warning}"
        );
        assert!(!report.iter().any(|l| l.contains("uTfWMJ")), "{report:?}");
    }

    #[test]
    fn user_names_are_checked() {
        assert!(check_user("ada").is_ok());
        assert!(check_user("Jürgen").is_ok());
        for bad in ["", "a:b", "a\nb"] {
            assert!(check_user(bad).is_err(), "{bad:?}");
        }
    }
}
