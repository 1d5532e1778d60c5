//! Multipart uploads over real TCP: `curl -F`, raw hostile bodies, every limit of `FormLimits`,
//! and a 100 MB upload whose peak memory is measured.
#![cfg(feature = "multipart")]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tollgate::echo::EchoService;
use tollgate::form::{FormLimits, MultipartError, UploadedFile};
use tollgate::{handler, Request, Response};

mod support;

use support::{curl, eventually, raw_stream, Fetched, Framing};

// ---------------------------------------------------------------------------------------------
// Support: a form_data handler, a raw HTTP/1.1 client that streams, PNG files.
// ---------------------------------------------------------------------------------------------

/// A handler reading the body with `Request::form_data` and describing it as JSON:
/// `{"fields": [[k, v]], "files": [[field, safe_filename, size, sha256, spooled]]}`.
fn form_data_service(
    limits: FormLimits,
) -> handler::Handler<impl Fn(Request) -> FormFuture + Clone + Send + Sync + 'static> {
    handler::from_fn(move |mut req: Request| -> FormFuture {
        let limits = limits.clone();
        Box::pin(async move {
            let form = req.form_data(&limits).await?;
            let mut files = vec![];
            for (field, file) in form.files.iter() {
                files.push(json!([
                    field,
                    file.safe_filename(),
                    file.size(),
                    sha256_of(file).await,
                    file.path().is_some()
                ]));
            }
            Ok(Response::json(&json!({
                "fields": form.fields,
                "files": files,
            })))
        })
    })
}

type FormFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, MultipartError>> + Send>>;

