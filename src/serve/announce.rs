//! The lines a server prints on standard output for the scripts that start it (`Serving on
//! http://ADDR`, a certificate's fingerprint): plain text, or one JSON object per line when
//! the program logs in JSON, so that every line it writes is in the chosen format.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Writes the standard-output lines of [`announce`] as JSON objects (`{"message": "..."}`)
/// from now on, for a program that logs in JSON; `false` goes back to plain text.
///
/// ```
/// tollgate::serve::announce_as_json(true);
/// tollgate::serve::announce("Serving on http://127.0.0.1:8080"); // {"message":"Serving on ..."}
/// tollgate::serve::announce_as_json(false);
/// ```
pub fn announce_as_json(json: bool) {
    JSON.store(json, Ordering::Relaxed);
}

/// Writes `line` on standard output in the format [`announce_as_json`] chose. A closed
/// standard output is ignored: it must not stop a server.
pub fn announce(line: &str) {
    let text = if JSON.load(Ordering::Relaxed) {
        serde_json::json!({ "message": line }).to_string()
    } else {
        line.to_owned()
    };
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_json_line_is_an_object_with_the_message() {
        let line = "Serving on http://127.0.0.1:1";
        let json = serde_json::json!({ "message": line }).to_string();
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["message"], line);
    }
}
