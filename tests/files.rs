//! `files::ServeDir` over TCP: curl and a Rust client, ranges, conditionals, listings with
//! hostile names, traversal attempts, precompressed siblings.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{curl, get_request, parse, raw, read_answer, start, TestServer};
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

async fn serve_root(root: &Path) -> TestServer {
    start(ServeDir::new(root).listing(true)).await
}

fn alphabet(range: std::ops::RangeInclusive<usize>) -> String {
    range.map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

#[tokio::test]
async fn serves_a_file_with_validators() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let res = server.get("/hello.txt", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "hello world\n");
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.header("content-length"), Some("12"));
    assert_eq!(res.header("accept-ranges"), Some("bytes"));
    assert!(res.header("etag").unwrap().starts_with('"'));
    assert!(res.header("last-modified").unwrap().ends_with("GMT"));
    let empty = server.get("/empty.txt", &[("range", "bytes=0-5")]).await;
    assert_eq!((empty.status.as_u16(), empty.body.len()), (200, 0));
}

#[tokio::test]
async fn head_has_get_headers_and_no_body() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let res = server.send("HEAD", "/alphabet.txt", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-length"), Some("1000"));
    assert!(res.body.is_empty());
    let res = curl(&["-I", &server.url("/alphabet.txt")]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-length"), Some("1000"));
}

#[tokio::test]
async fn curl_single_range() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let res = curl(&["-r", "0-99", &server.url("/alphabet.txt")]).await;
    assert_eq!(res.status, 206, "{res:?}");
    assert_eq!(res.header("content-range"), Some("bytes 0-99/1000"));
    assert_eq!(res.text(), alphabet(0..=99));
}

#[tokio::test]
async fn curl_two_ranges_are_multipart() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let res = curl(&["-r", "0-9,20-29", &server.url("/alphabet.txt")]).await;
    assert_eq!(res.status, 206, "{res:?}");
    let ct = res.header("content-type").expect("content-type");
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart");
    let body = res.text();
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
        res.header("content-length"),
        Some(body.len().to_string().as_str())
    );
}

#[tokio::test]
async fn unsatisfiable_range_is_416() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let res = server
        .get("/alphabet.txt", &[("range", "bytes=1000-")])
        .await;
    assert_eq!(res.status, 416);
    assert_eq!(res.header("content-range"), Some("bytes */1000"));
}

