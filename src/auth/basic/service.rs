//! [`BasicAuth`]: deciding each request, verifying on the blocking pool, admitting the user.

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response};
use tokio::sync::OwnedSemaphorePermit;
use tower_service::Service;

use super::cache::{Recall, Tag};
use super::future::{with_user, ResponseFuture};
use super::inflight::{self, Place};
use super::layer::Shared;
use crate::auth::htpasswd::escape;
use crate::auth::password::{verify_password_with, Scheme};
use crate::auth::token::TokenRejection;
use crate::body::{Body, BoxError};
use crate::credentials::{bearer_token, Credentials, CredentialsError};
use crate::error::HttpError;
use crate::ext::AuthenticatedUser;
use crate::origin::Origin;
use crate::syntax::prefix;

/// The service made by [`BasicAuthLayer`](super::BasicAuthLayer): answers `401` (or `400`,
/// `429`, `503`) by itself, or passes the request on with [`AuthenticatedUser`] in its
/// extensions.
#[derive(Clone)]
pub struct BasicAuth<S> {
    pub(crate) inner: S,
    pub(crate) shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for BasicAuth<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("realm", &self.shared.settings.realm)
            .finish_non_exhaustive()
    }
}

impl<S> BasicAuth<S> {
    define_inner_service_accessors!();
}

/// What to do with a request, decided without waiting.
enum Decision {
    /// Pass it on, as is (exempt) or with this user (cached).
    Pass(Option<Arc<str>>),
    /// Answer it now.
    Answer(Response<Body>),
    /// Verify the password on the blocking pool first.
    Verify(Job),
    /// A guess refused moments ago, with a shared store: ask it whether the client is locked,
    /// count the failure there, then answer (no hash either way).
    Refused { peer: Option<IpAddr>, user: String },
}

/// A password verification that got a place in the queue, or follows one running for the
/// same credentials (then it holds no place: it costs no hash).
struct Job {
    credentials: Credentials,
    stored: Option<Arc<str>>,
    peer: Option<IpAddr>,
    tag: Tag,
    _admitted: Option<OwnedSemaphorePermit>,
}

/// What a verification found.
#[derive(Clone)]
pub(crate) enum Outcome {
    Admitted,
    Refused(&'static str),
    Broken(String),
}

impl Shared {
    fn decide<B>(self: &Arc<Self>, req: &mut Request<B>) -> Decision {
        if let Some(name) = &self.settings.user_header {
            // Clients cannot forge the user header, wherever the request goes.
            req.headers_mut().remove(name);
        }
        if self.is_exempt(req) {
            if self.settings.strip_authorization {
                req.headers_mut().remove(AUTHORIZATION);
                if let Some(name) = &self.settings.token_header {
                    req.headers_mut().remove(name);
                }
            }
            return Decision::Pass(None);
        }
        let peer = peer_ip(req);
        // With a shared store, locks are asked only before a password verification: the
        // cached path never waits for Redis.
        let local = self.redis.is_none();
        if let (Some(limiter), Some(ip), true) = (&self.failures, peer, local) {
            let locked = self.peer_failures(ip).and_then(|k| limiter.retry_after(&k));
            if let Some(secs) = locked {
                // Logged once when the lock began: a flood must not become a log flood.
                tracing::debug!(peer = %ip, "basic auth: client locked out");
                return Decision::Answer(locked_out(secs, req.headers()));
            }
        }
        if let Some(decision) = self.token_decision(req.headers(), peer) {
            return decision;
        }
        if !self.settings.basic {
            // Tokens only: no password is ever verified.
            return Decision::Answer(self.challenge_for(req.headers()));
        }
        let credentials = match credentials_of(req.headers()) {
            Ok(Some(c)) => c,
            Ok(None) => return Decision::Answer(self.challenge_for(req.headers())),
            Err(err) => {
                self.failed(peer, None, "malformed Authorization header");
                if err.is_not_basic() && self.settings.other_schemes_bad_request {
                    return Decision::Answer(HttpError::from(err).into_response_for(req.headers()));
                }
                return Decision::Answer(self.challenge_for(req.headers()));
            }
        };
        if let (Some(pairs), Some(ip), true) = (&self.pairs, peer, local) {
            let locked =
                (self.pair_failures(ip, &credentials.username)).and_then(|k| pairs.retry_after(&k));
            if let Some(secs) = locked {
                tracing::debug!(peer = %ip, "basic auth: user locked out from this client");
                return Decision::Answer(locked_out(secs, req.headers()));
            }
        }
        let stored = self.store.lookup(&credentials.username);
        let (user, password) = (&credentials.username, &credentials.password);
        // Checked before queueing: a flood of bad guesses never delays a cached user.
        let (recalled, tag) = self.cache.recall(user, password, stored.as_ref());
        if recalled == Recall::Verified {
            return Decision::Pass(Some(credentials.username.into()));
        }
        if recalled == Recall::Refused {
            // The same guess again: refused without a hash, and counted like the first. A
            // shared store is asked and told before the answer, as after a verification.
            if self.shares_failures(peer) {
                let user = credentials.username;
                return Decision::Refused { peer, user };
            }
            self.failed(peer, Some(user), "repeated refused password");
            return Decision::Answer(self.challenge_for(req.headers()));
        }
        let following = self.verifying.is_running(&tag, stored.as_ref());
        let job = |admitted| Job {
            credentials,
            stored,
            peer,
            tag,
            _admitted: admitted,
        };
        if following {
            return Decision::Verify(job(None));
        }
        match self.admitted.clone().try_acquire_owned() {
            Ok(permit) => Decision::Verify(job(Some(permit))),
            Err(_) => {
                tracing::warn!(
                    peer = ?peer,
                    "basic auth: verification queue full, answering 503"
                );
                Decision::Answer(
                    HttpError::service_unavailable(
                        "too many password verifications in progress; retry shortly",
                        1,
                    )
                    .into_response_for(req.headers()),
                )
            }
        }
    }

