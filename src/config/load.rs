//! Reading a [`Config`] from TOML: every syntax, type and semantic error, each located.
//!
//! serde stops at the first error, so the file is deserialized piece by piece: each top-level
//! key on its own, and each element of an array of tables (`[[routes]]`) or each entry of a
//! table of tables (`[upstreams.NAME]`) on its own. The pieces go through the very same
//! [`Config`] deserializer (every other key left at its default), so there is one description
//! of the file; splitting only finds more than one error at a time.

use std::ops::Range;
use std::path::Path;

use serde::de::IntoDeserializer;
use serde::Deserialize;
use toml_edit::{ImDocument, Item, Value};

use super::error::{ConfigError, ConfigErrors, KeyPath, Segment};
use super::Config;

/// Reads a configuration from TOML text and checks what can be checked without touching files
/// or the network (see [`Config::check`]).
///
/// # Errors
///
/// Every error found, in file order, each with its line and column.
pub fn load(text: &str) -> Result<Config, ConfigErrors> {
    match load_partial(text) {
        (Some(config), errors) if errors.is_empty() => Ok(config),
        (_, errors) => Err(errors),
    }
}

/// Reads as much of a configuration as is right, for reports that list every error at once
/// (`tollgate check`): the errors of [`load`], and the configuration without its wrong parts
/// (a wrong `[[routes]]` or `[[listen]]` table stands in as a harmless one, a wrong table is
/// left out), already [checked](Config::check). Errors that only follow from a part being left
/// out (a route naming a group whose table was wrong) are not reported twice.
///
/// The configuration is `None` when the text is not TOML at all; it must not be served when
/// there is any error.
pub fn load_partial(text: &str) -> (Option<Config>, ConfigErrors) {
    let doc = match ImDocument::parse(text.to_owned()) {
        Ok(doc) => doc,
        Err(e) => {
            let error = ConfigError::new(KeyPath::root(), e.message().to_owned())
                .with_span(e.span())
                .locate(text, None);
            return (None, ConfigErrors(vec![error]));
        }
    };
    let mut errors: Vec<ConfigError> = Vec::new();
    let mut rest = doc.as_table().clone();
    let mut left_out: Vec<(String, Option<Part>)> = Vec::new();
    for (key, _) in doc.as_table().iter() {
        for (part, piece) in pieces(doc.as_table(), key) {
            if let Err(e) = Config::deserialize(piece.into_deserializer()) {
                errors.push(
                    ConfigError::new(KeyPath::root().key(key), e.message().to_owned())
                        .with_span(e.span()),
                );
                leave_out(&mut rest, key, part.as_ref());
                left_out.push((key.to_owned(), part));
            }
        }
    }
    let whole = Value::InlineTable(rest.into_inline_table());
    let config = match Config::deserialize(whole.into_deserializer()) {
        Ok(config) => Some(config),
        Err(e) => {
            // Only what needs the pieces together can fail here.
            errors.push(
                ConfigError::new(KeyPath::root(), e.message().to_owned()).with_span(e.span()),
            );
            None
        }
    };
    if let Some(config) = &config {
        let follows = |e: &ConfigError| follows_from_left_out(e, &left_out);
        errors.extend(config.check().into_iter().filter(|e| !follows(e)));
    }
    let mut errors: Vec<ConfigError> = errors
        .into_iter()
        .map(|e| e.locate(text, Some(&doc)))
        .collect();
    // In file order; what concerns the whole file (no listener, no route) after the rest.
    errors.sort_by_key(|e| e.span().map_or(usize::MAX, |s| s.start));
    (config, ConfigErrors(errors))
}

/// Which part of a top-level key a piece is: an element of an array of tables, or an entry of
/// a table of tables.
#[derive(Debug, Clone)]
enum Part {
    Index(usize),
    Name(String),
}

/// Takes a wrong part out of `root`: an array element becomes a harmless stand-in (so the
/// other elements keep their indices, which errors name), a table entry or key goes.
fn leave_out(root: &mut toml_edit::Table, key: &str, part: Option<&Part>) {
    match (part, root.get_mut(key)) {
        (Some(Part::Index(i)), Some(Item::ArrayOfTables(array))) => {
            if let Some(table) = array.get_mut(*i) {
                *table = stand_in(key);
            }
        }
        (Some(Part::Name(name)), Some(item)) => {
            if let Some(table) = item.as_table_like_mut() {
                table.remove(name);
            }
        }
        _ => {
            root.remove(key);
        }
    }
}

/// What stands in for a wrong element of the array of tables `key`: a listener on a port of
/// the system's choosing, a route that echoes.
fn stand_in(key: &str) -> toml_edit::Table {
    let mut table = toml_edit::Table::new();
    match key {
        "listen" => table.insert("bind", toml_edit::value("127.0.0.1:0")),
        "routes" => table.insert("echo", toml_edit::value(true)),
        _ => None,
    };
    table
}

