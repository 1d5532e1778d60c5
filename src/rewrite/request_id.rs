//! The request-id rule: keep a valid incoming id or make a UUID v4.

use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use crate::ext::RequestId;

pub use crate::ext::{is_valid_request_id, MAX_REQUEST_ID_LEN};

/// A new random id: a lowercase hyphenated UUID v4.
pub fn new_request_id() -> HeaderValue {
    // The thread's CSPRNG (ChaCha, reseeded from the OS) rather than `Uuid::new_v4`, which asks
    // the OS for every id: one system call per request was most of this layer's cost.
    let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    let text = uuid.hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).expect("a hyphenated UUID is a valid header value")
}

/// The compiled request-id rule.
#[derive(Debug, Clone)]
pub(crate) struct RequestIdRule {
    pub(crate) header: HeaderName,
    pub(crate) trust_incoming: bool,
    pub(crate) response: bool,
}

impl RequestIdRule {
    /// Decides the id for this request: one an outer layer already chose (in extensions), the
    /// valid incoming header when trusted, or a new one. Writes it to the request header and
    /// extensions; returns it for the response.
    pub(crate) fn on_request<B>(&self, req: &mut http::Request<B>) -> (HeaderValue, RequestId) {
        let chosen = req.extensions().get::<RequestId>().and_then(|id| {
            HeaderValue::from_str(&id.0)
                .ok()
                .map(|value| (value, id.clone()))
        });
        let (value, id) = match chosen {
            Some(chosen) => chosen,
            None => {
                let value = self.incoming_or_new(req.headers());
                // Valid ids and UUIDs are ASCII, so `to_str` succeeds.
                let id = RequestId(Arc::from(value.to_str().unwrap_or_default()));
                req.extensions_mut().insert(id.clone());
                (value, id)
            }
        };
        req.headers_mut().insert(&self.header, value.clone());
        (value, id)
    }

    fn incoming_or_new(&self, headers: &HeaderMap) -> HeaderValue {
        match headers.get(&self.header) {
            Some(v) if self.trust_incoming && is_valid_request_id(v.as_bytes()) => v.clone(),
            Some(_) => {
                tracing::debug!(header = %self.header, "incoming request id replaced");
                new_request_id()
            }
            None => new_request_id(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> RequestIdRule {
        RequestIdRule {
            header: HeaderName::from_static("x-request-id"),
            trust_incoming: true,
            response: true,
        }
    }

    fn with_id(id: &str) -> http::Request<()> {
        let mut req = http::Request::new(());
        req.headers_mut()
            .insert("x-request-id", HeaderValue::from_str(id).unwrap());
        req
    }

    #[test]
    fn keeps_a_valid_incoming_id() {
        let mut req = with_id("01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let (id, _) = rule().on_request(&mut req);
        assert_eq!(id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let ext = req.extensions().get::<RequestId>().unwrap();
        assert_eq!(&*ext.0, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    }

    #[test]
    fn replaces_an_invalid_incoming_id() {
        for bad in ["", "has space", "a,b", "\"q\"", &"x".repeat(129)] {
            let mut req = with_id(bad);
            let (id, _) = rule().on_request(&mut req);
            assert_ne!(id, bad);
            assert_eq!(id.len(), 36, "{bad:?} -> {id:?}");
            assert_eq!(req.headers()["x-request-id"], id);
        }
    }

    #[test]
    fn untrusted_incoming_is_always_replaced() {
        let rule = RequestIdRule {
            trust_incoming: false,
            ..rule()
        };
        assert_ne!(rule.on_request(&mut with_id("abc")).0, "abc");
    }

    #[test]
    fn an_outer_layers_id_wins() {
        let mut req = with_id("incoming");
        req.extensions_mut().insert(RequestId(Arc::from("outer")));
        assert_eq!(rule().on_request(&mut req).0, "outer");
        assert_eq!(req.headers()["x-request-id"], "outer");
    }

    #[test]
    fn new_ids_are_uuid_v4() {
        let a = new_request_id();
        let parsed = uuid::Uuid::parse_str(a.to_str().unwrap()).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(a, new_request_id());
        assert!(is_valid_request_id(a.as_bytes()));
    }
}
