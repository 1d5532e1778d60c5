//! `GET /greeting?lang=fr` with `X-Student: Ada` answers `<p>Bonjour Ada!</p>`; an unknown
//! language is a 400 that says which ones exist.
//!
//! ```sh
//! cargo run --example greeting
//! curl -i 'http://127.0.0.1:8000/greeting?lang=fr' -H 'X-Student: Ada'
//! ```

use tollgate::error::html_escape;
use tollgate::{handler, serve, HttpError, Request, Response};

const GREETINGS: [(&str, &str); 4] = [
    ("en", "Hello"),
    ("fr", "Bonjour"),
    ("de", "Hallo"),
    ("es", "Hola"),
];

/// Greets the student named by `X-Student` in the language `lang` (English by default).
pub async fn greeting(req: Request) -> Result<Response, HttpError> {
    if req.path() != "/greeting" {
        return Err(HttpError::not_found("try /greeting?lang=fr"));
    }
    let lang = req.args()?.get("lang").unwrap_or("en");
    let Some((_, hello)) = GREETINGS.iter().find(|(code, _)| *code == lang) else {
        let known: Vec<&str> = GREETINGS.iter().map(|(code, _)| *code).collect();
        return Err(HttpError::bad_request(format!(
            "unknown lang `{lang}`; use one of {}",
            known.join(", ")
        )));
    };
    let student = req.header("x-student").unwrap_or("stranger");
    Ok(
        Response::html(format!("<p>{hello} {}!</p>", html_escape(student)))
            .header("x-greeting-lang", lang),
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    serve::bind(
        serve::bind_addr_from(
            std::env::args().skip(1),
            std::env::var("TOLLGATE_BIND").ok(),
        ),
        handler::from_fn(greeting),
    )
    .await
}
