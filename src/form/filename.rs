//! [`safe_filename`]: a client's file name made safe to store, Unicode letters kept.

/// What an unusable name becomes.
const FALLBACK_STEM: &str = "file";
/// The longest name most file systems take (`NAME_MAX`), in bytes.
const MAX_LEN: usize = 255;
/// Names Windows reserves for devices, whatever the extension (`con.txt` included).
const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "com¹", "com²", "com³", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6",
    "lpt7", "lpt8", "lpt9", "lpt¹", "lpt²", "lpt³",
];

/// A file name from a client made safe to store on any file system, Werkzeug's
/// `secure_filename` idea without its two failures (Werkzeug#2376): Unicode letters and digits
/// are kept (`фото.jpg` stays `фото.jpg`) and the result is never empty (`😀.png` becomes
/// `file.png`, `..` becomes `file`).
///
/// - Only the last path component is kept (`/`, `\`): `C:\Users\me\cv.pdf` gives `cv.pdf`.
/// - Letters, digits (any script, with their combining marks), `-`, `_` and `.` are kept;
///   whitespace becomes `_`; everything else (control and format characters such as U+202E,
///   separators, punctuation, symbols) is dropped.
/// - Runs of `.` or `_` become one, so there is never a `..`; leading `.`, `_` and `-` and
///   trailing `.` and `_` go (no hidden files, nothing read as a command-line option).
/// - Windows device names (`CON`, `nul.txt`, `COM1`, ...) get a `_` in front.
/// - At most 255 bytes, the extension kept.
///
/// Unicode is not normalized: a name sent in NFD keeps its combining marks as they came.
/// Two uploads can still give the same safe name; pick the final path yourself.
///
/// ```
/// use tollgate::form::safe_filename;
///
/// assert_eq!(safe_filename("My cool movie.mov"), "My_cool_movie.mov");
/// assert_eq!(safe_filename("../../../etc/passwd"), "passwd");
/// assert_eq!(safe_filename("фото.jpg"), "фото.jpg");
/// assert_eq!(safe_filename("😀.png"), "file.png");
/// assert_eq!(safe_filename("CON.txt"), "_CON.txt");
/// assert_eq!(safe_filename(""), "file");
/// ```
pub fn safe_filename(untrusted: &str) -> String {
    let last = untrusted
        .rsplit(['/', '\\'])
        .find(|part| !part.trim().is_empty())
        .unwrap_or("");
    let kept = keep_safe_chars(last);
    // Trailing separators first: the extension is what follows the last dot of the result,
    // so a second pass must find the same one.
    let kept = kept.trim_end_matches(['.', '_']);
    let (stem, ext) = match kept.rfind('.') {
        Some(dot) => (&kept[..dot], &kept[dot + 1..]),
        None => (kept, ""),
    };
    let stem = stem
        .trim_start_matches(['.', '_', '-'])
        .trim_end_matches(['.', '_']);
    let ext = ext.trim_matches('_');
    let stem = if stem.is_empty() { FALLBACK_STEM } else { stem };
    let mut name = String::with_capacity(stem.len() + ext.len() + 2);
    let device = stem.split('.').next().unwrap_or(stem).to_lowercase();
    if WINDOWS_RESERVED.contains(&device.as_str()) {
        name.push('_');
    }
    name.push_str(stem);
    // Cut before trimming: a cut may end the extension on a `_`, which a second pass would trim.
    let ext = cut(ext, 32).trim_end_matches('_');
    if !ext.is_empty() {
        name.push('.');
        name.push_str(ext);
    }
    if name.len() > MAX_LEN {
        let keep = MAX_LEN - if ext.is_empty() { 0 } else { ext.len() + 1 };
        let mut short = cut(&name, keep).trim_end_matches(['.', '_']).to_owned();
        if !ext.is_empty() {
            short.push('.');
            short.push_str(ext);
        }
        name = short;
    }
    name
}

/// Letters, digits, their combining marks, `-`, `_`, `.`; whitespace as `_`; runs of `.` or
/// `_` collapsed.
fn keep_safe_chars(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut after_letter = false;
    for c in name.chars() {
        let mark = after_letter && is_combining_mark(c);
        let keep = if c.is_alphanumeric() || mark || matches!(c, '-' | '_' | '.') {
            Some(c)
        } else if c.is_whitespace() {
            Some('_')
        } else {
            None
        };
        let Some(k) = keep else { continue };
        // One separator at a time: `..` and `__` collapse, `_` next to `.` goes.
        if (k == '.' || k == '_') && out.ends_with(k) || k == '_' && out.ends_with('.') {
            continue;
        }
        if k == '.' && out.ends_with('_') {
            out.pop();
        }
        after_letter = c.is_alphanumeric() || mark;
        out.push(k);
    }
    out
}

