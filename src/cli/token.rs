//! `tollgate token USER`, and `tollgate proxy`'s `--tokens` and `--token-header` flags.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;
use tollgate::auth::token::generate;
use tollgate::auth::BasicAuthConfig;
use tollgate::body::BoxError;
use tollgate::config::Config;

/// Arguments of `tollgate token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user name the token authenticates as (for `--allow`, the user header, the logs).
    pub user: String,
    /// How long the token is valid, e.g. `90d`, `12h` (default: until its line is removed).
    #[arg(long, value_name = "DURATION", value_parser = tollgate::syntax::duration::parse)]
    pub expires_in: Option<std::time::Duration>,
}

/// Prints the tokens-file line on standard output and the token, once, on standard error.
///
/// # Errors
///
/// An invalid user name.
pub fn run(args: TokenArgs) -> Result<(), BoxError> {
    let expires = args.expires_in.map(|d| SystemTime::now() + d);
    let new = generate(&args.user, expires)?;
    println!("{}", new.line);
    eprintln!(
        "token for {}: {}\n(shown once; the line above stores only a keyed hash of it)",
        args.user,
        new.token()
    );
    Ok(())
}

/// `tollgate proxy`'s API token flags.
#[derive(Debug, Args)]
pub struct TokenFlags {
    /// Accept the API tokens of this file (`tollgate token USER >> FILE` lines) as
    /// `Authorization: Bearer TOKEN`, with or without --users.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,

    /// Also read a token from this header (its whole value), e.g. `X-API-Key`.
    #[arg(long, value_name = "NAME", requires = "tokens")]
    pub token_header: Option<String>,
}

impl TokenFlags {
    /// Puts the tokens file in `[auth]` (made with `realm` when --users did not make it).
    pub fn apply(&self, config: &mut Config, realm: &str) {
        let Some(tokens) = &self.tokens else {
            return;
        };
        let auth = config.auth.get_or_insert_with(|| BasicAuthConfig {
            realm: realm.to_owned(),
            ..BasicAuthConfig::default()
        });
        auth.tokens = Some(tokens.clone());
        auth.token_header.clone_from(&self.token_header);
    }
}