#[tokio::test]
async fn ten_thousand_ranges_are_answered_cheaply() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let header = format!(
        "bytes={}",
        (0..10_000)
            .map(|i| format!("{i}-{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let started = Instant::now();
    let res = server.get("/alphabet.txt", &[("range", &header)]).await;
    // Ignored past the cap: the whole file, once, not a 10 000-part answer.
    assert_eq!(res.status, 200);
    assert_eq!(res.body.len(), 1000);
    eprintln!("10 000 ranges answered in {:?}", started.elapsed());
    // Overlapping ranges under the cap are merged into one.
    let res = server
        .get(
            "/alphabet.txt",
            &[("range", "bytes=0-50,10-20,40-99,100-199")],
        )
        .await;
    assert_eq!(res.status, 206);
    assert_eq!(res.header("content-range"), Some("bytes 0-199/1000"));
}

#[tokio::test]
async fn curl_if_modified_since() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let url = server.url("/hello.txt");
    // `-z FILE` sends the file's mtime as If-Modified-Since.
    let hello = f.root.join("hello.txt").display().to_string();
    let res = curl(&["-z", &hello, &url]).await;
    assert_eq!(res.status, 304, "{res:?}");
    assert!(res.header("etag").is_some());
    assert_eq!(res.text(), "");
    let res = curl(&["-z", "1 Jan 2000", &url]).await;
    assert_eq!(res.status, 200);
    // `-z -DATE`: If-Unmodified-Since.
    let res = curl(&["-z", "-1 Jan 2000", &url]).await;
    assert_eq!(res.status, 412);
}

#[tokio::test]
async fn if_none_match_round_trip() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let first = server.get("/hello.txt", &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    let again = server.get("/hello.txt", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert!(again.body.is_empty());
    let weak = format!("W/{etag}");
    let res = curl(&[
        "-H",
        &format!("If-None-Match: {weak}"),
        &server.url("/hello.txt"),
    ])
    .await;
    assert_eq!(res.status, 304);
    // A changed file gets a new tag.
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(f.root.join("hello.txt"), "changed!\n").expect("write");
    let changed = server.get("/hello.txt", &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.text(), "changed!\n");
    // If-Range with the old tag: the whole new file, not a stale range.
    let res = server
        .get("/hello.txt", &[("range", "bytes=0-1"), ("if-range", &etag)])
        .await;
    assert_eq!(
        (res.status.as_u16(), res.text().as_ref()),
        (200, "changed!\n")
    );
}

#[tokio::test]
async fn directories_redirect_index_and_list() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let res = server.get("/sub?x=1", &[]).await;
    assert_eq!(res.status, 308);
    assert_eq!(res.header("location"), Some("./sub/?x=1"));
    let res = server.get("/with%20index/", &[]).await;
    assert_eq!(res.text(), "<h1>index</h1>");
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let res = server.get("/sub/", &[]).await;
    assert_eq!(res.status, 200);
    assert!(res.text().contains("href=\"./page.html\""));
    assert!(res.text().contains("href=\"./deeper/\""));
    assert!(res.text().contains("href=\"../\""));
    // Listing off: 404.
    let quiet_server = start(ServeDir::new(&f.root)).await;
    assert_eq!(quiet_server.get("/sub/", &[]).await.status, 404);
    // A file name with a trailing slash is not a directory.
    assert_eq!(server.get("/hello.txt/", &[]).await.status, 404);
    // curl follows the redirect to the listing (`-i`: every head in the output).
    let raw = curl(&["-i", "-L", &server.url("/sub")])
        .await
        .text()
        .into_owned();
    assert_eq!(parse(raw.as_bytes()).status, 308);
    assert!(raw.contains("HTTP/1.1 200"), "{raw}");
}

#[tokio::test]
async fn hidden_files_and_methods() {
    let f = fixture();
    let server = serve_root(&f.root).await;
    let res = server.get("/.hidden", &[]).await;
    assert_eq!(res.status, 404);
    assert!(!res.text().contains(SECRET));
    let listing = server.get("/", &[]).await.text().into_owned();
    assert!(!listing.contains(".hidden"));
    let open_server = start(ServeDir::new(&f.root).hidden(true)).await;
    assert_eq!(open_server.get("/.hidden", &[]).await.text(), SECRET);
    let res = server.send("POST", "/hello.txt", &[]).await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
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
    let server = start(ServeDir::new(tmp.path()).listing(true)).await;
    let page = server.get("/", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page
        .header("content-security-policy")
        .unwrap()
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
        let res = server.get(&format!("/{}", &href[2..]), &[]).await;
        assert_eq!(res.status, 200, "{name} via {href}");
        assert_eq!(res.text(), format!("file {i}"), "{name} via {href}");
    }
    let dir = hrefs.iter().find(|h| h.ends_with('/')).expect("dir link");
    let res = server.get(&format!("/{}inner.txt", &dir[2..]), &[]).await;
    assert_eq!(res.text(), "inner");
}

#[tokio::test]
async fn traversal_attempts_stay_inside_the_root() {
    let f = fixture();
    let server = serve_root(&f.root).await;
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
    let in_place_server = start(
        ServeDir::new(&f.root)
            .listing(true)
            .file_io(FileIo::InPlace),
    )
    .await;
    for server in [&server, &in_place_server] {
        let addr = server.addr;
        for target in &attempts {
            let shown = String::from_utf8_lossy(target);
            let raw = raw(addr, &get_request(target, &[])).await;
            let status = parse(raw.as_bytes()).status;
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
            server.get("/inner-link.txt", &[]).await.text(),
            "hello world\n"
        );
        // And the root is still served.
        assert_eq!(server.get("/hello.txt", &[]).await.status, 200);
    }
}

/// Small files are kept in memory between requests (`memory_cache`, on by default), and a
/// file changed since is read again however it changed: written in place with the same
/// length, replaced by a rename, or its modification time set back.
#[tokio::test]
async fn a_kept_small_file_is_read_again_once_it_changed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("page.txt");
    std::fs::write(&path, "version-1").expect("write");
    let server = start(ServeDir::new(tmp.path())).await;
    let fetch = || async { server.get("/page.txt", &[]).await };
    let first = fetch().await;
    assert_eq!(first.text(), "version-1");
    assert_eq!(fetch().await.text(), "version-1", "from memory");

    // In place, same length, the modification time put back: the change time still moves.
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, "version-2").expect("write");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(modified))
        .expect("set mtime");
    let second = fetch().await;
    assert_eq!(second.text(), "version-2");

    // Replaced by a rename: a new inode.
    let next = tmp.path().join("next.tmp");
    std::fs::write(&next, "version-3").expect("write");
    std::fs::rename(&next, &path).expect("rename");
    let third = fetch().await;
    assert_eq!(third.text(), "version-3");
    assert_eq!(third.header("content-length"), Some("9"));

    // Off: read from the file every time.
    let off = start(ServeDir::new(tmp.path()).memory_cache(0)).await;
    assert_eq!(off.get("/page.txt", &[]).await.text(), "version-3");
    std::fs::write(&path, "version-4").expect("write");
    assert_eq!(off.get("/page.txt", &[]).await.text(), "version-4");
    assert_eq!(fetch().await.text(), "version-4");
}

