//! The decision itself, without I/O: [`Rules::decide`] on a user, a client address and the
//! groups.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{AclError, AclRules, Groups};

/// One entry of an allow list: a user name, or `group:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Principal {
    /// A user, by the name the auth layer authenticated.
    User(String),
    /// Every member of a group of the groups file.
    Group(String),
}

impl Principal {
    /// Reads `alice` or `group:ops`.
    ///
    /// # Errors
    ///
    /// An empty name, or one with spaces or control characters.
    pub fn parse(entry: &str) -> Result<Principal, AclError> {
        let invalid = || AclError::InvalidPrincipal {
            entry: crate::syntax::excerpt(entry, 64),
        };
        let (name, group) = match entry.strip_prefix("group:") {
            Some(group) => (group, true),
            None => (entry, false),
        };
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        Ok(if group {
            Principal::Group(name.to_owned())
        } else {
            Principal::User(name.to_owned())
        })
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(name) => write!(f, "user {name}"),
            Principal::Group(name) => write!(f, "group:{name}"),
        }
    }
}

/// Parsed [`AclRules`]: who may pass, from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub(crate) allow: Vec<Principal>,
    pub(crate) allow_ip: Vec<IpNet>,
    pub(crate) deny_ip: Vec<IpNet>,
}

/// What [`Rules::decide`] says, and the rule that said it (as the access log shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request may pass.
    pub allowed: bool,
    /// The rule that decided: `user alice`, `group:ops`, `deny_ip 10.0.0.0/8`,
    /// `allow_ip 10.0.0.0/8`, `allow: not listed`, `allow: no user`, `allow_ip: not listed`.
    pub rule: String,
}

impl Verdict {
    fn allow(rule: impl Into<String>) -> Verdict {
        Verdict {
            allowed: true,
            rule: rule.into(),
        }
    }

    fn deny(rule: impl Into<String>) -> Verdict {
        Verdict {
            allowed: false,
            rule: rule.into(),
        }
    }
}

impl Rules {
    /// Parses the allow list of `rules`.
    ///
    /// # Errors
    ///
    /// An entry of `allow` that is no user name or `group:NAME`.
    pub fn new(rules: &AclRules) -> Result<Rules, AclError> {
        Ok(Rules {
            allow: rules
                .allow
                .iter()
                .map(|e| Principal::parse(e))
                .collect::<Result<_, _>>()?,
            allow_ip: rules.allow_ip.clone(),
            deny_ip: rules.deny_ip.clone(),
        })
    }

