//! Every TOML and shell snippet of `README.md` and `docs/` checked against the binary, so the
//! docs cannot drift from it again: TOML through the gateway file's loader (every key known,
//! every value of its type), each `tollgate ...` command line through clap, and `cargo run
//! --example` lines for the `--` before the example's own flags.
//!
//! A TOML block that is not part of a gateway file starts with a `# Not a gateway file`
//! comment; it is checked as TOML, and deserialized into the type its first table names
//! (`[form]`: `form::FormLimits`).

use std::path::{Path, PathBuf};

use clap::Parser as _;

use super::Cli;

/// `(file, line of the opening fence, language, text)` of each fenced block.
fn blocks(path: &Path) -> Vec<(String, usize, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shown = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let mut found = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(lang)) => open = Some((i + 1, lang.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => {
                let (at, lang, body) = open.take().expect("a block is open");
                found.push((shown.clone(), at, lang, body));
            }
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    found
}

fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// What is wrong with a TOML snippet, if anything.
fn toml_problem(text: &str) -> Option<String> {
    if text.trim_start().starts_with("# Not a gateway file") {
        let value: toml::Table = match toml::from_str(text) {
            Ok(value) => value,
            Err(e) => return Some(e.to_string()),
        };
        return match value.get("form") {
            Some(form) => form
                .clone()
                .try_into::<tollgate::form::FormLimits>()
                .err()
                .map(|e| format!("[form] is not FormLimits: {e}")),
            None => Some("a `# Not a gateway file` block names no known type".to_owned()),
        };
    }
    let (_, errors) = tollgate::config::load_partial(text);
    let real: Vec<String> = errors
        .iter()
        .filter(|e| {
            // A snippet shows a part of a file: what only the whole file must have is not
            // asked of it.
            let message = e.message();
            !(message.starts_with("no listener")
                || message.starts_with("no route")
                || message.starts_with("no upstream group named"))
        })
        .map(ToString::to_string)
        .collect();
    (!real.is_empty()).then(|| real.join("; "))
}

/// The words of a shell line, as the shell would split them (quotes, no expansion), up to a
/// comment, a pipe or a redirection.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, '|' | '>' | '<' | ';' | '&') => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The shell lines of a block: `$ ` prompts removed, `\` continuations joined, output lines
/// (in a `console` block, those without a prompt) left out.
fn commands(lang: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = if lang == "console" {
            match line.strip_prefix("$ ") {
                Some(command) => command,
                None if !pending.is_empty() => line,
                None => continue,
            }
        } else {
            line.strip_prefix("$ ").unwrap_or(line)
        };
        match line.trim_end().strip_suffix('\\') {
            Some(start) => {
                pending.push_str(start);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                out.push(std::mem::take(&mut pending));
            }
        }
    }
    out
}

/// What is wrong with a shell command line, if anything: a `tollgate` command clap refuses,
/// or a `cargo run --example` whose flags come before `--`.
fn command_problem(line: &str) -> Option<String> {
    let words = words(line);
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| *w == "sudo" || w.contains('='))
        .collect();
    let args: Vec<&str> = match words.as_slice() {
        ["cargo", "run", rest @ ..] if rest.contains(&"--example") => {
            let dashes = rest.iter().position(|w| *w == "--");
            let first_flag = rest
                .iter()
                .enumerate()
                .skip(2)
                .find(|(_, w)| w.starts_with("--") && **w != "--release" && **w != "--");
            return match (first_flag, dashes) {
                (Some((at, flag)), d) if d.is_none_or(|d| at < d) => Some(format!(
                    "`{flag}` goes to cargo, not to the example: put `--` before it"
                )),
                _ => None,
            };
        }
        ["cargo", "run", rest @ ..] => match rest.iter().position(|w| *w == "--") {
            Some(d) => rest[d + 1..].to_vec(),
            None => return None,
        },
        [program, rest @ ..] if program.ends_with("tollgate") => rest.to_vec(),
        _ => return None,
    };
    let argv = std::iter::once("tollgate").chain(args.iter().copied());
    Cli::try_parse_from(argv)
        .err()
        .filter(|e| {
            !matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            )
        })
        .map(|e| e.to_string().lines().next().unwrap_or_default().to_owned())
}

#[test]
fn every_snippet_of_the_docs_works_with_this_binary() {
    let mut problems = Vec::new();
    let mut checked = (0, 0);
    for path in documents() {
        for (file, at, lang, text) in blocks(&path) {
            match lang.as_str() {
                "toml" => {
                    checked.0 += 1;
                    if let Some(problem) = toml_problem(&text) {
                        problems.push(format!("{file}:{at}: TOML: {problem}"));
                    }
                }
                "sh" | "shell" | "bash" | "console" => {
                    for line in commands(&lang, &text) {
                        checked.1 += 1;
                        if let Some(problem) = command_problem(&line) {
                            problems.push(format!("{file}:{at}: `{}`: {problem}", line.trim()));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        checked.0 >= 5 && checked.1 >= 20,
        "found too few snippets: {checked:?}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_catches_what_it_should() {
    assert!(toml_problem("[[listen]]\nbnid = \"x\"\n").is_some());
    assert!(toml_problem("[serve]\nbind = \"0.0.0.0:1\"\n").is_some());
    assert!(toml_problem("[auth]\nrealm = \"x\"\n").is_none());
    assert!(command_problem("tollgate proxy --nope").is_some());
    assert!(command_problem("target/release/tollgate check x.toml   # comment").is_none());
    assert!(command_problem("cargo run --example greeting --bind 0.0.0.0:8000").is_some());
    assert!(command_problem("cargo run --example greeting -- --bind 0.0.0.0:8000").is_none());
    assert!(command_problem("curl -u alice https://x/").is_none());
    assert_eq!(words("a 'b c' \"d\" # e"), ["a", "b c", "d"]);
    assert_eq!(
        commands("console", "$ a \\\n  b\nout\n$ c\n"),
        ["a    b", "c"]
    );
}
