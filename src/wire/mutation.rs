//! [`Mutation`]: the framing-level shapes of the request-smuggling literature, and the one
//! model that writes a raw request with them applied. Two users: the fuzzing generator
//! (`fuzz::RawRequest`, arbitrary mutations) and `tollgate probe` (`probe`'s corpus, one
//! documented case per shape).

/// One framing-level mutation of a raw request (RFC 9112 sections, as `docs/probe.md` lists
/// them: each is a shape two HTTP/1.1 implementations have read differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "fuzz", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum Mutation {
    /// `Content-Length` and `Transfer-Encoding: chunked` together (§6.1, CL.TE / TE.CL).
    ContentLengthAndChunked,
    /// An obfuscated `Transfer-Encoding` value (` chunked`, `Chunked`, `chunked, identity`,
    /// `xchunked`, a quoted `"chunked"`, a tab before `chunked`, `identity, chunked`), next to
    /// a `Content-Length`.
    ObfuscatedTransferEncoding(u8),
    /// Two `Transfer-Encoding` fields.
    DuplicateTransferEncoding,
    /// An odd `Content-Length`: `+N`, `N, M`, hex, surrounding junk, overflow, leading zeros,
    /// `N, N`, or two fields that differ (§6.3 item 5).
    OddContentLength(u8),
    /// An odd chunk size: leading zeros, trailing whitespace, a `0x` prefix, upper-case hex,
    /// overflow, a leading space (§7.1).
    OddChunkSize(u8),
    /// A chunk extension: plain, quoted with a `;` inside, with spaces, a bare `;`, overlong,
    /// ended by a bare LF (§7.1.1).
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
    /// A request-line oddity: two spaces, a tab, a lowercase or odd version, no version,
    /// a trailing space, `HTTP/1.10`, `HTTP/1.2` (§3).
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
    /// An odd `Expect`: `100-continue` with its body sent at once, an unknown expectation,
    /// `100-continue` twice (RFC 9110 §10.1.1).
    OddExpect(u8),
}

impl Mutation {
    /// How many requests the client means to send with this mutation applied (two for
    /// [`Mutation::Pipelined`], one for the others).
    pub fn requests_meant(self) -> usize {
        if self == Mutation::Pipelined {
            2
        } else {
            1
        }
    }
}

/// A raw request before it is written out: a well-formed base with [`Mutation`]s applied.
#[cfg_attr(not(any(feature = "fuzz", feature = "probe")), allow(dead_code))]
pub(crate) struct Model {
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
    next: Option<Vec<u8>>,
    host: String,
}

#[cfg_attr(not(any(feature = "fuzz", feature = "probe")), allow(dead_code))]
fn pick<T: Copy>(choices: &[T], i: u8) -> T {
    choices[usize::from(i) % choices.len()]
}

#[cfg_attr(not(any(feature = "fuzz", feature = "probe")), allow(dead_code))]
impl Model {
    /// `METHOD TARGET HTTP/1.1` with `Host: HOST` and `body`, framed by chunks or by
    /// `Content-Length`.
    pub(crate) fn new(
        method: &'static str,
        target: &str,
        host: &str,
        body: &[u8],
        chunked: bool,
    ) -> Model {
        let mut model = Model {
            request_line: None,
            method,
            target: target.to_owned(),
            version: "HTTP/1.1",
            fields: vec![format!("Host: {host}").into_bytes()],
            eol: b"\r\n",
            chunked,
            chunk_size: None,
            chunk_ext: Vec::new(),
            body: body.to_vec(),
            next: None,
            host: host.to_owned(),
        };
        if !chunked {
            model.len_field();
        }
        model
    }

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
            format!("000{n}"),
            format!("{n}, {n}"),
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

    fn odd_chunk_size(&mut self, i: u8) {
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
            format!(" {n:x}"),
        ];
        self.chunk_size = Some(size[usize::from(i) % size.len()].clone().into_bytes());
    }

    fn odd_request_line(&mut self, i: u8) {
        let (m, t) = (self.method, &self.target);
        let lines = [
            format!("{m}  {t} HTTP/1.1"),
            format!("{m}\t{t} HTTP/1.1"),
            format!("{m} {t} http/1.1"),
            format!("{m} {t}"),
            format!("{m} {t} HTTP/1.1 "),
            format!("{m} {t} HTTP/1.10"),
            format!("{m} {t} HTTP/1.2"),
        ];
        self.request_line = Some(lines[usize::from(i) % lines.len()].clone().into_bytes());
    }

    /// Applies `m` to the request.
    pub(crate) fn apply(&mut self, m: Mutation) {
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
                    "\tchunked",
                    "identity, chunked",
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
            Mutation::OddChunkSize(i) => self.odd_chunk_size(i),
            Mutation::ChunkExtension(i) => {
                self.chunked = true;
                let long = format!(";{}", "x".repeat(5000));
                let ext = [";a=b", ";a=\"x;y\"", " ; a = b", ";", long.as_str(), ";a\n"];
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
            Mutation::OddRequestLine(i) => self.odd_request_line(i),
            Mutation::AbsoluteForm => self.target = format!("http://other.example{}", self.target),
            Mutation::Http10Chunked => {
                self.version = "HTTP/1.0";
                self.chunked = true;
            }
            Mutation::Pipelined => {
                let next = format!("GET /second HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
                self.next = Some(next.into_bytes());
            }
            Mutation::UpgradeH2c => {
                self.field("Connection", b"Upgrade, HTTP2-Settings");
                self.field("Upgrade", b"h2c");
                self.field("HTTP2-Settings", b"AAMAAABkAAQAAP__");
            }
            Mutation::Nul => self.field("X-Raw", b"a\0b"),
            Mutation::OddExpect(i) => {
                let expect = ["100-continue", "x-unknown", "100-continue, 100-continue"];
                self.set_field("Expect", pick(&expect, i).as_bytes());
            }
        }
    }

    /// The request's bytes, the pipelined next request included.
    pub(crate) fn write(self) -> Vec<u8> {
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
            out.extend_from_slice(&next);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, WireError};

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
            Mutation::ChunkExtension(5),
        ] {
            let mut model = Model::new("POST", "/a", "example.com", b"hello", false);
            model.apply(m);
            let got = wire::parse_request(&model.write());
            assert!(
                matches!(&got, Err(e) if *e != WireError::Incomplete),
                "{m:?}: {got:?}"
            );
        }
        // Pipelined: the first request ends where the second begins.
        let mut model = Model::new("POST", "/a", "example.com", b"hello", false);
        model.apply(Mutation::Pipelined);
        let bytes = model.write();
        let (_, used) = wire::parse_request(&bytes).unwrap();
        assert!(bytes[used..].starts_with(b"GET /second"));
    }

    #[test]
    fn valid_oddities_are_read_by_wire() {
        for (m, chunked) in [
            (Mutation::OddContentLength(5), false),
            (Mutation::OddChunkSize(0), true),
            (Mutation::OddChunkSize(3), true),
            (Mutation::ChunkExtension(0), true),
        ] {
            let mut model = Model::new("POST", "/a", "example.com", b"hello", chunked);
            model.apply(m);
            let bytes = model.write();
            let (req, used) = wire::parse_request(&bytes).unwrap_or_else(|e| panic!("{m:?}: {e}"));
            assert_eq!(used, bytes.len(), "{m:?}");
            assert_eq!(req.body().as_ref(), b"hello", "{m:?}");
        }
    }
}
