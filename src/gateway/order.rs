//! What the route order rule changed: routes that answer differently under nginx's order (the
//! most specific host, then the longest prefix, then the method) than under the first-match
//! order of earlier releases, for `tollgate check` and the startup warnings.
//!
//! Both orders are asked of dispatch itself, so no second host or prefix matcher exists: the
//! new one is the compiled router, the old one a router per route, tried in file order. They
//! are compared on probe requests made from the routes' own hosts, prefixes and methods.

use std::convert::Infallible;
use std::fmt;

use futures_util::FutureExt as _;
use http::header::HOST;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use tower::ServiceExt as _;

use super::routes::compile;
use crate::body::Body;
use crate::config::RouteConfig;
use crate::dispatch::{Dispatcher, Route};

/// A route whose answers changed with the route order rule, or that can never answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteOrderChange {
    /// The route the note is about: its index in `[[routes]]`.
    pub route: usize,
    /// What changed, with a request that shows it.
    pub message: String,
}

impl fmt::Display for RouteOrderChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[routes[{}]] {}", self.route, self.message)
    }
}

/// The routes of `routes` (checked already) whose answers differ from the first-match order
/// of earlier releases, each with an example request: a route that now takes requests a
/// route listed before it took (a longer prefix or a more specific host wins now), a route
/// whose requests are now a `405` (a longer prefix on the same host does not take the
/// method), and a route that can never answer (another with the same host, path and methods
/// comes first). Empty when nothing changed.
///
/// ```
/// use tollgate::config::{self, Config};
///
/// let config: Config = config::load(r#"
///     [[listen]]
///     bind = "127.0.0.1:8080"
///
///     [[routes]]
///     echo = true
///
///     [[routes]]
///     path = "/api"
///     redirect = { to = "/v2" }
/// "#).unwrap();
/// let changes = tollgate::gateway::route_order_changes(&config.routes);
/// assert_eq!(changes[0].route, 1);
/// assert!(changes[0].message.contains("GET /api"), "{}", changes[0].message);
/// ```
pub fn route_order_changes(routes: &[RouteConfig]) -> Vec<RouteOrderChange> {
    let Ok(new) = compile(routes, probe_target) else {
        return Vec::new();
    };
    let old: Option<Vec<Dispatcher>> = (0..routes.len())
        .map(|i| {
            compile(std::slice::from_ref(&routes[i]), |_| probe_target(i))
                .ok()
                .map(|c| c.router)
        })
        .collect();
    let Some(old) = old else {
        return Vec::new();
    };
    let mut changes: Vec<RouteOrderChange> = new
        .unreachable
        .iter()
        .map(|&(route, by)| RouteOrderChange {
            route,
            message: format!(
                "this route never answers: routes[{by}] ({}), listed before it with the same \
                 host, path and methods, takes all of its requests",
                routes[by].label()
            ),
        })
        .collect();
    let mut seen = Vec::new();
    for probe in probes(routes) {
        let before = old
            .iter()
            .position(|single| probe.reaches(single).is_some());
        let now = probe.reaches(&new.router);
        if before == now {
            continue;
        }
        let culprit = match now {
            Some(_) => None,
            None => culprit(routes, &new.router, &probe),
        };
        if seen.contains(&(before, now, culprit)) {
            continue;
        }
        seen.push((before, now, culprit));
        changes.push(describe(routes, &new.router, &probe, before, now, culprit));
    }
    changes.sort_by_key(|c| c.route);
    changes
}

/// A stand-in service named by its route's index: only its name is ever asked for.
fn probe_target(i: usize) -> Route {
    let answer = tower::service_fn(|_req: Request<Body>| {
        std::future::ready(Ok::<_, Infallible>(http::Response::new(Body::empty())))
    });
    Route::new(answer).named(i.to_string())
}

/// A request made from the routes' hosts, prefixes and methods.
struct Probe {
    method: Method,
    host: Option<String>,
    uri: Uri,
}

impl Probe {
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = self
            .host
            .as_deref()
            .and_then(|h| HeaderValue::from_str(h).ok())
        {
            headers.insert(HOST, value);
        }
        headers
    }

    /// The route `router` sends this request to, by index.
    fn reaches(&self, router: &Dispatcher) -> Option<usize> {
        let mut head = http::Request::new(()).into_parts().0;
        head.method = self.method.clone();
        head.uri = self.uri.clone();
        head.headers = self.headers();
        let name = router.route_name(&head)?;
        name.parse().ok()
    }

    fn with_method(&self, method: Method) -> Probe {
        Probe {
            method,
            host: self.host.clone(),
            uri: self.uri.clone(),
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host.as_deref().unwrap_or_default();
        write!(f, "{} {host}{}", self.method, self.uri)
    }
}

