//! The scheduler: every enabled detection at each of its cron ticks, over the store.
//!
//! A tick `t` of a schedule `(cron, earliest, latest)` runs over `[resolve(earliest, t),
//! resolve(latest, t))`, the stored segments overlapping that range read through the scan
//! driver and the same windowing code as `vigil backtest` (`vigil_scan::schedule`), finished
//! with `now = t`. Results become notables and risk events in the risk index; every run is
//! appended to `runs.jsonl`.
//!
//! A run at its tick sees what was stored before it, as Splunk's scheduled search sees what
//! was indexed; ticks are run when the clock passes them (no catch-up after downtime yet).

use crate::store;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use vigil_alert::{build_alerts, Alert, AlertContext, IncidentRules, RiskStore};
use vigil_content::{ContentSet, Detection};
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::Micros;
use vigil_normalize::Normalizer;
use vigil_read::ReadOptions;
use vigil_scan::schedule::{finish_runs, Group, Runs, Scheduled};
use vigil_scan::Driver;
use vigil_time::{Schedule, Tz, Window};

/// The config's `[scheduler]`: which detections run (those enabled by their deployment, plus
/// `enable`, minus `disable`; exact names) and how many missed ticks per schedule are run
/// after downtime (the latest ones).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selection {
    pub enable: Vec<String>,
    pub disable: Vec<String>,
    pub max_catch_up: usize,
}

impl Default for Selection {
    fn default() -> Self {
        Selection { enable: Vec::new(), disable: Vec::new(), max_catch_up: 24 }
    }
}

/// `(cron, earliest, latest)`: detections sharing it share one engine and one scan per tick.
type ScheduleKey = (String, String, String);

/// What survives a restart: ticks before `next` were run.
#[derive(Serialize, serde::Deserialize)]
struct SavedState {
    next: Micros,
}

/// One run, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub detections: Vec<String>,
    pub scheduled_time: String,
    pub window_earliest: String,
    pub window_latest: String,
    pub started: String,
    pub duration_ms: u64,
    pub segments: usize,
    pub events_scanned: u64,
    pub results: usize,
    pub notables: usize,
    pub risk_events: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct Scheduler {
    content: ContentSet,
    /// Detections planned by the caller (Sigma rules).
    extra: Vec<Detection>,
    normalizer: Normalizer,
    driver: Driver,
    opts: ReadOptions,
    tz: Tz,
    groups: Vec<(Schedule, Group)>,
    store_root: PathBuf,
    risk: RiskStore,
    runs_log: PathBuf,
    /// Ticks before this were run (or predate the first start).
    next: Micros,
    /// Set after a restart until the missed ticks were run: at most this many per schedule.
    catch_up: Option<usize>,
    state_path: PathBuf,
}

