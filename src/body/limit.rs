//! [`BodyTooLarge`]: a body cut at a byte limit while it streams, and the [`Watch`] that cuts
//! it.

use std::fmt;

#[cfg(feature = "compress")]
use bytes::Bytes;
#[cfg(feature = "compress")]
use http_body::Frame;

#[cfg(feature = "compress")]
use super::{Body, BoxError, Watch, Watched};

/// The error a body yields once it passed its byte limit: a decoded request body larger than
/// [`CompressConfig::max_decompressed_body`](crate::compress::CompressConfig), for one.
///
/// Reading the body with [`to_bytes`](super::to_bytes), or through the proxy, turns it into a
/// `413 Payload Too Large` that closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyTooLarge {
    limit: u64,
}

impl BodyTooLarge {
    /// The limit that was passed, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request body is larger than the limit of {} bytes",
            self.limit
        )
    }
}

impl std::error::Error for BodyTooLarge {}

#[cfg(feature = "compress")]
/// Counts the bytes that pass and fails the body with [`BodyTooLarge`] past `limit`; no more
/// than `limit` bytes are ever passed on.
struct Limit {
    seen: u64,
    limit: u64,
}

#[cfg(feature = "compress")]
impl Watch for Limit {
    fn frame(&mut self, frame: Frame<Bytes>, _end: bool) -> Result<Frame<Bytes>, BoxError> {
        if let Some(data) = frame.data_ref() {
            self.seen = self.seen.saturating_add(data.len() as u64);
            if self.seen > self.limit {
                return Err(Box::new(BodyTooLarge { limit: self.limit }));
            }
        }
        Ok(frame)
    }
}

/// `body`, failing with [`BodyTooLarge`] once more than `limit` bytes passed.
#[cfg(feature = "compress")]
pub(crate) fn limited<B>(body: B, limit: u64) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    Body::new(Watched::new(body, Limit { seen: 0, limit }))
}

#[cfg(all(test, feature = "compress"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_up_to_the_limit_and_fails_past_it() {
        let ok = super::super::to_bytes(limited(Body::from("12345"), 5), 100).await;
        assert_eq!(&ok.unwrap()[..], b"12345");
        let err = super::super::to_bytes(limited(Body::from("123456"), 5), 100)
            .await
            .unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }
}
