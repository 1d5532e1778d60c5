//! `files::ServeDir` over TCP: curl and a Rust client, ranges, conditionals, listings with
//! hostile names, traversal attempts, precompressed siblings.

mod files_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use files_support::{curl, get, raw_body, raw_get, raw_header, request, spawn};
use tollgate::files::{FileIo, ServeDir, CHUNK_SIZE, SMALL_FILE};

const SECRET: &str = "TOP-SECRET-7f3a9c";

/// `tmp/secret.txt` (outside the root) and `tmp/root/` with a few files.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    secret: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("sub/deeper")).expect("mkdir");
    std::fs::create_dir_all(root.join("with index")).expect("mkdir");
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, SECRET).expect("secret");
    std::fs::write(root.join("hello.txt"), "hello world\n").expect("write");
    let data: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(root.join("alphabet.txt"), &data).expect("write");
    std::fs::write(root.join("sub/page.html"), "<p>page</p>").expect("write");
    std::fs::write(root.join("with index/index.html"), "<h1>index</h1>").expect("write");
    std::fs::write(root.join(".hidden"), SECRET).expect("write");
    std::fs::write(root.join("empty.txt"), "").expect("write");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&secret, root.join("link-to-secret")).expect("symlink");
        std::os::unix::fs::symlink(tmp.path(), root.join("escape")).expect("symlink");
        std::os::unix::fs::symlink(root.join("hello.txt"), root.join("inner-link.txt"))
            .expect("symlink");
    }
    Fixture {
        _tmp: tmp,
        root,
        secret,
    }
}

async fn server(root: &Path) -> SocketAddr {
    spawn(ServeDir::new(root).listing(true)).await
}

