//! [`RawRequest`]: raw HTTP/1.1 request bytes with the framing-level mutations of the
//! request-smuggling literature, for fuzzing servers and parsers below the `http` types.

use arbitrary::{Arbitrary, Unstructured};

/// One framing-level mutation of a raw request (RFC 9112 sections in `docs/probe.md` terms:
/// each is a shape two HTTP/1.1 implementations have read differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
#[non_exhaustive]
pub enum Mutation {
    /// `Content-Length` and `Transfer-Encoding: chunked` together (§6.1, CL.TE / TE.CL).
    ContentLengthAndChunked,
    /// An obfuscated `Transfer-Encoding` value (` chunked`, `Chunked`, `chunked, identity`,
    /// `xchunked`, a quoted `"chunked"`), next to a `Content-Length`.
    ObfuscatedTransferEncoding(u8),
    /// Two `Transfer-Encoding` fields.
    DuplicateTransferEncoding,
    /// An odd `Content-Length`: `+N`, `N, M`, hex, surrounding junk, overflow, or two fields
    /// that differ (§6.3 item 5).
    OddContentLength(u8),
    /// An odd chunk size: leading zeros, trailing whitespace, a `0x` prefix, overflow (§7.1).
    OddChunkSize(u8),
    /// A chunk extension: plain, quoted with a `;` inside, with spaces, overlong (§7.1.1).
    ChunkExtension(u8),
    /// Bare LF line ends in the head (§2.2).
    BareLf,
    /// A bare CR inside a field value (§2.2).
    BareCr,
    /// A folded field line (obs-fold, §5.2).
    ObsFold,
    /// Whitespace between a field name and its colon (§5.1).
    SpaceBeforeColon,
    /// A second, different `Host` (§3.2).
    DuplicateHost,
    /// No `Host` (§3.2).
    NoHost,
    /// A malformed `Host` value (§3.2).
    BadHost(u8),
    /// A request-line oddity: two spaces, a tab, a lowercase or odd version, no version (§3).
    OddRequestLine(u8),
    /// An absolute-form target naming another authority than `Host` (§3.2.2).
    AbsoluteForm,
    /// HTTP/1.0 with `Transfer-Encoding: chunked` (§6.1).
    Http10Chunked,
    /// A second request pipelined right after the first (§9.3.2).
    Pipelined,
    /// `Upgrade: h2c` with `HTTP2-Settings` (RFC 7540 §3.2, removed by RFC 9113).
    UpgradeH2c,
    /// A NUL byte in a field value.
    Nul,
}

/// An arbitrary raw HTTP/1.1 request: a well-formed base (method, target, `Host`, a body
/// framed by `Content-Length` or chunked) with up to eight [`Mutation`]s applied.
///
/// For fuzzing a server or parser at the byte level (`fuzz_target!(|req: RawRequest| ...)`);
/// [`FuzzRequest`](super::FuzzRequest) works at the level of `http` values instead.
///
/// ```
/// use arbitrary::{Arbitrary, Unstructured};
/// use tollgate::fuzz::RawRequest;
///
/// let req = RawRequest::arbitrary(&mut Unstructured::new(b"fuzzer bytes here")).unwrap();
/// let bytes: &[u8] = req.bytes();
/// assert!(!bytes.is_empty());
/// // With no mutation, the request is one valid request for `wire`.
/// if req.mutations().is_empty() {
///     let (_, used) = tollgate::wire::parse_request(bytes).unwrap();
///     assert_eq!(used, bytes.len());
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    mutations: Vec<Mutation>,
    bytes: Vec<u8>,
}

impl RawRequest {
    /// The mutations applied, in order.
    pub fn mutations(&self) -> &[Mutation] {
        &self.mutations
    }

    /// The request as bytes to send.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A request made from `seed` alone (the generator without a fuzzer); the same seed gives
    /// the same request.
    pub fn from_seed(seed: u64) -> RawRequest {
        let data = super::seed_bytes(seed);
        RawRequest::arbitrary(&mut Unstructured::new(&data))
            .expect("arbitrary never fails on short input")
    }
}

/// The request before it is written out.
struct Model {
    request_line: Option<Vec<u8>>,
    method: &'static str,
    target: String,
    version: &'static str,
    fields: Vec<Vec<u8>>,
    eol: &'static [u8],
    chunked: bool,
    chunk_size: Option<Vec<u8>>,
    chunk_ext: Vec<u8>,
    body: Vec<u8>,
    next: Option<&'static [u8]>,
}

fn pick<T: Copy>(choices: &[T], i: u8) -> T {
    choices[usize::from(i) % choices.len()]
}

