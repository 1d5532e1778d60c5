//! Byte sizes in configuration files and flags: `"512"`, `"64k"`, `"10M"`, `"1G"`.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A size that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SizeError {
    input: String,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid size \"{}\": write a number of bytes or e.g. 64k, 10M, 1G",
            self.input
        )
    }
}

impl std::error::Error for SizeError {}

/// Splits `"10M"` into `(10, "M")`.
fn number_and_unit(input: &str) -> Option<(u64, &str)> {
    let input = input.trim();
    let digits = input.bytes().take_while(u8::is_ascii_digit).count();
    let number = input[..digits].parse().ok()?;
    Some((number, input[digits..].trim()))
}

/// Parses a byte size: `"512"`, `"64k"`, `"10M"`, `"1G"` (powers of 1024; `KB`, `MiB` and the
/// like are accepted too).
///
/// # Errors
///
/// [`SizeError`] for anything else, or a size beyond `u64`.
///
/// ```
/// assert_eq!(tollgate::syntax::size::parse_size("10M").unwrap(), 10 << 20);
/// ```
pub fn parse_size(input: &str) -> Result<u64, SizeError> {
    let err = || SizeError {
        input: crate::syntax::excerpt(input, 40),
    };
    let (n, unit) = number_and_unit(input).ok_or_else(err)?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(err()),
    };
    n.checked_mul(1 << shift).ok_or_else(err)
}

/// A number or a string, as TOML and JSON allow both for these values.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

/// Serde helper for a size written as a number of bytes or a string (`"10M"`):
/// `#[serde(deserialize_with = "tollgate::syntax::size::deserialize")]`.
///
/// # Errors
///
/// Neither a number nor a size [`parse_size`] reads.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match NumberOrText::deserialize(d)? {
        NumberOrText::Number(n) => Ok(n),
        NumberOrText::Text(text) => parse_size(&text).map_err(serde::de::Error::custom),
    }
}

/// As [`deserialize`], for an optional size (`null` or absent is `None`).
///
/// # Errors
///
/// As [`deserialize`].
pub fn deserialize_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<NumberOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrText::Number(n)) => Ok(Some(n)),
        Some(NumberOrText::Text(text)) => parse_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64k").unwrap(), 65536);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("7").unwrap(), 7);
        for bad in ["", "1.5M", "10Q", "99999999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_say_how_to_write_one() {
        let e = parse_size("ten").unwrap_err().to_string();
        assert!(e.contains("\"ten\"") && e.contains("10M"), "{e}");
    }
}