fn alphabet(range: std::ops::RangeInclusive<usize>) -> String {
    range.map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

#[tokio::test]
async fn serves_a_file_with_validators() {
    let f = fixture();
    let addr = server(&f.root).await;
    let res = get(addr, "/hello.txt", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "hello world\n");
    assert_eq!(res.header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(res.header("content-length"), "12");
    assert_eq!(res.header("accept-ranges"), "bytes");
    assert!(res.header("etag").starts_with('"'));
    assert!(res.header("last-modified").ends_with("GMT"));
    let empty = get(addr, "/empty.txt", &[("range", "bytes=0-5")]).await;
    assert_eq!((empty.status.as_u16(), empty.body.len()), (200, 0));
}

#[tokio::test]
async fn head_has_get_headers_and_no_body() {
    let f = fixture();
    let addr = server(&f.root).await;
    let res = request(addr, "HEAD", "/alphabet.txt", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-length"), "1000");
    assert!(res.body.is_empty());
    let (status, raw) = curl(vec!["-I".into(), format!("http://{addr}/alphabet.txt")]).await;
    assert_eq!(status, 200);
    assert_eq!(raw_header(&raw, "content-length"), Some("1000"));
}

#[tokio::test]
async fn curl_single_range() {
    let f = fixture();
    let addr = server(&f.root).await;
    let (status, raw) = curl(vec![
        "-r".into(),
        "0-99".into(),
        format!("http://{addr}/alphabet.txt"),
    ])
    .await;
    assert_eq!(status, 206, "{raw}");
    assert_eq!(raw_header(&raw, "content-range"), Some("bytes 0-99/1000"));
    assert_eq!(raw_body(&raw), alphabet(0..=99));
}

#[tokio::test]
async fn curl_two_ranges_are_multipart() {
    let f = fixture();
    let addr = server(&f.root).await;
    let (status, raw) = curl(vec![
        "-r".into(),
        "0-9,20-29".into(),
        format!("http://{addr}/alphabet.txt"),
    ])
    .await;
    assert_eq!(status, 206, "{raw}");
    let ct = raw_header(&raw, "content-type").expect("content-type");
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart");
    let body = raw_body(&raw);
    assert_eq!(
        body,
        format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-9/1000\r\n\r\n{}\
             \r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 20-29/1000\r\n\r\n{}\
             \r\n--{boundary}--\r\n",
            alphabet(0..=9),
            alphabet(20..=29)
        )
    );
    assert_eq!(
        raw_header(&raw, "content-length"),
        Some(body.len().to_string().as_str())
    );
}

#[tokio::test]
async fn unsatisfiable_range_is_416() {
    let f = fixture();
    let addr = server(&f.root).await;
    let res = get(addr, "/alphabet.txt", &[("range", "bytes=1000-")]).await;
    assert_eq!(res.status, 416);
    assert_eq!(res.header("content-range"), "bytes */1000");
}

#[tokio::test]
async fn ten_thousand_ranges_are_answered_cheaply() {
    let f = fixture();
    let addr = server(&f.root).await;
    let header = format!(
        "bytes={}",
        (0..10_000)
            .map(|i| format!("{i}-{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let started = Instant::now();
    let res = get(addr, "/alphabet.txt", &[("range", &header)]).await;
    // Ignored past the cap: the whole file, once, not a 10 000-part answer.
    assert_eq!(res.status, 200);
    assert_eq!(res.body.len(), 1000);
    eprintln!("10 000 ranges answered in {:?}", started.elapsed());
    // Overlapping ranges under the cap are merged into one.
    let res = get(
        addr,
        "/alphabet.txt",
        &[("range", "bytes=0-50,10-20,40-99,100-199")],
    )
    .await;
    assert_eq!(res.status, 206);
    assert_eq!(res.header("content-range"), "bytes 0-199/1000");
}

#[tokio::test]
async fn curl_if_modified_since() {
    let f = fixture();
    let addr = server(&f.root).await;
    let url = format!("http://{addr}/hello.txt");
    // `-z FILE` sends the file's mtime as If-Modified-Since.
    let (status, raw) = curl(vec![
        "-z".into(),
        f.root.join("hello.txt").display().to_string(),
        url.clone(),
    ])
    .await;
    assert_eq!(status, 304, "{raw}");
    assert!(raw_header(&raw, "etag").is_some());
    assert_eq!(raw_body(&raw), "");
    let (status, _) = curl(vec!["-z".into(), "1 Jan 2000".into(), url.clone()]).await;
    assert_eq!(status, 200);
    // `-z -DATE`: If-Unmodified-Since.
    let (status, _) = curl(vec!["-z".into(), "-1 Jan 2000".into(), url]).await;
    assert_eq!(status, 412);
}

#[tokio::test]
async fn if_none_match_round_trip() {
    let f = fixture();
    let addr = server(&f.root).await;
    let first = get(addr, "/hello.txt", &[]).await;
    let etag = first.header("etag").to_owned();
    let again = get(addr, "/hello.txt", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), etag);
    assert!(again.body.is_empty());
    let weak = format!("W/{etag}");
    let (status, _) = curl(vec![
        "-H".into(),
        format!("If-None-Match: {weak}"),
        format!("http://{addr}/hello.txt"),
    ])
    .await;
    assert_eq!(status, 304);
    // A changed file gets a new tag.
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(f.root.join("hello.txt"), "changed!\n").expect("write");
    let changed = get(addr, "/hello.txt", &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.text(), "changed!\n");
    // If-Range with the old tag: the whole new file, not a stale range.
    let res = get(
        addr,
        "/hello.txt",
        &[("range", "bytes=0-1"), ("if-range", &etag)],
    )
    .await;
    assert_eq!(
        (res.status.as_u16(), res.text().as_str()),
        (200, "changed!\n")
    );
}

#[tokio::test]
async fn directories_redirect_index_and_list() {
    let f = fixture();
    let addr = server(&f.root).await;
    let res = get(addr, "/sub?x=1", &[]).await;
    assert_eq!(res.status, 308);
    assert_eq!(res.header("location"), "./sub/?x=1");
    let res = get(addr, "/with%20index/", &[]).await;
    assert_eq!(res.text(), "<h1>index</h1>");
    assert_eq!(res.header("content-type"), "text/html; charset=utf-8");
    let res = get(addr, "/sub/", &[]).await;
    assert_eq!(res.status, 200);
    assert!(res.text().contains("href=\"./page.html\""));
    assert!(res.text().contains("href=\"./deeper/\""));
    assert!(res.text().contains("href=\"../\""));
    // Listing off: 404.
    let quiet = spawn(ServeDir::new(&f.root)).await;
    assert_eq!(get(quiet, "/sub/", &[]).await.status, 404);
    // A file name with a trailing slash is not a directory.
    assert_eq!(get(addr, "/hello.txt/", &[]).await.status, 404);
    // curl follows the redirect to the listing.
    let (status, raw) = curl(vec!["-L".into(), format!("http://{addr}/sub")]).await;
    assert_eq!(status, 308);
    assert!(raw.contains("HTTP/1.1 200"), "{raw}");
}

#[tokio::test]
async fn hidden_files_and_methods() {
    let f = fixture();
    let addr = server(&f.root).await;
    let res = get(addr, "/.hidden", &[]).await;
    assert_eq!(res.status, 404);
    assert!(!res.text().contains(SECRET));
    let listing = get(addr, "/", &[]).await.text();
    assert!(!listing.contains(".hidden"));
    let open = spawn(ServeDir::new(&f.root).hidden(true)).await;
    assert_eq!(get(open, "/.hidden", &[]).await.text(), SECRET);
    let res = request(addr, "POST", "/hello.txt", &[]).await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), "GET, HEAD");
}

#[tokio::test]
async fn listing_escapes_hostile_names_and_links_work() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let names = [
        "<script>alert(1)<.txt",
        "<img src=x onerror=alert(1)>.txt",
        "quote\"d.txt",
        "it's.txt",
        "with space.txt",
        "ünïcødé фото 🦀.txt",
        "100%.txt",
        "%41%2e%2e.txt",
        "what?.txt",
        "hash#tag.txt",
        "amp&amp;.txt",
        "javascript:alert(1)",
        "plus+semi;colon=eq.txt",
    ];
    for (i, name) in names.iter().enumerate() {
        std::fs::write(tmp.path().join(name), format!("file {i}")).expect("write");
    }
    std::fs::create_dir(tmp.path().join("<b>dir<i>")).expect("mkdir");
    std::fs::write(tmp.path().join("<b>dir<i>/inner.txt"), "inner").expect("write");
    let addr = spawn(ServeDir::new(tmp.path()).listing(true)).await;
    let page = get(addr, "/", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(page
        .header("content-security-policy")
        .contains("default-src 'none'"));
    let html = page.text();
    assert!(!html.contains("<script>"), "raw script tag in listing");
    assert!(!html.contains("<b>dir"), "raw tag in listing");
    assert!(!html.contains("<img"), "raw img tag in listing");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;.txt"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.txt"));
    assert!(html.contains("ünïcødé фото 🦀.txt"));
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.starts_with("./") && *h != "./")
        .collect();
    assert_eq!(hrefs.len(), names.len() + 1, "{hrefs:?}");
    for (i, name) in names.iter().enumerate() {
        let href = hrefs
            .iter()
            .find(|h| percent_encoding::percent_decode_str(&h[2..]).decode_utf8_lossy() == *name)
            .unwrap_or_else(|| panic!("no link for {name}"));
        let res = get(addr, &format!("/{}", &href[2..]), &[]).await;
        assert_eq!(res.status, 200, "{name} via {href}");
        assert_eq!(res.text(), format!("file {i}"), "{name} via {href}");
    }
    let dir = hrefs.iter().find(|h| h.ends_with('/')).expect("dir link");
    let res = get(addr, &format!("/{}inner.txt", &dir[2..]), &[]).await;
    assert_eq!(res.text(), "inner");
}