/// Every method, host and path worth asking: the standard methods and those routes list;
/// no host, each exact host and a subdomain of each wildcard; each prefix and a path under it.
fn probes(routes: &[RouteConfig]) -> Vec<Probe> {
    let mut methods = vec![
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ];
    let mut hosts: Vec<Option<String>> = vec![None];
    let mut paths: Vec<String> = Vec::new();
    for route in routes {
        for method in &route.methods {
            if let Ok(method) = Method::from_bytes(method.as_bytes()) {
                if !methods.contains(&method) {
                    methods.push(method);
                }
            }
        }
        if let Some(host) = &route.host {
            let sample = match host.strip_prefix("*.") {
                Some(domain) => Some(format!("probe.{domain}")),
                None => Some(host.clone()),
            };
            if !hosts.contains(&sample) {
                hosts.push(sample);
            }
        }
        let prefix = route.prefix().unwrap_or_default();
        for path in [
            if prefix.is_empty() { "/" } else { prefix }.to_owned(),
            format!("{prefix}/probe"),
        ] {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    let mut probes = Vec::new();
    for host in &hosts {
        for path in &paths {
            let Ok(uri) = path.parse::<Uri>() else {
                continue;
            };
            for method in &methods {
                probes.push(Probe {
                    method: method.clone(),
                    host: host.clone(),
                    uri: uri.clone(),
                });
            }
        }
    }
    probes
}

/// The route whose host and prefix now catch `probe` without taking its method: the one the
/// router reaches with that route's own first method.
fn culprit(routes: &[RouteConfig], router: &Dispatcher, probe: &Probe) -> Option<usize> {
    routes.iter().enumerate().find_map(|(k, route)| {
        let own = route
            .methods
            .first()
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())?;
        (probe.with_method(own).reaches(router) == Some(k)).then_some(k)
    })
}

/// The status dispatch answers `probe` with itself (404, 405, 501, 204 for `OPTIONS`).
fn status(router: &Dispatcher, probe: &Probe) -> Option<u16> {
    let mut req = Request::new(Body::empty());
    *req.method_mut() = probe.method.clone();
    *req.uri_mut() = probe.uri.clone();
    *req.headers_mut() = probe.headers();
    // Dispatch's own answers are ready at once.
    let res = router.clone().oneshot(req).now_or_never()?;
    res.ok().map(|res| res.status().as_u16())
}

fn describe(
    routes: &[RouteConfig],
    router: &Dispatcher,
    probe: &Probe,
    before: Option<usize>,
    now: Option<usize>,
    culprit: Option<usize>,
) -> RouteOrderChange {
    let name = |i: usize| format!("routes[{i}] ({})", routes[i].label());
    match (before, now) {
        (before, Some(now)) => RouteOrderChange {
            route: now,
            message: match before {
                Some(before) => format!(
                    "this route now takes `{probe}`, which went to {} listed before it: the \
                     most specific host and the longest prefix decide now, not the order of \
                     the file",
                    name(before)
                ),
                None => format!("this route now takes `{probe}`, which no route took before"),
            },
        },
        (Some(before), None) => {
            let status = status(router, probe).map_or_else(String::new, |s| format!(" {s}"));
            let why = match culprit {
                Some(k) => format!(
                    ": {} matches it more specifically and does not take {}",
                    name(k),
                    probe.method
                ),
                None => String::new(),
            };
            RouteOrderChange {
                route: before,
                message: format!(
                    "this route no longer takes `{probe}`: dispatch answers it{status} now{why}"
                ),
            }
        }
        (None, None) => unreachable!("only differing answers are described"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(text: &str) -> Vec<RouteConfig> {
        let text = format!("[[listen]]\nbind = \"127.0.0.1:0\"\n{text}");
        crate::config::load(&text).expect("a valid file").routes
    }

    fn changes(text: &str) -> Vec<(usize, String)> {
        route_order_changes(&routes(text))
            .into_iter()
            .map(|c| (c.route, c.message))
            .collect()
    }

    #[test]
    fn nothing_changes_when_the_file_is_already_in_order() {
        let found = changes(
            r#"
            [[routes]]
            host = "example.com"
            path = "/own"
            methods = ["POST"]
            strip_prefix = true
            echo = true
            [[routes]]
            host = "Example.com."
            path = "/own"
            echo = true
            [[routes]]
            path = "/api/v2"
            strip_prefix = true
            echo = true
            [[routes]]
            path = "/api"
            methods = ["HEAD", "GET"]
            echo = true
            [[routes]]
            path = "/api"
            echo = true
            [[routes]]
            echo = true
            "#,
        );
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn a_longer_prefix_listed_after_a_shorter_one() {
        let found = changes(
            r#"
            [[routes]]
            echo = true
            [[routes]]
            path = "/api"
            echo = true
            "#,
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].0, 1);
        assert!(
            found[0].1.contains("now takes `GET /api`"),
            "{}",
            found[0].1
        );
        assert!(found[0].1.contains("routes[0] (/)"), "{}", found[0].1);
    }

    #[test]
    fn a_method_that_fell_through_is_now_a_405() {
        let found = changes(
            r#"
            [[routes]]
            path = "/api"
            methods = ["POST"]
            echo = true
            [[routes]]
            name = "rest"
            echo = true
            "#,
        );
        assert!(!found.is_empty(), "{found:#?}");
        let (route, message) = &found[0];
        assert_eq!(*route, 1);
        assert!(message.contains("no longer takes `GET /api`"), "{message}");
        assert!(message.contains("405"), "{message}");
        assert!(message.contains("routes[0] (/api)"), "{message}");
    }

    #[test]
    fn a_host_route_listed_after_host_less_ones() {
        let found = changes(
            r#"
            [[routes]]
            path = "/old"
            redirect = { to = "/new" }
            [[routes]]
            host = "*.example.com"
            echo = true
            "#,
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].0, 1);
        assert!(
            found[0].1.contains("`GET probe.example.com/old`"),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn a_route_behind_another_with_the_same_place_never_answers() {
        let found = changes(
            r#"
            [[routes]]
            path = "/api"
            methods = ["GET", "POST"]
            echo = true
            [[routes]]
            path = "/api/"
            methods = ["HEAD"]
            echo = true
            "#,
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].0, 1);
        assert!(found[0].1.contains("never answers"), "{}", found[0].1);
    }
}
