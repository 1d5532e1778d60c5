//! Rates in configuration: a number of events per window, `100/s`, `10/m`, `5/60s`, as request
//! rate limits ([`ratelimit`](crate::ratelimit)) and failed-login lockouts
//! ([`auth`](crate::auth)) read them.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A number of requests per window: `100/s`, `10/m`, `5/60s`, `1000/1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub(crate) count: NonZeroU32,
    window: Duration,
}

impl Rate {
    /// `count` requests per `window`.
    ///
    /// # Errors
    ///
    /// A zero count, or a window under 1 ms or over a year.
    pub fn new(count: u32, window: Duration) -> Result<Rate, RateError> {
        let count = NonZeroU32::new(count).ok_or(RateError::Zero)?;
        if window < Duration::from_millis(1) || window > Duration::from_secs(366 * 86_400) {
            return Err(RateError::Window);
        }
        Ok(Rate { count, window })
    }

    /// How many requests a window allows (the burst).
    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.window.as_millis();
        match ms {
            1000 => write!(f, "{}/s", self.count),
            60_000 => write!(f, "{}/m", self.count),
            3_600_000 => write!(f, "{}/h", self.count),
            _ if ms % 1000 == 0 => write!(f, "{}/{}s", self.count, ms / 1000),
            _ => write!(f, "{}/{}ms", self.count, ms),
        }
    }
}

impl FromStr for Rate {
    type Err = RateError;

    /// `N/UNIT` (`s`, `m`, `h`, `d`) or `N/DURATION` (`60s`, `10m`, `500ms`).
    fn from_str(text: &str) -> Result<Rate, RateError> {
        let (count, window) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| RateError::Syntax {
                text: crate::syntax::excerpt(text, 32),
            })?;
        let syntax = || RateError::Syntax {
            text: crate::syntax::excerpt(text, 32),
        };
        let count: u32 = count.trim().parse().map_err(|_| syntax())?;
        let window = window.trim();
        let window = match window {
            "s" | "m" | "h" | "d" => format!("1{window}"),
            _ => window.to_owned(),
        };
        if !window.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(syntax());
        }
        let window = crate::syntax::duration::parse(&window).map_err(|_| syntax())?;
        Rate::new(count, window)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rate, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a rate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateError {
    /// Not `N/WINDOW`.
    Syntax {
        /// The text (at most 32 bytes of it).
        text: String,
    },
    /// A count of zero.
    Zero,
    /// A window under 1 ms or over a year.
    Window,
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateError::Syntax { text } => write!(
                f,
                "invalid rate {text:?}: write requests per window, e.g. \"100/s\", \"10/m\", \
                 \"5/60s\""
            ),
            RateError::Zero => f.write_str(
                "a rate of 0 requests would refuse everything; remove the limit instead",
            ),
            RateError::Window => f.write_str("a rate's window must be between 1ms and a year"),
        }
    }
}

impl std::error::Error for RateError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let cases = [
            ("per second", "100/s", 100, 1000),
            ("per minute", "10/m", 10, 60_000),
            ("a duration", "5/60s", 5, 60_000),
            ("milliseconds", "1/500ms", 1, 500),
            ("days", "1000/d", 1000, 86_400_000),
            ("spaces", " 3 / 2m ", 3, 120_000),
        ];
        for (name, text, count, ms) in cases {
            let rate: Rate = text.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (rate.count(), rate.window().as_millis()),
                (count, ms),
                "{name}"
            );
        }
        assert_eq!("5/60s".parse::<Rate>().unwrap().to_string(), "5/m");
        assert_eq!("5/90s".parse::<Rate>().unwrap().to_string(), "5/90s");
        for bad in [
            "", "100", "/s", "x/s", "0/s", "1/x", "1/-1s", "-1/s", "1/0s", "1/ms",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
    }
}
