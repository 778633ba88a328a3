//! The reducer role: a consumer group of its own on the partials topic.
//!
//! It keeps one partial per `(schedule, tick, partition)` (a partial published again after a
//! worker's restart replaces its identical copy); once every partition's partial of a run is
//! there, they are merged in partition order, finished with `now` = the tick (the same
//! `finish_runs` as backtest and serve), the run's results written to
//! `results/<schedule>-<tick>.jsonl` (replaced whole, in `vigil backtest --format jsonl`'s
//! lines) and its notables and risk events recorded in the alert store (one copy per alert
//! identity; with `[alerts] postgres` one store shared by every reducer and `--role api`).
//! Offsets are committed only below the oldest partial still waiting, so a
//! reducer killed at any moment re-reads what it had not finished; runs finished twice give
//! the same file and no second alert.
//!
//! Several reducers split the partials partitions (every partial of a run is in one of them,
//! see partial.rs). A reducer that loses a partition in a rebalance drops that partition's
//! waiting runs and stops committing for it: the new owner re-reads from the committed offset,
//! below all of them. The reducers share the alert store and the results directory: a run's
//! results file, written after its alerts, marks it finished for every reducer (a worker that
//! republished a partial after a crash does not reopen it).

use crate::assignment::{self, Change, Starts};
use crate::correlate::Correlations;
use crate::kafka;
use crate::metrics;
use crate::partial::PartialId;
use crate::plan::Planned;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vigil_alert::{build_alerts_with_risk, AlertContext, IncidentRules, RiskStore};
use vigil_content::{ContentSet, Detection};
use vigil_engine::{EvalContext, ScanState};
use vigil_model::{Micros, Record};
use vigil_scan::schedule::{finish_runs, iso, Runs, ScheduledState};
use vigil_time::{Tz, Window};

use crate::worker::Role;

/// A run's partials received so far.
struct Pending {
    partitions: i32,
    parts: BTreeMap<i32, Vec<u8>>,
    /// (partials partition, offset) of every record that brought a partial.
    offsets: Vec<(i32, i64)>,
}

/// A result line, as `vigil backtest --format jsonl` writes it.
#[derive(Serialize)]
struct ResultLine<'a> {
    detection: &'a str,
    run_time: String,
    window_earliest: String,
    window_latest: String,
    result: &'a Record,
}

pub struct Reducer {
    role: Role,
    content: ContentSet,
    risk: RiskStore,
    results: PathBuf,
    pending: HashMap<(String, Micros), Pending>,
    /// Runs finished by this process (a partial of one arriving again is ignored).
    done: HashSet<(String, Micros)>,
    /// Partials partitions owned, with the next offset read (None: nothing read yet).
    read: HashMap<i32, Option<i64>>,
    /// Offsets committed per owned partition.
    committed: HashMap<i32, i64>,
    /// Correlation detections, run once the event runs they read are finished.
    correlations: Correlations,
    /// Runs the Correlation searches (made at the first one).
    driver: Option<vigil_scan::Driver>,
    /// Detections not in `content` (Sigma rules, planned by the caller).
    extra_detections: Vec<Detection>,
}

impl Reducer {
    /// `alerts`: where the alerts go (`[alerts]`: PostgreSQL, shared by every reducer, else
    /// this reducer's own `risk.db`).
    /// `content`: the content and the detections planned apart (Sigma rules), for the alerts.
    pub fn new(
        role: Role,
        correlations: Vec<Planned>,
        (content, extra_detections): (ContentSet, Vec<Detection>),
        data_dir: &Path,
        alerts: &vigil_serve::config::AlertsConfig,
    ) -> Result<Reducer, String> {
        let results = data_dir.join("results");
        std::fs::create_dir_all(&results).map_err(|e| format!("{}: {e}", results.display()))?;
        let risk = alerts.open(data_dir)?;
        eprintln!("vigil reducer: alert store {}", risk.describe());
        let correlations = Correlations::new(correlations, &role.schedules);
        Ok(Reducer {
            role,
            content,
            risk,
            results,
            pending: HashMap::new(),
            done: HashSet::new(),
            read: HashMap::new(),
            committed: HashMap::new(),
            correlations,
            driver: None,
            extra_detections,
        })
    }

    fn results_file(&self, schedule: &str, tick: Micros) -> PathBuf {
        results_file(&self.results, schedule, tick)
    }

    /// Finished by this reducer, or by another one sharing the results directory.
    fn finished(&self, run: &(String, Micros)) -> bool {
        self.done.contains(run) || self.results_file(&run.0, run.1).exists()
    }

