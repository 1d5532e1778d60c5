//! Compiling [`Rule`]s once and applying them to a [`HeaderMap`].

use std::fmt;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use regex::Regex;

use super::template::{Ctx, Template};
use super::{RewriteError, Rule, When};
use crate::syntax::host::HostPattern;
use crate::syntax::prefix;

/// Where a rule sits in the configuration, for error messages and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RulePosition {
    /// The `n`th (1-based) rule of `request`.
    Request(usize),
    /// The `n`th (1-based) rule of `response`.
    Response(usize),
    /// The `n`th (1-based) rule the presets add.
    Preset(usize),
    /// The request-id rule.
    RequestId,
}

impl fmt::Display for RulePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulePosition::Request(n) => write!(f, "request rule {n}"),
            RulePosition::Response(n) => write!(f, "response rule {n}"),
            RulePosition::Preset(n) => write!(f, "preset rule {n}"),
            RulePosition::RequestId => f.write_str("request_id"),
        }
    }
}

/// What a compiled rule does.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Set(HeaderName, Template),
    SetIfMissing(HeaderName, Template),
    Append(HeaderName, Template),
    Remove(HeaderName),
    /// Lowercased prefix.
    RemovePrefix(String),
    Rename(HeaderName, HeaderName),
    Replace(HeaderName, Regex, String),
}

impl Action {
    fn template(&self) -> Option<&Template> {
        match self {
            Action::Set(_, t) | Action::SetIfMissing(_, t) | Action::Append(_, t) => Some(t),
            _ => None,
        }
    }
}

/// When a compiled rule applies. Every part set must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    path_prefix: Option<String>,
    methods: Vec<Method>,
    host: Option<HostPattern>,
    header: Option<HeaderName>,
    header_absent: Option<HeaderName>,
}

impl Condition {
    fn compile(when: &When, pos: RulePosition) -> Result<Self, RewriteError> {
        let header =
            |name: &Option<String>| name.as_deref().map(|n| header_name(n, pos)).transpose();
        if let Some(prefix) = &when.path_prefix {
            if !prefix.starts_with('/') {
                return Err(RewriteError::InvalidCondition {
                    position: pos,
                    reason: format!("path_prefix `{prefix}` must start with `/`"),
                });
            }
        }
        let methods = when
            .methods
            .iter()
            .map(|m| {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
                    RewriteError::InvalidCondition {
                        position: pos,
                        reason: format!("`{m}` is not an HTTP method"),
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        let host = when
            .host
            .as_deref()
            .map(|h| {
                HostPattern::parse(h).map_err(|e| RewriteError::InvalidCondition {
                    position: pos,
                    reason: format!("host `{h}`: {e}"),
                })
            })
            .transpose()?;
        Ok(Condition {
            path_prefix: when
                .path_prefix
                .as_deref()
                .map(|p| p.trim_end_matches('/').to_owned()),
            methods,
            host,
            header: header(&when.header)?,
            header_absent: header(&when.header_absent)?,
        })
    }

    fn is_always(&self) -> bool {
        self.path_prefix.is_none()
            && self.methods.is_empty()
            && self.host.is_none()
            && self.header.is_none()
            && self.header_absent.is_none()
    }

    /// Whether the request in `ctx` satisfies every part.
    pub(crate) fn holds(&self, ctx: &Ctx<'_>) -> bool {
        if let Some(prefix) = &self.path_prefix {
            if !prefix::matches(ctx.uri.path(), prefix) {
                return false;
            }
        }
        if !self.methods.is_empty() && !self.methods.contains(ctx.method) {
            return false;
        }
        if let Some(pattern) = &self.host {
            match ctx.origin().host() {
                Some(host) if pattern.matches(host) => {}
                _ => return false,
            }
        }
        if let Some(name) = &self.header {
            if !ctx.headers.contains_key(name) {
                return false;
            }
        }
        if let Some(name) = &self.header_absent {
            if ctx.headers.contains_key(name) {
                return false;
            }
        }
        true
    }
}

/// One rule, ready to run.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) position: RulePosition,
    pub(crate) action: Action,
    pub(crate) condition: Condition,
}

/// The value a response rule rendered while the request was at hand.
#[derive(Debug)]
pub(crate) enum Slot {
    /// The condition did not hold, or the value could not be emitted.
    Skip,
    /// The rule needs no per-request value.
    Run,
    /// The rendered value.
    Value(HeaderValue),
}

fn header_name(name: &str, position: RulePosition) -> Result<HeaderName, RewriteError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| RewriteError::InvalidHeaderName {
        position,
        name: crate::syntax::excerpt(name, 80),
    })
}

