//! `[cache]` at the real gateway (`tollgate::serve` on a socket), in front of an upstream that
//! counts its requests: hits and misses, `Vary`, `no-store`, `Authorization` and `private`
//! with two users, revalidation, coalescing, `stale-if-error` with the upstream down, answers
//! too large to store, metrics, and `tollgate proxy --cache`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use http::{Request, Response};
use support::*;
use tollgate::config::{self, Config};
use tollgate::metrics::Metrics;

/// The upstream's answers, by path; every request counts, `/slow` waits for `release`.
struct Origin {
    up: Upstream,
    count: Arc<AtomicUsize>,
    release: Arc<tokio::sync::Semaphore>,
}

async fn origin() -> Origin {
    let count = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let (counter, gate) = (count.clone(), release.clone());
    let up = upstream(move |req: Request<hyper::body::Incoming>| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let gate = gate.clone();
        async move {
            if req.uri().path() == "/slow" {
                let _ = gate.acquire().await.map(|p| p.forget());
            }
            answer(&req, n)
        }
    })
    .await;
    Origin { up, count, release }
}

fn answer(req: &Request<hyper::body::Incoming>, n: usize) -> Response<UpBody> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map_or("", |v| v.to_str().unwrap())
            .to_owned()
    };
    let res = Response::builder().header("content-type", "text/plain");
    let (res, body) = match req.uri().path() {
        "/fresh" | "/slow" => (
            res.header("cache-control", "max-age=60"),
            format!("answer {n}"),
        ),
        "/vary" => (
            res.header("cache-control", "max-age=60")
                .header("vary", "accept-language"),
            format!("lang {} {n}", header("accept-language")),
        ),
        "/swr" => (
            res.header("cache-control", "max-age=0, stale-while-revalidate=600"),
            format!("answer {n}"),
        ),
        "/no-store" => (
            res.header("cache-control", "no-store"),
            format!("answer {n}"),
        ),
        "/cookie" => (
            res.header("cache-control", "max-age=60")
                .header("set-cookie", "s=1"),
            format!("answer {n}"),
        ),
        "/private" => (
            res.header("cache-control", "private, max-age=60"),
            format!("for {} {n}", header("x-forwarded-user")),
        ),
        "/public" => (
            res.header("cache-control", "public, max-age=60"),
            format!("for {} {n}", header("x-forwarded-user")),
        ),
        "/validated" if header("if-none-match").contains("\"v1\"") => {
            return Response::builder()
                .status(304)
                .header("etag", "\"v1\"")
                .header("cache-control", "max-age=0")
                .body(full(""))
                .unwrap();
        }
        "/validated" => (
            res.header("cache-control", "max-age=0")
                .header("etag", "\"v1\""),
            format!("answer {n}"),
        ),
        "/big" => (
            res.header("cache-control", "max-age=60"),
            "x".repeat(10_000),
        ),
        _ => (res.status(404), String::new()),
    };
    res.body(full(body)).unwrap()
}

/// The gateway with `[cache]` (and `extra` tables) in front of `up`.
async fn gateway_with(up: &Upstream, extra: &str, metrics: &Metrics) -> TestServer {
    let text = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[upstreams.app]\nservers = [\"{}\"]\n\n\
         [[routes]]\nupstream = \"app\"\n\n[cache]\nlock_timeout = \"30s\"\n{extra}\n",
        up.url()
    );
    let config: Config = config::load(&text).unwrap();
    start(tollgate::gateway::build(&config, metrics).await.unwrap()).await
}

fn status(res: &Fetched) -> &str {
    res.header("cache-status").unwrap_or("")
}

