//! `TestClient` as a browser: redirects with their history, multipart bodies, a cookie store
//! that follows `Domain`, `Path` and `Secure`, a base URL and default headers.

use http::StatusCode;
use tollgate::form::FormLimits;
use tollgate::request::MultipartForm;
use tollgate::testing::TestClient;
use tollgate::{cookies::Cookie, handler, HttpError, Request, Response};

fn app() -> impl tower::Service<
    http::Request<tollgate::Body>,
    Response = http::Response<tollgate::Body>,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone {
    handler::from_fn(|mut req: Request| async move {
        let path = req.path().into_owned();
        let res = match path.as_str() {
            "/old" => Response::redirect(StatusCode::MOVED_PERMANENTLY, "new?from=old")?,
            "/new" => Response::text(format!(
                "{} {} {}",
                req.method(),
                req.url(),
                req.header("x-client").unwrap_or("-")
            )),
            "/submit" => Response::redirect(StatusCode::SEE_OTHER, "/new")?,
            "/keep" => Response::redirect(StatusCode::TEMPORARY_REDIRECT, "/echo-body")?,
            "/echo-body" => {
                let method = req.method().clone();
                Response::text(format!("{method} {}", req.text(1024).await?))
            }
            "/loop" => Response::redirect(StatusCode::FOUND, "/loop")?,
            "/login" => Response::text("in")
                .set_cookie(Cookie::build(("sid", "s 1")).path("/").build())
                .set_cookie(Cookie::build(("admin", "a")).path("/admin").build())
                .set_cookie(Cookie::build(("tls", "t")).secure(true).build())
                .set_cookie(Cookie::build(("wide", "w")).domain("example.com").build()),
            "/upload" => {
                let form = req.form_data(&FormLimits::default()).await?;
                let file = form
                    .files
                    .get_ref("doc")
                    .ok_or_else(|| HttpError::bad_request("no doc"))?;
                Response::text(format!(
                    "{} {} {}",
                    form.fields.get("title").unwrap_or("-"),
                    file.file_name(),
                    file.size()
                ))
            }
            _ => Response::text(req.header("cookie").unwrap_or("-").to_owned()),
        };
        Ok::<_, HttpError>(res)
    })
}

#[tokio::test]
async fn redirects_are_followed_with_their_history() {
    let client = TestClient::new(app()).follow_redirects(5);
    let res = client.get("/old").send().await;
    assert_eq!(res.status(), 200);
    let history: Vec<_> = res
        .history()
        .iter()
        .map(|r| (r.status.as_u16(), r.to.clone()))
        .collect();
    assert_eq!(history, [(301, "http://localhost/new?from=old".to_owned())]);
    assert_eq!(res.text().await, "GET http://localhost/new?from=old -");

    // 303 after a POST is a GET; 307 repeats the method and the body.
    let res = client.post("/submit").form(&[("a", "1")]).send().await;
    assert_eq!(res.text().await, "GET http://localhost/new -");
    let res = client.post("/keep").body("payload").await;
    assert_eq!(res.text().await, "POST payload");

    // The cap: the last redirect is the answer.
    let res = client.get("/loop").send().await;
    assert_eq!((res.status().as_u16(), res.history().len()), (302, 5));
    // Not asked: a redirect is an answer.
    let plain = TestClient::new(app()).get("/old").send().await;
    assert_eq!(plain.status(), 301);
}

#[tokio::test]
async fn multipart_bodies_carry_fields_and_files() {
    let client = TestClient::new(app());
    let form = MultipartForm::new().text("title", "Notes").file(
        "doc",
        "notes.txt",
        "text/plain",
        "0123456789",
    );
    let res = client.post("/upload").multipart(form).send().await;
    assert_eq!(res.text().await, "Notes notes.txt 10");
}

#[tokio::test]
async fn cookies_follow_path_domain_and_secure() {
    let client = TestClient::new(app())
        .keep_cookies()
        .base_url("http://app.example.com")
        .default_header("x-client", "tests");
    client.get("/login").send().await;
    // `tls` was refused (Secure over http); `admin` only goes under /admin.
    assert_eq!(
        client.get("/me").send().await.text().await,
        "sid=s%201; wide=w"
    );
    assert_eq!(
        client.get("/admin/x").send().await.text().await,
        "admin=a; sid=s%201; wide=w"
    );
    let res = client.get("/new").send().await;
    assert_eq!(res.text().await, "GET http://app.example.com/new tests");
}
