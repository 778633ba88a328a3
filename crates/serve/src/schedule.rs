//! The scheduler: every enabled detection at each of its cron ticks, over the store.
//!
//! A tick `t` of a schedule `(cron, earliest, latest)` runs over `[resolve(earliest, t),
//! resolve(latest, t))`, the stored segments overlapping that range read through the scan
//! driver and the same windowing code as `vigil backtest` (`vigil_scan::schedule`), finished
//! with `now = t`. Results become notables and risk events in the alert store; every run is
//! appended to `runs.jsonl` (or, with a shared PostgreSQL store, recorded there, so every API
//! process shows it).
//!
//! A run at its tick sees what was stored before it, as Splunk's scheduled search sees what
//! was indexed; ticks are run when the clock passes them, and after downtime the missed ticks
//! are run on start (at most `max_catch_up` per schedule, the latest).
//!
//! Correlation detections (those reading the Risk data model) run on their own schedules over
//! the risk index, after the event detections of the same tick (`vigil_scan::correlation`).
//! A reload re-plans the selection and keeps every schedule whose detections and planned
//! searches did not change (`selection.rs`); the tick position is kept, so no tick is run twice
//! or skipped across a reload.
//!
//! Events arriving after every run that could see them are late (`late/`); in rerun mode
//! those runs are evaluated again after the regular ones.

use crate::actions::Actions;
use crate::raise::{Raiser, RunHit};
pub use crate::run_record::RunRecord;
use crate::selection::PlannedGroup;
use crate::{metrics, store};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vigil_alert::RiskStore;
use vigil_content::{ContentSet, Detection};
use vigil_engine::{Engine, EvalContext, Query};
use vigil_model::Micros;
use vigil_normalize::Normalizer;
use vigil_read::ReadOptions;
use vigil_scan::schedule::{finish_runs_each, Group, Runs, Scheduled};
use vigil_scan::Driver;
use vigil_time::{Schedule, Tz, Window};

pub use crate::selection::Selection;

/// What survives a restart: ticks before `next` were run; the first start (`first`).
#[derive(Serialize, serde::Deserialize)]
struct SavedState {
    next: Micros,
    #[serde(default)]
    first: Option<Micros>,
}

/// Slots for planned groups, reusing an `old` slot whose schedule, detections and planned
/// searches are the same; event schedules first. Returns them and how many were reused.
fn build_slots(
    planned: Vec<PlannedGroup>,
    catalog: &vigil_model::Catalog,
    mut old: Vec<Slot>,
    not_scheduled: &mut Vec<(String, String)>,
) -> (Vec<Slot>, usize) {
    let mut slots = Vec::new();
    let mut kept = 0;
    for g in planned {
        let (cron, earliest, latest) = g.key;
        let names: Vec<String> = g.members.iter().map(|m| m.name.clone()).collect();
        let signatures: Vec<u64> = g.members.iter().map(|m| m.signature).collect();
        let same = |s: &Slot| {
            s.reads_risk == g.reads_risk
                && (&s.group.cron, &s.group.earliest, &s.group.latest) == (&cron, &earliest, &latest)
                && s.group.names == names
                && s.signatures == signatures
        };
        if let Some(i) = old.iter().position(same) {
            slots.push(old.swap_remove(i));
            kept += 1;
            continue;
        }
        let schedule = match Schedule::parse(&cron) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("vigil serve: schedule `{cron}` cannot be used, not scheduled ({}): {e}", names.join(", "));
                not_scheduled.extend(names.iter().map(|n| (n.clone(), format!("schedule `{cron}`: {e}"))));
                continue;
            }
        };
        let engine = Engine::new(g.members.into_iter().map(|m| m.query).collect(), catalog);
        let group = Group { engine, names, cron, earliest, latest, runs: Runs::default() };
        slots.push(Slot { schedule, group, signatures, reads_risk: g.reads_risk, missed_ticks: 0 });
    }
    slots.sort_by_key(|s| s.reads_risk);
    (slots, kept)
}

