//! `vigil hunt --alerts`: result rows -> ES notables and risk events, written in the chosen
//! format and recorded in the risk index.

use crate::commands::summary;
use crate::output::{self, Format, ResultSet};
use crate::{exit, RunArgs};
use clap::Args;
use std::io::{self, Write};
use std::path::PathBuf;
use vigil_alert::{Alert, AlertContext, IncidentRules, RiskStore, Stamp};
use vigil_content::{ContentSet, Detection};
use vigil_engine::EvalContext;
use vigil_model::{Record, Value};
use vigil_scan::RunOutput;
use vigil_time::Tz;

#[derive(Args, Clone, Debug, Default)]
pub struct AlertArgs {
    /// Emit the notables and risk events Splunk ES would raise instead of result rows, and
    /// record them in the risk index.
    #[arg(long)]
    pub alerts: bool,
    /// The risk index, an SQLite file (default: $XDG_DATA_HOME/vigil/risk.db, else
    /// ~/.local/share/vigil/risk.db).
    #[arg(long, value_name = "PATH")]
    pub risk_db: Option<PathBuf>,
    /// Do not record alerts in the risk index; incident rules then see this run only.
    #[arg(long, conflicts_with = "risk_db")]
    pub no_risk_db: bool,
    /// How alerts from results without `_time` (tstats searches) are stamped: `activity` (the
    /// result's lastTime/firstTime, for historical files) or `run` (the run time, as ES's
    /// scheduled searches stamp them).
    #[arg(long, value_enum, default_value = "activity")]
    pub alert_time: AlertTime,
    /// Correlation detections (those reading the Risk data model) also read the risk events
    /// already in the risk index (within the run's window, if any), not only this run's.
    #[arg(long, conflicts_with = "no_risk_db")]
    pub risk_from_index: bool,
    #[command(flatten)]
    pub incidents: IncidentArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlertTime {
    #[default]
    Activity,
    Run,
}

impl AlertTime {
    pub fn stamp(self, tz: &Tz) -> Stamp {
        match self {
            AlertTime::Activity => Stamp::Activity(tz.clone()),
            AlertTime::Run => Stamp::RunTime,
        }
    }
}

/// Thresholds of the risk incident rules (ES defaults).
#[derive(Args, Clone, Debug)]
pub struct IncidentArgs {
    /// "Risk Threshold Exceeded For Object Over 24 Hour Period": sum of an object's risk
    /// scores over 24 hours that raises an incident.
    #[arg(long, value_name = "SCORE", default_value_t = 100.0)]
    pub risk_threshold: f64,
    /// "ATT&CK Tactic Threshold Exceeded For Object Over Previous 7 Days": distinct tactics.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub tactic_threshold: usize,
    /// ... and distinct detections that rule also requires (ES ships 4).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub tactic_min_detections: usize,
}

impl Default for IncidentArgs {
    fn default() -> Self {
        IncidentArgs { risk_threshold: 100.0, tactic_threshold: 3, tactic_min_detections: 4 }
    }
}

impl IncidentArgs {
    pub fn rules(&self) -> IncidentRules {
        IncidentRules {
            risk_threshold: self.risk_threshold,
            tactic_threshold: self.tactic_threshold,
            tactic_min_detections: self.tactic_min_detections,
            ..IncidentRules::default()
        }
    }
}

/// The risk index path: the given one, else `$XDG_DATA_HOME/vigil/risk.db`, else
/// `$HOME/.local/share/vigil/risk.db`.
pub fn default_risk_db(given: Option<&PathBuf>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return Ok(p.clone());
    }
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local").join("share"),
            None => return Err("no risk index path: neither XDG_DATA_HOME nor HOME is set; use --risk-db PATH or --no-risk-db".into()),
        },
    };
    Ok(base.join("vigil").join("risk.db"))
}

/// The Correlation detections of a run (see [`crate::correlation`]) and what they need.
pub struct SecondPass<'a> {
    pub detections: &'a [&'a Detection],
    pub engine: &'a vigil_engine::Engine,
    pub normalizer: &'a vigil_normalize::Normalizer,
    pub driver: &'a vigil_scan::Driver,
    /// The run's window (`--risk-from-index` reads the index's risk events in it).
    pub range: (vigil_model::Micros, vigil_model::Micros),
}