    /// Applies the group's changes: a partition lost takes its waiting runs with it (the new
    /// owner re-reads them from the committed offset, which is below all of them).
    fn apply(&mut self, changes: Vec<Change>) -> Result<(), String> {
        for change in changes {
            let lost: Vec<i32> = match change {
                Change::Failed(e) => return Err(e),
                Change::Assigned(gained) => {
                    for (p, _) in gained {
                        self.read.insert(p, None);
                        self.committed.remove(&p);
                    }
                    continue;
                }
                Change::Revoked(lost) => lost,
                Change::LostAll => self.read.keys().copied().collect(),
            };
            for p in lost {
                self.read.remove(&p);
                self.committed.remove(&p);
                let before = self.pending.len();
                self.pending.retain(|_, run| run.offsets.first().is_none_or(|(q, _)| *q != p));
                if self.pending.len() < before {
                    eprintln!("vigil reducer: partition {p} lost: {} waiting run(s) left to its new owner", before - self.pending.len());
                }
            }
        }
        metrics::global().pending_runs(self.pending.len());
        Ok(())
    }

    /// Takes one partial; finishes its run when it was the last one missing.
    pub fn take(&mut self, id: PartialId, bytes: Vec<u8>, at: (i32, i64)) -> Result<(), String> {
        let run = (id.schedule.clone(), id.tick);
        if self.finished(&run) {
            return Ok(());
        }
        let pending = self.pending.entry(run.clone()).or_insert_with(|| Pending {
            partitions: id.partitions,
            parts: BTreeMap::new(),
            offsets: Vec::new(),
        });
        pending.parts.insert(id.partition, bytes);
        pending.offsets.push(at);
        if pending.parts.len() >= usize::try_from(pending.partitions).unwrap_or(usize::MAX) {
            if let Some(pending) = self.pending.remove(&run) {
                self.finish(&run.0, run.1, pending.parts)?;
                self.done.insert(run);
                self.correlate_due()?;
            }
        }
        metrics::global().pending_runs(self.pending.len());
        Ok(())
    }

    /// The offsets to commit that changed: per owned partials partition, below the oldest
    /// partial still waiting, else past everything read.
    fn commit_points(&self) -> Vec<(i32, i64)> {
        let mut points = Vec::new();
        for (p, next) in &self.read {
            let Some(next) = next else { continue };
            let oldest = self.pending.values().flat_map(|w| w.offsets.iter()).filter(|(q, _)| q == p).map(|(_, o)| *o).min();
            let point = oldest.unwrap_or(*next);
            if self.committed.get(p) != Some(&point) {
                points.push((*p, point));
            }
        }
        points
    }

    fn finish(&mut self, schedule: &str, tick: Micros, parts: BTreeMap<i32, Vec<u8>>) -> Result<(), String> {
        let Some(s) = self.role.schedules.iter_mut().find(|s| s.id == schedule) else {
            eprintln!("vigil reducer: partials of schedule {schedule} (not run here: other content or selection?) ignored");
            return Ok(());
        };
        let started = Instant::now();
        let engine = &s.group.engine;
        let mut merged: Option<ScanState> = None;
        for (p, bytes) in &parts {
            let st = engine.decode_state(bytes).map_err(|e| format!("partial of partition {p} for {schedule} at {}: {e}", iso(tick)))?;
            match merged.as_mut() {
                None => merged = Some(st),
                Some(m) => engine.merge(m, st),
            }
        }
        let window = s.window(tick)?;
        s.group.runs = Runs::new(vec![(tick, window)]);
        let mut state = ScheduledState { states: vec![vec![merged]], ..ScheduledState::default() };
        let ctx = EvalContext { now: tick, tz: Tz::utc() };
        let (hits, failures) = finish_runs(std::slice::from_ref(&s.group), &mut state, &ctx, &|| {});
        for f in &failures {
            eprintln!("vigil reducer: {f}");
        }
        let label = format!("`{}` ({})", s.group.cron, s.group.names.join(", "));
        let hits: Vec<(String, Vec<Record>)> = hits.into_iter().map(|h| (h.name, h.rows)).collect();
        let run = Run { schedule, tick, window, hits: &hits, risk_input: None };
        self.conclude(&run, &format!("{label}: {} partial(s) merged", parts.len()), started)
    }