/// A schedule's detections: one engine, planned once, kept across reloads while unchanged.
struct Slot {
    schedule: Schedule,
    group: Group,
    /// Per member: its planned search's signature (`selection.rs`).
    signatures: Vec<u64>,
    /// Correlation detections: run over the risk index, after the event detections.
    reads_risk: bool,
    /// Ticks dropped by the catch-up bound.
    missed_ticks: u64,
}

/// Plans the detections a caller adds (Sigma rules) with their schedules in their deployments;
/// called at start and at every reload.
pub type ExtraDetections = Arc<dyn Fn() -> Vec<(Detection, Query)> + Send + Sync>;

pub struct Scheduler {
    content: ContentSet,
    /// Detections planned by the caller (Sigma rules): planned again at each reload.
    extra: ExtraDetections,
    /// The last plan's caller-planned detections (alerts need their definitions).
    extra_detections: Vec<Detection>,
    normalizer: Normalizer,
    driver: Driver,
    opts: ReadOptions,
    tz: Tz,
    /// Event detections first, then Correlation detections (a tick runs them in this order).
    slots: Vec<Slot>,
    store_root: PathBuf,
    risk: RiskStore,
    /// Run records: this file, or the store when it is shared (`None`).
    runs_log: Option<PathBuf>,
    /// Ticks before this were run (or predate the first start).
    next: Micros,
    /// Set after a restart until the missed ticks were run: at most this many per schedule.
    catch_up: Option<usize>,
    state_path: PathBuf,
    /// Where alerts go besides the risk index.
    actions: Option<Arc<Actions>>,
    /// Set when the server stops: the run under way finishes, later ticks wait for the next start.
    stop: Arc<AtomicBool>,
    /// The first start: earlier ticks never ran.
    first: Micros,
    late: Option<Arc<crate::late::LateTracker>>,
    /// Enabled detections that could not be planned, with why (the API shows them).
    not_scheduled: Vec<(String, String)>,
}

/// A schedule and its detections, as the API shows them.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleInfo {
    pub cron: String,
    pub earliest: String,
    pub latest: String,
    pub detections: Vec<String>,
    /// The next tick that will run (epoch seconds).
    pub next_run: Option<i64>,
    /// Ticks missed during downtime and not run (past `max_catch_up`).
    pub missed_ticks: u64,
}

impl Scheduler {
    /// Plans the selected detections; detections that cannot run are reported and left out.
    /// `extra`: detections with their queries planned by the caller (Sigma rules); `risk`:
    /// the alert store the runs record into (`[alerts]`).
    #[allow(clippy::too_many_arguments)] // the server's parts; one call site
    pub fn new(
        content: ContentSet,
        extra: ExtraDetections,
        normalizer: Normalizer,
        driver: Driver,
        select: &Selection,
        data_dir: &Path,
        risk: RiskStore,
        start: Micros,
    ) -> Result<Scheduler, String> {
        let planned_extra = extra();
        let extra_detections = planned_extra.iter().map(|(d, _)| d.clone()).collect();
        let (planned, mut not_scheduled) = select.plan(&content, planned_extra, normalizer.catalog())?;
        let (slots, _) = build_slots(planned, normalizer.catalog(), Vec::new(), &mut not_scheduled);
        // After downtime, the ticks since the last run are due (catch-up).
        let state_path = data_dir.join("scheduler.json");
        let saved = std::fs::read(&state_path).ok().and_then(|b| serde_json::from_slice::<SavedState>(&b).ok());
        let first = saved.as_ref().map_or(start, |s| s.first.unwrap_or(s.next));
        let (next, catch_up) = match saved {
            Some(s) if s.next < start => (s.next, Some(select.max_catch_up)),
            _ => (start, None),
        };
        Ok(Scheduler {
            content,
            extra,
            extra_detections,
            normalizer,
            driver,
            opts: ReadOptions::default(),
            tz: Tz::utc(),
            slots,
            store_root: store::store_dir(data_dir),
            runs_log: (!risk.is_shared()).then(|| runs_log_path(data_dir)),
            next,
            catch_up,
            state_path,
            risk,
            first,
            late: None,
            actions: None,
            stop: Arc::new(AtomicBool::new(false)),
            not_scheduled,
        })
    }

