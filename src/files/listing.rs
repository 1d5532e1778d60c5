//! The HTML directory listing: a pure renderer over entries the service read from disk.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::html_escape;

/// What a link segment keeps unencoded: RFC 3986 unreserved characters only. Everything
/// else, `:` (which would read as a scheme), `?`, `#`, `%` and `/` included, is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A name as one percent-encoded URL path segment.
pub(crate) fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// One row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEntry {
    /// The file name as it is on disk.
    pub name: String,
    /// Whether it is a directory (a symlink to one counts).
    pub is_dir: bool,
    /// The size in bytes (unused for directories).
    pub size: u64,
    /// The modification time, when known.
    pub modified: Option<SystemTime>,
}

/// Directories first, then by name ignoring case, then by name.
pub(crate) fn sort_entries(entries: &mut [ListingEntry]) {
    entries.sort_by(|a, b| {
        b.is_dir
            .cmp(&a.is_dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.name.cmp(&b.name))
    });
}

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1f2328;--muted:#656d76;--line:#d8dee4;--link:#0969da;--bg:#fff;--hover:#f6f8fa}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--link:#4493f8;--bg:#0d1117;--hover:#161b22}}\
*{box-sizing:border-box}\
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\
main{max-width:960px;margin:0 auto;padding:32px 24px}\
h1{font-size:20px;font-weight:600;margin:0 0 20px;word-break:break-all}\
h1 a{color:var(--link);text-decoration:none}h1 a:hover{text-decoration:underline}\
h1 .sep{color:var(--muted);margin:0 2px}\
table{width:100%;border-collapse:collapse;border:1px solid var(--line);border-radius:6px}\
th,td{padding:7px 12px;text-align:left;border-bottom:1px solid var(--line)}\
th{font-size:13px;font-weight:600;color:var(--muted);background:var(--hover)}\
tr:last-child td{border-bottom:0}tbody tr:hover{background:var(--hover)}\
td.name{word-break:break-all}td.name a{color:var(--link);text-decoration:none}td.name a:hover{text-decoration:underline}\
td.name a::before{content:\"\";display:inline-block;box-sizing:border-box;width:12px;height:15px;margin:0 11px 0 2px;vertical-align:-2px;border:1.5px solid var(--muted);border-radius:2px 5px 2px 2px}\
td.name a.dir::before{width:16px;height:13px;margin:0 9px 0 0;background:#54aeff;border-color:#54aeff;border-radius:2px 5px 2px 2px}\
td.name a.up::before{content:\"\\2190\";border:0;width:16px;height:auto;margin:0 9px 0 0;vertical-align:0;text-align:center;color:var(--muted)}\
.size,.mtime{white-space:nowrap;color:var(--muted);font-variant-numeric:tabular-nums}.size{text-align:right;width:7em}.mtime{width:11em}\
footer{margin-top:14px;font-size:13px;color:var(--muted)}";

/// Renders the listing page of the directory reached by `segments` (decoded, relative to the
/// served root). Names are HTML-escaped and their links percent-encoded and relative, so the
/// page works under any mount prefix. `truncated` adds a note that entries were left out.
pub fn render_listing(segments: &[String], entries: &[ListingEntry], truncated: bool) -> String {
    let display_path = if segments.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}/", segments.join("/"))
    };
    let title = html_escape(&display_path);
    let mut html = String::with_capacity(2048 + entries.len() * 256);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Index of {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Index of {}</h1>\n",
        breadcrumbs(segments)
    );
    html.push_str(
        "<table>\n<thead><tr><th>Name</th><th class=\"size\">Size</th>\
         <th class=\"mtime\">Modified (UTC)</th></tr></thead>\n<tbody>\n",
    );
    if !segments.is_empty() {
        html.push_str(
            "<tr><td class=\"name\"><a class=\"up\" href=\"../\">Parent directory</a></td>\
             <td class=\"size\"></td><td class=\"mtime\"></td></tr>\n",
        );
    }
    for entry in entries {
        let name = html_escape(&entry.name);
        let href = encode_segment(&entry.name);
        let (class, slash, size) = if entry.is_dir {
            ("dir", "/", "—".to_owned())
        } else {
            (
                "file",
                "",
                format!(
                    "<span title=\"{} bytes\">{}</span>",
                    entry.size,
                    human_size(entry.size)
                ),
            )
        };
        let mtime = entry.modified.map_or_else(String::new, |t| {
            let (date, time) = utc_date_time(t);
            format!("<time datetime=\"{date}T{time}Z\">{date} {time}</time>")
        });
        let _ = writeln!(
            html,
            "<tr><td class=\"name\"><a class=\"{class}\" href=\"./{href}{slash}\">{name}{slash}</a></td>\
             <td class=\"size\">{size}</td><td class=\"mtime\">{mtime}</td></tr>"
        );
    }
    html.push_str("</tbody>\n</table>\n<footer>");
    let count = entries.len();
    let _ = write!(
        html,
        "{count} {}",
        if count == 1 { "entry" } else { "entries" }
    );
    if truncated {
        html.push_str(" shown; the directory holds more, which are not listed");
    }
    html.push_str("</footer>\n</main>\n</body>\n</html>\n");
    html
}

