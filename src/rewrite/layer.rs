//! [`RewriteLayer`]: the compiled rules, shared by every service it makes.

use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use tower_layer::Layer;

use super::request_id::RequestIdRule;
use super::rules::{CompiledRule, RulePosition, Slot};
use super::template::Ctx;
use super::{Rewrite, RewriteConfig, RewriteError};
use crate::ext::RequestId;

/// A [`Layer`] applying a [`RewriteConfig`]'s rules; see the [module docs](super).
#[derive(Debug, Clone)]
#[must_use]
pub struct RewriteLayer {
    pub(crate) rules: Arc<Rules>,
}

impl RewriteLayer {
    /// Compiles `config` once: header names, templates, `{env:…}` values, regexes.
    ///
    /// # Errors
    ///
    /// The first invalid rule, naming its position ("response rule 2: …").
    pub fn new(config: &RewriteConfig) -> Result<Self, RewriteError> {
        Ok(RewriteLayer {
            rules: Arc::new(Rules::compile(config)?),
        })
    }
}

impl<S> Layer<S> for RewriteLayer {
    type Service = Rewrite<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Rewrite::from_layer(inner, self.clone())
    }
}

/// Every rule of one layer, compiled.
#[derive(Debug)]
pub(crate) struct Rules {
    request_id: Option<RequestIdRule>,
    request: Vec<CompiledRule>,
    response: Vec<CompiledRule>,
    /// Whether any response rule has a condition or a placeholder, so the request must be
    /// looked at before it is handed on.
    response_needs_request: bool,
}

/// What the response side needs from the request side.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The request id, and whether the response header carries it.
    request_id: Option<(HeaderValue, RequestId, bool)>,
    /// One slot per response rule, or empty when no response rule needs the request.
    slots: Vec<Slot>,
}

impl Rules {
    fn compile(config: &RewriteConfig) -> Result<Self, RewriteError> {
        let request_id = config
            .request_id
            .as_ref()
            .map(|c| {
                let header = HeaderName::from_bytes(c.header.as_bytes()).map_err(|_| {
                    RewriteError::InvalidHeaderName {
                        position: RulePosition::RequestId,
                        name: crate::syntax::excerpt(&c.header, 80),
                    }
                })?;
                Ok::<_, RewriteError>(RequestIdRule {
                    header,
                    trust_incoming: c.trust_incoming,
                    response: c.response,
                })
            })
            .transpose()?;
        let request = config
            .request
            .iter()
            .enumerate()
            .map(|(i, rule)| CompiledRule::compile(rule, RulePosition::Request(i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let preset_rules = config.presets.iter().flat_map(|p| p.response_rules());
        let user_rules = config
            .response
            .iter()
            .enumerate()
            .map(|(i, rule)| CompiledRule::compile(rule, RulePosition::Response(i + 1)));
        let mut response = Vec::new();
        for (i, rule) in preset_rules.enumerate() {
            // Presets are fixed rules: they compile or the crate is broken.
            let compiled = CompiledRule::compile(&rule, RulePosition::Preset(i + 1));
            response.push(compiled.expect("preset rules are valid"));
        }
        for rule in user_rules {
            response.push(rule?);
        }
        let response_needs_request = response.iter().any(CompiledRule::needs_request);
        Ok(Rules {
            request_id,
            request,
            response,
            response_needs_request,
        })
    }

    /// Runs the request side; returns what the response side needs, if anything.
    pub(crate) fn on_request<B>(&self, req: &mut http::Request<B>) -> Option<Pending> {
        let request_id = self.request_id.as_ref().map(|rule| {
            let (value, id) = rule.on_request(req);
            (value, id, rule.response)
        });
        for rule in &self.request {
            let slot = rule.prepare(&Ctx::of(req));
            rule.apply(req.headers_mut(), slot);
        }
        if self.response.is_empty() && request_id.is_none() {
            return None;
        }
        let slots = if self.response_needs_request {
            let ctx = Ctx::of(req);
            self.response
                .iter()
                .map(|rule| rule.prepare(&ctx))
                .collect()
        } else {
            Vec::new()
        };
        Some(Pending { request_id, slots })
    }

    /// Runs the response side. The request id also goes into the response's extensions, so
    /// whatever wraps the stack (the access log) sees it without the request.
    pub(crate) fn on_response<B>(&self, res: &mut http::Response<B>, pending: Pending) {
        if let (Some(rule), Some((value, id, send))) = (&self.request_id, pending.request_id) {
            res.extensions_mut().insert(id);
            if send {
                res.headers_mut().insert(&rule.header, value);
            }
        }
        let headers = res.headers_mut();
        if pending.slots.is_empty() {
            for rule in &self.response {
                rule.apply(headers, Slot::Run);
            }
        } else {
            for (rule, slot) in self.response.iter().zip(pending.slots) {
                rule.apply(headers, slot);
            }
        }
    }
}