    /// New content and selection: schedules whose detections and planned searches are
    /// unchanged keep their engine; the others are planned anew. The tick position is kept.
    /// On error nothing changes.
    pub fn reload(&mut self, content: ContentSet, select: &Selection) -> Result<String, String> {
        let planned_extra = (self.extra)();
        let extra_detections = planned_extra.iter().map(|(d, _)| d.clone()).collect();
        let (planned, mut not_scheduled) = select.plan(&content, planned_extra, self.normalizer.catalog())?;
        self.extra_detections = extra_detections;
        let old = std::mem::take(&mut self.slots);
        let before = old.len();
        let (slots, kept) = build_slots(planned, self.normalizer.catalog(), old, &mut not_scheduled);
        self.not_scheduled = not_scheduled;
        let summary = format!(
            "{} schedule(s) unchanged, {} new or changed, {} removed; {} detection(s) scheduled",
            kept,
            slots.len() - kept,
            before - kept,
            slots.iter().map(|s| s.group.names.len()).sum::<usize>()
        );
        self.slots = slots;
        self.content = content;
        self.register_late();
        Ok(summary)
    }

    /// Late events are classified against these schedules and, in rerun mode, the runs they
    /// missed are evaluated again at the next [`Scheduler::run_due`].
    pub fn set_late(&mut self, late: Arc<crate::late::LateTracker>) {
        self.late = Some(late);
        self.register_late();
    }

    /// Tells the late tracker the event schedules (again after a reload).
    fn register_late(&self) {
        let Some(late) = &self.late else { return };
        let specs = self
            .slots
            .iter()
            .filter(|s| !s.reads_risk)
            .map(|s| crate::late::ScheduleSpec {
                key: (s.group.cron.clone(), s.group.earliest.clone(), s.group.latest.clone()),
                names: s.group.names.clone(),
                schedule: s.schedule.clone(),
            })
            .collect();
        late.set_schedules(specs, self.first, &self.tz);
    }

    /// Sends every alert of later runs to `actions` too.
    pub fn set_actions(&mut self, actions: Arc<Actions>) {
        self.actions = Some(actions);
    }

    /// The flag that stops [`Scheduler::run_due`] between runs (set on shutdown).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Detections scheduled.
    pub fn detection_count(&self) -> usize {
        self.slots.iter().map(|s| s.group.names.len()).sum()
    }

    /// Scheduled detections, by schedule.
    pub fn describe(&self) -> Vec<String> {
        self.slots
            .iter()
            .map(|s| {
                let g = &s.group;
                let over = if s.reads_risk { " (over the risk index)" } else { "" };
                format!("`{}` earliest={} latest={}{over}: {}", g.cron, g.earliest, g.latest, g.names.join(", "))
            })
            .collect()
    }

    /// The content the schedules were planned from (reloads replace it).
    pub fn content(&self) -> &ContentSet {
        &self.content
    }

    /// The schedules with their detections and next run.
    pub fn schedules(&self) -> Vec<ScheduleInfo> {
        self.slots
            .iter()
            .map(|s| ScheduleInfo {
                cron: s.group.cron.clone(),
                earliest: s.group.earliest.clone(),
                latest: s.group.latest.clone(),
                detections: s.group.names.clone(),
                next_run: s.schedule.ticks(self.next, Micros::MAX, &self.tz).next().map(|t| t.div_euclid(1_000_000)),
                missed_ticks: s.missed_ticks,
            })
            .collect()
    }

    /// Enabled detections that are not scheduled, with why.
    pub fn not_scheduled(&self) -> &[(String, String)] {
        &self.not_scheduled
    }