/// A file of 1 MiB is kept in memory too (an eighth of the default budget), and is read again
/// once it changed in place with the same length and its modification time set back.
#[tokio::test]
async fn a_kept_large_file_is_read_again_once_it_changed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("big.bin");
    std::fs::write(&path, vec![b'a'; 1 << 20]).expect("write");
    let server = start(ServeDir::new(tmp.path())).await;
    for _ in 0..2 {
        let res = server.get("/big.bin", &[]).await;
        assert_eq!(res.body.len(), 1 << 20);
        assert!(res.body.iter().all(|&b| b == b'a'));
    }
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, vec![b'b'; 1 << 20]).expect("write");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(modified))
        .expect("set mtime");
    let res = server.get("/big.bin", &[("range", "bytes=0-3")]).await;
    assert_eq!(res.status, 206);
    assert_eq!(res.text(), "bbbb");
    let res = server.get("/big.bin", &[]).await;
    assert!(res.body.iter().all(|&b| b == b'b'), "the new version");
}

#[tokio::test]
async fn precompressed_siblings() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("app.css"), "body{}").expect("write");
    std::fs::write(tmp.path().join("app.css.gz"), "GZIP-BYTES").expect("write");
    std::fs::write(tmp.path().join("app.css.br"), "BROTLI-BYTES").expect("write");
    std::fs::write(tmp.path().join("only.js"), "plain").expect("write");
    std::fs::write(tmp.path().join("only.js.gz"), "GZ").expect("write");
    let server = start(
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
        let res = server.get("/app.css", &headers).await;
        assert_eq!(res.status, 200, "{accept:?}");
        assert_eq!(res.text(), body, "{accept:?}");
        assert_eq!(
            res.header("content-encoding").unwrap_or(""),
            encoding,
            "{accept:?}"
        );
        assert_eq!(
            res.header("content-type"),
            Some("text/css; charset=utf-8"),
            "{accept:?}"
        );
        assert_eq!(res.header("vary"), Some("accept-encoding"), "{accept:?}");
    }
    let res = server
        .get("/only.js", &[("accept-encoding", "br, gzip")])
        .await;
    assert_eq!(
        (res.text().as_ref(), res.header("content-encoding")),
        ("GZ", Some("gzip"))
    );
    // Tags differ between encodings, so caches never mix them.
    let plain = server.get("/app.css", &[]).await;
    let br = server.get("/app.css", &[("accept-encoding", "br")]).await;
    assert_ne!(plain.header("etag"), br.header("etag"));
    // Ranges apply to the encoded bytes.
    let res = server
        .get(
            "/app.css",
            &[("accept-encoding", "br"), ("range", "bytes=0-5")],
        )
        .await;
    assert_eq!((res.status.as_u16(), res.text().as_ref()), (206, "BROTLI"));
    // The sibling is not served when the original is missing... but can be asked for directly.
    assert_eq!(server.get("/app.css.gz", &[]).await.text(), "GZIP-BYTES");
}

