//! `files::send_file` through `serve`: one file answered as `ServeDir` answers it, with
//! conditional and ranged requests and a `Content-Disposition` for downloads.

mod support;

use support::*;
use tollgate::{files::send_file, handler, HttpError, Request, Response};

#[tokio::test]
async fn send_file_answers_conditional_and_ranged_requests() {
    let dir = temp_dir();
    let path = dir.path().join("report 1.txt");
    std::fs::write(&path, "0123456789").unwrap();
    let server = start(handler::from_fn(move |req: Request| {
        let path = path.clone();
        async move {
            let res = send_file(&req, &path).await?;
            Ok::<Response, HttpError>(res.attachment("rapport été.txt"))
        }
    }))
    .await;
    let whole = server.get("/anything", NO_HEADERS).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.text(), "0123456789");
    assert_eq!(
        whole.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(whole
        .header("content-disposition")
        .unwrap()
        .contains("filename*=UTF-8''rapport%20%C3%A9t%C3%A9.txt"));
    let etag = whole.header("etag").unwrap().to_owned();
    let cached = server.get("/", &[("if-none-match", etag.as_str())]).await;
    assert_eq!(cached.status, 304);
    let part = server.get("/", &[("range", "bytes=2-4")]).await;
    assert_eq!((part.status.as_u16(), part.text().as_ref()), (206, "234"));
    assert_eq!(part.header("content-range"), Some("bytes 2-4/10"));
}

#[tokio::test]
async fn a_missing_file_is_a_404() {
    let dir = temp_dir();
    let path = dir.path().join("gone.txt");
    let server = start(handler::from_fn(move |req: Request| {
        let path = path.clone();
        async move { send_file(&req, &path).await }
    }))
    .await;
    assert_eq!(server.get("/", NO_HEADERS).await.status, 404);
}
