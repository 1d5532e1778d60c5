//! A server for multipart uploads, used by `benches/upload_memory.sh` to measure peak memory.
//!
//! ```text
//! cargo run --example upload_server -- echo        # FormSummary: files hashed, never stored
//! cargo run --example upload_server -- form-data   # Request::form_data: files spooled to $TMPDIR
//! ```
//!
//! Prints `Serving on http://ADDR` once bound to 127.0.0.1 on a free port, then serves until
//! Ctrl-C or `SIGTERM`.
//! Every upload is answered with JSON describing it.

use serde_json::json;

use tollgate::echo::EchoService;
use tollgate::form::{FormLimits, MultipartError};
use tollgate::serve::{self, Server};
use tollgate::{handler, Request, Response};

/// Limits large enough for the benchmark's upload.
fn limits() -> FormLimits {
    FormLimits::new()
        .max_body_size(1 << 40)
        .max_file_size(1 << 40)
}

async fn form_data(mut req: Request) -> Result<Response, MultipartError> {
    let form = req.form_data(&limits()).await?;
    let files: Vec<_> = form
        .files
        .iter()
        .map(|(field, f)| json!([field, f.safe_filename(), f.size(), f.path().is_some()]))
        .collect();
    Ok(Response::json(
        &json!({ "fields": form.fields, "files": files }),
    ))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = serve::listen("127.0.0.1:0").await?;
    match std::env::args().nth(1).as_deref() {
        Some("form-data") => {
            Server::new(handler::from_fn(form_data))
                .serve(listener)
                .await
        }
        _ => {
            Server::new(EchoService::new().form_limits(limits()))
                .serve(listener)
                .await
        }
    }
}
