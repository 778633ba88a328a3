//! `vigil hunt --alerts`: result rows -> ES notables and risk events, written in the chosen
//! format and recorded in the risk index.

use crate::commands::summary;
use crate::output::{self, Format, ResultSet};
use vigil_scan::RunOutput;
use crate::{exit, RunArgs};
use clap::Args;
use std::io::{self, Write};
use std::path::PathBuf;
use vigil_alert::{build_alerts, Alert, AlertContext, IncidentRules, RiskStore};
use vigil_content::{ContentSet, Detection};
use vigil_engine::EvalContext;
use vigil_model::{Record, Value};
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
    #[command(flatten)]
    pub incidents: IncidentArgs,
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

/// Builds the alerts for every detection that ran (`planned[i]` produced `out.outputs[i]`),
/// writes them, prints the summary; returns the exit code.
pub fn finish(alert_args: &AlertArgs, args: &RunArgs, content: &ContentSet, planned: &[&Detection], out: &RunOutput, ctx: &EvalContext) -> u8 {
    let mut failed = 0;
    let mut sets = Vec::new();
    let mut alerts: Vec<Alert> = Vec::new();
    // ES alert times are whole seconds of the run.
    let run_time = ctx.now - ctx.now.rem_euclid(1_000_000);
    for (det, o) in planned.iter().zip(&out.outputs) {
        match &o.result {
            Ok(rows) => {
                sets.push(ResultSet { name: &o.name, rows });
                let search = vigil_spl::expand_macros(&det.search, content, &vigil_spl::ExpandLimits::default()).ok();
                let actx = AlertContext { run_time, search, window: None };
                alerts.extend(build_alerts(det, content.deployment_for(det), rows, &actx));
            }
            Err(e) => {
                failed += 1;
                eprintln!("vigil: detection `{}` failed: {e}", o.name);
            }
        }
    }
    // Record into the risk index, then run the incident rules over it as of this run.
    // Incident notables are aggregate, not per result: they are kept in the index (`vigil
    // risk` lists them) and named on stderr, so stdout stays one notable + risk per result.
    let (store_line, store_failed) = match record(alert_args, &alerts, run_time) {
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

/// Records `alerts` (a file, or memory with --no-risk-db) and evaluates the incident rules at
/// `at`; returns the summary line and the new incident notables.
fn record(a: &AlertArgs, alerts: &[Alert], at: vigil_model::Micros) -> Result<(String, Vec<Alert>), String> {
    let mut store = if a.no_risk_db {
        RiskStore::in_memory().map_err(|e| e.to_string())?
    } else {
        RiskStore::open(&default_risk_db(a.risk_db.as_ref())?).map_err(|e| e.to_string())?
    };
    let new = store.record(alerts).map_err(|e| e.to_string())?;
    let incidents = store.evaluate_incidents(at, &a.incidents.rules()).map_err(|e| e.to_string())?;
    let line = if a.no_risk_db {
        format!("vigil: risk index not kept (--no-risk-db); {} incident(s) from this run alone", incidents.len())
    } else {
        format!(
            "vigil: risk index {}: {new} new, {} already recorded; {} new incident(s)",
            store.path().display(),
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
            output::write(out, Format::Table, &[ResultSet { name: "notables", rows: &notables }, ResultSet { name: "risk events", rows: &risk }])
        }
    }
}

/// CSV of records with the union of their columns; multivalue fields joined by newlines.
pub fn write_csv(out: &mut dyn Write, rows: &[Record]) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let cols = output::columns(rows);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(&cols)?;
    for row in rows {
        w.write_record(cols.iter().map(|c| row.value(c).to_string()))?;
    }
    w.flush()?;
    Ok(())
}