#[tokio::test]
async fn large_files_stream_in_chunks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(tmp.path().join("big.bin"), &data).expect("write");
    let server = start(ServeDir::new(tmp.path())).await;
    let res = server.get("/big.bin", &[]).await;
    assert_eq!(res.header("content-type"), Some("application/octet-stream"));
    assert_eq!(res.body.len(), data.len());
    assert!(res.body == data);
    let res = server.get("/big.bin", &[("range", "bytes=4999990-")]).await;
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
    let pool_server = start(serve(FileIo::Pool)).await;
    let in_place_server = start(serve(FileIo::InPlace)).await;
    let etag = pool_server
        .get("/hello.txt", &[])
        .await
        .header("etag")
        .unwrap()
        .to_owned();
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
        let a = pool_server.send(method, path, &headers).await;
        let b = in_place_server.send(method, path, &headers).await;
        let case = format!("{method} {path} {headers:?}");
        assert_eq!(a.status, b.status, "{case}");
        let a_headers: Vec<_> = a.headers.iter().filter(|(k, _)| *k != "date").collect();
        let b_headers: Vec<_> = b.headers.iter().filter(|(k, _)| *k != "date").collect();
        if a.header("content-type")
            .is_some_and(|ct| ct.starts_with("multipart/"))
        {
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
    for server in [&pool_server, &in_place_server] {
        let res = server.get(&format!("/f{size}.bin"), &[]).await;
        assert!(res.body == data);
        let res = server
            .get(
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
        let server = start(
            ServeDir::new(&f.root)
                .listing(true)
                .precompressed_gzip()
                .file_io(io),
        )
        .await;
        assert_eq!(
            server.get("/to-hidden.txt", &[]).await.status,
            404,
            "{io:?}"
        );
        let res = server.get("/alias/page.html", &[]).await;
        assert_eq!(
            (res.status.as_u16(), res.text().as_ref()),
            (200, "<p>page</p>")
        );
        assert_eq!(server.get("/alias/", &[]).await.status, 200, "{io:?}");
        assert_eq!(server.get("/escape/root/hello.txt", &[]).await.status, 404);
        // The index file leads out: a listing instead, without the secret.
        let res = server.get("/outdex/", &[]).await;
        assert_eq!(res.status, 200, "{io:?}");
        assert!(!res.text().contains(SECRET));
        // The sibling leads out: the original is sent.
        let res = server
            .get("/hello.txt", &[("accept-encoding", "gzip")])
            .await;
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
    let server = start(
        ServeDir::new(f.root.join("site"))
            .index_file(Some("out/secret.txt"))
            .file_io(FileIo::InPlace),
    )
    .await;
    let res = server.get("/", &[]).await;
    assert_eq!(res.status, 404);
    assert!(!res.text().contains(SECRET));
    let server = start(ServeDir::new(f.root.join("site")).index_file(Some("in/secret.txt"))).await;
    assert_eq!(server.get("/", &[]).await.text(), "inside");
}

/// Random-looking bytes of `len`, different for each `seed`: a byte sent from the wrong
/// offset or the wrong file shows.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// `big.bin`, 1 MiB of [`noise`] from `seed`, served in place (`sendfile` on): the directory
/// (kept alive by the caller), the bytes, the server.
async fn one_large_file(seed: u32) -> (tempfile::TempDir, Vec<u8>, TestServer) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let big = noise(1 << 20, seed);
    std::fs::write(tmp.path().join("big.bin"), &big).expect("write");
    let server = start(ServeDir::new(tmp.path()).file_io(FileIo::InPlace)).await;
    (tmp, big, server)
}

/// Files larger than `SMALL_FILE` kept in memory go out with `sendfile` on a plain HTTP/1.1
/// connection with `FileIo::InPlace` (`src/sendfile.rs`), and from memory with the pool.
/// Pipelined on one connection — the head of the next answer queued behind the body of the one
/// before, ranges, a `HEAD`, a small file — every byte is the file's, at its offset.
#[tokio::test]
async fn large_kept_files_pipelined_on_one_connection_arrive_byte_for_byte() {
    use tokio::io::AsyncWriteExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let big = noise(1 << 20, 1);
    let mid = noise(300_000, 2);
    std::fs::write(tmp.path().join("big.bin"), &big).expect("write");
    std::fs::write(tmp.path().join("mid.bin"), &mid).expect("write");
    std::fs::write(tmp.path().join("small.txt"), "small").expect("write");
    for file_io in [FileIo::InPlace, FileIo::Pool] {
        let server = start(ServeDir::new(tmp.path()).file_io(file_io)).await;
        let mut stream = support::raw::connect(server.addr).await;
        for round in 0..2 {
            // The first round reads the files into memory, the second answers from it.
            let requests = "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n\
             GET /mid.bin HTTP/1.1\r\nHost: t\r\n\r\n\
             GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-700999\r\n\r\n\
             HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n\
             GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n\
             GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-5000\r\n\r\n";
            stream.write_all(requests.as_bytes()).await.expect("write");
            let res = read_answer(&mut stream, false).await;
            assert_eq!(res.status, 200, "round {round}");
            assert!(
                res.body == big,
                "{file_io:?} round {round}: big.bin differs"
            );
            let res = read_answer(&mut stream, false).await;
            assert!(res.body == mid, "round {round}: mid.bin differs");
            let res = read_answer(&mut stream, false).await;
            assert_eq!(res.status, 206, "round {round}");
            assert!(
                res.body == big[1000..701_000],
                "round {round}: the range differs"
            );
            let res = read_answer(&mut stream, true).await;
            assert_eq!(res.header("content-length"), Some("1048576"));
            let res = read_answer(&mut stream, false).await;
            assert_eq!(res.text(), "small");
            let res = read_answer(&mut stream, false).await;
            assert_eq!(res.status, 206, "round {round}");
            assert!(
                res.body == big[big.len() - 5000..],
                "round {round}: the suffix differs"
            );
        }
    }
}

/// A client that reads slowly through a small receive buffer: `sendfile` sends part of the
/// file, the socket fills, the rest follows as the client reads; nothing is lost or repeated.
#[tokio::test]
async fn a_large_kept_file_reaches_a_slow_reader_whole() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_tmp, big, server) = one_large_file(3).await;
    // Read into memory first.
    assert!(server.get("/big.bin", &[]).await.body == big);

    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(server.addr).await.expect("connect");
    let request = "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".repeat(2);
    stream.write_all(request.as_bytes()).await.expect("write");
    // Let the server fill what the socket holds before reading, then read in small bites.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..2 {
        let res = read_answer(&mut stream, true).await;
        assert_eq!(res.status, 200);
        let mut body = Vec::with_capacity(big.len());
        let mut bite = [0; 1024];
        while body.len() < big.len() {
            let want = bite.len().min(big.len() - body.len());
            let n = tokio::time::timeout(support::TEST_TIMEOUT, stream.read(&mut bite[..want]))
                .await
                .expect("bytes within the test timeout")
                .expect("read");
            assert!(n > 0, "closed after {} bytes", body.len());
            body.extend_from_slice(&bite[..n]);
            if body.len() % (128 << 10) < n {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        assert!(body == big, "the body differs");
    }
}

