//! `tollgate proxy ... --print-config`: the TOML file `tollgate run` accepts for the very
//! configuration the flags build, so an operator who outgrows flags starts from a working
//! file (as `caddy adapt` and `nginx -T` show theirs).

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table};

use super::proxy::{ProxyArgs, UPSTREAM};

/// The file for `args`; `tollgate run` on it serves what `tollgate proxy` with `args` would.
pub fn toml(args: &ProxyArgs) -> String {
    let mut doc = DocumentMut::new();
    doc.insert("workers", value(args.workers as i64));
    doc.insert("listen", array_of([listen(args)]));
    if args.allow_underscore_headers {
        doc.insert("inbound", table([("allow_underscores", value(true))]));
    }
    if !args.trusted_proxy.is_empty() {
        let mut trust = InlineTable::new();
        let proxies: Array = args.trusted_proxy.iter().map(|n| n.to_string()).collect();
        trust.insert("proxies", proxies.into());
        doc.insert("forwarded", table([("trust", value(trust))]));
    }
    if args.normalize {
        doc.insert("normalize", Item::Table(Table::new()));
    }
    if !args.set_header.is_empty() {
        let rules = args.set_header.iter().map(|(name, v)| {
            let mut rule = Table::new();
            rule.insert("set", value(name));
            rule.insert("value", value(v));
            rule
        });
        doc.insert("rewrite", table([("request", array_of(rules))]));
    }
    if args.users.is_some() || args.tokens.tokens.is_some() {
        doc.insert("auth", auth(args));
    }
    if let Some(groups) = &args.acl.groups {
        doc.insert("acl", table([("groups", value(path(groups)))]));
    }
    if let Some(limits) = rate_limit(args) {
        doc.insert("rate_limit", limits);
    }
    let mut proxy = Vec::new();
    if let Some(max) = args.max_body {
        proxy.push(("max_body", value(max as i64)));
    }
    if let Some(ca) = &args.upstream_ca {
        proxy.push(("ca_file", value(path(ca))));
    }
    args.mtls.print_proxy(&mut proxy);
    if !proxy.is_empty() {
        doc.insert("proxy", table(proxy));
    }
    if !args.upstream.is_empty() {
        let servers: Array = args.upstream.iter().map(ToString::to_string).collect();
        let mut upstreams = Table::new();
        upstreams.set_implicit(true);
        upstreams.insert(UPSTREAM, table([("servers", value(servers))]));
        doc.insert("upstreams", Item::Table(upstreams));
    }
    let mut routes: Vec<Table> = Vec::new();
    for (prefix, dir) in &args.serve_dir {
        let mut files = InlineTable::new();
        files.insert("dir", path(dir).into());
        if args.listing {
            files.insert("listing", true.into());
        }
        let mut route = Table::new();
        route.insert("path", value(prefix));
        access_rules(args, &mut route);
        route.insert("files", value(files));
        routes.push(route);
    }
    let mut rest = Table::new();
    access_rules(args, &mut rest);
    if args.upstream.is_empty() {
        rest.insert("echo", value(true));
    } else {
        rest.insert("upstream", value(UPSTREAM));
    }
    routes.push(rest);
    doc.insert("routes", array_of(routes));
    let self_signed = if matches!(args.tls, Some(super::proxy::TlsMode::SelfSigned)) {
        "# --tls self-signed is not in this file: a gateway file names certificate files.\n\
         # Add `tls = { cert = \"CERT.pem\", key = \"KEY.pem\" }` to [[listen]] for HTTPS.\n"
    } else {
        ""
    };
    format!(
        "# Made by `tollgate proxy ... --print-config`; run it with `tollgate run FILE`.\n\
         # Every key and its default: docs/config.md.\n{self_signed}{doc}"
    )
}

/// The one `[[listen]]`: `--bind`, `--max-connections` and TLS.
fn listen(args: &ProxyArgs) -> Table {
    let mut listen = Table::new();
    listen.insert("bind", value(&args.bind));
    if let Some(n) = args.max_connections {
        listen.insert(
            "max_connections",
            value(i64::try_from(n).unwrap_or(i64::MAX)),
        );
    }
    let mut tls = InlineTable::new();
    if !args.acme.domain.is_empty() {
        tls.insert("acme", acme(&args.acme).into());
    } else if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        tls.insert("cert", path(cert).into());
        tls.insert("key", path(key).into());
    }
    if !tls.is_empty() {
        args.mtls.print_listener(&mut tls);
        listen.insert("tls", value(tls));
    }
    listen
}

/// `tls = { acme = { ... } }` from `--domain` and its flags.
fn acme(flags: &super::acme::AcmeFlags) -> InlineTable {
    let mut acme = InlineTable::new();
    let domains: Array = flags.domain.iter().collect();
    acme.insert("domains", domains.into());
    if let Some(email) = &flags.acme_email {
        acme.insert("email", email.into());
    }
    acme.insert("directory", flags.acme_directory.as_str().into());
    if let Some(ca) = &flags.acme_ca {
        acme.insert("ca", path(ca).into());
    }
    acme.insert("state_dir", path(&flags.state_dir).into());
    acme.insert("http_bind", flags.http_bind.as_str().into());
    if let Some(store) = &flags.acme_store {
        acme.insert("store", store.as_str().into());
    }
    acme
}

