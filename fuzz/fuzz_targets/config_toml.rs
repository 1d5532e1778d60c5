//! A TOML configuration file: the whole `tollgate run` file through `config::load` and
//! `Config::check` (every error located, never a panic), and the layers' own serde sections
//! turned into layers: a section either is refused with an error or builds its layer.
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
    if let Ok(config) = tollgate::config::load(text) {
        // Semantic checks only: building would read the files the input names.
        let _ = config.check();
    }
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
