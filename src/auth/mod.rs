//! Authentication: password hashing, credential files and the Basic auth layer.
//!
//! - [`password`]: argon2id hashing, verification of the formats found in `htpasswd` files
//!   (argon2, bcrypt, and legacy ones behind a switch), [`needs_rehash`](password::needs_rehash).
//! - [`htpasswd`]: Apache-style credential files, reloaded when they change, and the
//!   [`CredentialStore`] trait for other sources.
//! - [`token`]: API tokens (`tollgate token NAME`), of which only a keyed hash is stored.
//! - [`basic`]: [`BasicAuthLayer`], the tower layer: Basic, and API tokens when given.
//!
//! The `Authorization: Basic` parser itself is [`crate::credentials::parse_basic`], shared
//! with `Request::basic_auth()`.
//!
//! # Example
//!
//! ```no_run
//! use tollgate::auth::{BasicAuthLayer, Htpasswd};
//! use tower::Layer;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let app = tower::service_fn(|_req: http::Request<tollgate::Body>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(tollgate::Body::empty()))
//! # });
//! // Users from a file made with `tollgate hash USER` or `htpasswd -B`, reloaded on change.
//! let users = Htpasswd::watch("/etc/tollgate/users")?;
//! let protected = BasicAuthLayer::new("staff", users).layer(app);
//! # Ok(()) }
//! ```

pub mod basic;
pub mod htpasswd;
pub mod password;
pub mod token;

pub use self::basic::{BasicAuth, BasicAuthConfig, BasicAuthLayer};
pub use self::htpasswd::{CredentialStore, Htpasswd};
pub use self::token::Tokens;
