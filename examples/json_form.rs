//! One route answering its pairs as JSON: the query of a `GET`, the urlencoded body of a
//! `POST` or `PUT`, with a `"server"` field added.
//!
//! ```sh
//! cargo run --example json_form
//! curl 'http://127.0.0.1:8000/?name=Ada&tag=a&tag=b'
//! curl http://127.0.0.1:8000/ -d name=Ada -d lang=fr
//! ```

use http::Method;
use serde_json::{Map, Value};
use tollgate::body::DEFAULT_BODY_LIMIT;
use tollgate::{handler, serve, HttpError, MultiMap, Request, Response};

/// The value of the added `"server"` field; it replaces a pair of the same name.
pub const SERVER: &str = concat!("tollgate/", env!("CARGO_PKG_VERSION"));

/// `{"key": "value", "repeated": ["a", "b"], "server": "tollgate/…"}`.
pub async fn json_form(mut req: Request) -> Result<Response, HttpError> {
    let pairs = match *req.method() {
        Method::GET | Method::HEAD => req.args()?.clone(),
        Method::POST | Method::PUT => req.form(DEFAULT_BODY_LIMIT).await?,
        _ => {
            return Err(HttpError::method_not_allowed(&[
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
            ]))
        }
    };
    let mut object = to_object(&pairs);
    object.insert("server".to_owned(), Value::from(SERVER));
    Ok(Response::json(&object))
}

/// One key per name; a name given several times maps to the list of its values.
fn to_object(pairs: &MultiMap) -> Map<String, Value> {
    let mut object = Map::new();
    for key in pairs.keys() {
        let values: Vec<Value> = pairs.get_all(key).map(Value::from).collect();
        let value = match <[Value; 1]>::try_from(values) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        object.insert(key.to_owned(), value);
    }
    object
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    serve::bind(
        serve::bind_addr_from(
            std::env::args().skip(1),
            std::env::var("TOLLGATE_BIND").ok(),
        ),
        handler::from_fn(json_form),
    )
    .await
}
