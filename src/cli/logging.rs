//! The log `tollgate` writes to standard error: which events (`--log`, checked), how
//! (`--log-format plain|json`), colour only on a terminal and never with `NO_COLOR`, and the
//! access log's own format (`--access-log log|common|combined|json`).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::IsTerminal as _;

use tollgate::body::BoxError;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use super::LogFormat;

/// The target of the access-log events `serve` writes, one per request.
const ACCESS: &str = "tollgate::access";

/// The levels a `--log` filter names.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// The crates whose events a `--log` filter may name without a level (`tollgate` means every
/// level of tollgate's events).
const TARGETS: [&str; 7] = [
    "tollgate",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tower",
    "tokio",
];

/// How access-log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccessLogFormat {
    /// An ordinary log line in `--log-format` (target `tollgate::access`, every field).
    Log,
    /// The Common Log Format: `host - user [time] "request" status bytes`.
    Common,
    /// The Combined Log Format: the common one plus `"Referer" "User-Agent"`.
    Combined,
    /// One flat JSON object per request, every field a value.
    Json,
}

/// Installs the subscriber: `RUST_LOG` (when set) or `filter`, in `format`, access lines in
/// `access`.
///
/// # Errors
///
/// The filter is not one (`--log verbose`): the message lists what is.
pub fn init(filter: &str, format: LogFormat, access: AccessLogFormat) -> Result<(), BoxError> {
    // The standard-output lines (`Serving on ...`) follow the log's format.
    tollgate::serve::announce_as_json(format == LogFormat::Json);
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(env)?,
        _ => parse_filter(filter)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ));
    match format {
        LogFormat::Plain => builder
            .event_format(AccessLines {
                inner: tracing_subscriber::fmt::format(),
                format: access,
            })
            .try_init(),
        LogFormat::Json => builder
            .json()
            .event_format(AccessLines {
                inner: tracing_subscriber::fmt::format().json(),
                format: access,
            })
            .try_init(),
    }
}

/// Whether to write colour: only to a terminal, and never when `NO_COLOR` is set to anything
/// but the empty string (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// A `--log` filter, refused unless each directive is a level, `TARGET=LEVEL`, or a known
/// crate: `EnvFilter` reads `verbose` as "every level of the target `verbose`", which logs
/// nothing at all.
fn parse_filter(text: &str) -> Result<EnvFilter, BoxError> {
    let refuse = |why: String| -> BoxError {
        format!(
            "invalid --log filter {text:?}: {why}; use a level ({}) or TARGET=LEVEL pairs, e.g. \
             `tollgate=debug,hyper=info`",
            LEVELS.join(", ")
        )
        .into()
    };
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (target, level) = match directive.rsplit_once('=') {
            Some((target, level)) => (Some(target), Some(level)),
            None if LEVELS.contains(&directive.to_ascii_lowercase().as_str()) => {
                (None, Some(directive))
            }
            None => (Some(directive), None),
        };
        if let Some(level) = level {
            if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
                return Err(refuse(format!("`{level}` is not a level")));
            }
        }
        if let (Some(target), None) = (target, level) {
            let known = TARGETS.contains(&target) || target.contains("::");
            if !known {
                return Err(refuse(format!(
                    "`{target}` is neither a level nor a known target"
                )));
            }
        }
    }
    EnvFilter::try_new(text).map_err(|e| refuse(e.to_string()))
}

/// The event formatter: access events in the chosen format, every other event as `inner`
/// writes it.
struct AccessLines<F> {
    inner: F,
    format: AccessLogFormat,
}

impl<S, N, F> FormatEvent<S, N> for AccessLines<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if self.format == AccessLogFormat::Log || event.metadata().target() != ACCESS {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = match self.format {
            AccessLogFormat::Common => common(&fields, httpdate::fmt_http_date(now()), false),
            AccessLogFormat::Combined => common(&fields, httpdate::fmt_http_date(now()), true),
            _ => json(&fields, now()),
        };
        writeln!(writer, "{line}")
    }
}

fn now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

/// An access event's fields as JSON values (numbers stay numbers).
#[derive(Default)]
struct Fields(BTreeMap<&'static str, serde_json::Value>);

impl Fields {
    fn text(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(serde_json::Value::as_str)
            .filter(|v| *v != "-")
    }

    fn number(&self, name: &str) -> String {
        self.0
            .get(name)
            .map_or_else(|| "-".to_owned(), ToString::to_string)
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name(), format!("{value:?}").trim_matches('"').into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name(), value.into());
    }
}

