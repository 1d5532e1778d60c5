//! The built-in corpus: one [`Case`] per ambiguous shape, each made of [`Mutation`]s (the
//! fuzzing generator's vocabulary) applied to a plain request.

use crate::wire::mutation::Model;
use crate::wire::Mutation;

/// One probe case: a raw request (or two, pipelined) in a shape HTTP/1.1 implementations
/// have read differently, with the RFC section that decides it and what a good server does.
///
/// ```
/// use tollgate::probe;
///
/// let case = probe::case("cl-te").unwrap();
/// assert_eq!(case.rfc, "RFC 9112 §6.1");
/// let bytes = case.bytes("127.0.0.1:8080", "/");
/// assert!(bytes.starts_with(b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Case {
    /// A short stable name (`cl-te`), for `--case` and reports.
    pub id: &'static str,
    /// What is sent, in a few words.
    pub title: &'static str,
    /// The RFC section that decides the case.
    pub rfc: &'static str,
    /// The advisory or research the shape comes from, when there is one.
    pub advisory: Option<&'static str>,
    /// What a good server answers.
    pub good: &'static str,
    method: &'static str,
    chunked: bool,
    mutations: &'static [Mutation],
}

impl Case {
    /// The raw bytes sent for `host` (the `Host` value) and `target` (the request target).
    pub fn bytes(&self, host: &str, target: &str) -> Vec<u8> {
        let body: &[u8] = if self.method == "GET" { b"" } else { b"hello" };
        let mut model = Model::new(self.method, target, host, body, self.chunked);
        for m in self.mutations {
            model.apply(*m);
        }
        model.write()
    }

    /// How many requests the client means to send (two when pipelined).
    pub fn requests_meant(&self) -> usize {
        self.mutations
            .iter()
            .map(|m| m.requests_meant())
            .max()
            .unwrap_or(1)
    }

    /// The mutations that make the case, in order.
    pub fn mutations(&self) -> &'static [Mutation] {
        self.mutations
    }
}

/// Every case of the corpus, in report order.
pub fn corpus() -> &'static [Case] {
    CASES
}

/// The case named `id`, if the corpus has it.
pub fn case(id: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.id == id)
}

const REFUSE_CL_TE: &str =
    "400 and close; or read the chunked body, ignore Content-Length and close after answering";
const REFUSE: &str = "400 (Bad Request), and the connection closed or still in step";
const REFUSE_CLOSE: &str = "400 (Bad Request) and close the connection";
const ACCEPT: &str = "read it as meant (2xx) and keep the connection in step";
const ACCEPT_OR_REFUSE: &str = "read it as meant, or 400; never a second answer";
const DESYNC_2019: &str = "PortSwigger, HTTP Desync Attacks (2019); smuggler.py";
const PROTOCOL_HTTP1: &str = "CVE-2023-38697 (protocol-http1)";

/// `Case` for a table: id, title, RFC, advisory, good answer, method, chunked base, mutations.
macro_rules! case {
    ($id:literal, $title:literal, $rfc:literal, $adv:expr, $good:expr, $method:literal, $chunked:literal, [$($m:expr),*]) => {
        Case {
            id: $id,
            title: $title,
            rfc: $rfc,
            advisory: $adv,
            good: $good,
            method: $method,
            chunked: $chunked,
            mutations: &[$($m),*],
        }
    };
}

