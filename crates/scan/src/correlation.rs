//! Correlation detections: searches over the risk index rather than over logs.
//!
//! ESCU's Correlation detections search the Risk data model (`tstats ... from
//! datamodel=Risk.All_Risk ... by All_Risk.risk_object`), which in ES holds the risk events the
//! other detections raised. Each risk event becomes the event ES would index for it
//! (`vigil_alert::risk_index_event`: sourcetype stash, index risk), goes through the normalizer
//! (mappings/risk.toml) and is fed to those queries through the same engine API as log events.
//! `vigil hunt --alerts` and `backtest --alerts` run them after the pass over the logs; `vigil
//! serve` runs them on their own schedules after the event detections of the same tick.

use crate::schedule::Group;
use crate::{Consumer, Delivery, Driver};
use std::collections::HashSet;
use std::sync::Arc;
use vigil_engine::{Engine, EvalContext, Query, QueryOutput};
use vigil_model::{Catalog, DatasetRow, Micros, Record, Value};
use vigil_normalize::Normalizer;
use vigil_time::Window;

/// Whether a query reads the Risk data model, and so must run after the risk events exist.
pub fn reads_risk(query: &Query, catalog: &Catalog) -> bool {
    let risk = catalog.find("Risk.All_Risk");
    query.datasets().any(|d| Some(d) == risk)
}

/// Runs `engine`'s queries over risk events (risk alerts as JSON); outputs in query order.
pub fn run(
    driver: &Driver,
    engine: &Engine,
    normalizer: &Normalizer,
    risk_events: &[serde_json::Value],
    ctx: &EvalContext,
) -> Vec<QueryOutput> {
    let mut state = engine.new_state();
    let mut rows: Vec<DatasetRow> = Vec::new();
    for ev in risk_events.iter().filter_map(vigil_alert::risk_index_event) {
        rows.clear();
        normalizer.normalize_filtered(&ev, &|d| engine.wants_dataset(d), &mut rows);
        engine.consume(&mut state, &ev, &rows);
    }
    driver.finish(engine, state, ctx, Delivery::Collect).0
}

/// One scheduled run of a Correlation detection that returned rows, with the risk events it
/// was fed.
pub struct ScheduledHit {
    pub run_time: Micros,
    pub window: Window,
    pub name: String,
    pub rows: Vec<Record>,
    pub risk_input: Arc<Vec<serde_json::Value>>,
}

/// Runs every scheduled run of `groups` (Correlation detections, `backtest --alerts`) over the
/// risk events that existed by then: `risk` is (time the risk event was raised, its JSON); a
/// run at `t` with window `[e, l)` reads those raised at or before `t` whose `_time` is in the
/// window, as a scheduled search over the risk index would. Returns the hits and the errors.
pub fn scheduled(
    driver: &Driver,
    groups: &[Group],
    risk: &[(Micros, serde_json::Value)],
    normalizer: &Normalizer,
    ctx: &EvalContext,
) -> (Vec<ScheduledHit>, Vec<String>) {
    let mut hits = Vec::new();
    let mut errors = Vec::new();
    for g in groups {
        for (&run_time, &window) in g.runs.times.iter().zip(&g.runs.windows) {
            let input: Vec<serde_json::Value> = risk
                .iter()
                .filter(|(raised, e)| {
                    let t = e.get("_time").and_then(|v| v.as_f64()).map(|s| (s * 1e6).round() as Micros);
                    *raised <= run_time && t.is_some_and(|t| t >= window.earliest && t < window.latest)
                })
                .map(|(_, e)| e.clone())
                .collect();
            if input.is_empty() {
                continue;
            }
            let run_ctx = EvalContext { now: run_time, tz: ctx.tz.clone() };
            let input = Arc::new(input);
            for o in run(driver, &g.engine, normalizer, &input, &run_ctx) {
                match o.result {
                    Ok(rows) if rows.is_empty() => {}
                    Ok(rows) => hits.push(ScheduledHit { run_time, window, name: o.name, rows, risk_input: input.clone() }),
                    Err(e) => errors.push(format!(
                        "detection `{}` failed at run {}: {e}",
                        o.name,
                        vigil_time::format_time(run_time, "%Y-%m-%dT%H:%M:%SZ", &vigil_time::Tz::utc())
                    )),
                }
            }
        }
    }
    (hits, errors)
}

/// The risk events a Correlation result counted: those of its risk object (`risk_object`,
/// compared as ES's normalized_risk_object) and, when the result lists them, of its `source`
/// detections and `risk_object_type`, within its `firstTime`..`lastTime` when it has them.
pub fn contributing(row: &Record, risk_events: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let texts = |f: &str| -> Vec<String> {
        match row.get(f) {
            Some(Value::Multi(v)) => v.clone(),
            Some(v) => v.as_text().map(|t| vec![t.to_string()]).unwrap_or_default(),
            None => Vec::new(),
        }
    };
    let objects: HashSet<String> = texts("risk_object").iter().map(|o| o.to_lowercase()).collect();
    if objects.is_empty() {
        return Vec::new();
    }
    let sources: HashSet<String> = texts("source").into_iter().collect();
    let types: HashSet<String> = texts("risk_object_type").into_iter().collect();
    let secs = |f: &str| row.get(f).and_then(Value::as_num);
    let (first, last) = (secs("firstTime"), secs("lastTime"));
    let text = |e: &serde_json::Value, k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    risk_events
        .iter()
        .filter(|e| objects.contains(&text(e, "normalized_risk_object")))
        .filter(|e| sources.is_empty() || sources.contains(&text(e, "search_name")))
        .filter(|e| types.is_empty() || types.contains(&text(e, "risk_object_type")))
        .filter(|e| {
            let t = e.get("_time").and_then(|v| v.as_f64());
            match (t, first, last) {
                (Some(t), Some(f), Some(l)) => t >= f && t <= l,
                _ => true,
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributing_events_match_object_source_and_time() {
        let ev = |obj: &str, src: &str, t: i64| {
            serde_json::json!({"kind": "risk", "_time": t, "search_name": src, "risk_object": obj,
                "normalized_risk_object": obj.to_lowercase(), "risk_object_type": "system"})
        };
        let events = [
            ev("HOST1", "ESCU - A - Rule", 10),
            ev("HOST1", "ESCU - B - Rule", 20),
            ev("HOST2", "ESCU - A - Rule", 10),
            ev("host1", "ESCU - C - Rule", 15),
            ev("HOST1", "ESCU - A - Rule", 99),
        ];
        let mut row = Record::new();
        row.set("risk_object", Value::str("HOST1"));
        row.set("risk_object_type", Value::str("system"));
        row.set("source", Value::from_items(vec!["ESCU - A - Rule".to_string(), "ESCU - B - Rule".to_string()]));
        row.set("firstTime", Value::Num(10.0));
        row.set("lastTime", Value::Num(20.0));
        let got = contributing(&row, &events);
        let names: Vec<_> = got.iter().map(|e| e["search_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ESCU - A - Rule", "ESCU - B - Rule"]);
        assert!(contributing(&Record::new(), &events).is_empty());
    }
}
