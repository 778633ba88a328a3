//! The worker role: a member of the workers' consumer group on the events topic.
//!
//! Per assigned partition it keeps the open windows (`windows.rs`), restored from the
//! partition's checkpoint when it gets the partition (after a start or a rebalance; the
//! partition is then read from the checkpoint's offset, see `assignment.rs`). Each
//! record is read by the same readers as a file (or unwrapped from a HEC envelope), enriched
//! and normalized as the scan driver does, and routed. After each poll, windows that can close
//! are published as partials; then the partition is checkpointed and its offset committed.
//! The order (partials acknowledged, checkpoint acknowledged, offset committed) means a crash
//! at any point redoes work from the last checkpoint and republishes identical partials.

use crate::assignment::{self, AssignmentContext, Change, Starts};
use crate::checkpoint;
use crate::kafka::{self, Outgoing};
use crate::metrics;
use crate::partial::{header_text, PartialId};
use crate::plan::Planned;
use crate::windows::PartitionWindows;
use crate::ClusterConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::Duration;
use vigil_model::{DatasetRow, Event, Micros};
use vigil_normalize::Normalizer;
use vigil_read::ReadOptions;

/// What a role runs: the cluster settings, the planned schedules, the clock.
pub struct Role {
    pub cfg: ClusterConfig,
    pub schedules: Vec<Planned>,
    pub normalizer: Normalizer,
    pub from: Micros,
    pub clock: Box<dyn Fn() -> Micros + Send>,
}

struct Worker {
    role: Role,
    parts: BTreeMap<i32, PartitionWindows>,
    partitions: i32,
    producer: FutureProducer,
    rt: tokio::runtime::Runtime,
    opts: ReadOptions,
    /// Per dataset: whether a schedule reads its rows (rows nobody reads are not built).
    wanted: Vec<bool>,
    /// This member's client id, written into its checkpoints.
    client_id: String,
}

/// Runs the worker until the process is stopped.
pub fn run(role: Role) -> Result<(), String> {
    kafka::ensure_topics(&role.cfg)?;
    let cfg = &role.cfg;
    let consumer = assignment::consumer(cfg, &cfg.worker_group, Starts::Checkpoints)?;
    consumer.subscribe(&[cfg.events_topic.as_str()]).map_err(|e| format!("kafka: subscribe {}: {e}", cfg.events_topic))?;
    let partitions = kafka::partition_count(&consumer, &cfg.events_topic)?;
    eprintln!(
        "vigil worker: group {} on {} ({partitions} partitions), {} schedule(s)",
        cfg.worker_group,
        cfg.events_topic,
        role.schedules.len()
    );
    let producer = kafka::producer(cfg)?;
    let datasets = role.normalizer.catalog().datasets.len();
    let wanted = (0..datasets).map(|d| role.schedules.iter().any(|s| s.group.engine.wants_dataset(d))).collect();
    let client_id = assignment::client_id(&cfg.worker_group);
    let mut w = Worker {
        role,
        parts: BTreeMap::new(),
        partitions,
        producer,
        rt: kafka::runtime()?,
        opts: ReadOptions::default(),
        wanted,
        client_id,
    };
    loop {
        let polled = consumer.poll(Duration::from_millis(100));
        // Rebalances run inside poll: apply them before the record it returned.
        w.apply(consumer.context().take())?;
        match polled {
            Some(Ok(m)) => w.on_record(&m),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                if let Some(pw) = w.parts.get_mut(&p) {
                    pw.at_end = true;
                }
            }
            Some(Err(e)) => eprintln!("vigil worker: {e}"),
            None => {}
        }
        w.close_and_checkpoint(&consumer)?;
    }
}

impl Worker {
    /// Applies the group's changes: partitions lost drop their windows (the new owner
    /// resumes from the checkpoint); partitions gained are restored from their checkpoints.
    fn apply(&mut self, changes: Vec<Change>) -> Result<(), String> {
        for change in changes {
            match change {
                Change::Revoked(lost) => {
                    for p in lost {
                        self.parts.remove(&p);
                    }
                }
                Change::LostAll => self.parts.clear(),
                Change::Failed(e) => return Err(e),
                Change::Assigned(gained) => {
                    for (p, saved) in gained {
                        let w = match saved {
                            Some(bytes) => {
                                let w = checkpoint::decode(&bytes, &self.role.schedules, self.role.from)
                                    .map_err(|e| format!("checkpoint of partition {p}: {e}"))?;
                                eprintln!("vigil worker: partition {p}: resumed from its checkpoint at offset {}", w.next_offset);
                                w
                            }
                            None => {
                                eprintln!("vigil worker: partition {p}: no checkpoint, from its start");
                                PartitionWindows::new(p, &self.role.schedules, self.role.from)
                            }
                        };
                        self.parts.insert(p, w);
                    }
                }
            }
        }
        Ok(())
    }

