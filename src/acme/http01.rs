//! The plain HTTP listener of automatic HTTPS: HTTP-01 answers at
//! `/.well-known/acme-challenge/TOKEN`, and a `308` to `https://` (path and query kept) for
//! everything else.

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{header, Request, Response, StatusCode};

use super::Challenges;
use crate::body::Body;
use crate::serve::{ServeConfig, Server};

/// Where the plain listener redirects: one of the configured names (the request's when it is
/// one, so the redirect never names a host of the client's choosing), on the TLS port.
#[derive(Debug, Clone)]
pub struct Redirect {
    domains: Vec<String>,
    port: Option<u16>,
}

impl Redirect {
    /// Redirects to `domains` (at least one) on the port of `https_bind` (omitted when it is
    /// 443, or 0: chosen at start).
    pub fn new(domains: Vec<String>, https_bind: &str) -> Self {
        let port = https_bind
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .filter(|&port| port != 443 && port != 0);
        Redirect { domains, port }
    }

    /// The `308` for `req`: the same path and query on `https://`.
    fn answer(&self, req: &Request<Body>) -> Response<Body> {
        let asked = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(crate::syntax::host::split_host_port)
            .map(|(host, _)| host.to_ascii_lowercase());
        let host = self
            .domains
            .iter()
            .find(|d| asked.as_deref() == Some(d.to_ascii_lowercase().as_str()))
            .or(self.domains.first())
            .map_or("localhost", String::as_str);
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        Response::builder()
            .status(StatusCode::PERMANENT_REDIRECT)
            .header(header::LOCATION, format!("https://{host}{port}{target}"))
            .body(Body::empty())
            .unwrap_or_default()
    }
}

/// The answer to an HTTP-01 request for `path` (the key authorization of an order of this
/// process, or a `404`); `None` when `path` is not under `/.well-known/acme-challenge/`.
/// [`serve_plain`] also answers for the orders of replicas sharing a store.
pub fn challenge_answer(challenges: &Challenges, path: &str) -> Option<Response<Body>> {
    let token = path.strip_prefix(CHALLENGE_PATH)?;
    Some(respond(challenges.answer(token)))
}

const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// The key authorization, or a `404` without one.
fn respond(answer: Option<String>) -> Response<Body> {
    let answer = match answer {
        Some(answer) => Response::builder()
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(answer)),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("no such challenge\n")),
    };
    answer.unwrap_or_default()
}

/// Serves HTTP-01 answers and the redirect on `bind` for the life of the process; the
/// address it listens on.
///
/// # Errors
///
/// When `bind` cannot be bound (port 80 needs privileges or `CAP_NET_BIND_SERVICE`).
pub async fn serve_plain(
    bind: &str,
    challenges: Challenges,
    redirect: Redirect,
) -> std::io::Result<SocketAddr> {
    let listener = crate::serve::listen(bind).await?;
    let addr = listener.local_addr()?;
    let service = tower::service_fn(move |req: Request<Body>| {
        let (challenges, redirect) = (challenges.clone(), redirect.clone());
        async move {
            let answer = match req.uri().path().strip_prefix(CHALLENGE_PATH) {
                Some(token) => respond(challenges.find(token).await),
                None => redirect.answer(&req),
            };
            Ok::<_, Infallible>(answer)
        }
    });
    tokio::spawn(
        Server::new(service)
            .config(ServeConfig::bind(bind))
            .with_graceful_shutdown(std::future::pending())
            .serve(listener),
    );
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_path_and_query_and_never_a_foreign_host() {
        let redirect = Redirect::new(vec!["a.example".into(), "b.example".into()], "0.0.0.0:8443");
        let req = |host: &str| {
            Request::get("/x/y?z=1")
                .header("host", host)
                .body(Body::empty())
                .unwrap()
        };
        let location = |res: Response<Body>| {
            assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
            res.headers()[header::LOCATION].to_str().unwrap().to_owned()
        };
        assert_eq!(
            location(redirect.answer(&req("b.example"))),
            "https://b.example:8443/x/y?z=1"
        );
        assert_eq!(
            location(redirect.answer(&req("evil.example"))),
            "https://a.example:8443/x/y?z=1"
        );
        let on_443 = Redirect::new(vec!["a.example".into()], "[::]:443");
        assert_eq!(
            location(on_443.answer(&req("a.example"))),
            "https://a.example/x/y?z=1"
        );
    }

    #[tokio::test]
    async fn challenges_answer_only_their_tokens() {
        let challenges = Challenges::default();
        challenges.set("tok", Some("tok.thumb".into())).await;
        assert_eq!(challenges.find("tok").await.as_deref(), Some("tok.thumb"));
        assert_eq!(challenges.find("other").await, None);
        assert_eq!(
            challenge_answer(&challenges, "/.well-known/acme-challenge/tok")
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            challenge_answer(&challenges, "/.well-known/acme-challenge/other")
                .unwrap()
                .status(),
            404
        );
        assert!(challenge_answer(&challenges, "/index.html").is_none());
    }
}
