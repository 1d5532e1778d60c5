//! Durations as configuration files write them: `"250ms"`, `"60s"`, `"2m"`, `"1h"`, or a
//! number of seconds. Every duration of [`ServeConfig`](crate::serve::ServeConfig), the proxy,
//! auth and the gateway's file is read with [`deserialize`].
//!
//! Also at its old path, `tollgate::serve::duration`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses `"250ms"`, `"60s"`, `"2m"`, `"1h"`, `"90d"` or a plain number of seconds (`"1.5"`).
///
/// ```
/// use std::time::Duration;
/// use tollgate::syntax::duration::parse;
///
/// assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
/// assert!(parse("soon").is_err());
/// ```
///
/// # Errors
///
/// A message naming the bad input when it is not a non-negative number with a known unit.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(bad(text)),
    };
    let number: f64 = number.parse().map_err(|_| bad(text))?;
    Duration::try_from_secs_f64(number * scale).map_err(|_| bad(text))
}

fn bad(text: &str) -> String {
    let shown = super::excerpt(text, 32);
    format!("invalid duration {shown:?}: write a number of seconds or e.g. \"500ms\", \"60s\", \"2m\", \"1h\"")
}

/// Deserializes a duration written as a number of seconds or a string [`parse`] accepts.
///
/// # Errors
///
/// The deserializer's error with [`parse`]'s message.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Seconds(u64),
        Fraction(f64),
        Text(String),
    }
    match Repr::deserialize(deserializer)? {
        Repr::Seconds(s) => Ok(Duration::from_secs(s)),
        Repr::Fraction(s) => Duration::try_from_secs_f64(s)
            .map_err(|_| serde::de::Error::custom(bad(&s.to_string()))),
        Repr::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_plain_seconds() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse(" 1.5 "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_input_is_named_and_cut() {
        for bad in ["soon", "-1s", "", "1e400s", "5 years", "1.2.3s"] {
            let err = parse(bad).unwrap_err();
            assert!(err.starts_with("invalid duration"), "{bad:?}: {err}");
        }
        let long = "9".repeat(400) + "x";
        assert!(parse(&long).unwrap_err().len() < 200);
    }
}