/// `[rate_limit]`: `per_client` from `--rate-limit`, the store from `--limits-store`.
fn rate_limit(args: &ProxyArgs) -> Option<Item> {
    let mut limits = Vec::new();
    if let Some(rate) = args.limits.rate_limit {
        limits.push(("per_client", value(rate.to_string())));
    }
    if let Some(tollgate::store::StoreLocation::Redis(url)) = &args.limits.limits_store {
        limits.push(("store", value(url.as_str())));
    }
    if let Some(secret) = &args.limits.limits_store_secret {
        limits.push(("store_secret_file", value(path(secret))));
    }
    (!limits.is_empty()).then(|| table(limits))
}

/// `[auth]`: Basic from `--users`, tokens from `--tokens`, the lockout from `--lockout`.
fn auth(args: &ProxyArgs) -> Item {
    let mut auth = vec![("realm", value(&args.realm))];
    if let Some(users) = &args.users {
        auth.push(("htpasswd", value(path(users))));
    }
    if args.legacy_hashes {
        auth.push(("allow_legacy_hashes", value(true)));
    }
    if let Some(tokens) = &args.tokens.tokens {
        auth.push(("tokens", value(path(tokens))));
    }
    if let Some(header) = &args.tokens.token_header {
        auth.push(("token_header", value(header.to_string())));
    }
    if let Some(lockout) = args.limits.lockout {
        // As `LimitFlags::apply` sets them: the per-client limit is four times the lockout's.
        auth.push(("lockout", value(lockout.to_string())));
        let per_peer = lockout.count().saturating_mul(4);
        auth.push(("max_failures_per_peer", value(i64::from(per_peer))));
        auth.push((
            "failure_window",
            value(format!("{}ms", lockout.window().as_millis())),
        ));
    }
    table(auth)
}

/// `--allow`, `--allow-ip` and `--deny-ip`, which the command puts on every route.
fn access_rules(args: &ProxyArgs, route: &mut Table) {
    let acl = &args.acl;
    if !acl.allow.is_empty() {
        route.insert("allow", value(acl.allow.iter().collect::<Array>()));
    }
    for (key, networks) in [("allow_ip", &acl.allow_ip), ("deny_ip", &acl.deny_ip)] {
        if !networks.is_empty() {
            let list: Array = networks.iter().map(ToString::to_string).collect();
            route.insert(key, value(list));
        }
    }
}

fn path(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

fn table<'a>(entries: impl IntoIterator<Item = (&'a str, Item)>) -> Item {
    let mut table = Table::new();
    for (key, item) in entries {
        table.insert(key, item);
    }
    Item::Table(table)
}

fn array_of(tables: impl IntoIterator<Item = Table>) -> Item {
    let mut array = ArrayOfTables::new();
    for t in tables {
        array.push(t);
    }
    Item::ArrayOfTables(array)
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;

    fn args(flags: &[&str]) -> super::ProxyArgs {
        let all = ["tollgate", "proxy"].iter().chain(flags);
        match Cli::try_parse_from(all).expect("parses").command {
            Command::Proxy(args) => *args,
            other => panic!("parsed as {other:?}"),
        }
    }

    /// The file loads into exactly the configuration the flags build (compared whole, by
    /// `Debug`): a flag that changes `config()` but not the file fails here.
    #[test]
    fn a_self_signed_listener_is_named_not_dropped_silently() {
        let text = super::toml(&args(&["--tls", "self-signed"]));
        assert!(
            text.contains("# --tls self-signed is not in this file"),
            "{text}"
        );
        tollgate::config::load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }

    #[test]
    fn the_printed_file_is_the_flags_configuration() {
        for flags in [
            &[][..],
            &[
                "--upstream",
                "http://127.0.0.1:9000",
                "--upstream",
                "https://127.0.0.1:9001/app",
                "--upstream-ca",
                "ca.pem",
                "--bind",
                ":8080",
                "--users",
                "users",
                "--realm",
                "it's \"here\"",
                "--legacy-hashes",
                "--set-header",
                "X-A=b=c",
                "--set-header",
                "X-B=",
                "--normalize",
                "--serve-dir",
                "/static=./public",
                "--listing",
                "--trusted-proxy",
                "10.0.0.0/8",
                "--trusted-proxy",
                "192.0.2.7",
                "--allow-underscore-headers",
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem",
                "--max-body",
                "10M",
                "--max-connections",
                "5000",
                "--workers",
                "3",
                "--allow",
                "alice",
                "--allow",
                "group:ops",
                "--groups",
                "groups",
                "--allow-ip",
                "10.0.0.0/8",
                "--deny-ip",
                "10.66.0.0/16",
                "--tokens",
                "tokens",
                "--token-header",
                "X-API-Key",
                "--rate-limit",
                "100/s",
                "--lockout",
                "5/60s",
            ][..],
            // Tokens alone: `[auth]` without a users file.
            &["--tokens", "tokens", "--rate-limit", "5/m"][..],
            // A shared store alone: `[rate_limit]` without a limit of its own.
            &[
                "--limits-store",
                "redis://127.0.0.1:6379/0",
                "--limits-store-secret",
                "store.secret",
            ][..],
        ] {
            let args = args(flags);
            let text = super::toml(&args);
            let loaded = tollgate::config::load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(
                format!("{loaded:?}"),
                format!("{:?}", args.config()),
                "{text}"
            );
        }
    }
}