use Mutation as M;

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Content-Length and Transfer-Encoding.
    case!("cl-te", "Content-Length and Transfer-Encoding: chunked", "RFC 9112 §6.1",
        Some("Watchfire, HTTP Request Smuggling (2005)"), REFUSE_CL_TE, "POST", false, [M::ContentLengthAndChunked]),
    case!("te-leading-space", "Transfer-Encoding:  chunked (extra space) with Content-Length", "RFC 9112 §6.1",
        Some(DESYNC_2019), REFUSE_CL_TE, "POST", false, [M::ObfuscatedTransferEncoding(0)]),
    case!("te-case", "Transfer-Encoding: Chunked with Content-Length", "RFC 9112 §6.1, §7",
        Some(DESYNC_2019), REFUSE_CL_TE, "POST", false, [M::ObfuscatedTransferEncoding(1)]),
    case!("te-chunked-identity", "Transfer-Encoding: chunked, identity with Content-Length", "RFC 9112 §6.3 item 4",
        Some(DESYNC_2019), REFUSE_CLOSE, "POST", false, [M::ObfuscatedTransferEncoding(2)]),
    case!("te-xchunked", "Transfer-Encoding: xchunked with Content-Length", "RFC 9112 §6.3 item 4",
        Some(DESYNC_2019), REFUSE_CLOSE, "POST", false, [M::ObfuscatedTransferEncoding(3)]),
    case!("te-quoted", "Transfer-Encoding: \"chunked\" with Content-Length", "RFC 9112 §6.3 item 4",
        Some(DESYNC_2019), REFUSE_CLOSE, "POST", false, [M::ObfuscatedTransferEncoding(4)]),
    case!("te-tab", "Transfer-Encoding:<TAB>chunked with Content-Length", "RFC 9112 §6.1, §5.1",
        Some(DESYNC_2019), REFUSE_CL_TE, "POST", false, [M::ObfuscatedTransferEncoding(5)]),
    case!("te-identity-chunked", "Transfer-Encoding: identity, chunked with Content-Length", "RFC 9112 §6.1",
        Some("CVE-2022-32213 (Node.js llhttp)"), REFUSE_CLOSE, "POST", false, [M::ObfuscatedTransferEncoding(6)]),
    case!("te-duplicate", "two Transfer-Encoding fields: chunked, then identity", "RFC 9112 §6.3 item 4",
        Some("RUSTSEC-2021-0020 (hyper)"), REFUSE_CLOSE, "POST", true, [M::DuplicateTransferEncoding]),
    case!("te-space-before-colon", "Transfer-Encoding : chunked (space before the colon) with Content-Length", "RFC 9112 §5.1",
        Some(DESYNC_2019), REFUSE_CLOSE, "POST", false, [M::SpaceBeforeColon]),
    case!("te-http10", "HTTP/1.0 request with Transfer-Encoding: chunked", "RFC 9112 §6.1",
        None, "400 and close (the framing is faulty); never read the chunks as a next request", "POST", true, [M::Http10Chunked]),
    case!("cl-plus", "Content-Length: +5", "RFC 9112 §6.3 item 5, RFC 9110 §8.6",
        Some("RUSTSEC-2021-0078 (hyper); CVE-2023-38697 (protocol-http1)"), REFUSE_CLOSE, "POST", false, [M::OddContentLength(0)]),
    case!("cl-list-differ", "Content-Length: 5, 6", "RFC 9112 §6.3 item 5",
        Some(DESYNC_2019), REFUSE_CLOSE, "POST", false, [M::OddContentLength(1)]),
    case!("cl-hex", "Content-Length: 0x5", "RFC 9112 §6.3 item 5",
        Some(PROTOCOL_HTTP1), REFUSE_CLOSE, "POST", false, [M::OddContentLength(2)]),
    case!("cl-junk", "Content-Length: 5x", "RFC 9112 §6.3 item 5",
        None, REFUSE_CLOSE, "POST", false, [M::OddContentLength(3)]),
    case!("cl-overflow", "Content-Length: 99999999999999999999 (over 64 bits)", "RFC 9112 §6.3 item 5",
        None, "400 or 413, and close", "POST", false, [M::OddContentLength(4)]),
    case!("cl-leading-zeros", "Content-Length: 0005", "RFC 9110 §8.6",
        None, ACCEPT, "POST", false, [M::OddContentLength(5)]),
    case!("cl-list-same", "Content-Length: 5, 5", "RFC 9110 §8.6",
        None, ACCEPT_OR_REFUSE, "POST", false, [M::OddContentLength(6)]),
    case!("cl-two-fields", "two Content-Length fields: 5 and 6", "RFC 9112 §6.3 item 5",
        Some(DESYNC_2019), REFUSE_CLOSE, "POST", false, [M::OddContentLength(7)]),
    // Chunk sizes and extensions.
    case!("chunk-leading-zeros", "chunk size 0000005", "RFC 9112 §7.1",
        None, ACCEPT, "POST", true, [M::OddChunkSize(0)]),
    case!("chunk-trailing-space", "chunk size \"5 \" (trailing space, no extension)", "RFC 9112 §7.1, §7.1.1",
        Some("HTTP Garden (Kallus et al., 2024)"), ACCEPT_OR_REFUSE, "POST", true, [M::OddChunkSize(1)]),
    case!("chunk-0x", "chunk size 0x5", "RFC 9112 §7.1",
        Some(PROTOCOL_HTTP1), REFUSE_CLOSE, "POST", true, [M::OddChunkSize(2)]),
    case!("chunk-uppercase", "chunk size in upper-case hex", "RFC 9112 §7.1",
        None, ACCEPT, "POST", true, [M::OddChunkSize(3)]),
    case!("chunk-overflow", "chunk size 1ffffffffffffffff (over 64 bits)", "RFC 9112 §7.1",
        Some("RUSTSEC-2021-0079 (hyper)"), REFUSE_CLOSE, "POST", true, [M::OddChunkSize(4)]),
    case!("chunk-leading-space", "chunk size \" 5\" (leading space)", "RFC 9112 §7.1",
        Some("HTTP Garden (Kallus et al., 2024)"), REFUSE_CLOSE, "POST", true, [M::OddChunkSize(5)]),
    case!("chunk-ext", "chunk extension ;a=b", "RFC 9112 §7.1.1",
        None, ACCEPT, "POST", true, [M::ChunkExtension(0)]),
    case!("chunk-ext-quoted", "chunk extension ;a=\"x;y\" (quoted, with a semicolon)", "RFC 9112 §7.1.1",
        Some("HTTP Garden (Kallus et al., 2024)"), ACCEPT, "POST", true, [M::ChunkExtension(1)]),
    case!("chunk-ext-spaces", "chunk extension \" ; a = b\" (BWS around ; and =)", "RFC 9112 §7.1.1",
        None, ACCEPT_OR_REFUSE, "POST", true, [M::ChunkExtension(2)]),
    case!("chunk-ext-empty", "chunk extension \";\" (no name)", "RFC 9112 §7.1.1",
        None, REFUSE_CLOSE, "POST", true, [M::ChunkExtension(3)]),
    case!("chunk-ext-long", "a 5000-byte chunk extension", "RFC 9112 §7.1.1",
        Some("CVE-2023-39326 (Go net/http)"), "read it, or 400 if it is over a limit", "POST", true, [M::ChunkExtension(4)]),
    case!("chunk-ext-bare-lf", "chunk extension ended by a bare LF", "RFC 9112 §7.1.1, §2.2",
        Some(PROTOCOL_HTTP1), REFUSE_CLOSE, "POST", true, [M::ChunkExtension(5)]),
    // The head.
    case!("bare-lf", "head lines ended by a bare LF", "RFC 9112 §2.2",
        Some("CVE-2019-16785 (Waitress)"), ACCEPT_OR_REFUSE, "GET", false, [M::BareLf]),
    case!("bare-cr", "a bare CR inside a field value", "RFC 9112 §2.2",
        None, "400, or the CR replaced by a space", "GET", false, [M::BareCr]),
    case!("obs-fold", "a folded field line (obs-fold)", "RFC 9112 §5.2",
        Some("CVE-2022-32215 (Node.js llhttp)"), "400, or the fold replaced by a space", "GET", false, [M::ObsFold]),
    case!("nul", "a NUL byte inside a field value", "RFC 9110 §5.5",
        None, REFUSE, "GET", false, [M::Nul]),
    case!("host-duplicate", "two different Host fields", "RFC 9112 §3.2",
        None, REFUSE, "GET", false, [M::DuplicateHost]),
    case!("host-missing", "HTTP/1.1 without Host", "RFC 9112 §3.2",
        None, REFUSE, "GET", false, [M::NoHost]),
    case!("host-space", "Host: a b", "RFC 9112 §3.2",
        None, REFUSE, "GET", false, [M::BadHost(0)]),
    case!("host-userinfo", "Host: user@h", "RFC 9112 §3.2, RFC 9110 §7.2",
        None, REFUSE, "GET", false, [M::BadHost(1)]),
    case!("host-two-colons", "Host: h:1:2", "RFC 9112 §3.2",
        None, REFUSE, "GET", false, [M::BadHost(2)]),
    case!("host-empty", "Host: (empty)", "RFC 9112 §3.2",
        None, ACCEPT_OR_REFUSE, "GET", false, [M::BadHost(3)]),
    case!("host-open-bracket", "Host: [::1 (no closing bracket)", "RFC 9112 §3.2",
        None, REFUSE, "GET", false, [M::BadHost(4)]),
    // The request line.
    case!("line-two-spaces", "two spaces after the method", "RFC 9112 §3",
        None, ACCEPT_OR_REFUSE, "GET", false, [M::OddRequestLine(0)]),
    case!("line-tab", "a tab after the method", "RFC 9112 §3",
        None, ACCEPT_OR_REFUSE, "GET", false, [M::OddRequestLine(1)]),
    case!("line-lowercase-version", "version http/1.1", "RFC 9112 §2.3",
        None, REFUSE, "GET", false, [M::OddRequestLine(2)]),
    case!("line-http09", "no version (HTTP/0.9), then fields", "RFC 9112 §3",
        None, REFUSE, "GET", false, [M::OddRequestLine(3)]),
    case!("line-trailing-space", "a space after the version", "RFC 9112 §3",
        None, REFUSE, "GET", false, [M::OddRequestLine(4)]),
    case!("line-http110", "version HTTP/1.10", "RFC 9112 §2.3",
        None, REFUSE, "GET", false, [M::OddRequestLine(5)]),
    case!("line-http12", "version HTTP/1.2", "RFC 9112 §2.3",
        None, "read it as HTTP/1.1 (the highest minor version), or 505", "GET", false, [M::OddRequestLine(6)]),
    case!("absolute-form", "absolute-form target naming another host than Host", "RFC 9112 §3.2.2",
        None, "read it, the target's authority winning over Host; or 400", "GET", false, [M::AbsoluteForm]),
    // More than one request, other protocols.
    case!("pipelined", "a POST and a GET sent at once", "RFC 9112 §9.3.2",
        None, "two answers, in order, and the connection kept", "POST", false, [M::Pipelined]),
    case!("upgrade-h2c", "Upgrade: h2c with HTTP2-Settings", "RFC 9113 §3.1 (RFC 7540 §3.2 removed)",
        Some("Bishop Fox, h2c smuggling (2020); RUSTSEC-2026-0033 (pingora)"), "ignore the upgrade and answer in HTTP/1.1 (or 101 only where h2c is wanted)", "GET", false, [M::UpgradeH2c]),
    case!("expect-100", "Expect: 100-continue with the body sent at once", "RFC 9110 §10.1.1",
        None, "100 (optional) then one final answer; the body never read as a request", "POST", false, [M::OddExpect(0)]),
    case!("expect-unknown", "Expect: x-unknown", "RFC 9110 §10.1.1",
        None, "417, or ignore it", "POST", false, [M::OddExpect(1)]),
    case!("expect-twice", "Expect: 100-continue, 100-continue", "RFC 9110 §10.1.1",
        None, "one final answer; 417 is fine", "POST", false, [M::OddExpect(2)]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_short() {
        let mut ids: Vec<&str> = CASES.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CASES.len());
        assert!(CASES
            .iter()
            .all(|c| c.id.len() <= 24 && c.rfc.starts_with("RFC ")));
    }

    #[test]
    fn only_the_pipelined_case_means_two_requests() {
        for case in CASES {
            let want = if case.id == "pipelined" { 2 } else { 1 };
            assert_eq!(case.requests_meant(), want, "{}", case.id);
        }
    }

    #[test]
    fn docs_probe_md_explains_every_case() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/probe.md");
        let doc = std::fs::read_to_string(path).unwrap();
        for case in CASES {
            let row = format!("| `{}` | ", case.id);
            let line = doc.lines().find(|l| l.starts_with(&row));
            let line = line.unwrap_or_else(|| panic!("docs/probe.md has no row for {}", case.id));
            assert!(line.contains(case.rfc), "{}: {line}", case.id);
        }
    }
}