#[tokio::test]
async fn traversal_attempts_stay_inside_the_root() {
    let f = fixture();
    let addr = server(&f.root).await;
    let secret_abs = f.secret.display().to_string();
    let secret_rel = secret_abs.trim_start_matches('/').to_owned();
    let mut attempts: Vec<Vec<u8>> = [
        "/../secret.txt",
        "/../../secret.txt",
        "/./../secret.txt",
        "/sub/../../secret.txt",
        "/sub/deeper/../../../secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "/..%5Csecret.txt",
        "/sub\\..\\..\\secret.txt",
        "/%5c..%5c..%5csecret.txt",
        "/%2e%2e%5csecret.txt",
        "/..%00/secret.txt",
        "/hello.txt%00.png",
        "/%00",
        "/c:/windows/win.ini",
        "/c%3A/windows/win.ini",
        "/C%3a%5cwindows%5cwin.ini",
        "/x/c:/windows/win.ini",
        "/x/c%3A/../../secret.txt",
        "/%252e%252e/secret.txt",
        "/..%252fsecret.txt",
        "/..;/secret.txt",
        "/.../secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/%u002e%u002e/secret.txt",
        "/link-to-secret",
        "/escape/secret.txt",
        "/escape/root/../secret.txt",
        "/..",
        "/%2e%2e",
        "/.hidden",
        "/sub/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/../../../../../../../../etc/passwd",
        "http://localhost/../secret.txt",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    attempts.push(format!("/{secret_abs}").into_bytes());
    attempts.push(format!("/%2f{secret_rel}").into_bytes());
    attempts.push(format!("/{}", secret_rel.replace('/', "%2f")).into_bytes());
    attempts.push(b"/\x00/secret.txt".to_vec());
    attempts.push(b"/..\r\n/secret.txt".to_vec());
    assert!(attempts.len() >= 30);
    // Both places the file system calls can run in.
    let in_place = spawn(
        ServeDir::new(&f.root)
            .listing(true)
            .file_io(FileIo::InPlace),
    )
    .await;
    for addr in [addr, in_place] {
        for target in &attempts {
            let shown = String::from_utf8_lossy(target);
            let (status, raw) = raw_get(addr, target).await;
            let raw = String::from_utf8_lossy(&raw);
            assert!(
                status == 400 || status == 404,
                "{shown:?} answered {status}: {raw}"
            );
            assert!(!raw.contains(SECRET), "{shown:?} leaked the secret");
            assert!(!raw.contains("root:x:0:0"), "{shown:?} leaked /etc/passwd");
        }
        // The symlink inside the root that stays inside still works.
        #[cfg(unix)]
        assert_eq!(
            get(addr, "/inner-link.txt", &[]).await.text(),
            "hello world\n"
        );
        // And the root is still served.
        assert_eq!(get(addr, "/hello.txt", &[]).await.status, 200);
    }
}

#[tokio::test]
async fn precompressed_siblings() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("app.css"), "body{}").expect("write");
    std::fs::write(tmp.path().join("app.css.gz"), "GZIP-BYTES").expect("write");
    std::fs::write(tmp.path().join("app.css.br"), "BROTLI-BYTES").expect("write");
    std::fs::write(tmp.path().join("only.js"), "plain").expect("write");
    std::fs::write(tmp.path().join("only.js.gz"), "GZ").expect("write");
    let addr = spawn(
        ServeDir::new(tmp.path())
            .precompressed_gzip()
            .precompressed_br(),
    )
    .await;

    for (accept, body, encoding) in [
        (Some("gzip, deflate, br, zstd"), "BROTLI-BYTES", "br"),
        (Some("gzip"), "GZIP-BYTES", "gzip"),
        (Some("br;q=0.5, gzip"), "GZIP-BYTES", "gzip"),
        (Some("gzip;q=0, br;q=0"), "body{}", ""),
        (Some("identity"), "body{}", ""),
        (Some("*"), "BROTLI-BYTES", "br"),
        (None, "body{}", ""),
    ] {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("accept-encoding", a)).into_iter().collect();
        let res = get(addr, "/app.css", &headers).await;
        assert_eq!(res.status, 200, "{accept:?}");
        assert_eq!(res.text(), body, "{accept:?}");
        assert_eq!(res.header("content-encoding"), encoding, "{accept:?}");
        assert_eq!(
            res.header("content-type"),
            "text/css; charset=utf-8",
            "{accept:?}"
        );
        assert_eq!(res.header("vary"), "accept-encoding", "{accept:?}");
    }
    let res = get(addr, "/only.js", &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(
        (res.text().as_str(), res.header("content-encoding")),
        ("GZ", "gzip")
    );
    // Tags differ between encodings, so caches never mix them.
    let plain = get(addr, "/app.css", &[]).await;
    let br = get(addr, "/app.css", &[("accept-encoding", "br")]).await;
    assert_ne!(plain.header("etag"), br.header("etag"));
    // Ranges apply to the encoded bytes.
    let res = get(
        addr,
        "/app.css",
        &[("accept-encoding", "br"), ("range", "bytes=0-5")],
    )
    .await;
    assert_eq!((res.status.as_u16(), res.text().as_str()), (206, "BROTLI"));
    // The sibling is not served when the original is missing... but can be asked for directly.
    assert_eq!(get(addr, "/app.css.gz", &[]).await.text(), "GZIP-BYTES");
}

