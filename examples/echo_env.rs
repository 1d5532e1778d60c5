//! Everything the server knows about a request, as a CGI/WSGI environment dump (text/plain).
//!
//! ```sh
//! cargo run --example echo_env   # then: curl 'http://127.0.0.1:8000/some/path?a=1&a=2'
//! ```

use std::fmt::Write;

use tollgate::{handler, serve, Request, Response};

/// Lists method, target, version, peer address, every header and every query pair.
pub async fn echo_env(req: Request) -> Response {
    let mut out = String::new();
    let mut line = |name: &str, value: &str| {
        let _ = writeln!(out, "{name} = {value}");
    };
    line("REQUEST_METHOD", req.method().as_str());
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    line("REQUEST_URI", target);
    line("SCRIPT_NAME", &req.script_name());
    line("PATH_INFO", &req.path());
    line("QUERY_STRING", req.query_string().unwrap_or(""));
    line("SERVER_PROTOCOL", &format!("{:?}", req.version()));
    if let Some(peer) = req.peer_addr() {
        line("REMOTE_ADDR", &peer.ip().to_string());
        line("REMOTE_PORT", &peer.port().to_string());
    }
    for (name, value) in req.headers() {
        // CGI's spelling: `User-Agent` becomes `HTTP_USER_AGENT`.
        let cgi = format!(
            "HTTP_{}",
            name.as_str().to_ascii_uppercase().replace('-', "_")
        );
        line(&cgi, &String::from_utf8_lossy(value.as_bytes()));
    }
    out.push_str("\nquery pairs:\n");
    match req.args() {
        Ok(args) => {
            for (key, value) in args.iter() {
                let _ = writeln!(out, "{key} = {value}");
            }
        }
        Err(e) => {
            let _ = writeln!(out, "(unreadable: {e})");
        }
    }
    Response::text(out)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    serve::bind(
        serve::bind_addr_from(
            std::env::args().skip(1),
            std::env::var("TOLLGATE_BIND").ok(),
        ),
        handler::from_fn(echo_env),
    )
    .await
}