/// The one action a rule names (`set`, `remove`, ...) and its header; naming none or several
/// is an error.
fn only_action(rule: &Rule, position: RulePosition) -> Result<(&'static str, &str), RewriteError> {
    let actions = [
        ("set", &rule.set),
        ("set_if_missing", &rule.set_if_missing),
        ("append", &rule.append),
        ("remove", &rule.remove),
        ("remove_prefix", &rule.remove_prefix),
        ("rename", &rule.rename),
        ("replace", &rule.replace),
    ];
    let mut chosen = actions
        .iter()
        .filter_map(|(kind, target)| target.as_deref().map(|t| (*kind, t)));
    match (chosen.next(), chosen.next()) {
        (Some(only), None) => Ok(only),
        (None, _) => Err(RewriteError::NoAction { position }),
        (Some((first, _)), Some((second, _))) => Err(RewriteError::SeveralActions {
            position,
            first,
            second,
        }),
    }
}

/// The fields of one rule, read for its action `kind`: errors name the rule and the action.
struct Fields<'a> {
    rule: &'a Rule,
    position: RulePosition,
    kind: &'static str,
}

impl Fields<'_> {
    fn need(&self, field: &'static str, value: &Option<String>) -> Result<String, RewriteError> {
        value.clone().ok_or(RewriteError::MissingField {
            position: self.position,
            action: self.kind,
            field,
        })
    }

    fn refuse(&self, field: &'static str, value: &Option<String>) -> Result<(), RewriteError> {
        match value {
            Some(_) => Err(RewriteError::UnexpectedField {
                position: self.position,
                action: self.kind,
                field,
            }),
            None => Ok(()),
        }
    }

    /// Refuses the fields the action does not take (`value` for `remove`, ...).
    fn refuse_others(&self) -> Result<(), RewriteError> {
        let rule = self.rule;
        let takes_value = matches!(self.kind, "set" | "set_if_missing" | "append");
        if !takes_value {
            self.refuse("value", &rule.value)?;
        }
        if self.kind != "rename" {
            self.refuse("to", &rule.to)?;
        }
        if self.kind != "replace" {
            self.refuse("pattern", &rule.pattern)?;
            self.refuse("with", &rule.with)?;
        }
        Ok(())
    }

    fn name(&self, name: &str) -> Result<HeaderName, RewriteError> {
        header_name(name, self.position)
    }

    /// The `value` template, compiled.
    fn template(&self) -> Result<Template, RewriteError> {
        let text = self.need("value", &self.rule.value)?;
        Template::compile(&text).map_err(|source| RewriteError::Template {
            position: self.position,
            template: crate::syntax::excerpt(&text, 80),
            source,
        })
    }

    /// The action on header `target`, its names, template or pattern checked.
    fn action(&self, target: &str) -> Result<Action, RewriteError> {
        let rule = self.rule;
        Ok(match self.kind {
            "set" => Action::Set(self.name(target)?, self.template()?),
            "set_if_missing" => Action::SetIfMissing(self.name(target)?, self.template()?),
            "append" => Action::Append(self.name(target)?, self.template()?),
            "remove" => Action::Remove(self.name(target)?),
            "remove_prefix" => {
                // Validated as a name so a typo (a space, a colon) is caught at build.
                let lower = target.to_ascii_lowercase();
                if lower.is_empty() {
                    return Err(RewriteError::InvalidHeaderName {
                        position: self.position,
                        name: String::new(),
                    });
                }
                self.name(&lower)?;
                Action::RemovePrefix(lower)
            }
            "rename" => Action::Rename(self.name(target)?, self.name(&self.need("to", &rule.to)?)?),
            _ => {
                let pattern = self.need("pattern", &rule.pattern)?;
                let regex = Regex::new(&pattern).map_err(|source| RewriteError::InvalidRegex {
                    position: self.position,
                    pattern: crate::syntax::excerpt(&pattern, 80),
                    source,
                })?;
                Action::Replace(self.name(target)?, regex, self.need("with", &rule.with)?)
            }
        })
    }
}

impl CompiledRule {
    pub(crate) fn compile(rule: &Rule, position: RulePosition) -> Result<Self, RewriteError> {
        let (kind, target) = only_action(rule, position)?;
        let fields = Fields {
            rule,
            position,
            kind,
        };
        fields.refuse_others()?;
        Ok(CompiledRule {
            position,
            action: fields.action(target)?,
            condition: Condition::compile(&rule.when, position)?,
        })
    }

    /// Whether running this rule on a response needs anything from the request.
    pub(crate) fn needs_request(&self) -> bool {
        !self.condition.is_always() || self.action.template().is_some_and(Template::is_dynamic)
    }

    /// Decides and renders a rule against the request; `Skip` when the condition fails or the
    /// value cannot be emitted (logged).
    pub(crate) fn prepare(&self, ctx: &Ctx<'_>) -> Slot {
        if !self.condition.holds(ctx) {
            return Slot::Skip;
        }
        match self.action.template() {
            Some(template) if template.is_dynamic() => self.render(template, ctx),
            _ => Slot::Run,
        }
    }