    /// Runs every tick in `[next, now]`, in time order; returns their records.
    pub fn run_due(&mut self, now: Micros) -> Vec<RunRecord> {
        if now < self.next {
            return Vec::new();
        }
        let mut due: Vec<(Micros, usize)> = Vec::new();
        let catch_up = self.catch_up.take();
        for (gi, slot) in self.slots.iter_mut().enumerate() {
            let group = &slot.group;
            let mut ticks: Vec<Micros> = slot.schedule.ticks(self.next, now.saturating_add(1), &self.tz).take(100_000).collect();
            if catch_up.is_some() {
                metrics::global().ticks_missed(ticks.len() as u64, 0);
            }
            if let Some(keep) = catch_up.filter(|k| ticks.len() > *k) {
                let skipped = ticks.len() - keep;
                metrics::global().ticks_missed(0, skipped as u64);
                eprintln!(
                    "vigil serve: {skipped} missed tick(s) of `{}` ({}) not run: past max_catch_up = {keep}",
                    group.cron,
                    group.names.join(", ")
                );
                ticks.drain(..skipped);
                slot.missed_ticks += skipped as u64;
            }
            due.extend(ticks.into_iter().map(|t| (t, gi)));
        }
        self.next = now.saturating_add(1);
        // Time order; within a tick, slot order: event detections before Correlation ones.
        due.sort();
        let mut records: Vec<(Micros, RunRecord)> = Vec::new();
        for (t, gi) in due {
            // Stopping: ticks from here on are run at the next start (catch-up).
            if self.stop.load(Ordering::SeqCst) && records.last().is_none_or(|r| r.0 != t) {
                self.next = t;
                break;
            }
            records.push((t, self.run_one(gi, t, false)));
        }
        if !self.stop.load(Ordering::SeqCst) {
            let reruns = self.run_reruns();
            records.extend(reruns.into_iter().map(|r| (0, r)));
        }
        // Saved after the runs: a crash in between runs them again, and the risk index keeps
        // one copy of each alert (its dedup key).
        self.save_state();
        records.into_iter().map(|(_, r)| r).collect()
    }

    /// Runs evaluated again for late events (`late_events = "rerun"`), oldest first.
    fn run_reruns(&mut self) -> Vec<RunRecord> {
        let Some(late) = self.late.clone() else { return Vec::new() };
        let mut records = Vec::new();
        for (key, tick) in late.pending_reruns() {
            let group = self
                .slots
                .iter()
                .position(|s| !s.reads_risk && (&s.group.cron, &s.group.earliest, &s.group.latest) == (&key.0, &key.1, &key.2));
            if let Some(gi) = group {
                records.push(self.run_one(gi, tick, true));
            }
            late.rerun_done(&key, tick);
        }
        records
    }

