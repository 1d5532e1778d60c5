//! [`RawRequest`]: raw HTTP/1.1 request bytes with the framing-level mutations of the
//! request-smuggling literature, for fuzzing servers and parsers below the `http` types.

use arbitrary::{Arbitrary, Unstructured};

use crate::wire::mutation::Model;
pub use crate::wire::Mutation;

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
        let mut model = Model::new(
            method,
            &format!("/{segment}"),
            "example.com",
            &body,
            chunked,
        );
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
    use crate::wire;

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
}
