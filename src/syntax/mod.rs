//! The sans-I/O floor the other modules share: grammar pieces of RFC 9110 and the excerpt of
//! user input that error messages quote. The first pieces of issue 14's `syntax/`; crate-private
//! until that issue settles what it exports.

pub(crate) mod token;

/// `tchar` (RFC 9110 §5.6.2): the characters of a token (header names, methods, parameter
/// names).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// At most `max` bytes of `text`, for an error message that quotes user input: cut on a
/// character boundary, with `…` when something was cut. The one truncation every error
/// message uses, so no message can carry an unbounded input.
#[cold]
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_is_the_token_alphabet() {
        let tokens: String = (0u8..=255)
            .filter(|&b| is_tchar(b))
            .map(char::from)
            .collect();
        assert_eq!(
            tokens,
            "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~"
        );
    }

    #[test]
    fn excerpts_cut_on_character_boundaries() {
        assert_eq!(excerpt("short", 64), "short");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        // `é` is two bytes: a cut inside it backs off to the boundary before it.
        assert_eq!(excerpt("aé", 2), "a…");
        assert_eq!(excerpt(&"x".repeat(300), 64).len(), 64 + '…'.len_utf8());
    }
}
