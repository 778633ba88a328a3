//! Unit and integration tests: one `tests:` entry replayed and checked.
//!
//! One pass per test over only its own attack data (every file of the entry), running only
//! that detection, over all time. With `update_timestamp: true` a file's events are shifted so
//! that its latest event is at the run's `now` (offsets kept), as contentctl replays them.
//!
//! Unit rule (ESCU's, see DESIGN.md): at least one result; every risk-object field present and
//! not null (absent, empty or the text `null`) in every result; each threat-object field
//! non-null in at least one result. Risk and threat objects come from `rba:` or, in the old
//! format, `tags.observable` (role Victim = risk object), as [`vigil_alert::risk_spec`] reads
//! them.
//!
//! Integration: from the same results, the alerts ES would raise for the detection's
//! deployment ([`vigil_alert::build_alerts`]): one notable per result when the deployment has
//! a notable action, with title and description rendered; risk events for every declared risk
//! object with its type and score, messages rendered without a leftover `$field$`, and each
//! threat object attached to some risk event. A deployment without alert actions (Hunting)
//! skips it; so does a failed unit test (its failure is already counted).

use super::data::{shift_to, Resolved, Resolver};
use super::{Kind, Outcome, Status};
use std::path::Path;
use std::time::Instant;
use vigil_alert::{build_alerts, risk_spec, Alert, AlertContext};
use vigil_content::{ContentSet, Detection, TestCase};
use vigil_engine::{Engine, EvalContext, Query, ScanState};
use vigil_model::{DatasetRow, Event, Record, Value};
use vigil_normalize::Normalizer;
use vigil_read::ReadOptions;
use vigil_scan::Consumer;

/// What every test of a run shares.
pub struct Env<'a> {
    pub content: &'a ContentSet,
    pub normalizer: &'a Normalizer,
    pub resolver: &'a Resolver,
    pub ctx: &'a EvalContext,
}

/// Rows shown when a unit test fails.
const SHOWN_ROWS: usize = 3;

/// Runs one test entry: returns its unit and integration outcomes.
pub fn run(det: &Detection, test: &TestCase, name: &str, root: Option<&Path>, query: Query, env: &Env) -> (Outcome, Outcome) {
    let started = Instant::now();
    let file = det.file.display().to_string();
    let outcome = |kind, status, reason: String| Outcome::new(kind, name, &file, status, reason);

    // Find every file first: a test with missing data is skipped, not failed.
    let mut files = Vec::new();
    for d in &test.attack_data {
        match env.resolver.resolve(&d.data, root) {
            Resolved::Found(f) => files.push((d, f)),
            Resolved::Missing { shown, tried } => {
                let mut unit = outcome(Kind::Unit, Status::Skip, format!("data not found: {shown}"));
                unit.details.extend(tried.iter().skip(1).map(|p| format!("also looked in {}", p.display())));
                let integ = outcome(Kind::Integration, Status::Skip, format!("data not found: {shown}"));
                return (unit, integ);
            }
        }
    }
    if files.is_empty() {
        let why = "the test has no attack_data".to_string();
        return (outcome(Kind::Unit, Status::Skip, why.clone()), outcome(Kind::Integration, Status::Skip, why));
    }

    let datasets: Vec<usize> = query.datasets().collect();
    let reads_events = query.reads_events();
    let catalog = env.normalizer.catalog();
    let engine = Engine::new(vec![query], catalog);
    let mut feed = Feed {
        engine: &engine,
        normalizer: env.normalizer,
        datasets: &datasets,
        state: engine.new_state(),
        rows: Vec::new(),
        normalized: 0,
        enriched: Event::default(),
    };
    let (mut events, mut skipped) = (0u64, 0u64);
    for (d, f) in &files {
        let opts = ReadOptions {
            sourcetype: Some(d.sourcetype.trim().to_string()).filter(|s| !s.is_empty()),
            source: Some(d.source.trim().to_string()).filter(|s| !s.is_empty()),
            ..ReadOptions::default()
        };
        let report = if d.update_timestamp == Some(true) {
            let mut buf: Vec<Event> = Vec::new();
            let report = f.read(&opts, &mut |ev| buf.push(ev.clone()));
            shift_to(&mut buf, env.ctx.now);
            for ev in &buf {
                feed.event(ev);
            }
            report
        } else {
            f.read(&opts, &mut |ev| feed.event(ev))
        };
        events += report.events;
        skipped += report.skipped_total();
    }
    let normalized = feed.normalized;
    let state = feed.state;
    let result = engine.finish(state, env.ctx).into_iter().next().map(|o| o.result);
    let rows = match result {
        Some(Ok(rows)) => rows,
        Some(Err(e)) => {
            let mut unit = outcome(Kind::Unit, Status::Fail, format!("the search failed: {e}"));
            unit.seconds = started.elapsed().as_secs_f64();
            return (unit, outcome(Kind::Integration, Status::Skip, "unit test did not pass".into()));
        }
        None => Vec::new(),
    };

    let read_note = {
        let names: Vec<String> = files.iter().map(|(_, f)| f.display()).collect();
        let mut s = format!("{events} event{} read from {}", plural(events), names.join(", "));
        if skipped > 0 {
            s.push_str(&format!(" ({skipped} record{} skipped)", plural(skipped)));
        }
        if !datasets.is_empty() {
            let ds: Vec<&str> = datasets.iter().map(|&i| catalog.get(i).name.as_str()).collect();
            s.push_str(&format!(", {normalized} normalized to {}", ds.join(", ")));
        } else if reads_events {
            s.push_str(" (raw-event search)");
        }
        s
    };
    let mut unit = check_rows(det, &rows, name, &file);
    if unit.status == Status::Fail {
        unit.details.push(read_note);
    }
    unit.seconds = started.elapsed().as_secs_f64();
    let integ = if unit.status == Status::Pass {
        let t = Instant::now();
        let mut o = integration(det, &rows, name, &file, env);
        o.seconds = t.elapsed().as_secs_f64();
        o
    } else {
        outcome(Kind::Integration, Status::Skip, "unit test did not pass".into())
    };
    (unit, integ)
}