    fn save_state(&self) {
        let tmp = self.state_path.with_extension("json.tmp");
        let text = serde_json::to_vec(&SavedState { next: self.next, first: Some(self.first) }).unwrap_or_default();
        if let Err(e) = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &self.state_path)) {
            eprintln!("vigil serve: cannot save the scheduler state in {}: {e}", self.state_path.display());
        }
    }

    /// One run of group `gi` at `tick`. A rerun sees every stored event of its window; a
    /// regular run only those that had arrived by its tick.
    fn run_one(&mut self, gi: usize, tick: Micros, rerun: bool) -> RunRecord {
        let started = vigil_time::now_micros();
        let clock = std::time::Instant::now();
        let mut rec = RunRecord::new(self.slots[gi].group.names.clone(), tick, started, rerun);
        if let (false, Some(late)) = (rerun, &self.late) {
            let g = &self.slots[gi].group;
            rec.late_events = late.take_since_run(&(g.cron.clone(), g.earliest.clone(), g.latest.clone()));
        }
        let mut errors = Vec::new();
        let group = &self.slots[gi].group;
        match Window::for_run(&group.earliest, &group.latest, tick, &self.tz) {
            Err(e) => errors.push(format!("window: {e}")),
            Ok(window) => {
                rec.window_earliest = iso(window.earliest);
                rec.window_latest = iso(window.latest);
                // Each detection's alerts are recorded as it finishes (`raise.rs`).
                match self.slots[gi].reads_risk {
                    false => self.scan_window(gi, tick, window, rerun, &mut rec, &mut errors),
                    true => self.correlate(gi, tick, window, &mut rec, &mut errors),
                }
                raiser(&self.content, &self.extra_detections, &mut self.risk, &self.actions, tick, window).incidents(&mut rec, &mut errors);
            }
        }
        rec.duration_ms = clock.elapsed().as_millis() as u64;
        metrics::global().run(errors.is_empty(), clock.elapsed().as_secs_f64());
        if !errors.is_empty() {
            rec.error = Some(errors.join("; "));
        }
        self.append_record(&rec);
        rec
    }

    /// An event schedule's run: the stored segments of the window, scanned and finished, each
    /// detection's results raised before the next detection is finished.
    fn scan_window(&mut self, gi: usize, tick: Micros, window: Window, rerun: bool, rec: &mut RunRecord, errors: &mut Vec<String>) {
        self.slots[gi].group.runs = Runs::new(vec![(tick, window)]);
        let paths = store::segments(&self.store_root, window).unwrap_or_else(|e| {
            errors.push(format!("store: {e}"));
            Vec::new()
        });
        rec.segments = paths.len();
        let groups = std::slice::from_ref(&self.slots[gi].group);
        // No event has a field with an empty name: a rerun filters nothing by arrival.
        let consumer = Scheduled { groups, arrival_field: if rerun { "" } else { "_indextime" } };
        let scanned = self.driver.scan(&consumer, &self.normalizer, vigil_scan::Inputs { paths: &paths, read: &self.opts });
        rec.events_scanned = scanned.report.events;
        let mut state = scanned.state;
        let ctx = EvalContext { now: tick, tz: self.tz.clone() };
        let mut raiser = raiser(&self.content, &self.extra_detections, &mut self.risk, &self.actions, tick, window);
        let mut raised = Vec::new();
        // On the driver's worker threads (rayon's global pool, which the driver sized).
        let failures = finish_runs_each(groups, &mut state, &ctx, &mut |h| {
            raiser.raise(RunHit { name: h.name, rows: h.rows, risk_input: None }, rec, &mut raised);
        });
        errors.extend(failures);
        errors.extend(raised);
    }

    /// A Correlation schedule's run: the risk events of the window in the risk index (all
    /// raised by runs up to this tick, this tick's event detections included).
    fn correlate(&mut self, gi: usize, tick: Micros, window: Window, rec: &mut RunRecord, errors: &mut Vec<String>) {
        let input = match self.risk.risk_events_json(window.earliest, window.latest) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("risk index: {e}"));
                return;
            }
        };
        rec.events_scanned = input.len() as u64;
        if input.is_empty() {
            return;
        }
        let ctx = EvalContext { now: tick, tz: self.tz.clone() };
        let input = Arc::new(input);
        let outputs = vigil_scan::correlation::run(&self.driver, &self.slots[gi].group.engine, &self.normalizer, &input, &ctx);
        let mut raiser = raiser(&self.content, &self.extra_detections, &mut self.risk, &self.actions, tick, window);
        for o in outputs {
            match o.result {
                Ok(rows) if rows.is_empty() => {}
                Ok(rows) => raiser.raise(RunHit { name: o.name, rows, risk_input: Some(input.clone()) }, rec, errors),
                Err(e) => errors.push(format!("detection `{}` failed at run {}: {e}", o.name, iso(tick))),
            }
        }
    }

    fn append_record(&mut self, rec: &RunRecord) {
        let Some(log) = &self.runs_log else {
            let json = serde_json::to_value(rec).unwrap_or_default();
            if let Err(e) = self.risk.record_run(&rec.detections, &json) {
                eprintln!("vigil serve: cannot record a run: {e}");
            }
            return;
        };
        let line = serde_json::to_string(rec).unwrap_or_default();
        let written = std::fs::OpenOptions::new().create(true).append(true).open(log).and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("vigil serve: cannot record a run in {}: {e}", log.display());
        }
    }
}

/// Where a run at `tick` over `window` raises its alerts. From the scheduler's fields, not
/// the scheduler: the run's group stays borrowed while its detections are raised.
fn raiser<'a>(
    content: &'a ContentSet,
    extra_detections: &'a [Detection],
    risk: &'a mut RiskStore,
    actions: &'a Option<Arc<Actions>>,
    tick: Micros,
    window: Window,
) -> Raiser<'a> {
    Raiser { content, extra_detections, risk, actions: actions.as_deref(), tick, window }
}

/// Where a single node appends its run records (one JSON line per run).
pub fn runs_log_path(data_dir: &Path) -> PathBuf {
    data_dir.join("runs.jsonl")
}

fn iso(t: Micros) -> String {
    vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%SZ", &Tz::utc())
}