async fn sha256_of(file: &UploadedFile) -> String {
    let mut hasher = Sha256::new();
    match file.path() {
        Some(path) => {
            let mut f = tokio::fs::File::open(path).await.unwrap();
            let mut buf = vec![0; 64 * 1024];
            loop {
                let n = f.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
        }
        None => hasher.update(file.bytes().unwrap()),
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `POST /` with this content type and body (streamed while the answer is read; see
/// [`raw_stream`]) and returns the answer.
async fn exchange<S>(addr: SocketAddr, content_type: &str, framing: Framing, body: S) -> Fetched
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let head = format!(
        "POST / HTTP/1.1\r\nHost: test\r\nAccept: text/plain\r\nConnection: close\r\n\
         Content-Type: {content_type}"
    );
    raw_stream(addr, &head, framing, body).await
}

/// One whole body, sent with its `Content-Length`.
async fn post(addr: SocketAddr, content_type: &str, body: Vec<u8>) -> Fetched {
    let framing = Framing::Length(body.len() as u64);
    exchange(
        addr,
        content_type,
        framing,
        stream::iter([Bytes::from(body)]),
    )
    .await
}

const CT: &str = "multipart/form-data; boundary=XyZ";

fn part(name: &str, file_name: Option<&str>, data: &[u8]) -> Vec<u8> {
    let file = file_name.map_or(String::new(), |f| format!("; filename=\"{f}\""));
    let mut out = format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n")
        .into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn form(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = parts.concat();
    out.extend_from_slice(b"--XyZ--\r\n");
    out
}

/// A valid grayscale PNG: zlib "stored" blocks, so no compressor is needed.
fn png(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let mut raw = Vec::new();
    for _ in 0..height {
        raw.push(0); // filter: none
        raw.extend(std::iter::repeat_n(shade, width as usize));
    }
    let len = u16::try_from(raw.len()).expect("one stored block");
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend(len.to_le_bytes());
    zlib.extend((!len).to_le_bytes());
    zlib.extend(&raw);
    zlib.extend(adler32(&raw).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit grayscale
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &zlib[..]),
        (b"IEND", &[][..]),
    ] {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// Waits (bounded) until `dir` is empty: a dropped request's files go when its future is dropped.
async fn assert_emptied(dir: &Path) {
    assert!(
        eventually(async || entries(dir).is_empty()).await,
        "temporary files left behind: {:?}",
        entries(dir)
    );
}

fn spooling(dir: &Path) -> FormLimits {
    FormLimits::new().spool_threshold(0).spool_dir(dir)
}

// ---------------------------------------------------------------------------------------------
// Uploads with curl.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_uploads_two_pngs_and_a_text_field_to_echo() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (png(1, 1, 0), png(16, 16, 200));
    std::fs::write(dir.path().join("one.png"), &one).unwrap();
    std::fs::write(dir.path().join("two.png"), &two).unwrap();
    let server = support::start(EchoService::new()).await;
    let addr = server.addr;
    let dir = dir.path().display().to_string();
    let echo = curl(&[
        "-F",
        "title=Holiday photos",
        "-F",
        &format!("first=@{dir}/one.png"),
        "-F",
        &format!("second=@{dir}/two.png;type=image/png"),
        &format!("http://{addr}/upload"),
    ])
    .await
    .json();
    assert_eq!(echo["form"], json!([["title", "Holiday photos"]]));
    assert_eq!(
        echo["files"],
        json!([
            ["first", "one.png", "image/png", one.len(), sha256(&one)],
            ["second", "two.png", "image/png", two.len(), sha256(&two)],
        ])
    );
    assert!(echo["body_bytes"].as_u64().unwrap() > (one.len() + two.len()) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_uploads_to_form_data_spool_and_leave_nothing_behind() {
    let spool = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let big = png(200, 300, 7);
    let small = png(2, 2, 1);
    std::fs::write(files.path().join("big.png"), &big).unwrap();
    std::fs::write(files.path().join("фото.png"), &small).unwrap();
    let limits = FormLimits::new()
        .spool_threshold(1024)
        .spool_dir(spool.path());
    let server = support::start(form_data_service(limits)).await;
    let addr = server.addr;
    let dir = files.path().display().to_string();
    let answer = curl(&[
        "-F",
        "note=é ü",
        "-F",
        &format!("a=@{dir}/big.png"),
        "-F",
        &format!("b=@{dir}/фото.png;filename=../../фото.png"),
        &format!("http://{addr}/"),
    ])
    .await
    .json();
    assert_eq!(answer["fields"], json!([["note", "é ü"]]));
    assert_eq!(
        answer["files"],
        json!([
            ["a", "big.png", big.len(), sha256(&big), true],
            ["b", "фото.png", small.len(), sha256(&small), false],
        ])
    );
    assert_emptied(spool.path()).await;
}

/// 100 MB through curl into the echo service, which hashes files as they stream by. The
/// process's peak resident memory (VmHWM) stays far below the file size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_stream_with_bounded_memory() {
    const SIZE: usize = 100 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let mut hasher = Sha256::new();
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut block = vec![0u8; 1024 * 1024];
        for i in 0..SIZE / block.len() {
            block
                .iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = (i + j) as u8);
            hasher.update(&block);
            file.write_all(&block).unwrap();
        }
        file.flush().unwrap();
    }
    let expected = hex(&hasher.finalize());
    let server = support::start(EchoService::new()).await;
    let addr = server.addr;
    // 100 MB in a debug build: more time than one ordinary exchange.
    let max_time = (support::TEST_TIMEOUT * 10).as_secs().to_string();
    let echo = curl(&[
        "--max-time",
        &max_time,
        "-F",
        &format!("blob=@{};type=application/octet-stream", path.display()),
        &format!("http://{addr}/"),
    ])
    .await
    .json();
    assert_eq!(
        echo["files"],
        json!([[
            "blob",
            "big.bin",
            "application/octet-stream",
            SIZE,
            expected
        ]])
    );
    let peak = vm_hwm_kib();
    eprintln!("peak resident memory of the test process: {peak} KiB");
    assert!(
        peak < 64 * 1024,
        "peak memory {peak} KiB is not far below the 100 MiB upload"
    );
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

// ---------------------------------------------------------------------------------------------
// Every limit, each answered with its status and a message naming it.
// ---------------------------------------------------------------------------------------------

async fn refused(limits: FormLimits, content_type: &str, body: Vec<u8>) -> Fetched {
    let spool = tempfile::tempdir().unwrap();
    let limits = limits.spool_threshold(0).spool_dir(spool.path());
    let server = support::start(form_data_service(limits)).await;
    let addr = server.addr;
    let answer = post(addr, content_type, body).await;
    assert_emptied(spool.path()).await;
    answer
}

fn assert_answer(answer: &Fetched, status: u16, names: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert!(answer.text().contains(names), "{names} not in {answer:?}");
}

#[tokio::test]
async fn max_body_size_with_content_length_is_413() {
    let body = form(&[part("f", Some("f.bin"), &[1; 2000])]);
    let answer = refused(FormLimits::new().max_body_size(1000), CT, body).await;
    assert_answer(&answer, 413, "max_body_size");
}

/// Werkzeug#510: a chunked body has no Content-Length to refuse up front; it is cut as it passes.
#[tokio::test]
async fn max_body_size_without_content_length_is_413() {
    let spool = tempfile::tempdir().unwrap();
    let limits = spooling(spool.path()).max_body_size(1024 * 1024);
    let server = support::start(form_data_service(limits)).await;
    let addr = server.addr;
    let head = stream::iter([Bytes::from(
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n",
    )]);
    // Up to 1 GiB, generated lazily; the server stops after 1 MiB.
    let endless = stream::iter(0..16 * 1024).map(|_| Bytes::from(vec![b'x'; 64 * 1024]));
    let answer = exchange(addr, CT, Framing::Chunked, head.chain(endless)).await;
    assert_answer(&answer, 413, "max_body_size");
    assert_emptied(spool.path()).await;
}

#[tokio::test]
async fn max_parts_is_400() {
    let parts: Vec<_> = (0..11)
        .map(|i| part(&format!("p{i}"), None, b"v"))
        .collect();
    let answer = refused(FormLimits::new().max_parts(10), CT, form(&parts)).await;
    assert_answer(&answer, 400, "max_parts");
    let ok = refused(FormLimits::new().max_parts(11), CT, form(&parts)).await;
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[tokio::test]
async fn max_field_size_is_413() {
    let body = form(&[part("note", None, &[b'a'; 101])]);
    let answer = refused(FormLimits::new().max_field_size(100), CT, body).await;
    assert_answer(&answer, 413, "max_field_size");
}

#[tokio::test]
async fn max_file_size_is_413() {
    let body = form(&[part("f", Some("a.bin"), &[0; 10_001])]);
    let answer = refused(FormLimits::new().max_file_size(10_000), CT, body).await;
    assert_answer(&answer, 413, "max_file_size");
}

#[tokio::test]
async fn max_memory_is_413() {
    let parts: Vec<_> = (0..5)
        .map(|i| part(&format!("t{i}"), None, &[b'a'; 300]))
        .collect();
    let limits = FormLimits::new().max_memory(1000);
    let answer = refused(limits, CT, form(&parts)).await;
    assert_answer(&answer, 413, "max_memory");
}

#[tokio::test]
async fn max_header_bytes_is_413() {
    let long = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: {}\r\n\r\nv\r\n--XyZ--\r\n",
        "p".repeat(600)
    );
    let answer = refused(
        FormLimits::new().max_header_bytes(512),
        CT,
        long.into_bytes(),
    )
    .await;
    assert_answer(&answer, 413, "max_header_bytes");
}

#[tokio::test]
async fn max_boundary_len_is_400() {
    let body = b"--0123456789A\r\n\r\n--0123456789A--\r\n".to_vec();
    let ct = "multipart/form-data; boundary=0123456789A";
    let answer = refused(FormLimits::new().max_boundary_len(10), ct, body).await;
    assert_answer(&answer, 400, "max_boundary_len");
}

#[tokio::test]
async fn a_boundary_longer_than_70_is_400_whatever_the_limit() {
    let boundary = "b".repeat(71);
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--{boundary}--\r\n"
    );
    let ct = format!("multipart/form-data; boundary={boundary}");
    let limits = FormLimits::new().max_boundary_len(1000);
    let answer = refused(limits, &ct, body.into_bytes()).await;
    assert_answer(&answer, 400, "RFC 2046 allows at most 70");
}

#[tokio::test]
async fn other_content_types_are_415_and_nameless_parts_400() {
    let answer = refused(FormLimits::new(), "application/json", b"{}".to_vec()).await;
    assert_answer(&answer, 415, "multipart/form-data");
    let nameless = b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--\r\n".to_vec();
    let answer = refused(FormLimits::new(), CT, nameless).await;
    assert_answer(&answer, 400, "no name");
}

// ---------------------------------------------------------------------------------------------
// Hostile bodies: answered promptly with a 4xx, memory bounded, no temporary file left.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_million_empty_parts_stop_at_max_parts() {
    let spool = tempfile::tempdir().unwrap();
    let server = support::start(form_data_service(spooling(spool.path()))).await;
    let addr = server.addr;
    let empty_part =
        "--XyZ\r\nContent-Disposition: form-data; name=\"e\"; filename=\"e\"\r\n\r\n\r\n";
    // 1 000 000 parts, 1 000 per chunk, generated lazily (about 70 MB).
    let thousand = Bytes::from(empty_part.repeat(1000));
    let parts = stream::iter(0..1000).map(move |_| thousand.clone());
    let body = parts.chain(stream::iter([Bytes::from_static(b"--XyZ--\r\n")]));
    let answer = exchange(addr, CT, Framing::Chunked, body).await;
    assert_answer(&answer, 400, "max_parts");
    assert_emptied(spool.path()).await;
}

#[tokio::test]
async fn a_part_header_that_never_ends_is_413() {
    let spool = tempfile::tempdir().unwrap();
    let server = support::start(form_data_service(spooling(spool.path()))).await;
    let addr = server.addr;
    let head = stream::iter([Bytes::from_static(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Endless: ",
    )]);
    let endless = stream::iter(0..16 * 1024).map(|_| Bytes::from(vec![b'h'; 64 * 1024]));
    let answer = exchange(addr, CT, Framing::Chunked, head.chain(endless)).await;
    assert_answer(&answer, 413, "max_header_bytes");
    assert_emptied(spool.path()).await;
}

#[tokio::test]
async fn a_preamble_without_boundary_is_413() {
    let spool = tempfile::tempdir().unwrap();
    let server = support::start(form_data_service(spooling(spool.path()))).await;
    let addr = server.addr;
    let endless = stream::iter(0..16 * 1024).map(|_| Bytes::from(vec![b'-'; 64 * 1024]));
    let answer = exchange(addr, CT, Framing::Chunked, endless).await;
    assert_answer(&answer, 413, "max_header_bytes");
}

#[tokio::test]
async fn a_missing_final_boundary_is_400() {
    let cases: [(&str, &[u8]); 3] = [
        ("ends in the data", b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\nhalf a file"),
        ("ends after a delimiter", b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\ndata\r\n--XyZ"),
        ("ends in the headers", b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\""),
    ];
    for (case, body) in cases {
        let answer = refused(FormLimits::new(), CT, body.to_vec()).await;
        assert_eq!(answer.status, 400, "{case}: {answer:?}");
        assert!(
            answer.text().contains("multipart body"),
            "{case}: {answer:?}"
        );
    }
    let answer = refused(FormLimits::new(), CT, b"no boundary at all".to_vec()).await;
    assert_answer(&answer, 400, "not framed by its boundary");
}

/// The client announces 10 MB, sends 1 MB of a file and hangs up: the spooled file is deleted.
#[tokio::test]
async fn a_body_that_stops_mid_part_leaves_no_file() {
    let spool = tempfile::tempdir().unwrap();
    let server = support::start(form_data_service(spooling(spool.path()))).await;
    let addr = server.addr;
    let mut tcp = support::connect(addr).await;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: test\r\nContent-Type: {CT}\r\nContent-Length: 10000000\r\n\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&vec![9u8; 1024 * 1024]).await.unwrap();
    eventually(async || !entries(spool.path()).is_empty()).await;
    assert_eq!(entries(spool.path()).len(), 1, "the file was being spooled");
    drop(tcp);
    assert_emptied(spool.path()).await;
}

#[tokio::test]
async fn echo_reports_limits_too() {
    let limits = FormLimits::new().max_file_size(10);
    let server = support::start(EchoService::new().form_limits(limits)).await;
    let addr = server.addr;
    let body = form(&[part("f", Some("a"), &[0; 11])]);
    let answer = post(addr, CT, body).await;
    assert_answer(&answer, 413, "max_file_size");
}
