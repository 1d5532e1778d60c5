//! `tollgate users` as an operator runs it: add, set, remove, verify, list, with the password
//! piped on standard input; the file rewritten atomically with its comments and order kept;
//! an empty users file warns at start; a duplicate user is named by its lines.

mod support;

use std::path::Path;

use support::{start_failure, temp_dir, Launch};

/// `tollgate users ACTION FILE [USER]` with `password` on standard input.
async fn users(args: &[&str], file: &Path, password: &str) -> (bool, String) {
    let mut launch = Launch::tollgate(["users", args[0]]).arg(file);
    for a in &args[1..] {
        launch = launch.arg(a);
    }
    let out = launch.stdin(format!("{password}\n")).output().await;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn add_set_remove_verify_list() {
    let tmp = temp_dir();
    let file = tmp.path().join("users");
    std::fs::write(
        &file,
        "# the team\nzed:$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\n\n",
    )
    .unwrap();

    let (ok, out) = users(&["add", "ada"], &file, "first").await;
    assert!(ok, "{out}");
    let (ok, out) = users(&["add", "ada"], &file, "again").await;
    assert!(!ok, "add refuses an existing user: {out}");
    assert!(
        out.contains("already on line 4") && out.contains("tollgate users set"),
        "{out}"
    );

    let (ok, out) = users(&["verify", "ada"], &file, "first").await;
    assert!(ok, "{out}");
    let (ok, out) = users(&["verify", "ada"], &file, "wrong").await;
    assert!(!ok && out.contains("wrong password for ada"), "{out}");

    let (ok, out) = users(&["set", "ada"], &file, "second").await;
    assert!(ok, "{out}");
    assert!(users(&["verify", "ada"], &file, "second").await.0);
    assert!(!users(&["verify", "ada"], &file, "first").await.0);

    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# the team", "{text}");
    assert!(lines[1].starts_with("zed:"), "{text}");
    assert_eq!(lines[2], "", "{text}");
    assert!(lines[3].starts_with("ada:$argon2id$"), "{text}");
    assert_eq!(text.matches("ada:").count(), 1, "{text}");

    let (ok, out) = users(&["list"], &file, "").await;
    assert!(ok, "{out}");
    assert!(
        out.contains("line 2: zed: bcrypt") && out.contains("line 4: ada: argon2id"),
        "{out}"
    );
    assert!(!out.contains("$2y$"), "no hash listed: {out}");

    let (ok, out) = users(&["remove", "zed"], &file, "").await;
    assert!(ok, "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# the team\n\nada:"), "{text}");
    let (ok, out) = users(&["remove", "zed"], &file, "").await;
    assert!(!ok && out.contains("no user \"zed\""), "{out}");
    // No temporary file left beside it.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn an_empty_users_file_warns_and_a_duplicate_names_its_lines() {
    let tmp = temp_dir();
    let file = tmp.path().join("users");
    std::fs::write(&file, "# nobody yet\n").unwrap();
    let gw = support::Gateway::start(&["proxy", "--users", file.to_str().unwrap()]).await;
    let (_, log) = gw.terminate().await;
    assert!(log.contains("holds no users: nobody can log in"), "{log}");
    let config = tmp.path().join("gateway.toml");
    let toml = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n[auth]\nhtpasswd = {:?}\n[[routes]]\necho = true\n",
        file.to_str().unwrap()
    );
    std::fs::write(&config, toml).unwrap();
    let (ok, out) = support::run_to_end(&["check", config.to_str().unwrap()]).await;
    assert!(ok, "a warning, not an error: {out}");
    assert!(
        out.contains("gateway.toml:4:12: warning: [auth.htpasswd]"),
        "{out}"
    );
    assert!(out.contains("holds no users"), "{out}");

    let line = "ada:$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\n";
    std::fs::write(&file, format!("{line}# x\n{line}")).unwrap();
    let out = start_failure(&[
        "proxy",
        "--users",
        file.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ])
    .await;
    assert!(
        out.contains("line 3: user \"ada\" already defined on line 1"),
        "{out}"
    );
    assert!(out.contains("neither line wins"), "{out}");
}
