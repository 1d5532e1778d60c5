//! A real server on 127.0.0.1:0 and real clients (curl, hyper) for the auth tests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Command;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tollgate::auth::BasicAuthLayer;
use tollgate::ext::AuthenticatedUser;
use tollgate::serve::{self, Server};
use tollgate::Body;
use tower::Layer;

/// What the protected service saw: the user from extensions and a few headers, as JSON.
pub async fn echo(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let user = req
        .extensions()
        .get::<AuthenticatedUser>()
        .map(|u| u.name().to_owned());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let body = serde_json::json!({
        "user": user,
        "authorization": header("authorization"),
        "x_forwarded_user": header("x-forwarded-user"),
    });
    Ok(Response::new(Body::from(body.to_string())))
}

/// Serves `layer` around [`echo`] with `tollgate::serve` on 127.0.0.1:0, until the test's
/// runtime ends.
pub async fn start(layer: BasicAuthLayer) -> SocketAddr {
    let listener = serve::listen("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = layer.layer(tower::service_fn(echo));
    tokio::spawn(
        Server::new(svc)
            .with_graceful_shutdown(std::future::pending())
            .serve(listener),
    );
    addr
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn challenge(&self) -> Option<&str> {
        self.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
    }
}

/// A plain hyper client request with the given headers.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &[u8])]) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::get(path).header("host", addr.to_string());
    for (name, value) in headers {
        req = req.header(*name, http::HeaderValue::from_bytes(value).unwrap());
    }
    let req = req.body(Full::new(Bytes::new())).unwrap();
    sender.ready().await.unwrap();
    let res = sender.send_request(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// `curl -s -u USER:PASS URL`, returning (status, body).
pub async fn curl(addr: SocketAddr, path: &str, user_pass: Option<&str>) -> (u16, String) {
    let url = format!("http://{addr}{path}");
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["-s", "-m", "30", "-w", "\n%{http_code}"]);
    if let Some(up) = user_pass {
        cmd.args(["-u", up]);
    }
    let out = cmd.arg(&url).output().await.expect("curl is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Runs Apache's `htpasswd` with `args`, panicking with its output when it fails.
pub fn htpasswd(args: &[&str]) {
    let out = Command::new("htpasswd")
        .args(args)
        .output()
        .expect("htpasswd is installed (Debian: apache2-utils)");
    assert!(
        out.status.success(),
        "htpasswd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A temp dir that removes itself.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-auth-{name}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn file(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

/// Waits until `f` is true, at most `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}