    /// Renders a template with placeholders (out of line: a fixed value, the usual case, needs
    /// none of this).
    #[inline(never)]
    fn render(&self, template: &Template, ctx: &Ctx<'_>) -> Slot {
        match template.render(ctx) {
            Ok(value) => Slot::Value(value),
            Err(_) => {
                skipped(self.position);
                Slot::Skip
            }
        }
    }

    /// Runs the rule on `headers` with what [`prepare`](Self::prepare) decided.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, slot: Slot) {
        let value = match slot {
            Slot::Skip => return,
            Slot::Value(value) => Some(value),
            Slot::Run => match self.action.template() {
                Some(Template::Static(value)) => Some(value.clone()),
                _ => None,
            },
        };
        match (&self.action, value) {
            (Action::Set(name, _), Some(value)) => {
                headers.insert(name, value);
            }
            (Action::SetIfMissing(name, _), Some(value)) => {
                if !headers.contains_key(name) {
                    headers.insert(name, value);
                }
            }
            (Action::Append(name, _), Some(value)) => {
                headers.append(name, value);
            }
            (Action::Remove(name), _) => {
                headers.remove(name);
            }
            (Action::RemovePrefix(prefix), _) => remove_prefix(headers, prefix),
            (Action::Rename(from, to), _) => rename(headers, from, to),
            (Action::Replace(name, regex, with), _) => {
                replace(headers, name, regex, with, self.position)
            }
            (Action::Set(..) | Action::SetIfMissing(..) | Action::Append(..), None) => {}
        }
    }
}

#[cold]
#[inline(never)]
fn skipped(position: RulePosition) {
    tracing::warn!(
        rule = %position,
        "header rewrite skipped: the value would hold CR, LF, NUL or another control character"
    );
}

#[inline(never)]
fn remove_prefix(headers: &mut HeaderMap, prefix: &str) {
    let matches = |name: &HeaderName| name.as_str().starts_with(prefix);
    if !headers.keys().any(matches) {
        // The usual request: nothing to remove, nothing allocated.
        return;
    }
    // HeaderMap has no retain: collect the names first (names are stored lowercase).
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| matches(name))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// `to` takes the values of `from` (replacing any it had); nothing happens when `from` is
/// absent.
#[inline(never)]
fn rename(headers: &mut HeaderMap, from: &HeaderName, to: &HeaderName) {
    if from == to {
        return;
    }
    let values: Vec<HeaderValue> = match headers.entry(from) {
        http::header::Entry::Occupied(entry) => entry.remove_entry_mult().1.collect(),
        http::header::Entry::Vacant(_) => return,
    };
    headers.remove(to);
    for value in values {
        headers.append(to, value);
    }
}