/// A layer that replaces the body (compression) leaves the offered file region unused: the
/// compressed answer is right, and so is the next answer on the same connection.
#[tokio::test]
async fn a_compressed_large_file_and_the_next_answer_are_intact() {
    use tokio::io::AsyncWriteExt;
    use tower::Layer;
    let tmp = tempfile::tempdir().expect("tempdir");
    let text: String = (0..40_000).map(|i| format!("line {i}\n")).collect();
    let other = noise(200_000, 4);
    std::fs::write(tmp.path().join("big.txt"), &text).expect("write");
    std::fs::write(tmp.path().join("other.bin"), &other).expect("write");
    let files = ServeDir::new(tmp.path()).file_io(FileIo::InPlace);
    let service = tollgate::compress::CompressLayer::default().layer(files);
    let server = start(service).await;
    let mut stream = support::raw::connect(server.addr).await;
    for _ in 0..2 {
        let requests = "GET /big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n\
                        GET /other.bin HTTP/1.1\r\nHost: t\r\n\r\n";
        stream.write_all(requests.as_bytes()).await.expect("write");
        // Chunked (the compressed length is not known ahead).
        let res = read_answer(&mut stream, false).await;
        assert_eq!(res.header("content-encoding"), Some("gzip"));
        assert_eq!(res.header("transfer-encoding"), Some("chunked"));
        let gzip = res.body;
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain)
            .expect("gzip");
        assert!(plain == text, "the decompressed file differs");
        let res = read_answer(&mut stream, false).await;
        assert_eq!(res.status, 200);
        assert!(
            res.body == other,
            "the answer after the compressed one differs"
        );
    }
}

/// Over cleartext HTTP/2 nothing is offered to `sendfile` (its frames are copied anyway): a
/// kept large file arrives whole all the same, through curl as a user fetches it.
#[tokio::test]
async fn a_large_kept_file_over_h2c_arrives_whole() {
    let (_tmp, big, server) = one_large_file(5).await;
    let url = server.url("/big.bin");
    // One URL per curl: Debian 12's curl 7.88.1 fails the second transfer on a reused
    // prior-knowledge connection (curl/curl#10634, fixed after that release).
    for _ in 0..2 {
        let res = curl(&["--http2-prior-knowledge", "-r", "5-6", &url]).await;
        assert_eq!(res.status, 206);
        assert!(res.body == big[5..7], "the range differs");
        let http11 = curl(&["--http1.1", &url]).await;
        assert!(http11.body == big, "HTTP/1.1: the body differs");
        let h2 = curl(&["--http2-prior-knowledge", &url]).await;
        assert!(h2.body == big, "HTTP/2: the body differs");
    }
}
