//! The bodiless answers several services give themselves: a redirect (status and `Location`)
//! and the `Allow` list of a `405` or an `OPTIONS` answer. One home, so dispatch, the redirect
//! service, normalize and the file server all build them the same way.

use http::header::{HeaderValue, CONTENT_LENGTH, LOCATION};
use http::{Method, Response, StatusCode};

use crate::body::Body;
use crate::error::HttpError;

/// `status` (a 3xx) with `Location: location`, an empty body and `Content-Length: 0`.
pub(crate) fn redirect(status: StatusCode, location: HeaderValue) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    res.headers_mut().insert(LOCATION, location);
    res.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    res
}

/// [`redirect`] to `location` given as text.
///
/// # Errors
///
/// A `400` when `location` holds characters a header cannot (control characters): it was
/// made from the request, which is what is wrong.
pub(crate) fn redirect_to(status: StatusCode, location: &str) -> Result<Response<Body>, HttpError> {
    match HeaderValue::from_str(location) {
        Ok(value) => Ok(redirect(status, value)),
        Err(_) => Err(HttpError::bad_request(
            "the request cannot be redirected: the new location would hold characters a header \
             cannot",
        )),
    }
}

/// The `Allow` value for `methods`: `GET, HEAD, OPTIONS`, in the order given.
pub(crate) fn allow<'a>(methods: impl IntoIterator<Item = &'a Method>) -> HeaderValue {
    let list = methods
        .into_iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    // Methods are tokens, so the list is always a valid value.
    HeaderValue::from_str(&list).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `204 No Content` with `Allow: methods`: the answer to `OPTIONS` that no service took.
#[cfg(feature = "dispatch")]
pub(crate) fn options(methods: &[Method]) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut()
        .insert(http::header::ALLOW, allow(methods));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_carry_location_and_no_body() {
        let res = redirect_to(StatusCode::FOUND, "/new?x=1").unwrap();
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()[LOCATION], "/new?x=1");
        assert_eq!(res.headers()[CONTENT_LENGTH], "0");
        let err = redirect_to(StatusCode::FOUND, "/a\nb").unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn allow_keeps_the_order_given() {
        assert_eq!(allow(&[Method::POST, Method::GET]), "POST, GET");
    }

    #[cfg(feature = "dispatch")]
    #[test]
    fn options_lists_what_is_allowed() {
        let res = options(&[Method::GET, Method::HEAD, Method::OPTIONS]);
        assert_eq!(res.status(), 204);
        assert_eq!(res.headers()[http::header::ALLOW], "GET, HEAD, OPTIONS");
    }
}
