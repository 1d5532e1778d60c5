//! `curl` as a user runs it (`.ci/run` installs it), read into a [`Fetched`].

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::{Fetched, TEST_TIMEOUT};

/// Runs `curl -sS --max-time T -D /dev/stderr ARGS...` (headers to standard error, the body
/// to standard output; `T` is [`TEST_TIMEOUT`], a later `--max-time` in `args` wins) and
/// returns the last answer's status and headers, and the body. After redirects (`-L`) or
/// `100 Continue`, the body is the last answer's too; with `-i` it also holds every head.
///
/// # Panics
///
/// When curl is missing (`apt-get install curl`; `.ci/run` does it) or fails (the message
/// shows its standard error).
pub async fn curl(args: &[&str]) -> Fetched {
    let output = run(&["-D", "/dev/stderr"], args).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}\n{stderr}",
        output.status
    );
    // After redirects or `100 Continue` there are several header blocks: the last one counts.
    let block = stderr
        .rsplit_once("\r\n\r\n")
        .map(|(head, _)| head)
        .unwrap_or(&stderr);
    let block = block
        .rfind("HTTP/")
        .map(|i| &block[i..])
        .unwrap_or_else(|| panic!("curl {args:?} printed no status line: {stderr}"));
    let mut lines = block.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = http::HeaderName::from_bytes(name.trim().as_bytes()).expect("a header name");
            let value = http::HeaderValue::from_str(value.trim()).expect("a header value");
            headers.append(name, value);
        }
    }
    Fetched {
        status,
        headers,
        body: Bytes::from(output.stdout),
    }
}

/// Runs `curl -sS ARGS...` expecting it to fail (a refused TLS handshake, a connection
/// closed) and returns its standard error, which says why.
///
/// # Panics
///
/// When curl succeeds.
pub async fn curl_error(args: &[&str]) -> String {
    let output = run(&["-o", "/dev/null"], args).await;
    assert!(
        !output.status.success(),
        "curl {args:?} was expected to fail"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `curl -sS --max-time T FIRST... ARGS...`, run to its end.
async fn run(first: &[&str], args: &[&str]) -> std::process::Output {
    let max_time = TEST_TIMEOUT.as_secs().to_string();
    tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", &max_time])
        .args(first)
        .args(args)
        .output()
        .await
        .expect("curl runs (apt-get install curl; .ci/run does it)")
}
