//! What a probe found: one [`Outcome`] per case, the [`Report`] of a run, its table and its
//! differences with another server's report.

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use super::exchange::Exchange;

/// How the server read a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every answer was a 1xx, 2xx or 3xx, one per request meant.
    Accepted,
    /// A 4xx or 5xx answer, one per request meant.
    Refused,
    /// No final answer (the server closed, or said nothing before the timeout), and the
    /// follow-up did not complete it either.
    NoAnswer,
    /// More answers than requests meant, or the follow-up `GET` was read as part of the
    /// case: the server's framing differs from the client's, the request-smuggling signal.
    Desync,
    /// The probe could not run the case (no connection).
    Error,
}

impl Verdict {
    /// The name used in reports: `accepted`, `refused`, `no-answer`, `desync`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
            Verdict::NoAnswer => "no-answer",
            Verdict::Desync => "desync",
            Verdict::Error => "error",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What one case gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Outcome {
    /// The case's id.
    pub id: String,
    /// How the server read it.
    pub verdict: Verdict,
    /// Every status the server sent for the case's bytes, interim (1xx) ones included.
    pub statuses: Vec<u16>,
    /// How many final answers came for the case's bytes.
    pub answers: usize,
    /// How many requests the client meant to send.
    pub meant: usize,
    /// Whether the follow-up `GET` on the same connection got an answer.
    pub kept_open: bool,
    /// The statuses the follow-up `GET` got (empty when it was not sent or got none).
    pub follow_up: Vec<u16>,
    /// Why the verdict is `desync` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Outcome {
    /// The outcome of one exchange.
    pub(crate) fn from_exchange(id: &str, meant: usize, ex: &Exchange) -> Outcome {
        let after = ex.follow_up.as_ref();
        let after_finals = after.map_or(0, |p| p.finals());
        let mut note = None;
        let verdict = if ex.case.finals() > meant {
            note = Some(format!(
                "{} answers to {meant} request(s): bytes the client sent as one message were read as another request",
                ex.case.finals()
            ));
            Verdict::Desync
        } else if after_finals > 1 {
            note = Some(format!(
                "{after_finals} answers to the one follow-up GET: bytes of the case were read as a request"
            ));
            Verdict::Desync
        } else if ex.case.finals() < meant && after_finals > 0 {
            note = Some(
                "the case was answered only once the follow-up GET came: the server read the next request as its body"
                    .to_owned(),
            );
            Verdict::Desync
        } else if ex.case.finals() == 0 {
            if ex.case.garbled {
                note = Some("the answer is not HTTP/1.x (an HTTP/0.9 body?)".to_owned());
            }
            Verdict::NoAnswer
        } else if ex.case.statuses.iter().any(|&s| s >= 400) {
            Verdict::Refused
        } else {
            Verdict::Accepted
        };
        Outcome {
            id: id.to_owned(),
            verdict,
            statuses: ex.case.statuses.clone(),
            answers: ex.case.finals(),
            meant,
            kept_open: after_finals > 0,
            follow_up: after.map(|p| p.statuses.clone()).unwrap_or_default(),
            note,
        }
    }

    /// The outcome of a case the probe could not run.
    pub(crate) fn error(id: &str, meant: usize, why: String) -> Outcome {
        Outcome {
            id: id.to_owned(),
            verdict: Verdict::Error,
            statuses: Vec::new(),
            answers: 0,
            meant,
            kept_open: false,
            follow_up: Vec::new(),
            note: Some(why),
        }
    }

    fn statuses_text(&self) -> String {
        if self.statuses.is_empty() {
            return "-".to_owned();
        }
        let all: Vec<String> = self.statuses.iter().map(u16::to_string).collect();
        all.join(",")
    }
}

/// A probe run against one server: the outcome of each case, in corpus order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The URL probed.
    pub target: String,
    /// How many requests were sent in all (each case's, and each follow-up `GET`).
    pub requests_sent: usize,
    /// One outcome per case.
    pub cases: Vec<Outcome>,
}

impl Report {
    /// The ids of the cases that showed desynchronization.
    pub fn desync(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|o| o.verdict == Verdict::Desync)
            .map(|o| o.id.as_str())
            .collect()
    }

    /// The report as a text table, one line per case, then a summary line.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<24} {:<10} {:<12} {:<7} {:<6} follow-up\n",
            "case", "verdict", "statuses", "answers", "open"
        );
        for o in &self.cases {
            let _ = writeln!(
                out,
                "{:<24} {:<10} {:<12} {:<7} {:<6} {}",
                o.id,
                o.verdict,
                o.statuses_text(),
                format!("{}/{}", o.answers, o.meant),
                if o.kept_open { "yes" } else { "no" },
                o.follow_up
                    .first()
                    .map_or("-".to_owned(), ToString::to_string),
            );
            if let Some(note) = &o.note {
                let _ = writeln!(out, "    {note}");
            }
        }
        let desync = self.desync();
        let _ = writeln!(
            out,
            "{} cases, {} requests sent to {}; {} desync{}",
            self.cases.len(),
            self.requests_sent,
            self.target,
            desync.len(),
            if desync.is_empty() {
                String::new()
            } else {
                format!(": {}", desync.join(", "))
            }
        );
        out
    }
}

/// A case two servers read differently: the verdict or whether the connection stayed open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Difference {
    /// The case's id.
    pub id: String,
    /// What the first server did.
    pub first: Outcome,
    /// What the second server did.
    pub second: Outcome,
}

/// The cases where `first` and `second` differ in verdict or in keeping the connection. A
/// front end that accepts what its back end reads differently is where smuggling starts.
pub fn compare(first: &Report, second: &Report) -> Vec<Difference> {
    first
        .cases
        .iter()
        .filter_map(|a| {
            let b = second.cases.iter().find(|b| b.id == a.id)?;
            (a.verdict != b.verdict || a.kept_open != b.kept_open).then(|| Difference {
                id: a.id.clone(),
                first: a.clone(),
                second: b.clone(),
            })
        })
        .collect()
}

/// The differences as a text table.
pub fn differences_table(first: &Report, second: &Report, diffs: &[Difference]) -> String {
    let mut out = format!(
        "first:  {}\nsecond: {}\n{:<24} {:<32} second\n",
        first.target, second.target, "case", "first"
    );
    let side = |o: &Outcome| {
        format!(
            "{} {} {}",
            o.verdict,
            o.statuses_text(),
            if o.kept_open { "open" } else { "closed" }
        )
    };
    for d in diffs {
        let _ = writeln!(
            out,
            "{:<24} {:<32} {}",
            d.id,
            side(&d.first),
            side(&d.second)
        );
    }
    let _ = writeln!(out, "{} of {} cases differ", diffs.len(), first.cases.len());
    out
}

/// The error `tollgate probe` ends with when a case showed desynchronization (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesyncFound {
    /// `(target, case id)` of each desynchronized case.
    pub cases: Vec<(String, String)>,
}

impl fmt::Display for DesyncFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self
            .cases
            .iter()
            .map(|(target, id)| format!("{id} ({target})"))
            .collect();
        write!(
            f,
            "desynchronization in {} case(s): {}; see docs/probe.md for each case and what a good answer is",
            self.cases.len(),
            list.join(", ")
        )
    }
}

impl std::error::Error for DesyncFound {}