    /// The Correlation ticks that became due: each run over the alert store's risk events of
    /// its window (see correlate.rs).
    fn correlate_due(&mut self) -> Result<(), String> {
        if self.correlations.is_empty() {
            return Ok(());
        }
        let now = (self.role.clock)();
        let (results, done) = (&self.results, &self.done);
        let finished = |id: &str, t: Micros| done.contains(&(id.to_string(), t)) || results_file(results, id, t).exists();
        for (i, tick) in self.correlations.due(&self.role.schedules, now, &finished) {
            let id = self.correlations.schedules[i].id.clone();
            if !self.finished(&(id.clone(), tick)) {
                self.correlate(i, tick)?;
            }
            self.done.insert((id, tick));
        }
        Ok(())
    }

    fn correlate(&mut self, i: usize, tick: Micros) -> Result<(), String> {
        let started = Instant::now();
        let c = &self.correlations.schedules[i];
        let window = c.window(tick)?;
        let input = self.risk.risk_events_json(window.earliest, window.latest).map_err(|e| format!("risk index: {e}"))?;
        let ctx = EvalContext { now: tick, tz: Tz::utc() };
        let mut hits = Vec::new();
        if !input.is_empty() {
            let driver = match self.driver.take() {
                Some(d) => d,
                None => vigil_scan::Driver::new(None)?,
            };
            for o in vigil_scan::correlation::run(&driver, &c.group.engine, &self.role.normalizer, &input, &ctx) {
                match o.result {
                    Ok(rows) => hits.push((o.name, rows)),
                    Err(e) => eprintln!("vigil reducer: detection `{}` failed at run {}: {e}", o.name, iso(tick)),
                }
            }
            self.driver = Some(driver);
        }
        let label = format!("`{}` ({}): {} risk event(s) read", c.group.cron, c.group.names.join(", "), input.len());
        let id = c.id.clone();
        let run = Run { schedule: &id, tick, window, hits: &hits, risk_input: Some(&input) };
        self.conclude(&run, &label, started)
    }

    /// A finished run's results file and alerts; the file last (it marks the run finished).
    fn conclude(&mut self, run: &Run, label: &str, started: Instant) -> Result<(), String> {
        let (tick, window) = (run.tick, run.window);
        let mut lines = Vec::new();
        let mut alerts = Vec::new();
        for (name, rows) in run.hits {
            for row in rows {
                let line = ResultLine {
                    detection: name,
                    run_time: iso(tick),
                    window_earliest: iso(window.earliest),
                    window_latest: iso(window.latest),
                    result: row,
                };
                serde_json::to_writer(&mut lines, &line).map_err(|e| e.to_string())?;
                lines.push(b'\n');
            }
            let Some(det) = self.content.detection(name).or_else(|| self.extra_detections.iter().find(|d| d.name == *name)) else {
                continue;
            };
            let search = vigil_spl::expand_macros(&det.search, &self.content, &vigil_spl::ExpandLimits::default()).ok();
            let actx = AlertContext::scheduled_run(search, tick, (window.earliest, window.latest));
            alerts.extend(build_alerts_with_risk(det, self.content.deployment_for(det), rows, &actx, run.risk_input));
        }
        let recorded = self.risk.record(&alerts).map_err(|e| format!("risk index: {e}"))?;
        self.risk.evaluate_incidents(tick, &IncidentRules::default()).map_err(|e| format!("risk index: {e}"))?;
        write_replacing(&results_file(&self.results, run.schedule, tick), &lines)?;
        metrics::global().run_finished(started.elapsed().as_secs_f64());
        eprintln!(
            "vigil reducer: run {} of {label}, {} result(s), {} alert(s) ({recorded} new) in {} ms",
            iso(tick),
            run.hits.iter().map(|(_, rows)| rows.len()).sum::<usize>(),
            alerts.len(),
            started.elapsed().as_millis()
        );
        Ok(())
    }
}

/// One finished run, as [`Reducer::conclude`] records it.
struct Run<'a> {
    schedule: &'a str,
    tick: Micros,
    window: Window,
    hits: &'a [(String, Vec<Record>)],
    /// A Correlation run's input (its notables carry the risk events they counted).
    risk_input: Option<&'a [serde_json::Value]>,
}

/// A run's results (and the mark that it was finished).
fn results_file(dir: &Path, schedule: &str, tick: Micros) -> PathBuf {
    dir.join(format!("{schedule}-{tick}.jsonl"))
}

