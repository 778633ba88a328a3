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
use std::sync::Arc;
pub use vigil_alert::contributing;
use vigil_engine::{Engine, EvalContext, Query, QueryOutput};
use vigil_model::{Catalog, DatasetRow, Micros, Record};
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