    fn on_record(&mut self, m: &BorrowedMessage) {
        let p = m.partition();
        let Some(w) = self.parts.get_mut(&p) else {
            eprintln!("vigil worker: record of partition {p}, not assigned to this worker, skipped");
            return;
        };
        if m.offset() < w.next_offset {
            return; // in the checkpoint already (read again after a rebalance)
        }
        let arrival = m.timestamp().to_millis().map_or_else(|| (self.role.clock)(), |ms| ms.saturating_mul(1000));
        w.read_record(m.offset(), arrival);
        metrics::global().record_read();
        let Some(value) = m.payload() else { return };
        let host = header_text(m.headers(), "host");
        let sourcetype = header_text(m.headers(), "sourcetype").or_else(|| self.role.cfg.sourcetype.clone());
        let origin = format!("kafka:{}/{p}@{}", m.topic(), m.offset());
        let schedules = &mut self.role.schedules;
        let normalizer = &self.role.normalizer;
        let wanted = &self.wanted;
        let mut events: Vec<Event> = Vec::new();
        read_record(value, sourcetype.as_deref(), host.as_deref(), &origin, &self.opts, &mut |ev| events.push(ev));
        let (mut rows, mut enriched) = (Vec::<DatasetRow>::new(), Event::default());
        for ev in &events {
            let ev: &Event = if normalizer.enrich(ev, &mut enriched) { &enriched } else { ev };
            rows.clear();
            normalizer.normalize_filtered(ev, &|d| wanted.get(d).copied().unwrap_or(false), &mut rows);
            w.route(schedules, ev, &rows, arrival);
        }
    }

    /// Publishes the windows that closed, then checkpoints and commits the partitions that
    /// closed windows or read `checkpoint_records` records since their last checkpoint.
    fn close_and_checkpoint(&mut self, consumer: &BaseConsumer<AssignmentContext>) -> Result<(), String> {
        let now = (self.role.clock)();
        let grace = self.role.cfg.grace();
        for (p, w) in self.parts.iter_mut() {
            let closed = w.close(&mut self.role.schedules, now, grace);
            // Also at the end of the partition: an idle partition's committed offset (its lag,
            // and what a new owner re-reads) catches up with what was read.
            let due = w.since_checkpoint >= self.role.cfg.checkpoint_records.max(1) || (w.at_end && w.since_checkpoint > 0);
            if closed.is_empty() && !due {
                continue;
            }
            let mut partials = Vec::with_capacity(closed.len());
            for c in &closed {
                let s = &self.role.schedules[c.schedule];
                let bytes = s.group.engine.encode_state(&c.state).map_err(|e| format!("partial: {e}"))?;
                metrics::global().window_closed(c.tick, now, bytes.len());
                let id = PartialId { schedule: s.id.clone(), tick: c.tick, partition: *p, partitions: self.partitions };
                partials.push((id.key(), bytes, id.headers()));
            }
            let topic = &self.role.cfg.partials_topic;
            let records = partials
                .iter()
                .map(|(k, v, h)| Outgoing { topic, key: k.as_bytes(), value: v, headers: h.clone(), timestamp_ms: None })
                .collect();
            kafka::produce_all(&self.rt, &self.producer, records)?;
            let saved = checkpoint::encode(w, &self.role.schedules, &self.client_id)?;
            let key = checkpoint::key(&self.role.cfg.events_topic, *p);
            let record = Outgoing {
                topic: &self.role.cfg.checkpoints_topic,
                key: key.as_bytes(),
                value: &saved,
                headers: OwnedHeaders::new(),
                timestamp_ms: None,
            };
            kafka::produce_all(&self.rt, &self.producer, vec![record])?;
            metrics::global().checkpoint_written(saved.len());
            w.since_checkpoint = 0;
            if w.next_offset > 0 {
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition_offset(&self.role.cfg.events_topic, *p, Offset::Offset(w.next_offset)).map_err(|e| e.to_string())?;
                if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
                    // The checkpoint holds the offset too: a lost commit only means re-reading.
                    eprintln!("vigil worker: commit of partition {p}: {e}");
                }
            }
            if !closed.is_empty() {
                eprintln!(
                    "vigil worker: partition {p}: {} window(s) closed, up to tick {} (offset {}, {} late event(s) so far)",
                    closed.len(),
                    vigil_scan::schedule::iso(closed[closed.len() - 1].tick),
                    w.next_offset,
                    w.missed
                );
            }
        }
        Ok(())
    }
}

/// The events of one record: a HEC event envelope (`{"event": ..., "sourcetype": ...}`) is
/// unwrapped; anything else is read as a file's content. `sourcetype` and `host` fill in what
/// the readers leave empty (the readers' own knowledge of the format wins, as on one node).
pub fn read_record(
    value: &[u8],
    sourcetype: Option<&str>,
    host: Option<&str>,
    origin: &str,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(Event),
) {
    let mut sourcetype = sourcetype.map(str::to_string);
    let mut host = host.map(str::to_string);
    let mut text: std::borrow::Cow<[u8]> = std::borrow::Cow::Borrowed(value);
    if value.first() == Some(&b'{') {
        if let Ok(serde_json::Value::Object(env)) = serde_json::from_slice::<serde_json::Value>(value) {
            if let Some(event) = env.get("event") {
                let str_of = |k: &str| env.get(k).and_then(|v| v.as_str()).map(str::to_string);
                sourcetype = str_of("sourcetype").or(sourcetype);
                host = str_of("host").or(host);
                text = match event {
                    serde_json::Value::String(s) => std::borrow::Cow::Owned(s.clone().into_bytes()),
                    other => std::borrow::Cow::Owned(other.to_string().into_bytes()),
                };
            }
        }
    }
    vigil_read::read_stream(origin, &text[..], opts, &mut |ev| {
        let mut ev = ev.clone();
        if ev.sourcetype.is_empty() {
            ev.sourcetype = sourcetype.clone().unwrap_or_default();
        }
        if ev.host.is_empty() {
            ev.host = host.clone().unwrap_or_default();
        }
        sink(ev);
    });
}
