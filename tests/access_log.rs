//! The access log, alone in its test binary: `tracing`'s per-callsite interest cache is
//! process-wide, so a scoped subscriber only sees every event when no other test races it.

mod support;

use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};

use http::StatusCode;
use support::start;
use tollgate::Body;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn one_line_per_request_without_credentials() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // A current-thread runtime: the server's tasks log on this thread, to this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = start(tower::service_fn(|_req: http::Request<Body>| async {
        let mut res = http::Response::new(Body::from("private page"));
        // As the rewrite layer's request-id rule leaves it.
        res.extensions_mut()
            .insert(tollgate::ext::RequestId(Arc::from("req-42")));
        Ok::<_, Infallible>(res)
    }))
    .await;
    let req = http::Request::get(server.url("/private?page=2"))
        .header("authorization", "Basic c2VjcmV0OnNlY3JldA==")
        .body(Body::empty())
        .unwrap();
    let res = support::fetch(req).await;
    assert_eq!(res.status, StatusCode::OK);
    server.shutdown().await.unwrap();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("tollgate::access"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let line = lines[0];
    assert!(line.contains("GET /private?page=2 200"), "{line}");
    assert!(line.contains("duration_ms="), "{line}");
    assert!(line.contains("request_id=\"req-42\""), "{line}");
    assert!(
        line.contains(&format!("bytes={}", res.body.len())),
        "{line}"
    );
    assert!(!log.contains("c2VjcmV0"), "no credential in the log: {log}");
    assert!(log.contains("Serving on http://127.0.0.1:"), "{log}");
}
