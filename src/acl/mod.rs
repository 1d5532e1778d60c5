//! Who may go where: allow lists of users and groups, and client networks, as a tower layer
//! ([`AclLayer`]) to put on a route, a mount or a whole service.
//!
//! It decides on what the layers outside it learned: the user the auth layer authenticated
//! ([`AuthenticatedUser`](crate::ext::AuthenticatedUser)) and the client address as the
//! forwarded layer resolved it ([`Origin::client_addr`](crate::origin::Origin::client_addr):
//! the trusted proxies' word, else the TCP peer), never a header of its own choosing.
//!
//! - `deny_ip`: a client in one of these networks is refused.
//! - `allow_ip`: when given, a client in none of these networks is refused.
//! - `allow`: when given, only these users and the members of these groups (`group:ops`,
//!   from a [`Groups`] file in Apache's `AuthGroupFile` format) pass; a request without an
//!   authenticated user is refused too. Deny by default once a list is given.
//!
//! A refused request is answered `403 Forbidden` (the user is known, or no user can help: a
//! `401` would make browsers ask for a password again). Every decision, allowed or not, goes
//! on the answer's extensions as [`AccessDecision`](crate::ext::AccessDecision), with the
//! rule that made it (`group:ops`, `deny_ip 10.0.0.0/8`), which the access log prints.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use tollgate::acl::{AclLayer, Groups};
//! use tollgate::ext::AuthenticatedUser;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let groups = Arc::new(Groups::parse("ops: bob\n").unwrap()); // or Groups::watch(path, every)
//! let admin = service_fn(|_req: http::Request<tollgate::Body>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tollgate::Body::from("admin")))
//! });
//! let admin = AclLayer::new()
//!     .allow_user("alice")
//!     .allow_group("ops")
//!     .deny_ip("10.66.0.0/16".parse().unwrap())
//!     .groups(groups)
//!     .layer(admin);
//!
//! // What the auth layer would have found.
//! let as_user = |name: &str| {
//!     let mut req = http::Request::get("/admin").body(tollgate::Body::empty()).unwrap();
//!     req.extensions_mut().insert(AuthenticatedUser(name.into()));
//!     req
//! };
//! assert_eq!(admin.clone().oneshot(as_user("bob")).await.unwrap().status(), 200);
//! let res = admin.oneshot(as_user("carol")).await.unwrap();
//! assert_eq!(res.status(), 403);
//! let decision = res.extensions().get::<tollgate::ext::AccessDecision>().unwrap();
//! assert_eq!(&*decision.rule, "allow: not listed");
//! # }
//! ```

mod groups;
mod layer;
mod rules;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

pub use self::groups::{Groups, GroupsError};
pub use self::layer::{Acl, AclLayer, ResponseFuture};
pub use self::rules::{Principal, Rules, Verdict};

/// The rules of one route or mount: on `[[routes]]` in the gateway's file, the same keys.
///
/// ```
/// let rules: tollgate::acl::AclRules = toml::from_str(r#"
///     allow = ["alice", "group:ops"]
///     allow_ip = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
///     deny_ip = ["10.66.0.0/16"]
/// "#).unwrap();
/// assert_eq!(rules.allow_ip[2].to_string(), "192.0.2.7/32");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AclRules {
    /// The users (`alice`) and groups (`group:ops`) allowed; when not empty, everyone else,
    /// and requests without an authenticated user, get `403`. Default is empty: any user.
    pub allow: Vec<String>,
    /// The client networks allowed (`10.0.0.0/8`, `2001:db8::/32`, or one address); when not
    /// empty, clients elsewhere get `403`. Default is empty: any client.
    #[serde(deserialize_with = "deserialize_networks")]
    pub allow_ip: Vec<IpNet>,
    /// The client networks refused with `403`, checked first. Default is empty.
    #[serde(deserialize_with = "deserialize_networks")]
    pub deny_ip: Vec<IpNet>,
}

impl AclRules {
    /// Whether no rule is given (the layer then lets everything through).
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.allow_ip.is_empty() && self.deny_ip.is_empty()
    }
}

/// What every route's rules share, the gateway's `[acl]` table.
///
/// ```
/// let config: tollgate::acl::AclConfig = toml::from_str(r#"
///     groups = "/etc/tollgate/groups"
///     reload_interval = "10s"
/// "#).unwrap();
/// assert_eq!(config.reload_interval, std::time::Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AclConfig {
    /// The groups file (`group: user1 user2` lines, Apache's `AuthGroupFile`), needed when a
    /// rule names a `group:`. Default is none.
    pub groups: Option<PathBuf>,
    /// How often the groups file is checked for changes (`"5s"`). Default is 5 seconds.
    #[serde(deserialize_with = "crate::syntax::duration::deserialize")]
    pub reload_interval: Duration,
}

impl Default for AclConfig {
    fn default() -> Self {
        AclConfig {
            groups: None,
            reload_interval: Duration::from_secs(5),
        }
    }
}

/// `["10.0.0.0/8", "192.0.2.7"]` in a configuration file, each entry a network or one
/// address ([`syntax::network`](crate::syntax::network)).
pub(crate) fn deserialize_networks<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|s| {
            crate::syntax::network::parse(s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid network {s:?}: write an address (`192.0.2.7`) or a network \
                     (`10.0.0.0/8`, `2001:db8::/32`)"
                ))
            })
        })
        .collect()
}

/// Why access rules could not become a layer.
#[derive(Debug)]
#[non_exhaustive]
pub enum AclError {
    /// An `allow` entry is no user name or `group:NAME`.
    InvalidPrincipal {
        /// The entry (at most 64 bytes of it).
        entry: String,
    },
    /// A rule names a group and there is no groups file.
    NoGroupsFile {
        /// The group named.
        group: String,
    },
    /// The groups file was refused.
    Groups(GroupsError),
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclError::InvalidPrincipal { entry } => write!(
                f,
                "allow entry {entry:?} is neither a user name nor `group:NAME` (names are \
                 non-empty, without spaces or control characters)"
            ),
            AclError::NoGroupsFile { group } => write!(
                f,
                "allow names `group:{group}` but there is no groups file; set `[acl] groups \
                 = \"PATH\"` (`--groups FILE`), lines like `{group}: alice bob`"
            ),
            AclError::Groups(_) => f.write_str("groups file refused"),
        }
    }
}

impl std::error::Error for AclError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AclError::Groups(e) => Some(e),
            _ => None,
        }
    }
}

impl From<GroupsError> for AclError {
    fn from(err: GroupsError) -> Self {
        AclError::Groups(err)
    }
}
