//! API tokens through the real `tollgate` binary: `tollgate token` output, Bearer and a
//! configured header, Basic at the same time, expiry, the user they map to (authorization,
//! the upstream, the access log).

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// Runs `tollgate token ARGS`: the tokens-file line (stdout) and the token (stderr).
async fn make_token(args: &[&str]) -> (String, String) {
    let mut all = vec!["token"];
    all.extend(args);
    let out = Launch::tollgate(&all).output().await;
    assert!(out.status.success(), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let token = stderr
        .split_whitespace()
        .find(|w| w.starts_with("tg_"))
        .unwrap_or_else(|| panic!("no token in {stderr}"))
        .to_owned();
    (line, token)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn with(gw: &Gateway, path: &str, header: &str) -> Fetched {
    curl(&["-i", "-H", header, &gw.url(path)]).await
}

#[tokio::test]
async fn the_line_holds_a_keyed_hash_and_the_token_is_shown_once() {
    let (line, token) = make_token(&["ci-bot"]).await;
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with("ci-bot:tg1:"), "{line}");
    // 192 random bits of secret after the prefix and the id, URL-safe.
    let secret = &token["tg_".len() + 11..];
    assert_eq!(secret.len(), 32);
    assert!(token[3..]
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert!(!line.contains(secret), "the line holds the secret: {line}");
    let (other, _) = make_token(&["ci-bot"]).await;
    assert_ne!(line, other);
    let (expiring, _) = make_token(&["ci-bot", "--expires-in", "90d"]).await;
    assert!(expiring.trim_end().ends_with('Z'), "{expiring}");
    let (ok, out) = run_to_end(&["token", "a:b"]).await;
    assert!(!ok && out.contains("without `:`"), "{out}");
}

#[tokio::test]
async fn bearer_and_basic_at_once() {
    let dir = temp_dir();
    let (line, token) = make_token(&["ci-bot"]).await;
    let (expired, old) = make_token(&["old-bot", "--expires-in", "0s"]).await;
    let tokens = write(dir.path(), "tokens", &format!("{line}{expired}"));
    let users = htpasswd_file(dir.path(), "alice", "wonderland");
    let gw = Gateway::start(&[
        "--log-format",
        "json",
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--tokens",
        tokens.to_str().unwrap(),
        "--token-header",
        "X-API-Key",
        "--allow",
        "ci-bot",
        "--allow",
        "alice",
    ])
    .await;

    let bearer = format!("Authorization: Bearer {token}");
    let res = with(&gw, "/by-bearer", &bearer).await;
    assert_eq!(res.status, 200, "{res:?}");
    let echo: serde_json::Value =
        serde_json::from_str(&res.text()[res.text().find('{').unwrap()..]).unwrap();
    // The echo behind `tollgate proxy` is a real upstream: it learns the user from the user
    // header.
    let headers = echo["headers"].to_string().to_ascii_lowercase();
    assert!(
        headers.contains(r#"["x-forwarded-user","ci-bot"]"#),
        "{headers}"
    );
    assert!(!headers.contains("authorization") && !headers.contains(&token.to_ascii_lowercase()));

    let key = format!("X-API-Key: {token}");
    assert_eq!(with(&gw, "/by-header", &key).await.status, 200);
    // Basic still works beside tokens.
    let basic = curl(&["-u", "alice:wonderland", &gw.url("/basic")]).await;
    assert_eq!(basic.status, 200);

    let mut wrong = token.clone();
    let last = if wrong.ends_with('A') { "B" } else { "A" };
    wrong.replace_range(wrong.len() - 1.., last);
    for header in [
        format!("Authorization: Bearer {wrong}"),
        format!("Authorization: Bearer {old}"),
        "Authorization: Bearer not-a-token".to_owned(),
        format!("X-API-Key: {wrong}"),
    ] {
        let res = with(&gw, "/refused", &header).await;
        assert_eq!(res.status, 401, "{header}");
        let text = res.text().to_ascii_lowercase();
        assert!(
            text.contains("www-authenticate: basic realm=\"tollgate\""),
            "{text}"
        );
        assert!(
            text.contains("www-authenticate: bearer realm=\"tollgate\""),
            "{text}"
        );
    }

    gw.wait_for_log("/by-header", 1).await;
    let log = gw.log();
    assert!(!log.contains(&token[3..]), "a token was logged: {log}");
    assert!(log.contains("expired token"), "{log}");
    let access = log
        .lines()
        .find(|l| l.contains("\"target\":\"/by-bearer\""))
        .unwrap_or_else(|| panic!("no access line: {log}"));
    assert!(access.contains("\"user\":\"ci-bot\""), "{access}");
    assert!(
        access.contains("\"access\":\"allow user ci-bot\""),
        "{access}"
    );
}

#[tokio::test]
async fn tokens_alone_challenge_bearer_only_and_reload() {
    let dir = temp_dir();
    let (first, token) = make_token(&["bot"]).await;
    let tokens = write(dir.path(), "tokens", &first);
    let toml = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n[auth]\ntokens = \"{}\"\nreload_interval = \"100ms\"\n\
         [[routes]]\necho = true\n",
        tokens.display()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
    let res = curl(&["-i", &gw.url("/")]).await;
    assert_eq!(res.status, 401);
    let text = res.text().to_ascii_lowercase();
    assert!(
        text.contains("www-authenticate: bearer realm=\"restricted\""),
        "{text}"
    );
    assert!(!text.contains("basic"), "{text}");
    let bearer = format!("Authorization: Bearer {token}");
    assert_eq!(with(&gw, "/", &bearer).await.status, 200);

    // A line added later is picked up without a restart; a removed one is refused.
    let (second, newer) = make_token(&["bot2"]).await;
    std::fs::write(&tokens, &second).unwrap();
    let newer = format!("Authorization: Bearer {newer}");
    let reloaded = eventually(async || with(&gw, "/", &newer).await.status == 200).await;
    assert!(reloaded, "the new token was not accepted");
    assert_eq!(with(&gw, "/", &bearer).await.status, 401);
}
