//! [`ConfigError`]: one problem of a configuration file, with the key it is about and, once
//! located in the text, its line and column.

use std::fmt;
use std::ops::Range;

use crate::body::BoxError;

/// One step of a [`KeyPath`]: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Segment {
    /// A key of a table: `auth`, `htpasswd`.
    Key(String),
    /// A position in an array (`[[routes]]` number 2 is index 1).
    Index(usize),
}

/// Where in the file a value is: `routes[1].upstream`, `listen[0].tls.cert`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// The root of the file.
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path followed by `key`.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    /// This path followed by `index`.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.0 {
            match segment {
                Segment::Key(k) if first => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// One problem of a configuration: a syntax or type error (from the TOML parser) or a semantic
/// one (a route to a group that does not exist, a certificate that does not fit its key).
///
/// `Display` prints `line L, column C: [key.path] message`; the cause, when there is one,
/// comes from `source()`.
#[derive(Debug)]
pub struct ConfigError {
    path: KeyPath,
    message: String,
    span: Option<Range<usize>>,
    position: Option<(usize, usize)>,
    source: Option<BoxError>,
    /// The message is `source`'s own `Display`: `source()` skips it to its cause.
    transparent: bool,
}

impl ConfigError {
    /// An error about the value at `path`.
    pub fn new(path: KeyPath, message: impl Into<String>) -> Self {
        ConfigError {
            path,
            message: message.into(),
            span: None,
            position: None,
            source: None,
            transparent: false,
        }
    }

    /// An error about the value at `path` that a library error describes (a CA file that
    /// cannot be read, a bad header rule): its `Display` is the message and its causes are
    /// this error's causes, so nothing is said twice.
    pub fn from_error(path: KeyPath, error: impl Into<BoxError>) -> Self {
        let error = error.into();
        ConfigError {
            message: error.to_string(),
            source: Some(error),
            transparent: true,
            ..ConfigError::new(path, String::new())
        }
    }

    /// The same error with its cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self.transparent = false;
        self
    }

    pub(crate) fn with_span(mut self, span: Option<Range<usize>>) -> Self {
        self.span = span;
        self
    }

    /// Fills in line and column from the span (or the key path) in `text`.
    pub(crate) fn locate(
        mut self,
        text: &str,
        doc: Option<&toml_edit::ImDocument<String>>,
    ) -> Self {
        if self.span.is_none() {
            self.span = doc.and_then(|d| super::load::span_of(d, &self.path));
        }
        self.position = self.span.as_ref().map(|s| line_col(text, s.start));
        self
    }

    /// The key the error is about (empty for the whole file or a syntax error).
    pub fn path(&self) -> &KeyPath {
        &self.path
    }

    /// What is wrong, without the place.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The line, counted from 1, when the error was located in a file.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|(l, _)| l)
    }

    /// The column, in characters counted from 1, when the error was located in a file.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, c)| c)
    }

    /// The bytes of the file the error points at.
    pub fn span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((line, col)) = self.position {
            write!(f, "line {line}, column {col}: ")?;
        }
        if !self.path.0.is_empty() {
            write!(f, "[{}] ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))?;
        if self.transparent {
            source.source()
        } else {
            Some(source)
        }
    }
}

/// Every error of a configuration, in file order; what [`load`](super::load) and
/// [`gateway::build`](crate::gateway::build) return.
///
/// `Display` prints a count and each error on its own line; each error's causes come from its
/// own `source()` (the `tollgate` binary prints them).
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::ops::Deref for ConfigErrors {
    type Target = [ConfigError];

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} error{} in the configuration",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Line and column (both from 1, the column in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn paths_print_like_toml() {
        let p = KeyPath::root().key("routes").index(2).key("upstream");
        assert_eq!(p.to_string(), "routes[2].upstream");
    }

    #[test]
    fn an_error_from_the_library_is_not_said_twice() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = ConfigError::from_error(KeyPath::root().key("proxy"), io);
        assert_eq!(e.to_string(), "[proxy] no such file");
        assert!(std::error::Error::source(&e).is_none());
        let e = ConfigError::new(KeyPath::root(), "cannot read x")
            .with_source(std::io::Error::other("denied"));
        assert_eq!(std::error::Error::source(&e).unwrap().to_string(), "denied");
    }

    #[test]
    fn errors_are_send_sync() {
        fn check<T: Send + Sync + std::error::Error>() {}
        check::<ConfigError>();
        check::<ConfigErrors>();
    }
}
