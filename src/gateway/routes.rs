//! `[[routes]]` compiled into one [`Dispatcher`], with the public dispatch API only.
//!
//! The table it builds, for routes grouped by host, then by path prefix:
//!
//! ```text
//! Dispatch (only when some route has a host)
//!   .host("example.com", Dispatch            ← that host's routes
//!        .mount("/api", methods)              ← every route of the prefix strips it
//!        .prefix("/app", methods)             ← none does (or some: those get a nested mount)
//!        .fallback(its "/" route, else the host-less table))
//!   .fallback(the host-less table, built the same way)
//! ```
//!
//! `methods` is a [`MethodRouter`] holding the routes of one host and prefix in file order:
//! a route without `methods` is [`any`](MethodRouter::any), one with methods takes those it is
//! the first to list (`GET` also covers `HEAD`).

use http::Method;

use crate::config::RouteConfig;
use crate::dispatch::{Dispatch, DispatchError, Dispatcher, MethodRouter, MountSlash, Route};
use crate::syntax::host::HostPattern;

/// The router of a list of routes, and the routes that can never answer.
pub(crate) struct Compiled {
    pub(crate) router: Dispatcher,
    /// `(route, by)`: every request `route` matches is taken first by route `by`, listed
    /// before it with the same host, path and methods.
    pub(crate) unreachable: Vec<(usize, usize)>,
}

/// The routes of one host pattern (`None`: the host-less ones), by prefix, in file order.
struct HostGroup<'a> {
    pattern: Option<&'a str>,
    /// The pattern as dispatch compares it (`Example.com.` is `example.com`); `None` for the
    /// host-less group and for a pattern `check` refused.
    key: Option<HostPattern>,
    prefixes: Vec<(Option<&'a str>, Vec<usize>)>,
}

/// Builds the router of `routes` (already [checked](crate::config::Config::check));
/// `target(i)` is the service of route `i`, named as metrics should call it.
///
/// # Errors
///
/// When dispatch refuses a host or a prefix that [`Config::check`](crate::config::Config::check)
/// would have reported.
pub(crate) fn compile(
    routes: &[RouteConfig],
    mut target: impl FnMut(usize) -> Route,
) -> Result<Compiled, DispatchError> {
    let mut unreachable = Vec::new();
    let groups = group(routes);
    let mut compile_group = |group: &HostGroup<'_>, fallback: Option<Dispatcher>| {
        table(group, routes, &mut target, &mut unreachable, fallback)
    };
    let (hostless, hosts) = groups
        .split_first()
        .expect("the host-less group is always first");
    let base = compile_group(hostless, None)?;
    let router = if hosts.is_empty() {
        base
    } else {
        let mut top = Dispatch::new();
        for group in hosts {
            let pattern = group.pattern.expect("only the first group has no host");
            top = top.host(pattern, compile_group(group, Some(base.clone()))?);
        }
        top.fallback(base).build()?
    };
    unreachable.sort_unstable();
    Ok(Compiled {
        router,
        unreachable,
    })
}

/// The routes by host pattern, then by prefix, each in the order the file first names them;
/// the host-less group first.
fn group(routes: &[RouteConfig]) -> Vec<HostGroup<'_>> {
    let mut groups = vec![HostGroup {
        pattern: None,
        key: None,
        prefixes: Vec::new(),
    }];
    for (i, route) in routes.iter().enumerate() {
        let key = route
            .host
            .as_deref()
            .and_then(|h| HostPattern::parse(h).ok());
        let at = match groups.iter().position(|g| g.key == key) {
            Some(at) => at,
            None => {
                groups.push(HostGroup {
                    pattern: route.host.as_deref(),
                    key,
                    prefixes: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let prefixes = &mut groups[at].prefixes;
        let prefix = route.prefix();
        match prefixes.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, members)) => members.push(i),
            None => prefixes.push((prefix, vec![i])),
        }
    }
    groups
}

/// One host's table: its prefixes, and as fallback its `/` routes, else `fallback`.
fn table(
    group: &HostGroup<'_>,
    routes: &[RouteConfig],
    target: &mut impl FnMut(usize) -> Route,
    unreachable: &mut Vec<(usize, usize)>,
    fallback: Option<Dispatcher>,
) -> Result<Dispatcher, DispatchError> {
    // `/api` is served as the prefix's `/`, as a route with `strip_prefix` always did.
    let mut dispatch = Dispatch::new().mount_slash(MountSlash::Serve);
    let mut root = None;
    for (prefix, members) in &group.prefixes {
        let Some(prefix) = prefix else {
            root = Some(methods(members, routes, &mut *target, unreachable));
            continue;
        };
        let strips = |i: &usize| routes[*i].strips_prefix();
        if members.iter().all(strips) {
            let router = methods(members, routes, &mut *target, unreachable);
            dispatch = dispatch.mount(*prefix, router);
            continue;
        }
        // Some routes of this prefix strip it and others do not: the prefix passes the path
        // on, and those that strip mount their service at the same prefix.
        let mut wrapped = |i: usize| -> Route {
            let service = target(i);
            if !routes[i].strips_prefix() {
                return service;
            }
            let name = service.name().map(str::to_owned);
            let mounted = Dispatch::new()
                .mount(*prefix, service)
                .mount_slash(MountSlash::Serve)
                .build()
                .map(Route::new);
            match (mounted, name) {
                (Ok(route), Some(name)) => route.named(name),
                (Ok(route), None) => route,
                // The prefix is refused below, with the same error.
                (Err(_), _) => Route::new(MethodRouter::new()),
            }
        };
        let router = methods(members, routes, &mut wrapped, unreachable);
        dispatch = dispatch.prefix(*prefix, router);
    }
    dispatch = match (root, fallback) {
        (Some(root), _) => dispatch.fallback(root),
        (None, Some(hostless)) => dispatch.fallback(hostless),
        (None, None) => dispatch,
    };
    dispatch.build()
}

