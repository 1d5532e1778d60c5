//! Cookies through `serve` and `TestClient`: a value set with `set_cookie` reads back the
//! same through `Request::cookies`, removals of prefixed and partitioned cookies, signed and
//! private cookies with key rotation.

mod support;

use support::*;
use tollgate::cookies::{Cookie, CookieKeys, Key};
use tollgate::testing::TestClient;
use tollgate::{handler, HttpError, Request, Response};

/// The values the issue names: spaces, `;`, `,`, `"`, `=`, non-ASCII, and `%` itself.
const VALUES: [&str; 8] = [
    "two words",
    "a;b",
    "1,2,3",
    "say \"hi\"",
    "k=v=w",
    "déjà vu ☃",
    "50% off",
    "plain",
];

/// `/set?v=VALUE` sets cookie `c`; `/get` answers its value; `/signed` and `/private` set
/// them with the keys in `X-Keys`-less state; `/logout` removes the prefixed cookies.
fn app(
    keys: CookieKeys,
) -> impl tower::Service<
    http::Request<tollgate::Body>,
    Response = http::Response<tollgate::Body>,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone
       + Send
       + Sync
       + 'static {
    handler::from_fn(move |req: Request| {
        let keys = keys.clone();
        async move {
            let res = match req.path().as_ref() {
                "/set" => {
                    let value = req.args()?.get("v").unwrap_or_default().to_owned();
                    Response::text("set").set_cookie(Cookie::new("c", value))
                }
                "/get" => Response::text(req.cookie("c").unwrap_or("(none)").to_owned()),
                "/sign" => Response::text("signed")
                    .set_cookie(keys.sign(Cookie::new("user", "ada lovelace")))
                    .set_cookie(keys.encrypt(Cookie::new("secret", "42; really"))),
                "/whoami" => Response::text(format!(
                    "{} {}",
                    req.signed_cookie(&keys, "user").unwrap_or("-".into()),
                    req.private_cookie(&keys, "secret").unwrap_or("-".into())
                )),
                "/logout" => Response::text("bye")
                    .delete_cookie("__Host-sid", Some("/"), Some("example.com"))
                    .delete_cookie("__Secure-pref", Some("/app"), None)
                    .remove_cookie(&Cookie::build(("embed", "")).partitioned(true).build()),
                _ => return Err(HttpError::not_found("no such page")),
            };
            Ok::<_, HttpError>(res)
        }
    })
}

/// The `name=value` part of each `Set-Cookie`, as a browser would send it back.
fn cookie_header(res: &Fetched) -> String {
    res.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn query(value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("v", value)
        .finish()
}

#[tokio::test]
async fn set_cookie_values_read_back_identical_through_serve() {
    let server = start(app(CookieKeys::new(Key::generate()))).await;
    for value in VALUES {
        let set = server
            .get(&format!("/set?{}", query(value)), NO_HEADERS)
            .await;
        let cookie = cookie_header(&set);
        let got = server.get("/get", &[("cookie", cookie.as_str())]).await;
        assert_eq!(got.text(), value, "sent back as {cookie}");
    }
}

#[tokio::test]
async fn set_cookie_values_read_back_identical_through_test_client() {
    let client = TestClient::new(app(CookieKeys::new(Key::generate()))).keep_cookies();
    for value in VALUES {
        client.get(&format!("/set?{}", query(value))).send().await;
        assert_eq!(client.get("/get").send().await.text().await, value);
    }
}

#[tokio::test]
async fn signed_and_private_cookies_survive_a_key_rotation() {
    let old = Key::generate();
    let server = start(app(CookieKeys::new(old.clone()))).await;
    let signed = server.get("/sign", NO_HEADERS).await;
    let cookies = cookie_header(&signed);
    // Not `42`: two base64 characters of the ciphertext are `42` in about one run of forty.
    assert!(
        !cookies.contains("really"),
        "the private value is not readable: {cookies}"
    );
    let me = server.get("/whoami", &[("cookie", cookies.as_str())]).await;
    assert_eq!(me.text(), "ada lovelace 42; really");

    // A new key: the old cookies still read; a forged one does not.
    let rotated = start(app(CookieKeys::new(old).rotate(Key::generate()))).await;
    let me = rotated
        .get("/whoami", &[("cookie", cookies.as_str())])
        .await;
    assert_eq!(me.text(), "ada lovelace 42; really");
    let forged = rotated
        .get("/whoami", &[("cookie", "user=admin; secret=1")])
        .await;
    assert_eq!(forged.text(), "- -");
}

#[tokio::test]
async fn removals_of_prefixed_and_partitioned_cookies() {
    let server = start(app(CookieKeys::new(Key::generate()))).await;
    let res = server.get("/logout", NO_HEADERS).await;
    let set: Vec<&str> = res
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set.len(), 3, "{set:?}");
    let host = set[0];
    assert!(host.starts_with("__Host-sid=;"), "{host}");
    assert!(host.contains("Secure") && host.contains("Path=/"), "{host}");
    assert!(
        !host.contains("Domain"),
        "__Host- cookies have no Domain: {host}"
    );
    assert!(host.contains("Max-Age=0"), "{host}");
    let secure = set[1];
    assert!(
        secure.contains("Secure") && secure.contains("Path=/app"),
        "{secure}"
    );
    let chips = set[2];
    assert!(
        chips.contains("Partitioned") && chips.contains("Secure"),
        "{chips}"
    );
}
