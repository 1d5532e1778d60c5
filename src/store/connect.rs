//! Where a [`RedisStore`](super::RedisStore) connects: one server (a connection manager that
//! reconnects), a Redis Cluster (redis-rs's cluster connection, which follows `MOVED` and
//! `ASK`) or the master a set of Sentinels names (asked again after an error, so a failover
//! is followed).
//!
//! redis-rs reads only single-server URLs; the cluster and sentinel forms are the ones other
//! clients use (redis-py ports, Harbor, fred.rs#343):
//!
//! - `redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]`: any of the cluster's nodes,
//!   the others are found from them.
//! - `redis+sentinel://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]`: the
//!   Sentinels (port 26379 unless given) and the name they monitor the master under; the
//!   user and password are the master's (the Sentinels are asked without).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value};

use super::StoreLocationError;

/// The Sentinel port when a sentinel URL names none.
const SENTINEL_PORT: u16 = 26379;

/// What a store connects to.
pub(crate) enum Target {
    Single(redis::Client),
    Cluster(ClusterClient),
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

/// A connection made by [`Target::connect`]; clones share it.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(redis::aio::MultiplexedConnection),
}

fn invalid(why: impl std::fmt::Display) -> StoreLocationError {
    StoreLocationError::InvalidUrl(why.to_string())
}

/// `(userinfo, hosts, path)` of `SCHEME://[userinfo@]hosts[/path]`.
fn split(rest: &str) -> (Option<&str>, &str, &str) {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    match authority.rsplit_once('@') {
        Some((user, hosts)) => (Some(user), hosts, path),
        None => (None, authority, path),
    }
}

/// `redis://[userinfo@]host/path`: lets redis-rs decode the user, password and database.
fn node_url(userinfo: Option<&str>, host: &str, path: &str) -> String {
    match userinfo {
        Some(user) => format!("redis://{user}@{host}/{path}"),
        None => format!("redis://{host}/{path}"),
    }
}

/// The hosts of a comma-separated list, none empty.
fn hosts(list: &str) -> Result<Vec<&str>, StoreLocationError> {
    let hosts: Vec<&str> = list.split(',').map(str::trim).collect();
    if hosts.iter().any(|h| h.is_empty()) {
        return Err(invalid(
            "an empty host in the list; separate HOST:PORT pairs by commas",
        ));
    }
    Ok(hosts)
}

/// `redis://host:port` of a sentinel given as `host`, `host:port`, `[v6]` or `[v6]:port`.
fn sentinel_url(text: &str) -> String {
    let has_port = match text.rsplit_once(':') {
        Some((host, _)) => !host.contains(':') || host.ends_with(']'),
        None => false,
    };
    if has_port && !text.ends_with(']') {
        format!("redis://{text}")
    } else {
        format!("redis://{text}:{SENTINEL_PORT}")
    }
}