/// The common blocks of combining marks (most marks of Indic and other scripts are already
/// `Alphabetic`, so `is_alphanumeric` keeps them).
fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{3099}'..='\u{309A}')
}

/// At most `max` bytes of `s`, cut on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    macro_rules! table {
        ($($id:ident: $input:expr => $expected:expr,)*) => {$(
            #[test]
            fn $id() {
                assert_eq!(safe_filename($input), $expected);
            }
        )*};
    }

    table! {
        spaces_become_underscores: "My cool movie.mov" => "My_cool_movie.mov",
        traversal_keeps_the_last_component: "../../../etc/passwd" => "passwd",
        windows_path_keeps_the_last_component: "C:\\Users\\me\\cv.pdf" => "cv.pdf",
        backslash_traversal: "..\\..\\boot.ini" => "boot.ini",
        trailing_separator: "photos/" => "photos",
        dot_dot_alone: ".." => "file",
        dot_dot_last: "a/b/.." => "file",
        umlauts_are_kept: "i contain cool ümläuts.txt" => "i_contain_cool_ümläuts.txt",
        cyrillic_is_kept_werkzeug_2376: "фото.jpg" => "фото.jpg",
        cjk_is_kept: "你好 世界.txt" => "你好_世界.txt",
        emoji_name_is_not_empty_werkzeug_2376: "😀" => "file",
        emoji_stem_keeps_extension: "😀😀.png" => "file.png",
        empty: "" => "file",
        only_spaces: "   " => "file",
        dunder: "__filename__" => "filename",
        symbols_dropped: "foo$&^*)bar" => "foobar",
        control_chars_dropped: "a\0b\nc\r\t.txt" => "ab_c.txt",
        rtl_override_dropped: "invoice\u{202E}fdp.exe" => "invoicefdp.exe",
        hidden_file_is_not_hidden: ".htaccess" => "file.htaccess",
        inner_dots_collapsed: "a..b...txt" => "a.b.txt",
        leading_dash_dropped: "-rf" => "rf",
        windows_device: "CON" => "_CON",
        windows_device_with_extensions: "nul.tar.gz" => "_nul.tar.gz",
        windows_device_superscript: "COM¹.txt" => "_COM¹.txt",
        not_a_device: "console.log" => "console.log",
        nfd_accents_kept: "cafe\u{301}.txt" => "cafe\u{301}.txt",
        fullwidth_solidus_dropped: "a\u{FF0F}b.txt" => "ab.txt",
    }

    #[test]
    fn long_names_keep_their_extension() {
        let name = safe_filename(&format!("{}.jpeg", "я".repeat(300)));
        assert!(name.len() <= MAX_LEN, "{}", name.len());
        assert!(name.ends_with(".jpeg"));
    }

    /// Found by `output_is_always_safe`: the 32-byte cut of the extension ended on a `_`.
    #[test]
    fn is_idempotent_when_the_extension_is_cut_on_an_underscore() {
        let input = "\u{a1}.a\u{3400}\u{1d360}aa\ta\u{10380}A\u{800}\u{20000}0\u{b2}\u{b9}AA a";
        let name = safe_filename(input);
        assert!(!name.ends_with('_'), "{name}");
        assert_eq!(safe_filename(&name), name);
    }

    /// Found by `output_is_always_safe`: a trailing dot hid an inner one, which the second
    /// pass took as the start of a long extension and cut.
    #[test]
    fn is_idempotent_when_a_trailing_dot_hides_an_inner_one() {
        let input =
            "A.A\u{c0}a\u{3041}0\u{17000}\u{c0}a\u{b9}\u{e81}\u{b}\u{20000}a\t0\u{b}\u{20000}.";
        let name = safe_filename(input);
        assert_eq!(safe_filename(&name), name);
    }

    proptest! {
        #[test]
        fn output_is_always_safe(input in ".{0,300}") {
            let name = safe_filename(&input);
            prop_assert!(!name.is_empty());
            prop_assert!(name.len() <= MAX_LEN);
            prop_assert!(!name.contains(['/', '\\', '\0']));
            prop_assert!(!name.contains(".."));
            prop_assert!(!name.starts_with(['.', '-']));
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert_eq!(safe_filename(&name), name.clone());
        }
    }
}