impl Model {
    fn field(&mut self, name: &str, value: &[u8]) {
        let mut line = format!("{name}: ").into_bytes();
        line.extend_from_slice(value);
        self.fields.push(line);
    }

    fn set_field(&mut self, name: &str, value: &[u8]) {
        let prefix = format!("{name}:").to_ascii_lowercase();
        self.fields
            .retain(|l| !l.to_ascii_lowercase().starts_with(prefix.as_bytes()));
        self.field(name, value);
    }

    fn len_field(&mut self) {
        let len = self.body.len().to_string();
        self.set_field("Content-Length", len.as_bytes());
    }

    fn odd_content_length(&mut self, i: u8) {
        let n = self.body.len();
        self.chunked = false;
        let values = [
            format!("+{n}"),
            format!("{n}, {}", n + 1),
            format!("0x{n:x}"),
            format!("{n}x"),
            "99999999999999999999".to_owned(),
        ];
        let value = values[usize::from(i) % (values.len() + 1)..]
            .first()
            .cloned();
        match value {
            Some(v) => self.set_field("Content-Length", v.as_bytes()),
            None => {
                self.len_field();
                self.field("Content-Length", (n + 1).to_string().as_bytes());
            }
        }
    }

    fn apply(&mut self, m: Mutation) {
        match m {
            Mutation::ContentLengthAndChunked => {
                self.chunked = true;
                self.len_field();
            }
            Mutation::ObfuscatedTransferEncoding(i) => {
                self.chunked = true;
                let te = [
                    " chunked",
                    "Chunked",
                    "chunked, identity",
                    "xchunked",
                    "\"chunked\"",
                ];
                self.set_field("Transfer-Encoding", pick(&te, i).as_bytes());
                self.len_field();
            }
            Mutation::DuplicateTransferEncoding => {
                self.chunked = true;
                self.set_field("Transfer-Encoding", b"chunked");
                self.field("Transfer-Encoding", b"identity");
            }
            Mutation::OddContentLength(i) => self.odd_content_length(i),
            Mutation::OddChunkSize(i) => {
                self.chunked = true;
                if self.body.is_empty() {
                    // A size of zero is the last chunk: the request would end there.
                    self.body.push(b'x');
                }
                let n = self.body.len();
                let size = [
                    format!("000000{n:x}"),
                    format!("{n:x} "),
                    format!("0x{n:x}"),
                    format!("{n:X}"),
                    "1ffffffffffffffff".to_owned(),
                ];
                self.chunk_size = Some(size[usize::from(i) % size.len()].clone().into_bytes());
            }
            Mutation::ChunkExtension(i) => {
                self.chunked = true;
                let long = format!(";{}", "x".repeat(5000));
                let ext = [";a=b", ";a=\"x;y\"", " ; a = b", ";", long.as_str()];
                self.chunk_ext = pick(&ext, i).as_bytes().to_vec();
            }
            Mutation::BareLf => self.eol = b"\n",
            Mutation::BareCr => self.field("X-Raw", b"a\rb"),
            Mutation::ObsFold => self.field("X-Folded", b"a\r\n b"),
            Mutation::SpaceBeforeColon => self.fields.push(b"Transfer-Encoding : chunked".to_vec()),
            Mutation::DuplicateHost => self.field("Host", b"other.example"),
            Mutation::NoHost => self.fields.retain(|l| !l.starts_with(b"Host:")),
            Mutation::BadHost(i) => {
                let host = ["a b", "user@h", "h:1:2", "", "[::1"];
                self.set_field("Host", pick(&host, i).as_bytes());
            }
            Mutation::OddRequestLine(i) => {
                let (m, t) = (self.method, &self.target);
                let lines = [
                    format!("{m}  {t} HTTP/1.1"),
                    format!("{m}\t{t} HTTP/1.1"),
                    format!("{m} {t} http/1.1"),
                    format!("{m} {t}"),
                    format!("{m} {t} HTTP/1.1 "),
                    format!("{m} {t} HTTP/1.10"),
                ];
                self.request_line = Some(lines[usize::from(i) % lines.len()].clone().into_bytes());
            }
            Mutation::AbsoluteForm => self.target = format!("http://other.example{}", self.target),
            Mutation::Http10Chunked => {
                self.version = "HTTP/1.0";
                self.chunked = true;
            }
            Mutation::Pipelined => self.next = Some(b"GET /second HTTP/1.1\r\nHost: h\r\n\r\n"),
            Mutation::UpgradeH2c => {
                self.field("Connection", b"Upgrade, HTTP2-Settings");
                self.field("Upgrade", b"h2c");
                self.field("HTTP2-Settings", b"AAMAAABkAAQAAP__");
            }
            Mutation::Nul => self.field("X-Raw", b"a\0b"),
        }
    }