impl Target {
    /// The target of a `store` URL (not contacted).
    pub(crate) fn parse(url: &str, timeout: Duration) -> Result<Target, StoreLocationError> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        match scheme.to_ascii_lowercase().as_str() {
            "redis+cluster" | "valkey+cluster" => {
                let (user, list, _) = split(rest);
                let nodes: Vec<String> = hosts(list)?
                    .into_iter()
                    .map(|h| node_url(user, h, ""))
                    .collect();
                ClusterClient::builder(nodes)
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(1)
                    .build()
                    .map(Target::Cluster)
                    .map_err(invalid)
            }
            "redis+sentinel" | "valkey+sentinel" => Self::sentinel(rest),
            _ => redis::Client::open(url)
                .map(Target::Single)
                .map_err(invalid),
        }
    }

    fn sentinel(rest: &str) -> Result<Target, StoreLocationError> {
        let (user, list, path) = split(rest);
        let (master, db) = path.split_once('/').unwrap_or((path, ""));
        if master.is_empty() {
            return Err(invalid(
                "a sentinel URL names the master after the hosts: \
                 `redis+sentinel://HOST:26379/MASTER`",
            ));
        }
        let sentinels: Vec<String> = hosts(list)?.into_iter().map(sentinel_url).collect();
        for url in &sentinels {
            let host = url.trim_start_matches("redis://");
            (url.as_str().into_connection_info())
                .map_err(|e| invalid(format!("sentinel {host}: {e}")))?;
        }
        // The master's user, password and database, decoded as redis-rs decodes its URLs.
        let master_info = node_url(user, "localhost", db)
            .into_connection_info()
            .map_err(invalid)?;
        let node = SentinelNodeConnectionInfo::default()
            .set_redis_connection_info(master_info.redis_settings().clone());
        SentinelClient::build(
            sentinels,
            master.to_owned(),
            Some(node),
            SentinelServerType::Master,
        )
        .map(|c| Target::Sentinel(tokio::sync::Mutex::new(c)))
        .map_err(invalid)
    }

    /// Whether an error should drop the connection (made again on the next check): a
    /// connection manager reconnects by itself; a sentinel's master may have moved, a
    /// cluster's nodes may all have restarted.
    pub(crate) fn remake_after_error(&self) -> bool {
        !matches!(self, Target::Single(_))
    }

    /// Connects (a single server's manager connects lazily, on first use).
    pub(crate) async fn connect(&self, timeout: Duration) -> redis::RedisResult<Connection> {
        match self {
            Target::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(Duration::from_millis(100))
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                ConnectionManager::new_lazy_with_config(client.clone(), config)
                    .map(Connection::Single)
            }
            Target::Cluster(client) => client.get_async_connection().await.map(Connection::Cluster),
            Target::Sentinel(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                client
                    .lock()
                    .await
                    .get_async_connection_with_config(&config)
                    .await
                    .map(Connection::Sentinel)
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
            Connection::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
            Connection::Sentinel(c) => c.get_db(),
        }
    }
}

/// A connection to a [`Target`], made when first needed and kept for the commands after;
/// forgotten after a failed command when the target needs a new one
/// ([`Target::remake_after_error`]). The limits store and the ACME store both hold one.
pub(crate) struct Kept {
    target: Target,
    conn: std::sync::Mutex<Option<Connection>>,
}

impl Kept {
    pub(crate) fn new(target: Target) -> Self {
        Kept {
            target,
            conn: std::sync::Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection kept, if one was made.
    pub(crate) fn current(&self) -> Option<Connection> {
        self.slot().clone()
    }

    /// A new connection, made within `timeout`, kept; the error says what went wrong.
    pub(crate) async fn make(&self, timeout: Duration) -> Result<Connection, String> {
        let made = match tokio::time::timeout(timeout, self.target.connect(timeout)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no connection within {timeout:?}")),
        };
        *self.slot() = Some(made.clone());
        Ok(made)
    }

    /// After a failed command: the connection is made again next time if the target needs it.
    pub(crate) fn failed(&self) {
        if self.target.remake_after_error() {
            *self.slot() = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_and_sentinel_urls() {
        let t = Duration::from_millis(500);
        let ok = [
            "redis://127.0.0.1:6379/0",
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
            "redis+cluster://:pw@10.0.0.1:7000",
            "redis+sentinel://10.0.0.1,10.0.0.2:26380/mymaster",
            "redis+sentinel://:pw@[::1]:26379/mymaster/2",
        ];
        for url in ok {
            assert!(Target::parse(url, t).is_ok(), "{url}");
        }
        let bad = [
            ("redis+cluster://a:1,,b:2", "empty host"),
            ("redis+sentinel://a:26379", "names the master"),
            ("redis+sentinel://a:x/m", "sentinel a:x"),
        ];
        for (url, part) in bad {
            match Target::parse(url, t) {
                Err(e) => assert!(e.to_string().contains(part), "{url}: {e}"),
                Ok(_) => panic!("{url} accepted"),
            }
        }
        assert_eq!(sentinel_url("[::1]"), "redis://[::1]:26379");
        assert_eq!(sentinel_url("[::1]:7"), "redis://[::1]:7");
        assert_eq!(sentinel_url("h"), "redis://h:26379");
        assert_eq!(sentinel_url("h:7"), "redis://h:7");
    }
}
