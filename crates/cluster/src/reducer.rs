//! The reducer role: a consumer group of its own on the partials topic.
//!
//! It keeps one partial per `(schedule, tick, partition)` (a partial published again after a
//! worker's restart replaces its identical copy); once every partition's partial of a run is
//! there, they are merged in partition order, finished with `now` = the tick (the same
//! `finish_runs` as backtest and serve), the run's results written to
//! `results/<schedule>-<tick>.jsonl` (replaced whole, in `vigil backtest --format jsonl`'s
//! lines) and its notables and risk events recorded in the alert store (one copy per alert
//! identity; with `[alerts] postgres` one store shared by every reducer and `--role api`). Offsets are committed only below the oldest partial still waiting, so a
//! reducer killed at any moment re-reads what it had not finished; runs finished twice give
//! the same file and no second alert.

use crate::kafka;
use crate::partial::PartialId;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vigil_alert::{build_alerts, AlertContext, IncidentRules, RiskStore};
use vigil_content::ContentSet;
use vigil_engine::{EvalContext, ScanState};
use vigil_model::{Micros, Record};
use vigil_scan::schedule::{finish_runs, iso, Runs, ScheduledState};
use vigil_time::Tz;

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
}

impl Reducer {
    /// `alerts`: where the alerts go (`[alerts]`: PostgreSQL, shared by every reducer, else
    /// this reducer's own `risk.db`).
    pub fn new(role: Role, content: ContentSet, data_dir: &Path, alerts: &vigil_serve::config::AlertsConfig) -> Result<Reducer, String> {
        let results = data_dir.join("results");
        std::fs::create_dir_all(&results).map_err(|e| format!("{}: {e}", results.display()))?;
        let risk = alerts.open(data_dir)?;
        eprintln!("vigil reducer: alert store {}", risk.describe());
        Ok(Reducer { role, content, risk, results, pending: HashMap::new(), done: HashSet::new() })
    }

    /// Takes one partial; finishes its run when it was the last one missing.
    pub fn take(&mut self, id: PartialId, bytes: Vec<u8>, at: (i32, i64)) -> Result<(), String> {
        let run = (id.schedule.clone(), id.tick);
        if self.done.contains(&run) {
            return Ok(());
        }
        let pending = self.pending.entry(run.clone()).or_insert_with(|| Pending {
            partitions: id.partitions,
            parts: BTreeMap::new(),
            offsets: Vec::new(),
        });
        pending.parts.insert(id.partition, bytes);
        pending.offsets.push(at);
        if pending.parts.len() < usize::try_from(pending.partitions).unwrap_or(usize::MAX) {
            return Ok(());
        }
        let Some(pending) = self.pending.remove(&run) else { return Ok(()) };
        self.finish(&run.0, run.1, pending.parts)?;
        self.done.insert(run);
        Ok(())
    }

    /// The offset to commit per partials partition: below the oldest partial still waiting,
    /// else past everything read.
    fn commit_points(&self, read: &HashMap<i32, i64>) -> Vec<(i32, i64)> {
        read.iter()
            .map(|(p, next)| {
                let oldest = self.pending.values().flat_map(|w| w.offsets.iter()).filter(|(q, _)| q == p).map(|(_, o)| *o).min();
                (*p, oldest.unwrap_or(*next))
            })
            .collect()
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
        let mut lines = Vec::new();
        let mut alerts = Vec::new();
        for h in &hits {
            for row in &h.rows {
                let line = ResultLine {
                    detection: &h.name,
                    run_time: iso(h.run_time),
                    window_earliest: iso(window.earliest),
                    window_latest: iso(window.latest),
                    result: row,
                };
                serde_json::to_writer(&mut lines, &line).map_err(|e| e.to_string())?;
                lines.push(b'\n');
            }
            let Some(det) = self.content.detection(&h.name) else { continue };
            let search = vigil_spl::expand_macros(&det.search, &self.content, &vigil_spl::ExpandLimits::default()).ok();
            let actx = AlertContext::scheduled_run(search, tick, (window.earliest, window.latest));
            alerts.extend(build_alerts(det, self.content.deployment_for(det), &h.rows, &actx));
        }
        write_replacing(&self.results.join(format!("{schedule}-{tick}.jsonl")), &lines)?;
        let recorded = self.risk.record(&alerts).map_err(|e| format!("risk index: {e}"))?;
        self.risk.evaluate_incidents(tick, &IncidentRules::default()).map_err(|e| format!("risk index: {e}"))?;
        eprintln!(
            "vigil reducer: run {} of `{}` ({}): {} partial(s) merged, {} result(s), {} alert(s) ({recorded} new) in {} ms",
            iso(tick),
            s.group.cron,
            s.group.names.join(", "),
            parts.len(),
            hits.iter().map(|h| h.rows.len()).sum::<usize>(),
            alerts.len(),
            started.elapsed().as_millis()
        );
        Ok(())
    }
}

/// Writes `bytes` to `path` whole (a temporary file renamed over it).
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    written.map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs the reducer until the process is stopped.
pub fn run(mut reducer: Reducer) -> Result<(), String> {
    let cfg = reducer.role.cfg.clone();
    kafka::ensure_topics(&cfg)?;
    let consumer: BaseConsumer = kafka::client(&cfg)
        .set("group.id", &cfg.reducer_group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .map_err(|e| format!("kafka consumer ({}): {e}", cfg.brokers))?;
    consumer.subscribe(&[cfg.partials_topic.as_str()]).map_err(|e| format!("kafka: subscribe {}: {e}", cfg.partials_topic))?;
    eprintln!("vigil reducer: group {} on {}, {} schedule(s)", cfg.reducer_group, cfg.partials_topic, reducer.role.schedules.len());
    let mut read: HashMap<i32, i64> = HashMap::new();
    let mut committed: HashMap<i32, i64> = HashMap::new();
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                read.insert(m.partition(), m.offset() + 1);
                match (PartialId::from_headers(m.headers()), m.payload()) {
                    (Some(id), Some(bytes)) => reducer.take(id, bytes.to_vec(), (m.partition(), m.offset()))?,
                    _ => eprintln!("vigil reducer: record {}/{}@{} is not a partial; skipped", m.topic(), m.partition(), m.offset()),
                }
            }
            Some(Err(e)) => eprintln!("vigil reducer: {e}"),
            None => {}
        }
        let points: Vec<(i32, i64)> = reducer.commit_points(&read).into_iter().filter(|(p, o)| committed.get(p) != Some(o)).collect();
        if points.is_empty() {
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in &points {
            tpl.add_partition_offset(&cfg.partials_topic, *p, Offset::Offset(*o)).map_err(|e| e.to_string())?;
        }
        match consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => committed.extend(points),
            Err(e) => eprintln!("vigil reducer: commit: {e}"),
        }
    }
}