/// Normalizes and feeds events to the engine, counting those that made a row the query reads.
struct Feed<'a> {
    engine: &'a Engine,
    normalizer: &'a Normalizer,
    datasets: &'a [usize],
    state: ScanState,
    rows: Vec<DatasetRow>,
    normalized: u64,
    /// The event with the add-ons' search-time fields, as `hunt` sees it.
    enriched: Event,
}

impl Feed<'_> {
    fn event(&mut self, ev: &Event) {
        let ev: &Event = if self.normalizer.enrich(ev, &mut self.enriched) { &self.enriched } else { ev };
        self.rows.clear();
        self.normalizer.normalize(ev, &mut self.rows);
        if self.rows.iter().any(|r| self.datasets.contains(&r.dataset)) {
            self.normalized += 1;
        }
        self.engine.consume(&mut self.state, ev, &self.rows);
    }
}

/// Null as ESCU's rule means it: absent, null, empty, or the text `null`.
fn is_null(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Multi(items)) => items.iter().all(|i| i.trim().is_empty() || i.eq_ignore_ascii_case("null")),
        Some(v) => v.as_text().is_none_or(|t| t.trim().is_empty() || t.trim().eq_ignore_ascii_case("null")),
    }
}

/// The unit rule over a test's result rows.
pub fn check_rows(det: &Detection, rows: &[Record], name: &str, file: &str) -> Outcome {
    let spec = risk_spec(det);
    let fail = |reason: String, shown: &[&Record]| {
        let mut o = Outcome::new(Kind::Unit, name, file, Status::Fail, reason);
        o.details.extend(shown.iter().take(SHOWN_ROWS).map(|r| format!("result: {}", show_row(r))));
        o
    };
    if rows.is_empty() {
        return fail("0 results".into(), &[]);
    }
    for o in &spec.risk_objects {
        let bad: Vec<&Record> = rows.iter().filter(|r| is_null(r.get(&o.field))).collect();
        if !bad.is_empty() {
            let how = if bad.iter().all(|r| r.get(&o.field).is_none()) { "missing" } else { "null" };
            return fail(
                format!("risk object field `{}` is {how} in {} of {} result{}", o.field, bad.len(), rows.len(), plural(rows.len() as u64)),
                &bad,
            );
        }
    }
    for t in &spec.threat_objects {
        if rows.iter().all(|r| is_null(r.get(&t.field))) {
            let all: Vec<&Record> = rows.iter().collect();
            return fail(format!("threat object field `{}` is null in every result ({})", t.field, rows.len()), &all);
        }
    }
    Outcome::new(Kind::Unit, name, file, Status::Pass, "")
}