/// Whether `e` (from checking what is left) only says that a part left out is missing.
fn follows_from_left_out(e: &ConfigError, left_out: &[(String, Option<Part>)]) -> bool {
    left_out
        .iter()
        .any(|(key, part)| match (key.as_str(), part) {
            ("upstreams", Some(Part::Name(name))) => e
                .message()
                .starts_with(&format!("no upstream group named `{name}`")),
            ("upstreams", None) => e.message().starts_with("no upstream group named"),
            ("listen", None) => e.message().starts_with("no listener"),
            ("routes", None) => e.message().starts_with("no route"),
            _ => false,
        })
}

/// Reads and [`load`]s a file, returning its text too (to locate later errors).
///
/// # Errors
///
/// The file cannot be read (one error naming it), or what [`load`] finds.
pub fn load_file(path: &Path) -> Result<(Config, String), ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError::new(
            KeyPath::root(),
            format!("cannot read the configuration file {}", path.display()),
        )
        .with_source(e)])
    })?;
    let config = load(&text)?;
    Ok((config, text))
}

impl ConfigErrors {
    /// Fills in the line and column of each error from its key path in `text`.
    #[must_use]
    pub fn locate(self, text: &str) -> Self {
        let doc = ImDocument::parse(text.to_owned()).ok();
        ConfigErrors(
            self.0
                .into_iter()
                .map(|e| e.locate(text, doc.as_ref()))
                .collect(),
        )
    }
}

/// The documents `key = item` is checked as: the root table with only `key`, and one per array
/// element or table entry, so an error in one does not hide an error in the next. Keys are
/// kept (not made anew) so errors about them keep their place in the file.
fn pieces(root: &toml_edit::Table, key: &str) -> Vec<(Option<Part>, Value)> {
    let mut only = root.clone();
    only.retain(|k, _| k == key);
    let whole = |table: toml_edit::Table| Value::InlineTable(table.into_inline_table());
    let Some(item) = only.get(key).cloned() else {
        return Vec::new();
    };
    let splits: Vec<(Part, Item)> = match &item {
        Item::ArrayOfTables(array) if array.len() > 1 => array
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut one = toml_edit::ArrayOfTables::new();
                one.push(t.clone());
                (Part::Index(i), Item::ArrayOfTables(one))
            })
            .collect(),
        Item::Table(table) if table.len() > 1 && table.iter().all(|(_, v)| v.is_table_like()) => {
            table
                .iter()
                .map(|(name, _)| {
                    let mut one = table.clone();
                    one.retain(|k, _| k == name);
                    (Part::Name(name.to_owned()), Item::Table(one))
                })
                .collect()
        }
        _ => return vec![(None, whole(only))],
    };
    splits
        .into_iter()
        .map(|(part, split)| {
            let mut piece = only.clone();
            if let Some(slot) = piece.get_mut(key) {
                *slot = split;
            }
            (Some(part), whole(piece))
        })
        .collect()
}

/// The span of the value at `path` in `doc`, or of the closest enclosing value found.
pub(crate) fn span_of(doc: &ImDocument<String>, path: &KeyPath) -> Option<Range<usize>> {
    let mut node = Node::Item(doc.as_item());
    let mut best = None;
    for segment in &path.0 {
        let next = match (segment, node) {
            (Segment::Key(k), node) => node.table_like().and_then(|t| t.get(k)).map(Node::Item),
            (Segment::Index(i), Node::Item(Item::ArrayOfTables(a))) => a.get(*i).map(Node::Table),
            (Segment::Index(i), node) => node.array().and_then(|a| a.get(*i)).map(Node::Value),
        };
        let Some(next) = next else { break };
        node = next;
        best = node.span().or(best);
    }
    best
}

/// A place in a parsed document: toml_edit reaches tables, items and values by different types.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a toml_edit::Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn table_like(self) -> Option<&'a dyn toml_edit::TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Table(table) => Some(table),
            Node::Value(value) => value
                .as_inline_table()
                .map(|t| t as &dyn toml_edit::TableLike),
        }
    }

    fn array(self) -> Option<&'a toml_edit::Array> {
        match self {
            Node::Item(item) => item.as_array(),
            Node::Value(value) => value.as_array(),
            Node::Table(_) => None,
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(Item::Table(t)) | Node::Table(t) => t.span(),
            Node::Item(Item::ArrayOfTables(a)) => a.span(),
            Node::Item(Item::Value(v)) | Node::Value(v) => v.span(),
            Node::Item(Item::None) => None,
        }
    }
}