#[tokio::test]
async fn large_files_stream_in_chunks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(tmp.path().join("big.bin"), &data).expect("write");
    let addr = spawn(ServeDir::new(tmp.path())).await;
    let res = get(addr, "/big.bin", &[]).await;
    assert_eq!(res.header("content-type"), "application/octet-stream");
    assert_eq!(res.body.len(), data.len());
    assert!(res.body == data);
    let res = get(addr, "/big.bin", &[("range", "bytes=4999990-")]).await;
    assert_eq!(&res.body[..], &data[4_999_990..]);
}

/// A request: method, target, headers.
type Case = (&'static str, String, Vec<(&'static str, String)>);

/// `FileIo::InPlace` and `FileIo::Pool` give the same answers, byte for byte, on small files
/// (read whole), files just over `SMALL_FILE` and files of several chunks, for every shape of
/// answer.
#[tokio::test]
async fn file_io_modes_answer_alike() {
    let f = fixture();
    let sizes = [
        SMALL_FILE - 1,
        SMALL_FILE,
        SMALL_FILE + 1,
        CHUNK_SIZE as u64 * 3 + 17,
    ];
    for size in sizes {
        let data: Vec<u8> = (0..size).map(|i| (i % 241) as u8).collect();
        std::fs::write(f.root.join(format!("f{size}.bin")), &data).expect("write");
    }
    std::fs::write(f.root.join("hello.txt.gz"), "GZ").expect("write");
    let serve = |io| {
        ServeDir::new(&f.root)
            .listing(true)
            .precompressed_gzip()
            .file_io(io)
    };
    let pool = spawn(serve(FileIo::Pool)).await;
    let in_place = spawn(serve(FileIo::InPlace)).await;
    let etag = get(pool, "/hello.txt", &[]).await.header("etag").to_owned();
    let mut cases: Vec<Case> = vec![
        ("GET", "/hello.txt".into(), vec![]),
        ("HEAD", "/hello.txt".into(), vec![]),
        (
            "GET",
            "/hello.txt".into(),
            vec![("if-none-match", etag.clone())],
        ),
        (
            "GET",
            "/hello.txt".into(),
            vec![("if-match", "\"other\"".into())],
        ),
        (
            "GET",
            "/hello.txt".into(),
            vec![("accept-encoding", "gzip".into())],
        ),
        ("GET", "/empty.txt".into(), vec![]),
        ("GET", "/sub".into(), vec![]),
        ("GET", "/sub/".into(), vec![]),
        ("GET", "/with%20index/".into(), vec![]),
        ("GET", "/missing".into(), vec![]),
        ("GET", "/hello.txt/".into(), vec![]),
        ("POST", "/hello.txt".into(), vec![]),
        (
            "GET",
            "/alphabet.txt".into(),
            vec![("range", "bytes=5000-".into())],
        ),
    ];
    for size in sizes {
        let path = format!("/f{size}.bin");
        let last = size - 1;
        for range in [
            "bytes=0-0".to_owned(),
            format!("bytes={}-", last - 10),
            "bytes=-70000".to_owned(),
            format!("bytes=1-2,{}-{last}", last / 2),
        ] {
            cases.push(("GET", path.clone(), vec![("range", range)]));
        }
        cases.push(("GET", path.clone(), vec![]));
        cases.push(("HEAD", path.clone(), vec![]));
        cases.push((
            "GET",
            path,
            vec![
                ("range", "bytes=0-9".into()),
                ("if-range", "\"stale\"".into()),
            ],
        ));
    }
    for (method, path, headers) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = request(pool, method, path, &headers).await;
        let b = request(in_place, method, path, &headers).await;
        let case = format!("{method} {path} {headers:?}");
        assert_eq!(a.status, b.status, "{case}");
        let a_headers: Vec<_> = a.headers.iter().filter(|(k, _)| *k != "date").collect();
        let b_headers: Vec<_> = b.headers.iter().filter(|(k, _)| *k != "date").collect();
        if a.header("content-type").starts_with("multipart/") {
            // Each answer draws its own boundary.
            assert_eq!(a.body.len(), b.body.len(), "{case}");
        } else {
            assert_eq!(a_headers, b_headers, "{case}");
            assert!(a.body == b.body, "{case}: bodies differ");
        }
    }
    // And the bytes are the file's.
    let size = CHUNK_SIZE as u64 * 3 + 17;
    let data: Vec<u8> = (0..size).map(|i| (i % 241) as u8).collect();
    for addr in [pool, in_place] {
        let res = get(addr, &format!("/f{size}.bin"), &[]).await;
        assert!(res.body == data);
        let res = get(
            addr,
            &format!("/f{size}.bin"),
            &[("range", "bytes=300000-600000")],
        )
        .await;
        assert_eq!(res.status, 206);
        assert!(res.body[..] == data[300_000..=600_000]);
    }
}