/// The alerts of the detections that ran (`planned[i]` produced `outputs[i]`); failures are
/// reported on stderr and counted in `failed`. With `contributing`, each notable carries the
/// risk events its result counted.
#[allow(clippy::too_many_arguments)]
fn alerts_of(
    content: &ContentSet,
    planned: &[&Detection],
    outputs: &[vigil_engine::QueryOutput],
    run_time: vigil_model::Micros,
    stamp: &vigil_alert::Stamp,
    contributing: Option<&[serde_json::Value]>,
    failed: &mut usize,
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for (det, o) in planned.iter().zip(outputs) {
        match &o.result {
            Ok(rows) => {
                let search = vigil_spl::expand_macros(&det.search, content, &vigil_spl::ExpandLimits::default()).ok();
                let actx = AlertContext { run_time, search, window: None, stamp: stamp.clone() };
                alerts.extend(vigil_alert::build_alerts_with_risk(det, content.deployment_for(det), rows, &actx, contributing));
            }
            Err(e) => {
                *failed += 1;
                eprintln!("vigil: detection `{}` failed: {e}", o.name);
            }
        }
    }
    alerts
}

/// Builds the alerts for every detection that ran (`planned[i]` produced `out.outputs[i]`),
/// then runs the Correlation detections over the risk events, writes the alerts, prints the
/// summary; returns the exit code.
pub fn finish(
    alert_args: &AlertArgs,
    args: &RunArgs,
    content: &ContentSet,
    planned: &[&Detection],
    out: &RunOutput,
    ctx: &EvalContext,
    second: Option<SecondPass>,
) -> u8 {
    let mut failed = 0;
    // ES alert times are whole seconds of the run.
    let run_time = ctx.now - ctx.now.rem_euclid(1_000_000);
    let stamp = alert_args.alert_time.stamp(&ctx.tz);
    let mut alerts = alerts_of(content, planned, &out.outputs, run_time, &stamp, None, &mut failed);
    // Record into the risk index, run the Correlation detections, then the incident rules
    // over the index as of this run. Incident notables are aggregate, not per result: they
    // are kept in the index (`vigil risk` lists them) and named on stderr, so stdout stays
    // one notable + risk per result.
    let correlate = |store: &RiskStore, first: &[Alert]| -> Result<Vec<Alert>, String> {
        let Some(p) = &second else { return Ok(Vec::new()) };
        let risk: Vec<serde_json::Value> = if alert_args.risk_from_index {
            store.risk_events_json(p.range.0, p.range.1).map_err(|e| e.to_string())?
        } else {
            first.iter().filter(|a| a.kind() == "risk").filter_map(|a| serde_json::to_value(a).ok()).collect()
        };
        let outputs = crate::correlation::run(p.driver, p.engine, p.normalizer, &risk, ctx);
        let mut failed = 0;
        let alerts = alerts_of(content, p.detections, &outputs, run_time, &stamp, Some(&risk), &mut failed);
        let hits: usize = outputs.iter().map(|o| o.result.as_ref().map_or(0, Vec::len)).sum();
        eprintln!(
            "vigil: {} correlation detection(s) over {} risk event(s): {hits} result(s){}",
            p.detections.len(),
            risk.len(),
            if failed > 0 { format!(", {failed} failed") } else { String::new() }
        );
        Ok(alerts)
    };
    let (store_line, store_failed) = match record(alert_args, &mut alerts, run_time, correlate) {
        Ok((mut line, incidents)) => {
            for i in &incidents {
                if let Alert::Notable(n) = i {
                    line.push_str(&format!("\nvigil: incident: {}: {}", n.rule_name, n.rule_title));
                }
            }
            (line, false)
        }
        Err(e) => (format!("vigil: {e}"), true),
    };
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    if let Err(e) = write_alerts(&mut lock, args.format, &alerts, &ctx.tz).and_then(|_| lock.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("vigil: cannot write output: {e}");
        }
    }
    for e in &out.input_errors {
        eprintln!("vigil: input: {e}");
    }
    summary(args, out, planned.len());
    let notables = alerts.iter().filter(|a| matches!(a, Alert::Notable(_))).count();
    eprintln!("vigil: {notables} notable(s), {} risk event(s)", alerts.len() - notables);
    eprintln!("{store_line}");
    if store_failed {
        return exit::USAGE;
    }
    if args.strict && (out.report.skipped_total() > 0 || !out.input_errors.is_empty()) {
        return exit::INPUT_STRICT;
    }
    if failed > 0 {
        return exit::USAGE;
    }
    exit::OK
}

