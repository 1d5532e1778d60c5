//! Experiment (not committed): the leanest hyper proxy, to compare CPU per request.
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;

fn main() {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap();
    let up: String = args.next().unwrap();
    let std_listener = std::net::TcpListener::bind(&bind).unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let mode = std::env::var("BARE_RT").unwrap_or_default();
    if let Some(n) = mode.strip_prefix("current-") {
        let n: usize = n.parse().unwrap();
        let mut threads = Vec::new();
        for _ in 0..n {
            let l = std_listener.try_clone().unwrap();
            let up = up.clone();
            threads.push(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(amain(l, up));
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
    } else {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(amain(std_listener, up));
    }
}

async fn amain(l: std::net::TcpListener, up: String) {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<HttpConnector, tollgate::Body> =
        Client::builder(TokioExecutor::new()).build(http);
    let listener = tokio::net::TcpListener::from_std(l).unwrap();
    loop {
        let (s, _) = listener.accept().await.unwrap();
        let _ = s.set_nodelay(true);
        let client = client.clone();
        let up = up.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let client = client.clone();
                    let uri: http::Uri = format!("{}{}", up, req.uri().path()).parse().unwrap();
                    async move {
                        let (mut parts, body) = req.into_parts();
                        parts.uri = uri;
                        parts.headers.remove(http::header::HOST);
                        let res = client
                            .request(http::Request::from_parts(parts, tollgate::Body::new(body)))
                            .await;
                        Ok::<_, Infallible>(match res {
                            Ok(res) => res.map(|b| b.boxed()),
                            Err(_) => http::Response::new(
                                http_body_util::Empty::new().map_err(|e| match e {}).boxed(),
                            ),
                        })
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(s), svc)
                .await;
        });
    }
}