/// Writes `bytes` to `path` whole (a temporary file of this process renamed over it: two
/// reducers may write the same run's file).
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    written.map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs the reducer until the process is stopped.
pub fn run(mut reducer: Reducer) -> Result<(), String> {
    let cfg = reducer.role.cfg.clone();
    kafka::ensure_topics(&cfg)?;
    let consumer = assignment::consumer(&cfg, &cfg.reducer_group, Starts::Committed)?;
    consumer.subscribe(&[cfg.partials_topic.as_str()]).map_err(|e| format!("kafka: subscribe {}: {e}", cfg.partials_topic))?;
    eprintln!("vigil reducer: group {} on {}, {} schedule(s)", cfg.reducer_group, cfg.partials_topic, reducer.role.schedules.len());
    let mut looked = Instant::now();
    loop {
        // Another reducer may have finished the event runs a Correlation tick waited for.
        if looked.elapsed() >= Duration::from_secs(1) {
            looked = Instant::now();
            reducer.correlate_due()?;
        }
        let polled = consumer.poll(Duration::from_millis(200));
        // Rebalances run inside poll: apply them before the record it returned.
        reducer.apply(consumer.context().take())?;
        match polled {
            Some(Ok(m)) => {
                let p = m.partition();
                let Some(next) = reducer.read.get_mut(&p) else {
                    continue; // fetched before the partition was revoked
                };
                *next = Some(m.offset() + 1);
                metrics::global().record_read();
                match (PartialId::from_headers(m.headers()), m.payload()) {
                    (Some(id), Some(bytes)) => reducer.take(id, bytes.to_vec(), (p, m.offset()))?,
                    _ => eprintln!("vigil reducer: record {}/{p}@{} is not a partial; skipped", m.topic(), m.offset()),
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => eprintln!("vigil reducer: {e}"),
        }
        let points = reducer.commit_points();
        if points.is_empty() {
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in &points {
            tpl.add_partition_offset(&cfg.partials_topic, *p, Offset::Offset(*o)).map_err(|e| e.to_string())?;
        }
        match consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => reducer.committed.extend(points),
            Err(e) => eprintln!("vigil reducer: commit: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reducer(dir: &Path) -> Reducer {
        let content = ContentSet::builtin();
        let normalizer = vigil_normalize::Normalizer::builtin().unwrap();
        let selection = vigil_serve::selection::Selection { enable: vec!["Windows MSIExec Remote Download".into()], ..Default::default() };
        let schedules = crate::plan::plan(&content, &normalizer, &selection, Vec::new(), 0, None).unwrap().events;
        let role = Role { cfg: crate::ClusterConfig::default(), schedules, normalizer, from: 0, clock: Box::new(|| 0) };
        Reducer::new(role, Vec::new(), (content, Vec::new()), dir, &vigil_serve::config::AlertsConfig::default()).unwrap()
    }

    fn id(tick: Micros, partition: i32) -> PartialId {
        PartialId { schedule: "s".into(), tick, partition, partitions: 2 }
    }

    #[test]
    fn a_lost_partition_takes_its_waiting_runs_and_its_commits_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = reducer(dir.path());
        r.apply(vec![Change::Assigned(vec![(0, None), (1, None)])]).unwrap();
        r.take(id(10, 0), vec![1], (0, 5)).unwrap();
        r.take(id(20, 1), vec![1], (1, 7)).unwrap();
        *r.read.get_mut(&0).unwrap() = Some(6);
        *r.read.get_mut(&1).unwrap() = Some(9);
        let mut points = r.commit_points();
        points.sort();
        assert_eq!(points, vec![(0, 5), (1, 7)], "commits stay below the waiting partials");
        r.committed.extend(points);
        assert!(r.commit_points().is_empty(), "nothing new to commit");

        r.apply(vec![Change::Revoked(vec![1])]).unwrap();
        assert_eq!(r.pending.len(), 1, "partition 1's waiting run is dropped");
        assert!(r.pending.contains_key(&("s".to_string(), 10)));
        assert!(r.commit_points().is_empty(), "no commit for a partition no longer owned");

        // Given back: nothing is committed for it before a record of it is read.
        r.apply(vec![Change::Assigned(vec![(1, None)])]).unwrap();
        assert!(r.commit_points().is_empty());
        r.apply(vec![Change::LostAll]).unwrap();
        assert!(r.pending.is_empty() && r.read.is_empty());
    }

    #[test]
    fn a_run_whose_results_file_exists_is_finished_for_every_reducer() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = reducer(dir.path());
        r.apply(vec![Change::Assigned(vec![(0, None)])]).unwrap();
        std::fs::write(r.results_file("s", 10), "").unwrap();
        r.take(id(10, 0), vec![1], (0, 3)).unwrap();
        assert!(r.pending.is_empty(), "a partial republished for a finished run reopens nothing");
    }
}