/// Symlinks met while walking the path, in both modes: a link to a hidden file or out of the
/// root is 404 wherever it sits (last segment, middle, index file, precompressed sibling), a
/// link that stays inside works.
#[cfg(unix)]
#[tokio::test]
async fn symlinks_on_the_walk() {
    use std::os::unix::fs::symlink;
    let f = fixture();
    symlink(f.root.join(".hidden"), f.root.join("to-hidden.txt")).expect("symlink");
    symlink(f.root.join("sub"), f.root.join("alias")).expect("symlink");
    std::fs::create_dir(f.root.join("outdex")).expect("mkdir");
    symlink(&f.secret, f.root.join("outdex/index.html")).expect("symlink");
    symlink(&f.secret, f.root.join("hello.txt.gz")).expect("symlink");
    for io in [FileIo::Pool, FileIo::InPlace] {
        let addr = spawn(
            ServeDir::new(&f.root)
                .listing(true)
                .precompressed_gzip()
                .file_io(io),
        )
        .await;
        assert_eq!(get(addr, "/to-hidden.txt", &[]).await.status, 404, "{io:?}");
        let res = get(addr, "/alias/page.html", &[]).await;
        assert_eq!(
            (res.status.as_u16(), res.text().as_str()),
            (200, "<p>page</p>")
        );
        assert_eq!(get(addr, "/alias/", &[]).await.status, 200, "{io:?}");
        assert_eq!(get(addr, "/escape/root/hello.txt", &[]).await.status, 404);
        // The index file leads out: a listing instead, without the secret.
        let res = get(addr, "/outdex/", &[]).await;
        assert_eq!(res.status, 200, "{io:?}");
        assert!(!res.text().contains(SECRET));
        // The sibling leads out: the original is sent.
        let res = get(addr, "/hello.txt", &[("accept-encoding", "gzip")]).await;
        assert_eq!(res.text(), "hello world\n", "{io:?}");
    }
}

/// A configured index name with a separator is checked in full: through a symlink leading
/// out it is not served.
#[cfg(unix)]
#[tokio::test]
async fn index_names_with_separators_are_checked() {
    let f = fixture();
    std::fs::create_dir(f.root.join("site")).expect("mkdir");
    std::os::unix::fs::symlink(f._tmp.path(), f.root.join("site/out")).expect("symlink");
    std::fs::create_dir(f.root.join("site/in")).expect("mkdir");
    std::fs::write(f.root.join("site/in/secret.txt"), "inside").expect("write");
    let addr = spawn(
        ServeDir::new(f.root.join("site"))
            .index_file(Some("out/secret.txt"))
            .file_io(FileIo::InPlace),
    )
    .await;
    let res = get(addr, "/", &[]).await;
    assert_eq!(res.status, 404);
    assert!(!res.text().contains(SECRET));
    let addr = spawn(ServeDir::new(f.root.join("site")).index_file(Some("in/secret.txt"))).await;
    assert_eq!(get(addr, "/", &[]).await.text(), "inside");
}
