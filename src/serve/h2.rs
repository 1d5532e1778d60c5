//! The HTTP/2 limits every `serve` connection gets, set here rather than left to hyper's and
//! h2's defaults (which the crates may change): how many streams a client may open, how large a
//! header block may decode to, how many streams it may reset before they are taken (the "rapid
//! reset" of CVE-2023-44487) or make the server reset.

use std::time::Duration;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Http2Builder;

/// `SETTINGS_MAX_CONCURRENT_STREAMS`: streams open at once per connection; more are refused
/// with `REFUSED_STREAM` (nginx's `http2_max_concurrent_streams` is 128).
pub const MAX_CONCURRENT_STREAMS: u32 = 128;

/// `SETTINGS_MAX_HEADER_LIST_SIZE`: the decoded size of a header block (names, values and 32
/// bytes per field, RFC 9113 §6.5.2); a larger one, however small its HPACK encoding, is
/// refused with `431` and never held whole (an HPACK bomb or a CONTINUATION flood).
pub const MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;

/// Streams a client may open and reset before the server took them: past it the connection
/// ends with `GOAWAY` (`ENHANCE_YOUR_CALM`).
pub const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// Streams the server may reset because of the client's errors before it ends the connection
/// with `GOAWAY`.
pub const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 256;

/// How much of an answer is buffered per stream beyond what the client's flow-control window
/// lets out: a client holding 128 windows at zero pins at most 128 × this (hyper's default,
/// ~400 KiB, let one such connection hold ~50 MiB of file chunks).
pub const MAX_SEND_BUF_SIZE: usize = 64 * 1024;

/// How often an HTTP/2 connection is pinged; one whose peer does not answer within
/// [`KEEP_ALIVE_TIMEOUT`] is closed (a client gone without a `FIN`).
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(60);

/// How long a ping may go unanswered.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Sets the limits above on `builder`.
pub(super) fn limits(builder: &mut Http2Builder<'_, TokioExecutor>) {
    builder
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(MAX_LOCAL_ERROR_RESET_STREAMS)
        .max_send_buf_size(MAX_SEND_BUF_SIZE)
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
}