impl Scheduler {
    /// Plans the selected detections; detections that cannot run are reported and left out.
    /// `extra`: detections with their queries planned by the caller (Sigma rules).
    #[allow(clippy::too_many_arguments)] // the server's parts; one call site
    pub fn new(
        content: ContentSet,
        extra: Vec<(Detection, vigil_engine::Query)>,
        normalizer: Normalizer,
        driver: Driver,
        select: &Selection,
        data_dir: &Path,
        start: Micros,
    ) -> Result<Scheduler, String> {
        for name in select.enable.iter().chain(&select.disable) {
            if content.detection(name).is_none() && !extra.iter().any(|(d, _)| d.name == *name) {
                return Err(format!("scheduler: no detection named `{name}` in the loaded content"));
            }
        }
        let tz = Tz::utc();
        let mut keyed: Vec<(ScheduleKey, Vec<(String, vigil_engine::Query)>)> = Vec::new();
        let mut planner = Planner::new(normalizer.catalog(), &content);
        let (extra, mut extra_queries): (Vec<Detection>, Vec<Option<vigil_engine::Query>>) =
            extra.into_iter().map(|(d, q)| (d, Some(q))).unzip();
        for (i, d) in content.detections().iter().map(|d| (None, d)).chain(extra.iter().enumerate().map(|(i, d)| (Some(i), d))) {
            let Some(s) = content.deployment_for(d).map(|dep| &dep.scheduling) else {
                continue;
            };
            let enabled = (s.disabled != Some(true) || select.enable.contains(&d.name)) && !select.disable.contains(&d.name);
            let Some(cron) = s.cron_schedule.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
                continue;
            };
            if !enabled {
                continue;
            }
            let planned = match i {
                Some(i) => extra_queries[i].take().ok_or_else(|| format!("detection `{}` listed twice", d.name)),
                None => planner.plan(&d.name, &d.search).map_err(|e| e.render(&format!("detection `{}` search", d.name))),
            };
            let query = match planned {
                Ok(q) => q,
                Err(e) => {
                    eprintln!("vigil serve: not scheduled, cannot run:\n{e}");
                    continue;
                }
            };
            let key = (
                cron.to_string(),
                s.earliest_time.clone().unwrap_or_default().trim().to_string(),
                s.latest_time.clone().unwrap_or_default().trim().to_string(),
            );
            match keyed.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push((d.name.clone(), query)),
                None => keyed.push((key, vec![(d.name.clone(), query)])),
            }
        }
        let mut groups = Vec::new();
        for ((cron, earliest, latest), members) in keyed {
            let schedule = match Schedule::parse(&cron) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("vigil serve: schedule `{cron}` cannot be used, not scheduled: {e}");
                    continue;
                }
            };
            let (names, queries): (Vec<String>, Vec<_>) = members.into_iter().unzip();
            let engine = Engine::new(queries, normalizer.catalog());
            groups.push((schedule, Group { engine, names, cron, earliest, latest, runs: Runs::default() }));
        }
        // After downtime, the ticks since the last run are due (catch-up).
        let state_path = data_dir.join("scheduler.json");
        let saved = std::fs::read(&state_path).ok().and_then(|b| serde_json::from_slice::<SavedState>(&b).ok());
        let (next, catch_up) = match saved {
            Some(s) if s.next < start => (s.next, Some(select.max_catch_up)),
            _ => (start, None),
        };
        let risk_path = data_dir.join("risk.db");
        let risk = RiskStore::open(&risk_path).map_err(|e| e.to_string())?;
        Ok(Scheduler {
            content,
            extra,
            normalizer,
            driver,
            opts: ReadOptions::default(),
            tz,
            groups,
            store_root: store::store_dir(data_dir),
            risk,
            runs_log: data_dir.join("runs.jsonl"),
            next,
            catch_up,
            state_path,
        })
    }

    /// Scheduled detections, by schedule.
    pub fn describe(&self) -> Vec<String> {
        self.groups
            .iter()
            .map(|(_, g)| format!("`{}` earliest={} latest={}: {}", g.cron, g.earliest, g.latest, g.names.join(", ")))
            .collect()
    }

    /// Runs every tick in `[next, now]`, in time order; returns their records.
    pub fn run_due(&mut self, now: Micros) -> Vec<RunRecord> {
        if now < self.next {
            return Vec::new();
        }
        let mut due: Vec<(Micros, usize)> = Vec::new();
        let catch_up = self.catch_up.take();
        for (gi, (schedule, group)) in self.groups.iter().enumerate() {
            let mut ticks: Vec<Micros> = schedule.ticks(self.next, now.saturating_add(1), &self.tz).take(100_000).collect();
            if let Some(keep) = catch_up.filter(|k| ticks.len() > *k) {
                let skipped = ticks.len() - keep;
                eprintln!(
                    "vigil serve: {skipped} missed tick(s) of `{}` ({}) not run: past max_catch_up = {keep}",
                    group.cron,
                    group.names.join(", ")
                );
                ticks.drain(..skipped);
            }
            due.extend(ticks.into_iter().map(|t| (t, gi)));
        }
        self.next = now.saturating_add(1);
        due.sort();
        let records = due.into_iter().map(|(t, gi)| self.run_one(gi, t)).collect();
        // Saved after the runs: a crash in between runs them again, and the risk index keeps
        // one copy of each alert (its dedup key).
        self.save_state();
        records
    }

    fn save_state(&self) {
        let tmp = self.state_path.with_extension("json.tmp");
        let text = serde_json::to_vec(&SavedState { next: self.next }).unwrap_or_default();
        if let Err(e) = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &self.state_path)) {
            eprintln!("vigil serve: cannot save the scheduler state in {}: {e}", self.state_path.display());
        }
    }

    fn run_one(&mut self, gi: usize, tick: Micros) -> RunRecord {
        let started = vigil_time::now_micros();
        let clock = std::time::Instant::now();
        let (_, group) = &mut self.groups[gi];
        let mut rec = RunRecord {
            detections: group.names.clone(),
            scheduled_time: iso(tick),
            window_earliest: String::new(),
            window_latest: String::new(),
            started: iso(started),
            duration_ms: 0,
            segments: 0,
            events_scanned: 0,
            results: 0,
            notables: 0,
            risk_events: 0,
            error: None,
        };
        let mut errors = Vec::new();
        match Window::for_run(&group.earliest, &group.latest, tick, &self.tz) {
            Err(e) => errors.push(format!("window: {e}")),
            Ok(window) => {
                rec.window_earliest = iso(window.earliest);
                rec.window_latest = iso(window.latest);
                group.runs = Runs::new(vec![(tick, window)]);
                let paths = store::segments(&self.store_root, window).unwrap_or_else(|e| {
                    errors.push(format!("store: {e}"));
                    Vec::new()
                });
                rec.segments = paths.len();
                let groups = std::slice::from_ref(&*group);
                let consumer = Scheduled { groups, arrival_field: "_indextime" };
                let scanned = self.driver.scan(&consumer, &self.normalizer, vigil_scan::Inputs { paths: &paths, read: &self.opts });
                rec.events_scanned = scanned.report.events;
                let mut state = scanned.state;
                let ctx = EvalContext { now: tick, tz: self.tz.clone() };
                // On the driver's worker threads (rayon's global pool, which the driver sized).
                let (hits, failures) = finish_runs(groups, &mut state, &ctx, &|| {});
                errors.extend(failures);
                let mut alerts: Vec<Alert> = Vec::new();
                for h in &hits {
                    rec.results += h.rows.len();
                    let Some(det) = self.content.detection(&h.name).or_else(|| self.extra.iter().find(|d| d.name == h.name)) else {
                        continue;
                    };
                    let search = vigil_spl::expand_macros(&det.search, &self.content, &vigil_spl::ExpandLimits::default()).ok();
                    let actx = AlertContext {
                        run_time: tick - tick.rem_euclid(1_000_000),
                        search,
                        window: Some((h.window.earliest, h.window.latest)),
                        // A live scheduled search: alerts carry the run time, as in ES.
                        stamp: vigil_alert::Stamp::RunTime,
                    };
                    alerts.extend(build_alerts(det, self.content.deployment_for(det), &h.rows, &actx));
                }
                rec.notables = alerts.iter().filter(|a| matches!(a, Alert::Notable(_))).count();
                rec.risk_events = alerts.len() - rec.notables;
                if let Err(e) =
                    self.risk.record(&alerts).and_then(|_| self.risk.evaluate_incidents(tick, &IncidentRules::default()).map(|_| ()))
                {
                    errors.push(format!("risk index: {e}"));
                }
            }
        }
        rec.duration_ms = clock.elapsed().as_millis() as u64;
        if !errors.is_empty() {
            rec.error = Some(errors.join("; "));
        }
        self.append_record(&rec);
        rec
    }

    fn append_record(&self, rec: &RunRecord) {
        let line = serde_json::to_string(rec).unwrap_or_default();
        let written = std::fs::OpenOptions::new().create(true).append(true).open(&self.runs_log).and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("vigil serve: cannot record a run in {}: {e}", self.runs_log.display());
        }
    }
}

fn iso(t: Micros) -> String {
    vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%SZ", &Tz::utc())
}
