//! The checks of the edge tables: `[compression]`, `[cache]` and the routes' `cors`.

use super::error::{ConfigError, KeyPath};
use super::Config;
use crate::compress::CompressConfigError;
use crate::cors::CorsConfigError;

impl Config {
    /// What is wrong with `[compression]` and the routes' `cors` tables, each error at its
    /// key.
    pub(super) fn check_edge(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Some(compression) = &self.compression {
            let at = KeyPath::root().key("compression");
            for e in compression.check() {
                let key = match &e {
                    CompressConfigError::Level { algorithm, .. } => {
                        at.key("levels").key(algorithm.token())
                    }
                    CompressConfigError::Type { index, .. } => at.key("types").index(*index),
                    _ => at.key("algorithms"),
                };
                errors.push(ConfigError::from_error(key, e));
            }
        }
        for (i, route) in self.routes.iter().enumerate() {
            if route.cache == Some(true) && self.cache.is_none() {
                errors.push(ConfigError::new(
                    KeyPath::root().key("routes").index(i).key("cache"),
                    "`cache = true` needs a [cache] table (e.g. `[cache]` with `max_size = \"256M\"`)",
                ));
            }
            let Some(cors) = &route.cors else { continue };
            let at = KeyPath::root().key("routes").index(i).key("cors");
            for e in cors.check() {
                let key = match &e {
                    CorsConfigError::Origin { index, .. }
                    | CorsConfigError::AnyOriginWithCredentials { index } => {
                        at.key("origins").index(*index)
                    }
                    CorsConfigError::Entry { key, index, .. } => at.key(key).index(*index),
                };
                errors.push(ConfigError::from_error(key, e));
            }
            let label = route.label();
            let differs = self.routes[..i]
                .iter()
                .any(|r| r.label() == label && r.cors.is_some() && r.cors != route.cors);
            if differs {
                errors.push(ConfigError::new(
                    at,
                    format!(
                        "another route named `{label}` has a different `cors` table: routes \
                         of one host and path share one policy (preflights are answered \
                         before the method is known); give them the same table"
                    ),
                ));
            }
        }
        errors
    }
}