/// The alerts the detection's deployment raises for `rows`, checked against what it declares.
fn integration(det: &Detection, rows: &[Record], name: &str, file: &str, env: &Env) -> Outcome {
    let o = |status, reason: String| Outcome::new(Kind::Integration, name, file, status, reason);
    let Some(dep) = env.content.deployment_for(det) else {
        return o(Status::Skip, format!("no deployment for type `{}`, so no alerts", det.kind));
    };
    let notable = dep.alert_action.notable.is_some();
    let risk = dep.alert_action.rba.as_ref().is_some_and(|r| r.enabled);
    if !notable && !risk {
        return o(Status::Skip, format!("the deployment of this {} detection raises no alerts", det.kind));
    }
    let search = vigil_spl::expand_macros(&det.search, env.content, &vigil_spl::ExpandLimits::default()).ok();
    let actx = AlertContext { run_time: env.ctx.now, search, window: None, stamp: vigil_alert::Stamp::RunTime };
    let alerts = build_alerts(det, Some(dep), rows, &actx);
    let mut problems = Vec::new();
    let notables: Vec<_> = alerts.iter().filter_map(|a| if let Alert::Notable(n) = a { Some(n) } else { None }).collect();
    let risks: Vec<_> = alerts.iter().filter_map(|a| if let Alert::Risk(r) = a { Some(r) } else { None }).collect();
    if notable {
        if notables.len() != rows.len() {
            problems.push(format!("expected {} notable(s), one per result, got {}", rows.len(), notables.len()));
        }
        for n in &notables {
            for (what, text) in [("title", &n.rule_title), ("description", &n.rule_description)] {
                if let Some(tok) = leftover_token(text) {
                    problems.push(format!("notable {what} has an unrendered `{tok}`: {}", clip(text, 160)));
                }
            }
        }
    } else if !notables.is_empty() {
        problems.push(format!("{} notable(s) raised without a notable action", notables.len()));
    }
    if risk {
        let spec = risk_spec(det);
        if spec.risk_objects.is_empty() {
            problems.push("the risk action is enabled but the detection declares no risk object".into());
        }
        for ro in &spec.risk_objects {
            let hit = risks.iter().any(|r| r.risk_object_type == ro.kind && (r.risk_score - ro.score).abs() < 1e-9);
            if !hit {
                problems.push(format!("no risk event for risk object `{}` (type {}, score {})", ro.field, ro.kind, ro.score));
            }
        }
        for t in &spec.threat_objects {
            if !risks.iter().any(|r| r.threat_object_type.contains(&t.kind)) {
                problems.push(format!("no risk event carries threat object `{}` (type {})", t.field, t.kind));
            }
        }
        for r in &risks {
            if r.risk_message.trim().is_empty() {
                problems.push(format!("risk event for `{}` has an empty message", r.risk_object));
            } else if let Some(tok) = leftover_token(&r.risk_message) {
                problems.push(format!("risk message has an unrendered `{tok}`: {}", clip(&r.risk_message, 160)));
            }
        }
    }
    problems.dedup();
    let mut it = problems.into_iter();
    match it.next() {
        None => o(Status::Pass, String::new()),
        Some(first) => {
            let mut out = o(Status::Fail, first);
            out.details.extend(it.take(9));
            out.details.push(format!("{} notable(s), {} risk event(s) from {} result(s)", notables.len(), risks.len(), rows.len()));
            out
        }
    }
}

/// The first `$name$` token left in rendered text (same token rule as the renderer).
pub fn leftover_token(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        let after = &rest[start + 1..];
        if let Some(end) = after.find('$') {
            let name = &after[..end];
            if end > 0 && end <= 128 && !name.chars().any(char::is_whitespace) {
                return Some(format!("${name}$"));
            }
        }
        rest = after;
    }
    None
}