    /// With tokens configured and a token presented (the token header, else `Authorization:
    /// Bearer`): pass its user, or refuse it. `None` when no token is presented.
    fn token_decision(
        self: &Arc<Self>,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Option<Decision> {
        let (tokens, _) = self.tokens.as_ref()?;
        let presented = match &self.settings.token_header {
            Some(name) if headers.contains_key(name) => {
                let mut values = headers.get_all(name).iter();
                match (values.next(), values.next()) {
                    (Some(one), None) => one.to_str().ok().map(|t| t.trim()),
                    _ => None,
                }
            }
            _ => {
                let mut values = headers.get_all(AUTHORIZATION).iter();
                match (values.next(), values.next()) {
                    (Some(one), None) => Some(bearer_token(one)?),
                    _ => return None,
                }
            }
        };
        let verified = presented
            .ok_or(TokenRejection::Malformed)
            .and_then(|token| tokens.verify(token));
        Some(match verified {
            Ok(user) => Decision::Pass(Some(user)),
            Err(why) => {
                self.failed(peer, None, why.reason());
                Decision::Answer(self.challenge_for(headers))
            }
        })
    }

    fn is_exempt<B>(&self, req: &Request<B>) -> bool {
        let settings = &self.settings;
        if settings.exempt_methods.contains(req.method()) {
            return true;
        }
        let path = req.uri().path();
        settings
            .exempt_paths
            .iter()
            .any(|p| match p.strip_suffix("/*") {
                // `/public/*`: a path below `/public` (not `/public` itself), plain only.
                Some(base) => {
                    prefix::strip(path, base).is_some_and(|rest| rest.starts_with('/'))
                        && is_plain_path(path)
                }
                None => p == path,
            })
    }

    fn challenge_for(&self, headers: &HeaderMap) -> Response<Body> {
        let error = match &self.tokens {
            Some((_, bearer)) if !self.settings.basic => HttpError::unauthorized(bearer.clone()),
            Some((_, bearer)) => HttpError::unauthorized(self.challenge.clone())
                .with_header(WWW_AUTHENTICATE, bearer.clone()),
            None => HttpError::unauthorized(self.challenge.clone()),
        };
        let mut res = error.into_response_for(headers);
        // Counted by `metrics` without telling our 401s from an upstream's.
        res.extensions_mut().insert(crate::ext::AuthFailure);
        res
    }

    /// The outcome of `job`'s credentials: the one verification of them running now, or a
    /// new one on a hashing thread (`max_concurrent_verifications` of them), remembered in the
    /// cache before its followers hear it.
    async fn verify(self: Arc<Self>, job: &Job) -> Outcome {
        let (user, password) = (&job.credentials.username, &job.credentials.password);
        let leader = loop {
            match self.verifying.join(job.tag, job.stored.as_ref()) {
                Place::Lead(leader) => break leader,
                Place::Follow(running) => {
                    if let Some(outcome) = inflight::outcome(running).await {
                        return outcome;
                    }
                    // Its request went away before the hash ended: lead the next one.
                }
            }
        };
        // A verification that ended between `decide` and now left its outcome in the cache.
        let outcome = match self.cache.recall(user, password, job.stored.as_ref()).0 {
            Recall::Verified => Outcome::Admitted,
            Recall::Refused => Outcome::Refused("repeated refused password"),
            Recall::Nothing => {
                let outcome = self.hash(job).await;
                match (&outcome, &job.stored) {
                    (Outcome::Admitted, Some(stored)) => {
                        self.cache.insert(user, password, stored.clone());
                    }
                    (Outcome::Refused(_), stored) => {
                        self.cache.refuse(user, password, stored.clone());
                    }
                    _ => {}
                }
                outcome
            }
        };
        leader.finish(outcome.clone());
        outcome
    }

    /// Verifies `job`'s password against its stored hash on a hashing thread.
    async fn hash(&self, job: &Job) -> Outcome {
        let store = self.store.clone();
        let password = job.credentials.password.clone();
        let stored = job.stored.clone();
        let allow_legacy = self.settings.allow_legacy_hashes;
        let result = self.hashers.run(move || {
            match stored {
                Some(stored) if Scheme::detect(&stored) != Ok(Scheme::Locked) => {
                    verify_password_with(&password, &stored, allow_legacy).map(|ok| {
                        if ok {
                            Outcome::Admitted
                        } else {
                            Outcome::Refused("wrong password")
                        }
                    })
                }
                // Unknown user or locked account: spend the same time, then refuse.
                stored => {
                    let _ = verify_password_with(&password, &store.dummy_hash(), true);
                    Ok(Outcome::Refused(if stored.is_some() {
                        "locked account"
                    } else {
                        "unknown user"
                    }))
                }
            }
        });
        match result.await {
            Some(Ok(outcome)) => outcome,
            Some(Err(err)) => Outcome::Broken(err.to_string()),
            None => Outcome::Broken("the hashing thread failed".into()),
        }
    }

    /// Whether failures of this client count in a shared store (not in this process).
    fn shares_failures(&self, peer: Option<IpAddr>) -> bool {
        #[cfg(feature = "redis-store")]
        if self.redis.is_some() && peer.is_some() {
            return true;
        }
        let _ = peer;
        false
    }

    /// Counts a failure (in a shared store: by a task) and logs it.
    fn failed(self: &Arc<Self>, peer: Option<IpAddr>, user: Option<&str>, reason: &str) {
        #[cfg(feature = "redis-store")]
        if let (Some(_), Some(ip)) = (&self.redis, peer) {
            tokio::spawn(self.record_shared(ip, user));
            return log_failed(peer, user, reason);
        }
        self.record_locally(peer, user);
        log_failed(peer, user, reason);
    }

    /// Counts a failure before returning (in a shared store too), and logs it.
    async fn failed_awaited(self: &Arc<Self>, peer: Option<IpAddr>, user: &str, reason: &str) {
        #[cfg(feature = "redis-store")]
        if let (Some(_), Some(ip)) = (&self.redis, peer) {
            self.record_shared(ip, Some(user)).await;
            return log_failed(peer, Some(user), reason);
        }
        self.failed(peer, Some(user), reason);
    }

    /// Counts a failure in this process's limiters.
    pub(crate) fn record_locally(&self, peer: Option<IpAddr>, user: Option<&str>) {
        if let (Some(limiter), Some(ip)) = (&self.failures, peer) {
            if let Some(lock) = self.peer_failures(ip).and_then(|k| limiter.record(k)) {
                tracing::warn!(
                    peer = %ip,
                    seconds = lock.as_secs(),
                    "basic auth: too many failed attempts; client locked out"
                );
            }
        }
        if let (Some(pairs), Some(ip), Some(user)) = (&self.pairs, peer, user) {
            if let Some(lock) = self.pair_failures(ip, user).and_then(|k| pairs.record(k)) {
                tracing::warn!(
                    user = %escape(user),
                    peer = %ip,
                    seconds = lock.as_secs(),
                    "basic auth: user locked out from this client"
                );
            }
        }
    }

    /// What the inner service sees of an authenticated request.
    fn admit<B>(&self, req: &mut Request<B>, user: Option<Arc<str>>) {
        let headers = req.headers_mut();
        let token_header = self.settings.token_header.as_ref();
        for name in std::iter::once(&AUTHORIZATION).chain(token_header) {
            if self.settings.strip_authorization {
                headers.remove(name);
            } else if let Some(value) = headers.get_mut(name) {
                value.set_sensitive(true);
            }
        }
        let Some(user) = user else { return };
        if let Some(name) = &self.settings.user_header {
            // User names have no control characters (parse_basic refuses them), so this holds.
            if let Ok(value) = HeaderValue::from_bytes(user.as_bytes()) {
                headers.insert(name.clone(), value);
            }
        }
        req.extensions_mut().insert(AuthenticatedUser(user));
    }
}

/// The `429` of a locked client or (user, client) pair, marked for metrics.
pub(crate) fn locked_out(secs: u64, headers: &HeaderMap) -> Response<Body> {
    let mut res = HttpError::too_many_requests(secs).into_response_for(headers);
    res.extensions_mut()
        .insert(crate::ext::RateLimited("lockout"));
    res
}

fn log_failed(peer: Option<IpAddr>, user: Option<&str>, reason: &str) {
    tracing::warn!(
        user = user.map(escape).as_deref().unwrap_or("-"),
        peer = ?peer,
        reason,
        "basic auth: failed attempt"
    );
}

/// The credentials of the one `Authorization` header, `None` when there is none.
fn credentials_of(headers: &HeaderMap) -> Result<Option<Credentials>, CredentialsError> {
    crate::credentials::basic_from_headers(headers)
}

/// The client's address: the forwarded layer's when it ran, else the TCP peer's.
fn peer_ip<B>(req: &Request<B>) -> Option<IpAddr> {
    Origin::of(req).client_addr()
}

/// No dot segments, escapes, backslashes or path parameters that a later hop could resolve
/// out of a prefix: Tomcat, Jetty and Spring read `/public/..;/admin` as `/admin`, and
/// `%2e%2e`, `%2f`, `%5c` decode to a dot segment or a separator.
fn is_plain_path(path: &str) -> bool {
    !path.contains(['%', '\\', ';'])
        && !path.contains("//")
        && path.split('/').all(|seg| seg != "." && seg != "..")
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BasicAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match self.shared.decide(&mut req) {
            Decision::Pass(user) => {
                let admitted = user.clone().map(AuthenticatedUser);
                self.shared.admit(&mut req, user);
                ResponseFuture::future(self.inner.call(req), admitted)
            }
            Decision::Answer(res) => ResponseFuture::answer(res),
            Decision::Refused { peer, user } => {
                let shared = self.shared.clone();
                let headers = std::mem::take(req.headers_mut());
                ResponseFuture::verifying(Box::pin(async move {
                    #[cfg(feature = "redis-store")]
                    if let Some(res) = shared.shared_lock(peer, &user, &headers).await {
                        return Ok(res);
                    }
                    let reason = "repeated refused password";
                    shared.failed_awaited(peer, &user, reason).await;
                    Ok(shared.challenge_for(&headers))
                }))
            }
            Decision::Verify(job) => {
                // The ready service goes into the future; this one keeps a fresh clone.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let shared = self.shared.clone();
                ResponseFuture::verifying(Box::pin(async move {
                    let user = &job.credentials.username;
                    #[cfg(feature = "redis-store")]
                    if let Some(res) = shared.shared_lock(job.peer, user, req.headers()).await {
                        return Ok(res);
                    }
                    match shared.clone().verify(&job).await {
                        Outcome::Admitted => {
                            tracing::debug!(user = %escape(user), "basic auth: verified");
                            if let (Some(pairs), Some(ip)) = (&shared.pairs, job.peer) {
                                if let Some(key) = shared.pair_failures(ip, user) {
                                    pairs.forget(&key);
                                }
                            }
                            #[cfg(feature = "redis-store")]
                            if let Some(ip) = job.peer {
                                shared.forget_shared(ip, user).await;
                            }
                            let admitted = Arc::<str>::from(user.as_str());
                            shared.admit(&mut req, Some(admitted.clone()));
                            drop(job);
                            let res = inner.call(req).await?;
                            Ok(with_user(
                                res.map(Body::new),
                                Some(AuthenticatedUser(admitted)),
                            ))
                        }
                        Outcome::Refused(reason) => {
                            shared.failed_awaited(job.peer, user, reason).await;
                            Ok(shared.challenge_for(req.headers()))
                        }
                        Outcome::Broken(why) => {
                            tracing::error!(
                                user = %escape(user),
                                error = %why,
                                "basic auth: stored hash unusable; fix the credentials file"
                            );
                            shared
                                .failed_awaited(job.peer, user, "unusable stored hash")
                                .await;
                            Ok(shared.challenge_for(req.headers()))
                        }
                    }
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_plain_path;

    #[test]
    fn paths_a_later_hop_could_resolve_elsewhere_are_not_plain() {
        let cases = [
            ("plain", "/public/a/b.css", true),
            ("dot in a name", "/public/a.b/c..d", true),
            ("dot-dot semicolon", "/public/..;/admin", false),
            ("encoded dot-dot semicolon", "/public/%2e%2e;/admin", false),
            ("parameter then dot-dot", "/public/;x/../admin", false),
            ("parameter on a name", "/public/a;jsessionid=1", false),
            ("encoded slash", "/public/..%2fadmin", false),
            ("encoded backslash", "/public/..%5cadmin", false),
            ("backslash", "/public/..\\admin", false),
            ("dot-dot", "/public/../admin", false),
            ("dot", "/public/./a", false),
            ("empty segment", "/public//a", false),
        ];
        for (name, path, plain) in cases {
            assert_eq!(is_plain_path(path), plain, "{name}: {path}");
        }
    }
}
