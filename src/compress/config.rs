//! [`CompressConfig`]: what is compressed, with which codings and levels, as the
//! `[compression]` table spells it.

use std::fmt;

use serde::Deserialize;

/// A content coding the layer can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Algorithm {
    /// `gzip` (RFC 9110 §8.4.1.3): understood by every client.
    Gzip,
    /// `br`, Brotli (RFC 7932): smaller than gzip for text.
    Br,
    /// `zstd`, Zstandard (RFC 8878): fast at every level.
    Zstd,
}

impl Algorithm {
    /// The token in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Gzip => "gzip",
            Algorithm::Br => "br",
            Algorithm::Zstd => "zstd",
        }
    }

    /// The levels the algorithm knows, lowest first.
    pub fn levels(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Algorithm::Gzip => 1..=9,
            Algorithm::Br => 0..=11,
            Algorithm::Zstd => 1..=22,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// The compression level of each algorithm, `[compression.levels]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Levels {
    /// gzip, 1 (fastest) to 9 (smallest). Default is `6`, zlib's own default (nginx's
    /// `gzip_comp_level` defaults to `1`).
    pub gzip: i32,
    /// Brotli, 0 to 11. Default is `4`: level 11 is for precompressed files, not for answers
    /// made on every request.
    pub br: i32,
    /// Zstandard, 1 to 22. Default is `3`, zstd's own default.
    pub zstd: i32,
}

impl Default for Levels {
    fn default() -> Self {
        Levels {
            gzip: 6,
            br: 4,
            zstd: 3,
        }
    }
}

impl Levels {
    /// The level of `algorithm`.
    pub fn of(&self, algorithm: Algorithm) -> i32 {
        match algorithm {
            Algorithm::Gzip => self.gzip,
            Algorithm::Br => self.br,
            Algorithm::Zstd => self.zstd,
        }
    }
}

/// Compression of answers and decompression of request bodies.
///
/// ```
/// use tollgate::compress::{Algorithm, CompressConfig};
///
/// let config: CompressConfig = serde_json::from_str(r#"{
///     "algorithms": ["zstd", "gzip"], "min_size": 1024, "levels": { "gzip": 1 },
///     "decompress_requests": true, "max_decompressed_body": "1M"
/// }"#).unwrap();
/// assert_eq!(config.algorithms, [Algorithm::Zstd, Algorithm::Gzip]);
/// assert_eq!(config.levels.gzip, 1);
/// assert_eq!(config.levels.br, 4);
/// assert_eq!(config.max_decompressed_body, 1 << 20);
/// assert!(config.check().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CompressConfig {
    /// The codings offered, in the server's order of preference: when the client weighs two
    /// alike (`gzip, br`), the earlier one here wins. Default is `["br", "zstd", "gzip"]`.
    pub algorithms: Vec<Algorithm>,
    /// The level of each algorithm ([`Levels`]).
    pub levels: Levels,
    /// Answers whose length is known and below this many bytes are sent as they are: the
    /// coding's own framing would eat the gain. Default is `256`.
    pub min_size: u64,
    /// The media types compressed, without parameters: `type/subtype`, `type/*`, or
    /// `*/*+suffix` (`*/*+json` covers `application/problem+json`). `text/event-stream` is
    /// never compressed (the encoder would hold events back). Default is text, JSON,
    /// JavaScript, XML, SVG, WebAssembly and the `+json`/`+xml` families.
    pub types: Vec<String>,
    /// Decode request bodies sent with `Content-Encoding: gzip`, `br` or `zstd` before the
    /// upstream sees them (another coding is a `415`). Default is `false`: bodies pass as
    /// they came.
    pub decompress_requests: bool,
    /// The most bytes a decoded request body may grow to; past it the request is a `413`
    /// (a few kilobytes of gzip can decode to gigabytes). Only bodies the layer decodes are
    /// counted. Default is `10M`.
    #[serde(deserialize_with = "crate::syntax::size::deserialize")]
    pub max_decompressed_body: u64,
}

impl Default for CompressConfig {
    fn default() -> Self {
        CompressConfig {
            algorithms: vec![Algorithm::Br, Algorithm::Zstd, Algorithm::Gzip],
            levels: Levels::default(),
            min_size: 256,
            types: [
                "text/*",
                "application/json",
                "application/javascript",
                "application/x-javascript",
                "application/xml",
                "application/wasm",
                "application/manifest+json",
                "image/svg+xml",
                "*/*+json",
                "*/*+xml",
            ]
            .map(str::to_owned)
            .to_vec(),
            decompress_requests: false,
            max_decompressed_body: 10 << 20,
        }
    }
}

/// What is wrong with a [`CompressConfig`], from [`CompressConfig::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompressConfigError {
    /// A level outside the algorithm's range.
    Level {
        /// The algorithm.
        algorithm: Algorithm,
        /// The level given.
        level: i32,
    },
    /// An entry of `types` that is not `type/subtype`, `type/*` or `*/*+suffix`.
    Type {
        /// Its index in `types`.
        index: usize,
        /// The entry, shortened.
        entry: String,
    },
    /// `algorithms` is empty: nothing could be compressed.
    NoAlgorithm,
}

impl fmt::Display for CompressConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressConfigError::Level { algorithm, level } => {
                let range = algorithm.levels();
                write!(
                    f,
                    "{algorithm} level {level} is out of range: use {} to {}",
                    range.start(),
                    range.end()
                )
            }
            CompressConfigError::Type { entry, .. } => write!(
                f,
                "\"{entry}\" is not a media type pattern: write `text/html`, `text/*` or \
                 `*/*+json`"
            ),
            CompressConfigError::NoAlgorithm => f.write_str(
                "no algorithm to compress with: list some of \"br\", \"zstd\", \"gzip\", or \
                 remove the [compression] table",
            ),
        }
    }
}

impl std::error::Error for CompressConfigError {}

impl CompressConfig {
    /// Everything wrong with the configuration: levels out of range, malformed `types`, no
    /// algorithm.
    pub fn check(&self) -> Vec<CompressConfigError> {
        let mut errors = Vec::new();
        if self.algorithms.is_empty() {
            errors.push(CompressConfigError::NoAlgorithm);
        }
        for algorithm in [Algorithm::Gzip, Algorithm::Br, Algorithm::Zstd] {
            let level = self.levels.of(algorithm);
            if !algorithm.levels().contains(&level) {
                errors.push(CompressConfigError::Level { algorithm, level });
            }
        }
        for (index, entry) in self.types.iter().enumerate() {
            if super::rules::TypePattern::parse(entry).is_none() {
                errors.push(CompressConfigError::Type {
                    index,
                    entry: crate::syntax::excerpt(entry, 40),
                });
            }
        }
        errors
    }
}