    fn write(self) -> Vec<u8> {
        let mut out = self.request_line.unwrap_or_else(|| {
            format!("{} {} {}", self.method, self.target, self.version).into_bytes()
        });
        out.extend_from_slice(self.eol);
        let chunked_field = self
            .fields
            .iter()
            .any(|l| l.to_ascii_lowercase().starts_with(b"transfer-encoding"));
        for line in &self.fields {
            out.extend_from_slice(line);
            out.extend_from_slice(self.eol);
        }
        if self.chunked && !chunked_field {
            out.extend_from_slice(b"Transfer-Encoding: chunked");
            out.extend_from_slice(self.eol);
        }
        out.extend_from_slice(self.eol);
        if self.chunked {
            if !self.body.is_empty() || self.chunk_size.is_some() {
                let size = self
                    .chunk_size
                    .unwrap_or_else(|| format!("{:x}", self.body.len()).into_bytes());
                out.extend_from_slice(&size);
                out.extend_from_slice(&self.chunk_ext);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&self.body);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(&self.body);
        }
        if let Some(next) = self.next {
            out.extend_from_slice(next);
        }
        out
    }
}

impl<'a> Arbitrary<'a> for RawRequest {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let method = *u.choose(&["GET", "POST", "PUT", "OPTIONS", "DELETE"])?;
        let segment: String = u
            .arbitrary_iter::<u8>()?
            .take(16)
            .filter_map(Result::ok)
            .map(|b| char::from(b'a' + b % 26))
            .collect();
        let body: Vec<u8> = u
            .arbitrary_iter::<u8>()?
            .take(64)
            .filter_map(Result::ok)
            .collect();
        let chunked = u.arbitrary()?;
        let mut model = Model {
            request_line: None,
            method,
            target: format!("/{segment}"),
            version: "HTTP/1.1",
            fields: vec![b"Host: example.com".to_vec()],
            eol: b"\r\n",
            chunked,
            chunk_size: None,
            chunk_ext: Vec::new(),
            body,
            next: None,
        };
        if !chunked {
            model.len_field();
        }
        let mut mutations = Vec::new();
        for m in u.arbitrary_iter::<Mutation>()?.take(8) {
            let m = m?;
            model.apply(m);
            mutations.push(m);
        }
        Ok(RawRequest {
            mutations,
            bytes: model.write(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, WireError};

    #[test]
    fn unmutated_requests_are_one_valid_request() {
        let mut plain = 0;
        for seed in 0..2000 {
            let req = RawRequest::from_seed(seed);
            if !req.mutations().is_empty() {
                continue;
            }
            plain += 1;
            let (_, used) = wire::parse_request(req.bytes())
                .unwrap_or_else(|e| panic!("seed {seed}: {e}: {:?}", req.bytes()));
            assert_eq!(used, req.bytes().len(), "seed {seed}");
        }
        assert!(plain > 0, "some seeds give no mutation");
    }

    #[test]
    fn smuggling_shapes_are_refused_by_wire() {
        for m in [
            Mutation::ContentLengthAndChunked,
            Mutation::DuplicateTransferEncoding,
            Mutation::BareLf,
            Mutation::ObsFold,
            Mutation::SpaceBeforeColon,
            Mutation::DuplicateHost,
            Mutation::NoHost,
            Mutation::Http10Chunked,
            Mutation::Nul,
            Mutation::ObfuscatedTransferEncoding(3),
            Mutation::OddContentLength(0),
            Mutation::OddChunkSize(1),
        ] {
            let mut model = base("hello");
            model.apply(m);
            let got = wire::parse_request(&model.write());
            assert!(
                matches!(&got, Err(e) if *e != WireError::Incomplete),
                "{m:?}: {got:?}"
            );
        }
        // Pipelined: the first request ends where the second begins.
        let mut model = base("hello");
        model.apply(Mutation::Pipelined);
        let bytes = model.write();
        let (_, used) = wire::parse_request(&bytes).unwrap();
        assert!(bytes[used..].starts_with(b"GET /second"));
    }

    fn base(body: &str) -> Model {
        let mut model = Model {
            request_line: None,
            method: "POST",
            target: "/a".into(),
            version: "HTTP/1.1",
            fields: vec![b"Host: example.com".to_vec()],
            eol: b"\r\n",
            chunked: false,
            chunk_size: None,
            chunk_ext: Vec::new(),
            body: body.as_bytes().to_vec(),
            next: None,
        };
        model.len_field();
        model
    }
}