#[tokio::test]
async fn fresh_answers_are_served_from_the_cache() {
    let o = origin().await;
    let metrics = Metrics::new();
    let gw = gateway_with(&o.up, "", &metrics).await;
    let first = gw.get("/fresh", &[]).await;
    assert_eq!(status(&first), "tollgate; fwd=miss; stored");
    let second = gw.get("/fresh", &[]).await;
    assert_eq!(second.text(), "answer 1");
    assert!(
        status(&second).starts_with("tollgate; hit; ttl="),
        "{}",
        status(&second)
    );
    assert!(second.header("age").is_some());
    // HEAD and a conditional GET are answered from the stored answer too.
    let head = gw.send("HEAD", "/fresh", NO_HEADERS).await;
    assert_eq!((head.status.as_u16(), head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some("8"));
    let ranged = gw.get("/fresh", &[("range", "bytes=0-5")]).await;
    assert_eq!(
        (ranged.status.as_u16(), ranged.text().as_ref()),
        (206, "answer")
    );
    assert_eq!(o.count.load(Ordering::SeqCst), 1);
    let text = metrics.render();
    assert!(
        text.contains("tollgate_cache_total{outcome=\"hit\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("tollgate_cache_total{outcome=\"miss\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_successful_unsafe_request_forgets_its_url() {
    let o = origin().await;
    let gw = gateway_with(&o.up, "", &Metrics::new()).await;
    for lang in ["en", "fr"] {
        gw.get("/vary", &[("accept-language", lang)]).await;
    }
    gw.get("/fresh", &[]).await;
    let res = gw.send("POST", "/vary", NO_HEADERS).await;
    assert_eq!(status(&res), "tollgate; fwd=bypass");
    for lang in ["en", "fr"] {
        let res = gw.get("/vary", &[("accept-language", lang)]).await;
        assert_eq!(status(&res), "tollgate; fwd=miss; stored", "{lang}");
    }
    assert!(status(&gw.get("/fresh", &[]).await).contains("hit"));
    assert_eq!(o.count.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn vary_keeps_one_answer_per_header_value() {
    let o = origin().await;
    let gw = gateway_with(&o.up, "", &Metrics::new()).await;
    for _ in 0..2 {
        for lang in ["en", "fr"] {
            let res = gw.get("/vary", &[("accept-language", lang)]).await;
            assert!(
                res.text().starts_with(&format!("lang {lang} ")),
                "{}",
                res.text()
            );
        }
    }
    assert_eq!(o.count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn no_store_and_set_cookie_answers_are_not_kept() {
    let o = origin().await;
    let gw = gateway_with(&o.up, "", &Metrics::new()).await;
    for path in ["/no-store", "/no-store", "/cookie", "/cookie"] {
        let res = gw.get(path, &[]).await;
        assert!(
            status(&res).starts_with("tollgate; fwd=miss; detail="),
            "{path}: {}",
            status(&res)
        );
    }
    assert_eq!(o.count.load(Ordering::SeqCst), 4);
    let o = origin().await;
    let gw = gateway_with(&o.up, "store_set_cookie = true", &Metrics::new()).await;
    gw.get("/cookie", &[]).await;
    assert_eq!(
        gw.get("/cookie", &[]).await.header("set-cookie"),
        Some("s=1")
    );
    assert_eq!(o.count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn stale_answers_are_revalidated_and_refreshed_on_304() {
    let o = origin().await;
    let metrics = Metrics::new();
    let gw = gateway_with(&o.up, "", &metrics).await;
    assert_eq!(gw.get("/validated", &[]).await.text(), "answer 1");
    let res = gw.get("/validated", &[]).await;
    assert_eq!(
        res.text(),
        "answer 1",
        "the stored body, after the upstream's 304"
    );
    assert_eq!(status(&res), "tollgate; fwd=stale; fwd-status=304; stored");
    assert_eq!(res.header("etag"), Some("\"v1\""));
    let seen = o.up.seen();
    assert!(seen.is_empty() || seen.iter().all(|s| s.uri.path() == "/validated"));
    assert_eq!(o.count.load(Ordering::SeqCst), 2);
    // The client's own validator is answered by the gateway.
    let res = gw.get("/validated", &[("if-none-match", "\"v1\"")]).await;
    assert_eq!(res.status, 304);
    assert!(metrics
        .render()
        .contains("tollgate_cache_total{outcome=\"revalidated\"} 2"));
}

#[tokio::test]
async fn stale_while_revalidate_serves_at_once_and_refreshes_behind() {
    let o = origin().await;
    let gw = gateway_with(&o.up, "", &Metrics::new()).await;
    assert_eq!(gw.get("/swr", &[]).await.text(), "answer 1");
    let res = gw.get("/swr", &[]).await;
    assert_eq!(res.text(), "answer 1", "served stale, without waiting");
    assert_eq!(
        status(&res),
        "tollgate; hit; fwd=stale; detail=stale-while-revalidate"
    );
    // The background revalidation stores the upstream's next answer.
    assert!(eventually(async || gw.get("/swr", &[]).await.text() != "answer 1").await);
}

#[tokio::test]
async fn concurrent_misses_make_one_upstream_request() {
    let o = origin().await;
    let gw = Arc::new(gateway_with(&o.up, "", &Metrics::new()).await);
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move { gw.get("/slow", &[]).await })
        })
        .collect();
    assert!(eventually(async || o.count.load(Ordering::SeqCst) >= 1).await);
    o.release.add_permits(1);
    for request in requests {
        let res = request.await.unwrap();
        assert_eq!(res.text(), "answer 1");
    }
    assert_eq!(o.count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn answers_past_the_object_limit_stream_through_uncached() {
    let o = origin().await;
    let gw = gateway_with(&o.up, "max_object_size = \"1k\"", &Metrics::new()).await;
    for _ in 0..2 {
        let res = gw.get("/big", &[]).await;
        assert_eq!(res.body.len(), 10_000);
        assert_eq!(status(&res), "tollgate; fwd=miss; detail=too-large");
    }
    assert_eq!(o.count.load(Ordering::SeqCst), 2);
}

fn basic(user: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:secret"));
    format!("Basic {token}")
}

#[tokio::test]
async fn private_answers_are_never_shared_between_users() {
    let dir = temp_dir();
    let users = dir.path().join("users");
    let mut lines = htpasswd(&["-nbB", "-C", "5", "ada", "secret"]);
    lines.extend(htpasswd(&["-nbB", "-C", "5", "bob", "secret"]));
    std::fs::write(&users, lines).unwrap();
    let o = origin().await;
    let auth = format!("[auth]\nhtpasswd = \"{}\"\n", users.display());
    let text = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n{auth}\n[upstreams.app]\nservers = [\"{}\"]\n\n\
         [[routes]]\nupstream = \"app\"\n\n[cache]\n",
        o.up.url()
    );
    let config: Config = config::load(&text).unwrap();
    let gw = start(
        tollgate::gateway::build(&config, &Metrics::new())
            .await
            .unwrap(),
    )
    .await;
    let (ada, bob) = (basic("ada"), basic("bob"));
    let get = |path: &'static str, auth: String| {
        let gw = &gw;
        async move { gw.get(path, &[("authorization", auth.as_str())]).await }
    };
    // `private`: each user gets their own, every time.
    assert!(get("/private", ada.clone())
        .await
        .text()
        .starts_with("for ada"));
    assert!(get("/private", bob.clone())
        .await
        .text()
        .starts_with("for bob"));
    assert!(get("/private", ada.clone())
        .await
        .text()
        .starts_with("for ada"));
    assert_eq!(o.count.load(Ordering::SeqCst), 3);
    // A plain `max-age` answer to a request with `Authorization` is not stored (§3.5).
    get("/fresh", ada.clone()).await;
    get("/fresh", ada.clone()).await;
    assert_eq!(o.count.load(Ordering::SeqCst), 5);
    // `public` is shared, but only with requests that passed auth.
    assert!(get("/public", ada.clone())
        .await
        .text()
        .starts_with("for ada"));
    let res = get("/public", bob.clone()).await;
    assert!(status(&res).contains("hit"), "{}", status(&res));
    assert_eq!(gw.get("/public", &[]).await.status, 401);
    assert_eq!(o.count.load(Ordering::SeqCst), 6);
}

/// An upstream that can be stopped: one connection per request (no pooled connection
/// survives it), and the listener closed on `stop`.
async fn stoppable(cache_control: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| async move {
                    Ok::<_, std::convert::Infallible>(
                        Response::builder()
                            .header("cache-control", cache_control)
                            .body(full("kept"))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, task)
}

#[tokio::test]
async fn stale_if_error_serves_the_stored_answer_while_the_upstream_is_down() {
    let (url, task) = stoppable("max-age=0, stale-if-error=600").await;
    let text = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n[upstreams.app]\nservers = [\"{url}\"]\n\
         [[routes]]\nupstream = \"app\"\n[cache]\n"
    );
    let config: Config = config::load(&text).unwrap();
    let gw = start(
        tollgate::gateway::build(&config, &Metrics::new())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(gw.get("/", &[]).await.text(), "kept");
    task.abort();
    let _ = task.await;
    let res = gw.get("/", &[]).await;
    assert_eq!((res.status.as_u16(), res.text().as_ref()), (200, "kept"));
    assert_eq!(
        status(&res),
        "tollgate; hit; fwd=stale; fwd-status=502; detail=stale-if-error"
    );

    // Without `stale-if-error`, the failure is the answer.
    let (url, task) = stoppable("max-age=0").await;
    let text = text.replace(
        &text[text.find("http://").unwrap()..text.find("\"]").unwrap()],
        &url,
    );
    let config: Config = config::load(&text).unwrap();
    let gw = start(
        tollgate::gateway::build(&config, &Metrics::new())
            .await
            .unwrap(),
    )
    .await;
    gw.get("/", &[]).await;
    task.abort();
    let _ = task.await;
    assert_eq!(gw.get("/", &[]).await.status, 502);
}

#[tokio::test]
async fn tollgate_proxy_takes_cache() {
    let o = origin().await;
    let gw = Gateway::start(&["proxy", "--cache", "16M", "--upstream", &o.up.url()]).await;
    curl(&[&gw.url("/fresh")]).await;
    let res = curl(&[&gw.url("/fresh")]).await;
    assert!(res.header("cache-status").unwrap().contains("hit"));
    assert_eq!(o.count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_admin_listener_purges_by_url_and_prefix_and_counts() {
    let o = origin().await;
    let (listen, admin) = (dead_port(), dead_port());
    let dir = temp_dir();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        format!(
            "[[listen]]\nbind = \"{listen}\"\n[admin]\nbind = \"{admin}\"\n\
             [upstreams.app]\nservers = [\"{}\"]\n[[routes]]\nupstream = \"app\"\n[cache]\n",
            o.up.url()
        ),
    )
    .unwrap();
    let gw = Launch::tollgate(["run"]).arg(&file).serve().await;
    gw.wait_serving(admin).await;
    let public = |path: &str| format!("http://{listen}{path}");
    for path in ["/fresh", "/fresh?a", "/vary", "/fresh", "/fresh?a", "/vary"] {
        curl(&[&public(path)]).await;
    }
    assert_eq!(o.count.load(Ordering::SeqCst), 3);

    let purge = |query: String| {
        let url = format!("http://{admin}/cache/purge?{query}");
        async move { curl(&["-X", "POST", &url]).await }
    };
    let res = purge(format!("url=http://{listen}/fresh")).await;
    assert_eq!(res.json()["purged"], 1, "{}", res.text());
    curl(&[&public("/fresh")]).await;
    curl(&[&public("/fresh?a")]).await;
    assert_eq!(
        o.count.load(Ordering::SeqCst),
        4,
        "only /fresh was forgotten"
    );

    let res = purge(format!("prefix=http://{listen}/")).await;
    assert_eq!(res.json()["purged"], 3, "{}", res.text());
    let res = curl(&[&format!("http://{admin}/cache/purge")]).await;
    assert_eq!(res.status, 405);
    let res = curl(&["-X", "POST", &format!("http://{admin}/cache/purge")]).await;
    assert_eq!(res.status, 400);

    let metrics = curl(&[&format!("http://{admin}/metrics")])
        .await
        .text()
        .into_owned();
    for line in [
        "tollgate_cache_total{outcome=\"hit\"} 4",
        "tollgate_cache_total{outcome=\"miss\"} 4",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}