#[inline(never)]
fn replace(
    headers: &mut HeaderMap,
    name: &HeaderName,
    regex: &Regex,
    with: &str,
    position: RulePosition,
) {
    let mut changed = false;
    let values: Vec<HeaderValue> = headers
        .get_all(name)
        .iter()
        .map(|value| {
            let Ok(text) = value.to_str() else {
                return value.clone();
            };
            match regex.replace_all(text, with) {
                std::borrow::Cow::Borrowed(_) => value.clone(),
                std::borrow::Cow::Owned(new) => match HeaderValue::from_str(&new) {
                    Ok(new) => {
                        changed = true;
                        new
                    }
                    Err(_) => {
                        tracing::warn!(rule = %position, header = %name, "header replace skipped: the result would hold a control character");
                        value.clone()
                    }
                },
            }
        })
        .collect();
    if changed {
        headers.remove(name);
        for value in values {
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(rule: Rule) -> CompiledRule {
        CompiledRule::compile(&rule, RulePosition::Request(1)).unwrap()
    }

    fn run(rule: Rule, req: &mut http::Request<()>) {
        let rule = compile(rule);
        let slot = rule.prepare(&Ctx::of(req));
        rule.apply(req.headers_mut(), slot);
    }

    fn req(headers: &[(&'static str, &'static str)]) -> http::Request<()> {
        let mut b = http::Request::builder()
            .uri("/api/users")
            .header("host", "a.example.com");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    fn values(req: &http::Request<()>, name: &str) -> Vec<String> {
        req.headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn set_overrides_every_value() {
        let mut r = req(&[("x-a", "1"), ("x-a", "2")]);
        run(Rule::set("X-A", "3"), &mut r);
        assert_eq!(values(&r, "x-a"), ["3"]);
    }

    #[test]
    fn set_if_missing_keeps_an_existing_value() {
        let mut r = req(&[("x-a", "1")]);
        run(Rule::set_if_missing("x-a", "2"), &mut r);
        run(Rule::set_if_missing("x-b", "2"), &mut r);
        assert_eq!(values(&r, "x-a"), ["1"]);
        assert_eq!(values(&r, "x-b"), ["2"]);
    }

    #[test]
    fn append_adds_a_value() {
        let mut r = req(&[("x-a", "1")]);
        run(Rule::append("x-a", "{method}"), &mut r);
        assert_eq!(values(&r, "x-a"), ["1", "GET"]);
    }

    #[test]
    fn remove_prefix_removes_every_matching_name() {
        let mut r = req(&[("x-internal-a", "1"), ("X-Internal-B", "2"), ("x-int", "3")]);
        run(Rule::remove_prefix("X-Internal-"), &mut r);
        assert!(r.headers().get("x-internal-a").is_none());
        assert!(r.headers().get("x-internal-b").is_none());
        assert_eq!(values(&r, "x-int"), ["3"]);
    }

    #[test]
    fn rename_moves_all_values_and_replaces_the_target() {
        let mut r = req(&[("x-old", "1"), ("x-old", "2"), ("x-new", "0")]);
        run(Rule::rename("x-old", "x-new"), &mut r);
        assert!(r.headers().get("x-old").is_none());
        assert_eq!(values(&r, "x-new"), ["1", "2"]);
        // Absent source: the target is left alone.
        run(Rule::rename("x-gone", "x-new"), &mut r);
        assert_eq!(values(&r, "x-new"), ["1", "2"]);
    }

    #[test]
    fn replace_uses_regex_captures() {
        let mut r = req(&[("location", "http://internal:8080/x")]);
        run(
            Rule::replace(
                "location",
                r"^http://internal:8080(/.*)$",
                "https://example.com$1",
            ),
            &mut r,
        );
        assert_eq!(values(&r, "location"), ["https://example.com/x"]);
    }

    #[test]
    fn replace_never_emits_a_newline() {
        let mut r = req(&[("x-a", "abc")]);
        run(Rule::replace("x-a", "b", "\r\nSet-Cookie: x=1\r\n"), &mut r);
        assert_eq!(values(&r, "x-a"), ["abc"]);
    }

    #[test]
    fn conditions_all_must_hold() {
        let rule = || {
            Rule::set("x-hit", "1")
                .when_path_prefix("/api")
                .when_method("get")
                .when_host("*.example.com")
                .when_header("x-a")
        };
        let mut hit = req(&[("x-a", "1")]);
        run(rule(), &mut hit);
        assert_eq!(values(&hit, "x-hit"), ["1"]);
        let mut miss = req(&[]);
        run(rule(), &mut miss);
        assert!(miss.headers().get("x-hit").is_none());
        let mut absent = req(&[("x-a", "1")]);
        run(
            Rule::set("x-hit", "1").when_header_absent("x-a"),
            &mut absent,
        );
        assert!(absent.headers().get("x-hit").is_none());
    }

    #[test]
    fn dynamic_value_with_crlf_is_skipped_not_emitted() {
        let mut r = req(&[]);
        r.extensions_mut()
            .insert(crate::ext::AuthenticatedUser("a\nb".into()));
        run(Rule::set("x-user", "{user}"), &mut r);
        assert!(r.headers().get("x-user").is_none());
    }

    #[test]
    fn build_errors_name_the_rule() {
        let at = |rule: Rule| CompiledRule::compile(&rule, RulePosition::Response(3)).unwrap_err();
        let err = at(Rule::set("bad name", "x"));
        assert!(matches!(
            err,
            RewriteError::InvalidHeaderName {
                position: RulePosition::Response(3),
                ..
            }
        ));
        assert!(err.to_string().starts_with("response rule 3"), "{err}");
        assert!(matches!(at(Rule::default()), RewriteError::NoAction { .. }));
        let mut two = Rule::remove("a");
        two.set = Some("b".into());
        assert!(matches!(at(two), RewriteError::SeveralActions { .. }));
        assert!(matches!(
            at(Rule::replace("a", "(", "x")),
            RewriteError::InvalidRegex { .. }
        ));
        assert!(matches!(
            at(Rule::set("a", "{bogus}")),
            RewriteError::Template { .. }
        ));
        let mut stray = Rule::remove("a");
        stray.value = Some("x".into());
        assert!(matches!(
            at(stray),
            RewriteError::UnexpectedField { field: "value", .. }
        ));
        assert!(matches!(
            at(Rule::remove("a").when_method("G ET")),
            RewriteError::InvalidCondition { .. }
        ));
        assert!(matches!(
            at(Rule::remove("a").when_path_prefix("api")),
            RewriteError::InvalidCondition { .. }
        ));
    }
}