fn show_row(r: &Record) -> String {
    let parts: Vec<String> = r
        .iter()
        .map(|(k, v)| match vigil_alert::render::value_text(v) {
            Some(t) => format!("{k}={}", clip(&t, 80)),
            None => format!("{k}=null"),
        })
        .collect();
    clip(&parts.join(" "), 600)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Record {
        pairs.iter().map(|(k, v)| (k.to_string(), if *v == "<null>" { Value::Null } else { Value::str(*v) })).collect()
    }

    fn seed() -> Detection {
        let text = vigil_content::BUILTIN_DETECTION_FILES[0].1;
        serde_norway::from_str(text).expect("seed")
    }

    #[test]
    fn unit_rule() {
        let d = seed();
        let good = row(&[("user", "a"), ("dest", "h"), ("process_name", "msiexec.exe"), ("parent_process_name", "cmd.exe")]);
        assert_eq!(check_rows(&d, std::slice::from_ref(&good), "D", "f").status, Status::Pass);
        // A threat object needs a value in one result only.
        let no_parent = row(&[("user", "a"), ("dest", "h"), ("process_name", "m"), ("parent_process_name", "<null>")]);
        assert_eq!(check_rows(&d, &[good.clone(), no_parent.clone()], "D", "f").status, Status::Pass);
        let o = check_rows(&d, &[no_parent], "D", "f");
        assert_eq!(o.reason, "threat object field `parent_process_name` is null in every result (1)");
        let o = check_rows(&d, &[], "D", "f");
        assert_eq!((o.status, o.reason.as_str()), (Status::Fail, "0 results"));
        let no_user = row(&[("user", "null"), ("dest", "h"), ("process_name", "m")]);
        let o = check_rows(&d, &[good.clone(), no_user], "D", "f");
        assert_eq!(o.reason, "risk object field `user` is null in 1 of 2 results");
        assert_eq!(o.details.len(), 1);
        assert!(o.details[0].starts_with("result: user=null dest=h"), "{:?}", o.details);
        let o = check_rows(&d, &[row(&[("user", "a"), ("dest", "h")])], "D", "f");
        assert_eq!(o.reason, "threat object field `process_name` is null in every result (1)");
        let o = check_rows(&d, &[row(&[("dest", "h"), ("process_name", "m")])], "D", "f");
        assert_eq!(o.reason, "risk object field `user` is missing in 1 of 1 result");
    }

    #[test]
    fn integration_checks_alerts() {
        let content = ContentSet::builtin();
        let normalizer = Normalizer::builtin().expect("mappings");
        let resolver = Resolver { data_dir: None };
        let ctx = EvalContext { now: 1_800_000_000_000_000, tz: vigil_time::Tz::parse("UTC").expect("utc") };
        let env = Env { content: &content, normalizer: &normalizer, resolver: &resolver, ctx: &ctx };
        let mut d = seed();
        let r = row(&[("user", "a"), ("dest", "h"), ("process_name", "msiexec.exe"), ("parent_process_name", "cmd.exe")]);
        let o = integration(&d, std::slice::from_ref(&r), "D", "f", &env);
        assert_eq!(o.status, Status::Pass, "{o}");
        // A message naming a field the results lack leaves a token: failure.
        if let Some(rba) = &mut d.rba {
            rba.message.push_str(" via $url$");
        }
        let o = integration(&d, std::slice::from_ref(&r), "D", "f", &env);
        assert_eq!(o.status, Status::Fail);
        assert!(o.reason.starts_with("risk message has an unrendered `$url$`"), "{o}");
        // Hunting: the default deployment raises nothing.
        d.kind = "Hunting".into();
        d.deployment = None;
        let o = integration(&d, &[r], "D", "f", &env);
        assert_eq!(o.status, Status::Skip, "{o}");
    }

    #[test]
    fn leftover_tokens() {
        assert_eq!(leftover_token("on $dest$ by x"), Some("$dest$".into()));
        assert_eq!(leftover_token("costs $5 and $6 more"), None);
        assert_eq!(leftover_token("a $$ b"), None);
        assert_eq!(leftover_token("all rendered"), None);
    }
}
