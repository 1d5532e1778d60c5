//! `tollgate probe`: the [`tollgate::probe`] corpus sent to a server the user runs.

use std::time::Duration;

use clap::Args;
use tollgate::body::BoxError;
use tollgate::probe::{self, Case, DesyncFound, ProbeOptions, Report, Target};

/// Arguments of `tollgate probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The server to probe: `http://HOST[:PORT][/PATH]` (the path is every case's target).
    /// Only loopback, private and link-local addresses unless --i-own-the-target.
    #[arg(value_name = "URL")]
    pub url: String,
    /// Print the report as JSON (`{"target", "requests_sent", "cases": [{"id", "verdict",
    /// "statuses", "answers", "meant", "kept_open", "follow_up", "note"?}]}`) instead of a
    /// table; with --compare, `{"first", "second", "differences"}`.
    #[arg(long)]
    pub json: bool,
    /// A second server (e.g. the back end behind URL): run the corpus against both and list
    /// the cases they read differently.
    #[arg(long, value_name = "URL2")]
    pub compare: Option<String>,
    /// Run only this case (repeatable); `docs/probe.md` lists the ids.
    #[arg(long = "case", value_name = "ID")]
    pub cases: Vec<String>,
    /// Allow a target that is not a loopback, private or link-local address: say so only for
    /// servers you own.
    #[arg(long)]
    pub i_own_the_target: bool,
    /// Seconds to wait to connect and for each answer (fractions allowed).
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = seconds)]
    pub timeout: Duration,
}

/// A positive number of seconds, at most an hour.
fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 3600 (e.g. 2 or 0.5)"
        )),
    }
}

/// The cases `ids` names, or every case when it names none.
fn chosen(ids: &[String]) -> Result<Vec<Case>, BoxError> {
    if ids.is_empty() {
        return Ok(probe::corpus().to_vec());
    }
    ids.iter()
        .map(|id| {
            probe::case(id).copied().ok_or_else(|| {
                let known: Vec<&str> = probe::corpus().iter().map(|c| c.id).collect();
                format!("no case {id:?}; the cases are: {}", known.join(", ")).into()
            })
        })
        .collect()
}

/// Runs the probe, prints the report, and fails with [`DesyncFound`] (exit status 2) when a
/// case showed desynchronization.
pub async fn run(args: ProbeArgs) -> Result<(), BoxError> {
    let cases = chosen(&args.cases)?;
    let options = ProbeOptions::with_timeout(args.timeout);
    let first = Target::resolve(&args.url, args.i_own_the_target).await?;
    let second = match &args.compare {
        Some(url) => Some(Target::resolve(url, args.i_own_the_target).await?),
        None => None,
    };
    let first = probe::run(&first, &cases, &options).await;
    let reports = match second {
        Some(second) => {
            let second = probe::run(&second, &cases, &options).await;
            let diffs = probe::compare(&first, &second);
            if args.json {
                let all =
                    serde_json::json!({"first": first, "second": second, "differences": diffs});
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                print!("{}", first.table());
                print!("{}", second.table());
                print!("{}", probe::differences_table(&first, &second, &diffs));
            }
            vec![first, second]
        }
        None => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&first)?);
            } else {
                print!("{}", first.table());
            }
            vec![first]
        }
    };
    desync(&reports)
}

fn desync(reports: &[Report]) -> Result<(), BoxError> {
    let cases: Vec<(String, String)> = reports
        .iter()
        .flat_map(|r| {
            r.desync()
                .into_iter()
                .map(|id| (r.target.clone(), id.to_owned()))
        })
        .collect();
    if cases.is_empty() {
        Ok(())
    } else {
        Err(DesyncFound { cases }.into())
    }
}