    /// Whether there is no rule at all (everyone passes, and nothing is logged).
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.allow_ip.is_empty() && self.deny_ip.is_empty()
    }

    /// Whether `allow` names a group.
    pub fn names_groups(&self) -> bool {
        self.allow.iter().any(|p| matches!(p, Principal::Group(_)))
    }

    /// Decides for `user` (the authenticated user, if any) coming from `client`.
    ///
    /// In this order: a client in `deny_ip` is denied; with `allow_ip`, a client in none of
    /// its networks (or of unknown address) is denied; with `allow`, the user must be listed
    /// or be a member of a listed group (no user: denied). IPv4-mapped IPv6 addresses count
    /// as their IPv4 address.
    pub fn decide(&self, user: Option<&str>, client: Option<IpAddr>, groups: &Groups) -> Verdict {
        let client = client.map(|ip| ip.to_canonical());
        if let Some(net) = client.and_then(|ip| self.deny_ip.iter().find(|n| n.contains(&ip))) {
            return Verdict::deny(format!("deny_ip {net}"));
        }
        let mut passed = None;
        if !self.allow_ip.is_empty() {
            match client.and_then(|ip| self.allow_ip.iter().find(|n| n.contains(&ip))) {
                Some(net) => passed = Some(format!("allow_ip {net}")),
                None => return Verdict::deny("allow_ip: not listed"),
            }
        }
        if self.allow.is_empty() {
            return Verdict::allow(passed.unwrap_or_else(|| "deny_ip: not listed".to_owned()));
        }
        let Some(user) = user else {
            return Verdict::deny("allow: no user");
        };
        let listed = self.allow.iter().find(|p| match p {
            Principal::User(name) => name == user,
            Principal::Group(group) => groups.is_member(user, group),
        });
        match listed {
            Some(principal) => Verdict::allow(principal.to_string()),
            None => Verdict::deny("allow: not listed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], allow_ip: &[&str], deny_ip: &[&str]) -> Rules {
        let nets = |v: &[&str]| v.iter().map(|n| n.parse().unwrap()).collect();
        Rules::new(&AclRules {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            allow_ip: nets(allow_ip),
            deny_ip: nets(deny_ip),
        })
        .unwrap()
    }

    /// `(name, allow, allow_ip, deny_ip, user, client, allowed, rule)`; lists are `,`-separated.
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        bool,
        &'static str,
    );

    fn run(cases: &[Case]) {
        let groups = Groups::parse("ops: bob\n").unwrap();
        let list =
            |s: &'static str| -> Vec<&str> { s.split(',').filter(|e| !e.is_empty()).collect() };
        for &(name, allow, allow_ip, deny_ip, user, client, allowed, rule) in cases {
            let rules = rules(&list(allow), &list(allow_ip), &list(deny_ip));
            let user = (!user.is_empty()).then_some(user);
            let client = client.parse::<IpAddr>().ok();
            let verdict = rules.decide(user, client, &groups);
            assert_eq!(
                (verdict.allowed, verdict.rule.as_str()),
                (allowed, rule),
                "{name}"
            );
        }
    }

    #[test]
    #[rustfmt::skip]
    fn users_and_groups() {
        run(&[
            ("listed user", "alice", "", "", "alice", "", true, "user alice"),
            ("group member", "alice,group:ops", "", "", "bob", "", true, "group:ops"),
            ("not listed", "group:ops", "", "", "carol", "", false, "allow: not listed"),
            ("no user", "alice", "", "", "", "", false, "allow: no user"),
            ("a group name is no user", "group:ops", "", "", "ops", "", false, "allow: not listed"),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn networks() {
        run(&[
            ("denied network", "", "", "10.0.0.0/8", "", "10.1.2.3", false, "deny_ip 10.0.0.0/8"),
            ("outside denied", "", "", "10.0.0.0/8", "", "192.0.2.1", true, "deny_ip: not listed"),
            ("allowed network", "", "2001:db8::/32", "", "", "2001:db8::1", true, "allow_ip 2001:db8::/32"),
            ("outside allowed", "", "2001:db8::/32", "", "", "2001:db9::1", false, "allow_ip: not listed"),
            ("unknown client", "", "10.0.0.0/8", "", "", "", false, "allow_ip: not listed"),
            ("mapped v4", "", "10.0.0.0/8", "", "", "::ffff:10.0.0.1", true, "allow_ip 10.0.0.0/8"),
            ("deny wins", "alice", "10.0.0.0/8", "10.9.0.0/16", "alice", "10.9.0.1", false, "deny_ip 10.9.0.0/16"),
            ("network, then user", "alice", "10.0.0.0/8", "", "bob", "10.0.0.1", false, "allow: not listed"),
            ("network and user", "alice", "10.0.0.0/8", "", "alice", "10.0.0.1", true, "user alice"),
        ]);
    }

    #[test]
    fn principals() {
        assert_eq!(
            Principal::parse("group:ops").unwrap(),
            Principal::Group("ops".into())
        );
        assert_eq!(
            Principal::parse("Jürgen").unwrap(),
            Principal::User("Jürgen".into())
        );
        for bad in ["", "group:", "a b", "a\tb", "group:o ps", "x\u{7}"] {
            assert!(Principal::parse(bad).is_err(), "{bad:?}");
        }
    }
}
