//! Parsers of flag values shared by the subcommands: each says what it expected.

/// A listening address: `HOST:PORT` (`127.0.0.1:8080`, `localhost:8080`, `[::1]:8080`),
/// `:PORT` for every interface (as Go and Caddy read it: `0.0.0.0:PORT`), or a bare `PORT` on
/// the loopback interface (`127.0.0.1:PORT`, the safe default's host).
pub fn bind_addr(text: &str) -> Result<String, String> {
    let expected = || {
        format!(
            "expected HOST:PORT, :PORT (every interface) or PORT (127.0.0.1), e.g. \
             127.0.0.1:8080, :8080, 8080; got {text:?}"
        )
    };
    let port = |digits: &str| {
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<u16>().ok())
            .flatten()
    };
    if let Some(p) = port(text) {
        return Ok(format!("127.0.0.1:{p}"));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text} is not a port: ports go from 0 to 65535"));
    }
    if let Some(p) = text.strip_prefix(':').and_then(port) {
        return Ok(format!("0.0.0.0:{p}"));
    }
    match tollgate::syntax::host::split_host_port(text) {
        Some((_, Some(_))) => Ok(text.to_owned()),
        Some((host, None)) => Err(format!(
            "{text:?} has no port: write {host}:PORT, e.g. {host}:8080"
        )),
        None => Err(expected()),
    }
}

#[cfg(test)]
mod tests {
    use super::bind_addr;

    #[test]
    fn bind_addresses() {
        for (given, bound) in [
            ("8080", "127.0.0.1:8080"),
            (":8080", "0.0.0.0:8080"),
            ("localhost:8080", "localhost:8080"),
            ("0.0.0.0:9", "0.0.0.0:9"),
            ("[::1]:8080", "[::1]:8080"),
        ] {
            assert_eq!(bind_addr(given).as_deref(), Ok(bound), "{given}");
        }
        assert!(bind_addr("99999").unwrap_err().contains("not a port"));
        for bad in ["", "http://x:80", ":x", "a b:80", "::1:80"] {
            let e = bind_addr(bad).unwrap_err();
            assert!(e.contains("expected HOST:PORT"), "{bad}: {e}");
        }
        assert!(bind_addr("localhost").unwrap_err().contains("has no port"));
    }
}