/// The method router of the routes of one host and prefix, in file order: each route takes
/// the methods no route before it took (`GET` covering `HEAD`); a route without `methods`
/// takes all the others, and routes after it none.
fn methods(
    members: &[usize],
    routes: &[RouteConfig],
    target: &mut impl FnMut(usize) -> Route,
    unreachable: &mut Vec<(usize, usize)>,
) -> MethodRouter {
    let mut router = MethodRouter::new();
    let mut taken: Vec<(Method, usize)> = Vec::new();
    let mut any: Option<usize> = None;
    for &i in members {
        if let Some(by) = any {
            unreachable.push((i, by));
            continue;
        }
        let listed: Vec<Method> = routes[i]
            .methods
            .iter()
            .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
            .collect();
        if listed.is_empty() {
            router = router.any(target(i));
            any = Some(i);
            continue;
        }
        let taker = |taken: &[(Method, usize)], method: &Method| {
            let covering = if *method == Method::HEAD {
                [Method::HEAD, Method::GET].as_slice()
            } else {
                std::slice::from_ref(method)
            };
            taken
                .iter()
                .find(|(m, _)| covering.contains(m))
                .map(|&(_, by)| by)
        };
        let fresh: Vec<Method> = listed
            .iter()
            .filter(|m| taker(&taken, m).is_none())
            .cloned()
            .collect();
        if fresh.is_empty() {
            let by = taker(&taken, &listed[0]).unwrap_or(i);
            unreachable.push((i, by));
            continue;
        }
        let service = target(i);
        for method in fresh {
            if taker(&taken, &method).is_none() {
                router = router.on(method.clone(), service.clone());
                taken.push((method, i));
            }
        }
    }
    router
}

#[cfg(test)]
mod tests {
    use http::Method;
    use serde_json::Value;

    use crate::config::{self, Config};
    use crate::metrics::Metrics;
    use crate::testing::TestClient;

    async fn client(routes: &str) -> TestClient<crate::gateway::Gateway> {
        let text = format!("[[listen]]\nbind = \"127.0.0.1:0\"\n{routes}");
        let config: Config = config::load(&text).expect("a valid file");
        let gateway = crate::gateway::build(&config, &Metrics::new()).await;
        TestClient::new(gateway.expect("it builds"))
    }

    async fn echo(c: &TestClient<crate::gateway::Gateway>, method: Method, host: &str) -> Value {
        let res = c
            .request(method, "/own/x?y")
            .header("host", host)
            .send()
            .await;
        res.json().await
    }

    #[tokio::test]
    async fn routes_of_one_prefix_may_strip_it_or_not() {
        let c = client(
            r#"
            [[routes]]
            path = "/own"
            methods = ["POST"]
            strip_prefix = true
            echo = true
            [[routes]]
            path = "/own"
            echo = true
            "#,
        )
        .await;
        let stripped = echo(&c, Method::POST, "a.test").await;
        assert_eq!(
            (&stripped["target"], &stripped["script_name"]),
            (&"/x?y".into(), &"/own".into())
        );
        let kept = echo(&c, Method::GET, "a.test").await;
        assert_eq!(
            (&kept["target"], &kept["script_name"]),
            (&"/own/x?y".into(), &"".into())
        );
    }

    #[tokio::test]
    async fn a_host_falls_back_to_the_host_less_routes() {
        let c = client(
            r#"
            [[routes]]
            host = "*.example.com"
            path = "/own"
            strip_prefix = true
            echo = true
            [[routes]]
            path = "/other"
            redirect = { to = "/elsewhere" }
            "#,
        )
        .await;
        let own = echo(&c, Method::GET, "a.example.com").await;
        assert_eq!(own["target"], "/x?y");
        let res = c.get("/other").header("host", "a.example.com").send().await;
        assert_eq!(res.header("location"), Some("/elsewhere"));
        // No host-less route takes /own: a 404 for other hosts.
        let res = c.get("/own").header("host", "b.test").send().await;
        assert_eq!(res.status(), 404);
    }

    #[tokio::test]
    async fn connect_only_where_a_route_lists_it() {
        let c = client("[[routes]]\necho = true\n").await;
        let res = c.request(Method::CONNECT, "/").send().await;
        assert_eq!(res.status(), 501);
        assert!(res
            .text()
            .await
            .contains("a route that lists CONNECT in `methods` takes it"));
        let c = client("[[routes]]\nmethods = [\"CONNECT\"]\necho = true\n").await;
        assert_eq!(c.request(Method::CONNECT, "/").send().await.status(), 200);
    }
}
