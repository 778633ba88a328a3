//! `vigil risk`: risk by object over a time range, and the risk incidents, from the risk index
//! that `vigil hunt --alerts` fills.

use crate::alerts::{default_risk_db, write_csv, IncidentArgs};
use crate::exit;
use crate::output::{self, Format, ResultSet};
use crate::window::parse_time;
use clap::Args;
use serde::Serialize;
use std::io::{self, Write};
use std::path::PathBuf;
use vigil_alert::{ObjectRisk, RiskStore, StoredNotable, ATTACK_TACTIC_RULE, RISK_THRESHOLD_RULE};
use vigil_model::{Micros, Record, Value};
use vigil_time::Tz;

#[derive(Args)]
pub struct RiskArgs {
    /// The risk index (default: $XDG_DATA_HOME/vigil/risk.db, else ~/.local/share/vigil/risk.db).
    #[arg(long, value_name = "PATH")]
    pub risk_db: Option<PathBuf>,
    /// The shared alert store in PostgreSQL instead (`[alerts] postgres` of `vigil serve`):
    /// a connection string such as postgres://vigil@db/vigil.
    #[arg(long, value_name = "URL", conflicts_with = "risk_db")]
    pub postgres: Option<String>,
    /// Start of the range (inclusive): a time modifier (-24h, -7d@d), epoch seconds or ISO 8601.
    /// Default: all time.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// End of the range (exclusive), same forms; the incident rules are evaluated as of this
    /// time. Default: now.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Time zone for relative times and rendered times. Default UTC.
    #[arg(long, value_name = "TZ", default_value = "UTC")]
    pub tz: String,
    #[command(flatten)]
    pub incidents: IncidentArgs,
}

pub fn run(args: RiskArgs) -> u8 {
    match run_inner(&args) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("vigil: {e}");
            exit::USAGE
        }
    }
}

fn run_inner(args: &RiskArgs) -> Result<(), String> {
    let tz = Tz::parse(&args.tz).map_err(|e| format!("--tz: {e}"))?;
    let now = vigil_time::now_micros();
    let since = match &args.since {
        Some(t) => parse_time("--since", t, now, &tz)?,
        None => i64::MIN,
    };
    let until = match &args.until {
        Some(t) => parse_time("--until", t, now, &tz)?,
        None => now,
    };
    let mut store = match &args.postgres {
        Some(url) => RiskStore::connect(url).map_err(|e| e.to_string())?,
        None => {
            let path = default_risk_db(args.risk_db.as_ref())?;
            if !path.exists() {
                return Err(format!("risk index {}: no such file (vigil hunt --alerts creates it)", path.display()));
            }
            RiskStore::open(&path).map_err(|e| e.to_string())?
        }
    };
    // ES runs the incident rules on a schedule; here as of every risk event time in the range
    // (historical activity gets its incidents at the activity's time), then as of its end.
    let rules = args.incidents.rules();
    let mut new = store.evaluate_incidents_over(since, until, &rules).map_err(|e| e.to_string())?;
    new.extend(store.evaluate_incidents(until.saturating_sub(1), &rules).map_err(|e| e.to_string())?);
    let objects = store.risk_by_object(since, until).map_err(|e| e.to_string())?;
    let incidents = store.notables(since, until, Some(&[RISK_THRESHOLD_RULE, ATTACK_TACTIC_RULE])).map_err(|e| e.to_string())?;
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    if let Err(e) = write(&mut lock, args.format, &objects, &incidents, &tz).and_then(|_| lock.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(format!("cannot write output: {e}"));
        }
    }
    let total: f64 = objects.iter().map(|o| o.total_score).sum();
    eprintln!(
        "vigil: risk index {}: {} object(s), total score {}, {} incident(s) ({} new)",
        store.describe(),
        objects.len(),
        vigil_model::value::format_num(total),
        incidents.len(),
        new.len()
    );
    Ok(())
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    kind: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

fn time_text(t: Micros, tz: &Tz) -> Value {
    Value::str(vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%S%z", tz))
}

fn object_record(o: &ObjectRisk, tz: &Tz) -> Record {
    let mut r = Record::new();
    r.set("kind", Value::str("object_risk"));
    r.set("risk_object", Value::str(&o.risk_object));
    r.set("risk_object_type", Value::str(&o.risk_object_type));
    r.set("risk_score", Value::Num(o.total_score));
    r.set("risk_event_count", Value::Num(o.count as f64));
    r.set("detection_count", Value::Num(o.distinct_detections() as f64));
    r.set("detections", Value::from_items(o.detections.clone()));
    r.set("mitre_tactic", Value::from_items(o.tactics.clone()));
    r.set("firstTime", time_text(o.first_time, tz));
    r.set("lastTime", time_text(o.last_time, tz));
    r
}

fn incident_record(n: &StoredNotable, tz: &Tz) -> Record {
    let mut r = Record::new();
    r.set("kind", Value::str("incident"));
    r.set("_time", time_text(n.time, tz));
    r.set("rule_name", Value::str(&n.rule_name));
    r.set("risk_object", Value::from_items(n.risk_object.iter().cloned().collect()));
    r.set("risk_object_type", Value::from_items(n.risk_object_type.iter().cloned().collect()));
    if let Some(score) = n.json.get("risk_score").and_then(|v| v.as_f64()) {
        r.set("risk_score", Value::Num(score));
    }
    r.set("severity", Value::str(&n.severity));
    r.set("rule_title", Value::str(&n.rule_title));
    r
}

fn write(out: &mut dyn Write, format: Format, objects: &[ObjectRisk], incidents: &[StoredNotable], tz: &Tz) -> io::Result<()> {
    match format {
        Format::Jsonl => {
            for o in objects {
                serde_json::to_writer(&mut *out, &Tagged { kind: "object_risk", inner: o })?;
                out.write_all(b"\n")?;
            }
            for n in incidents {
                serde_json::to_writer(&mut *out, &n.json)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        Format::Csv => {
            let rows: Vec<Record> =
                objects.iter().map(|o| object_record(o, tz)).chain(incidents.iter().map(|n| incident_record(n, tz))).collect();
            write_csv(out, &rows)
        }
        Format::Table => {
            let strip = |mut r: Record| {
                r.remove("kind");
                r
            };
            let objs: Vec<Record> = objects.iter().map(|o| strip(object_record(o, tz))).collect();
            let incs: Vec<Record> = incidents.iter().map(|n| strip(incident_record(n, tz))).collect();
            if objs.is_empty() {
                writeln!(out, "no risk in this range")?;
            }
            output::write(
                out,
                Format::Table,
                &[ResultSet { name: "risk by object", rows: &objs }, ResultSet { name: "incidents", rows: &incs }],
            )
        }
    }
}