/// `/ a / b /` with each ancestor a relative link.
fn breadcrumbs(segments: &[String]) -> String {
    let depth = segments.len();
    let mut out = format!("<a href=\"{}\">/</a>", up(depth));
    for (i, segment) in segments.iter().enumerate() {
        let name = html_escape(segment);
        if i + 1 == depth {
            let _ = write!(out, "{name}<span class=\"sep\">/</span>");
        } else {
            let _ = write!(
                out,
                "<a href=\"{}\">{name}</a><span class=\"sep\">/</span>",
                up(depth - i - 1)
            );
        }
    }
    out
}

fn up(levels: usize) -> String {
    if levels == 0 {
        "./".to_owned()
    } else {
        "../".repeat(levels)
    }
}

/// `1.5 KiB`, `12 B`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// `("2024-05-01", "13:45")` in UTC; times before 1970 show as 1970.
pub(crate) fn utc_date_time(time: SystemTime) -> (String, String) {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}", rem / 3600, rem % 3600 / 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(name: &str, is_dir: bool) -> ListingEntry {
        ListingEntry {
            name: name.to_owned(),
            is_dir,
            size: 1536,
            modified: Some(UNIX_EPOCH + Duration::from_secs(784_111_777)),
        }
    }

    #[test]
    fn escapes_names_and_encodes_links() {
        let html = render_listing(
            &["a b".into()],
            &[
                entry("<script>alert(1)</script>", false),
                entry("q?#%\"'.txt", false),
            ],
            false,
        );
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("href=\"./%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""));
        assert!(html.contains("href=\"./q%3F%23%25%22%27.txt\""));
        assert!(html.contains("q?#%&quot;&#x27;.txt") || html.contains("q?#%&quot;&#39;.txt"));
        assert!(html.contains("<title>Index of /a b/</title>"));
        assert!(html.contains("href=\"../\""));
    }

    #[test]
    fn colon_names_do_not_become_schemes() {
        let html = render_listing(&[], &[entry("javascript:alert(1)", false)], false);
        assert!(html.contains("href=\"./javascript%3Aalert%281%29\""));
    }

    #[test]
    fn root_has_no_parent_link() {
        let html = render_listing(&[], &[], false);
        assert!(!html.contains("Parent directory"));
        assert!(html.contains("0 entries"));
    }

    #[test]
    fn sorts_directories_first_then_names() {
        let mut entries = vec![
            entry("b", false),
            entry("Z", true),
            entry("a", false),
            entry("B", false),
            entry("c", true),
        ];
        sort_entries(&mut entries);
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["c", "Z", "a", "B", "b"]);
    }

    #[test]
    fn sizes_and_dates() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(50 * 1024 * 1024), "50 MiB");
        assert_eq!(human_size(u64::MAX), "16384 PiB");
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(utc_date_time(t), ("1994-11-06".into(), "08:49".into()));
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(utc_date_time(t).0, "2000-02-29");
    }

    #[test]
    fn breadcrumbs_link_up() {
        let b = breadcrumbs(&["a".into(), "<b>".into()]);
        assert_eq!(
            b,
            "<a href=\"../../\">/</a><a href=\"../\">a</a><span class=\"sep\">/</span>\
             &lt;b&gt;<span class=\"sep\">/</span>"
        );
    }
}
