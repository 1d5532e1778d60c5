//! A TOML configuration file (the layers' own serde sections, as the CLI's file holds them)
//! parsed and turned into layers: never panics; a section either is refused with an error or
//! builds its layer.
//!
//! The CLI's top-level `tollgate::config::Config` replaces `Gateway` here when it lands.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use tollgate::auth::basic::{BasicAuthConfig, BasicAuthLayer};
use tollgate::files::{ServeDir, ServeDirConfig};
use tollgate::forwarded::{ForwardedConfig, ForwardedLayer};
use tollgate::normalize::{NormalizeConfig, NormalizeLayer};
use tollgate::rewrite::{RewriteConfig, RewriteLayer};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Gateway {
    normalize: Option<NormalizeConfig>,
    forwarded: Option<ForwardedConfig>,
    rewrite: Option<RewriteConfig>,
    auth: Option<BasicAuthConfig>,
    files: Option<ServeDirConfig>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(gateway) = toml::from_str::<Gateway>(text) else {
        return;
    };
    if let Some(config) = gateway.normalize {
        let _ = NormalizeLayer::new(config);
    }
    if let Some(config) = gateway.forwarded {
        let _ = ForwardedLayer::new(config);
    }
    if let Some(config) = &gateway.rewrite {
        let _ = RewriteLayer::new(config);
    }
    if let Some(config) = &gateway.auth {
        // Users from memory: a fuzzed htpasswd path must not read the machine's files.
        let users: HashMap<String, String> = HashMap::new();
        let _ = BasicAuthLayer::from_config_with_store(config, users);
    }
    if let Some(config) = gateway.files {
        let _ = ServeDir::from_config(config);
    }
});
