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
    let doc = match ImDocument::parse(text.to_owned()) {
        Ok(doc) => doc,
        Err(e) => {
            let error = ConfigError::new(KeyPath::root(), e.message().to_owned())
                .with_span(e.span())
                .locate(text, None);
            return Err(ConfigErrors(vec![error]));
        }
    };
    let mut errors: Vec<ConfigError> = Vec::new();
    for (key, _) in doc.as_table().iter() {
        for piece in pieces(doc.as_table(), key) {
            if let Err(e) = Config::deserialize(piece.into_deserializer()) {
                errors.push(
                    ConfigError::new(KeyPath::root().key(key), e.message().to_owned())
                        .with_span(e.span()),
                );
            }
        }
    }
    let config = if errors.is_empty() {
        let whole = Value::InlineTable(doc.as_table().clone().into_inline_table());
        match Config::deserialize(whole.into_deserializer()) {
            Ok(config) => Some(config),
            Err(e) => {
                // Only what needs the pieces together can fail here.
                errors.push(
                    ConfigError::new(KeyPath::root(), e.message().to_owned()).with_span(e.span()),
                );
                None
            }
        }
    } else {
        None
    };
    if let Some(config) = &config {
        errors.extend(config.check());
    }
    let mut errors: Vec<ConfigError> = errors
        .into_iter()
        .map(|e| e.locate(text, Some(&doc)))
        .collect();
    if errors.is_empty() {
        return Ok(config.expect("no error means the whole file deserialized"));
    }
    errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
    Err(ConfigErrors(errors))
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
fn pieces(root: &toml_edit::Table, key: &str) -> Vec<Value> {
    let mut only = root.clone();
    only.retain(|k, _| k == key);
    let whole = |table: toml_edit::Table| Value::InlineTable(table.into_inline_table());
    let Some(item) = only.get(key).cloned() else {
        return Vec::new();
    };
    let splits: Vec<Item> = match &item {
        Item::ArrayOfTables(array) if array.len() > 1 => array
            .iter()
            .map(|t| {
                let mut one = toml_edit::ArrayOfTables::new();
                one.push(t.clone());
                Item::ArrayOfTables(one)
            })
            .collect(),
        Item::Table(table) if table.len() > 1 && table.iter().all(|(_, v)| v.is_table_like()) => {
            table
                .iter()
                .map(|(name, _)| {
                    let mut one = table.clone();
                    one.retain(|k, _| k == name);
                    Item::Table(one)
                })
                .collect()
        }
        _ => return vec![whole(only)],
    };
    splits
        .into_iter()
        .map(|split| {
            let mut piece = only.clone();
            if let Some(slot) = piece.get_mut(key) {
                *slot = split;
            }
            whole(piece)
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