/// `host - user [06/Dec/2026:08:16:47 +0000] "GET /x HTTP/1.1" 200 355` (and, `combined`,
/// `"referer" "user-agent"`), as Apache and nginx write it; `date` is an HTTP date.
fn common(fields: &Fields, date: String, combined: bool) -> String {
    let peer = fields.text("peer").unwrap_or("-");
    let host = peer
        .parse::<std::net::SocketAddr>()
        .map_or_else(|_| peer.to_owned(), |a| a.ip().to_string());
    let quoted = |name: &str| quote(fields.text(name).unwrap_or("-"));
    let mut line = format!(
        "{host} - {} [{}] \"{} {} {}\" {} {}",
        quote_bare(fields.text("user").unwrap_or("-")),
        clf_date(&date),
        fields.text("method").unwrap_or("-"),
        escape(fields.text("target").unwrap_or("-")),
        fields.text("version").unwrap_or("-"),
        fields.number("status"),
        fields.number("bytes"),
    );
    if combined {
        let _ = write!(line, " {} {}", quoted("referer"), quoted("user_agent"));
    }
    line
}

/// One flat JSON object: the time (RFC 3339, UTC) and every field, `-` as `null`.
fn json(fields: &Fields, time: std::time::SystemTime) -> String {
    let mut object = serde_json::Map::new();
    object.insert("time".into(), rfc3339(time).into());
    for (name, value) in &fields.0 {
        let value = match value {
            serde_json::Value::String(s) if s == "-" => serde_json::Value::Null,
            other => other.clone(),
        };
        object.insert((*name).to_owned(), value);
    }
    serde_json::Value::Object(object).to_string()
}

/// `Sun, 06 Dec 2026 08:16:47 GMT` as `06/Dec/2026:08:16:47 +0000`.
fn clf_date(http_date: &str) -> String {
    let parts: Vec<&str> = http_date.split_whitespace().collect();
    match parts.as_slice() {
        [_, day, month, year, time, _] => format!("{day}/{month}/{year}:{time} +0000"),
        _ => http_date.to_owned(),
    }
}

/// `2026-12-06T08:16:47Z`, from an HTTP date (second precision, UTC).
fn rfc3339(time: std::time::SystemTime) -> String {
    let date = httpdate::fmt_http_date(time);
    let parts: Vec<&str> = date.split_whitespace().collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match parts.as_slice() {
        [_, day, month, year, clock, _] => {
            let m = months.iter().position(|m| m == month).map_or(0, |i| i + 1);
            format!("{year}-{m:02}-{day}T{clock}Z")
        }
        _ => date,
    }
}

/// A quoted field of the combined format, its `"` and `\` and control bytes escaped as
/// nginx does (`\x22`).
fn quote(value: &str) -> String {
    format!("\"{}\"", escape(value))
}

/// A bare field (the user): escaped, and a space would split the line, so it is escaped too.
fn quote_bare(value: &str) -> String {
    escape(value).replace(' ', "\\x20")
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some("1".into())));
        assert!(colour(true, Some("".into())), "an empty NO_COLOR is unset");
    }

    #[test]
    fn filters() {
        for good in [
            "info",
            "DEBUG",
            "tollgate=debug,hyper=info",
            "tollgate",
            "tollgate::access=off",
            "warn,tollgate=trace",
            "tollgate[conn{peer=1}]=debug",
        ] {
            assert!(parse_filter(good).is_ok(), "{good}");
        }
        for bad in ["verbose", "tollgate=loud", "info,chatty"] {
            let e = parse_filter(bad).unwrap_err().to_string();
            assert!(
                e.contains("use a level (off, error, warn, info, debug, trace)"),
                "{e}"
            );
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            clf_date("Sun, 06 Dec 2026 08:16:47 GMT"),
            "06/Dec/2026:08:16:47 +0000"
        );
        let epoch = std::time::UNIX_EPOCH + std::time::Duration::from_secs(86_400 * 31);
        assert_eq!(rfc3339(epoch), "1970-02-01T00:00:00Z");
    }

    fn fields() -> Fields {
        let mut f = Fields::default();
        for (k, v) in [
            ("peer", "192.0.2.1:5000"),
            ("method", "GET"),
            ("target", "/a?b=\"c\""),
            ("version", "HTTP/1.1"),
            ("user", "ada"),
            ("referer", "-"),
            ("user_agent", "curl/8"),
            ("upstream", "-"),
        ] {
            f.0.insert(k, v.into());
        }
        f.0.insert("status", 200u64.into());
        f.0.insert("bytes", 12u64.into());
        f
    }

    #[test]
    fn common_and_combined_lines() {
        let date = "Sun, 06 Dec 2026 08:16:47 GMT".to_owned();
        assert_eq!(
            common(&fields(), date.clone(), false),
            "192.0.2.1 - ada [06/Dec/2026:08:16:47 +0000] \"GET /a?b=\\x22c\\x22 HTTP/1.1\" 200 12"
        );
        assert!(common(&fields(), date, true).ends_with(" 200 12 \"-\" \"curl/8\""));
    }

    #[test]
    fn json_lines_are_flat_with_values() {
        let line = json(&fields(), std::time::UNIX_EPOCH);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["status"], 200);
        assert_eq!(v["user"], "ada");
        assert_eq!(v["upstream"], serde_json::Value::Null);
        assert_eq!(v["time"], "1970-01-01T00:00:00Z");
    }
}