/// Records `alerts` (a file, or memory with --no-risk-db), adds and records what `correlate`
/// raises from them and the index, and evaluates the incident rules at `at`; returns the
/// summary line and the new incident notables.
fn record(
    a: &AlertArgs,
    alerts: &mut Vec<Alert>,
    at: vigil_model::Micros,
    correlate: impl FnOnce(&RiskStore, &[Alert]) -> Result<Vec<Alert>, String>,
) -> Result<(String, Vec<Alert>), String> {
    let mut store = if a.no_risk_db {
        RiskStore::in_memory().map_err(|e| e.to_string())?
    } else {
        RiskStore::open(&default_risk_db(a.risk_db.as_ref())?).map_err(|e| e.to_string())?
    };
    let mut new = store.record(alerts).map_err(|e| e.to_string())?;
    let second = correlate(&store, alerts)?;
    new += store.record(&second).map_err(|e| e.to_string())?;
    alerts.extend(second);
    let rules = a.incidents.rules();
    let span =
        alerts.iter().map(Alert::time).fold(None, |s: Option<(i64, i64)>, t| Some(s.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t)))));
    let incidents = match (a.alert_time, span) {
        (AlertTime::Activity, Some((first, last))) => store.evaluate_incidents_over(first, last.saturating_add(1), &rules),
        _ => store.evaluate_incidents(at, &rules),
    };
    let incidents = incidents.map_err(|e| e.to_string())?;
    let line = if a.no_risk_db {
        format!("vigil: risk index not kept (--no-risk-db); {} incident(s) from this run alone", incidents.len())
    } else {
        format!(
            "vigil: risk index {}: {new} new, {} already recorded; {} new incident(s)",
            store.describe(),
            alerts.len() - new,
            incidents.len()
        )
    };
    Ok((line, incidents))
}

/// A row for the table/CSV sinks, with `_time` rendered as text in the run's time zone.
pub fn display_record(a: &Alert, with_orig: bool, tz: &Tz) -> Record {
    let mut r = a.to_record(with_orig);
    r.set("_time", Value::str(vigil_time::format_time(a.time(), "%Y-%m-%dT%H:%M:%S%z", tz)));
    r
}

pub fn write_alerts(out: &mut dyn Write, format: Format, alerts: &[Alert], tz: &Tz) -> io::Result<()> {
    match format {
        Format::Jsonl => {
            for a in alerts {
                serde_json::to_writer(&mut *out, a)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        Format::Csv => {
            let rows: Vec<Record> = alerts.iter().map(|a| display_record(a, true, tz)).collect();
            write_csv(out, &rows)
        }
        Format::Table => {
            let notables: Vec<Record> = alerts.iter().filter(|a| a.kind() == "notable").map(|a| display_record(a, false, tz)).collect();
            let risk: Vec<Record> = alerts.iter().filter(|a| a.kind() == "risk").map(|a| display_record(a, false, tz)).collect();
            output::write(
                out,
                Format::Table,
                &[ResultSet { name: "notables", rows: &notables }, ResultSet { name: "risk events", rows: &risk }],
            )
        }
    }
}

/// CSV of records with the union of their columns; multivalue fields joined by newlines.
pub fn write_csv(out: &mut dyn Write, rows: &[Record]) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let cols = vigil_model::Record::columns(rows);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(&cols)?;
    for row in rows {
        w.write_record(cols.iter().map(|c| row.value(c).to_string()))?;
    }
    w.flush()?;
    Ok(())
}
