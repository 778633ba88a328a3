//! The worker role: a member of the workers' consumer group on the events topic.
//!
//! Per assigned partition it keeps the open windows (`windows.rs`), restored from the
//! partition's checkpoint when it gets the partition (after a start or a rebalance; the
//! partition is then read from the checkpoint's offset, see `assignment.rs`, checked by
//! `resume.rs` on brokers that may answer past it). The records a
//! poll has ready (what librdkafka fetched, up to [`BATCH_RECORDS`]) are read per partition in
//! one reader pass (`records.rs`), enriched and normalized as the scan driver does, and routed
//! record by record; after each record the windows it closes are closed, exactly as if every
//! record were polled alone, so a partial's bytes do not depend on how records were batched.
//! After the batch, closed windows are published as partials; then the partition is
//! checkpointed and its offset committed (when a window closed, every `checkpoint_records`
//! records, and at the partition's end at most every `checkpoint_idle_ms`).
//! The order (partials acknowledged, checkpoint acknowledged, offset committed) means a crash
//! at any point redoes work from the last checkpoint and republishes identical partials.

use crate::assignment::{self, AssignmentContext, Change, Starts};
use crate::checkpoint;
use crate::kafka::{self, Outgoing};
use crate::metrics;
use crate::partial::PartialId;
use crate::plan::Planned;
use crate::records::{self, Record};
use crate::resume::{Resume, Verdict};
use crate::windows::{Closed, PartitionWindows};
use crate::ClusterConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Message, OwnedHeaders};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use vigil_engine::Engine;
use vigil_model::{Event, Micros};
use vigil_normalize::{EnrichBuffers, Normalizer, RowNeeds, Rows};
use vigil_read::{ReadOptions, RecordsReader};

/// Records taken from the consumer before they are read: enough to share a reader pass over
/// many, few enough that the records held (librdkafka's buffers) stay small. Events are not
/// held: each is routed as the reader hands it out, in a buffer the reader reuses.
pub const BATCH_RECORDS: usize = 2000;

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
    /// Per partition: windows closed by the records of the last batch, not yet published.
    closed: BTreeMap<i32, Vec<Closed>>,
    /// Partitions resumed at a checkpoint whose first fetched record is not checked yet
    /// (`resume.rs`; only with `resume_from_partition_start`).
    resuming: BTreeMap<i32, Resume>,
    /// When each partition was last checkpointed (or gained).
    checkpointed_at: BTreeMap<i32, Instant>,
    partitions: i32,
    producer: kafka::Producer,
    opts: ReadOptions,
    /// The rows and columns some schedule reads (rows nobody reads are not built).
    wanted: RowNeeds,
    /// This member's client id, written into its checkpoints.
    client_id: String,
    /// Buffers reused from batch to batch: the reader's, an event's rows, the fields derived
    /// for an event (added to the reader's event and removed after it is routed).
    reader: RecordsReader,
    rows: Rows,
    enrich: EnrichBuffers,
    /// Encoded partials (one buffer per window closed at once) and checkpoints, reused: the
    /// producer copies what it sends, and fresh buffers of a state's size cost page faults.
    encoded: Vec<Vec<u8>>,
    checkpoint: checkpoint::Buffers,
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
    let engines = || role.schedules.iter().map(|s| &s.group.engine);
    let wanted = role.normalizer.row_needs(&|d| engines().any(|e| e.wants_dataset(d)), &|d| Engine::columns_read_by_any(engines(), d));
    let client_id = assignment::client_id(&cfg.worker_group);
    let mut w = Worker {
        role,
        parts: BTreeMap::new(),
        closed: BTreeMap::new(),
        resuming: BTreeMap::new(),
        checkpointed_at: BTreeMap::new(),
        partitions,
        producer,
        opts: ReadOptions::default(),
        wanted,
        client_id,
        reader: RecordsReader::default(),
        rows: Rows::default(),
        enrich: EnrichBuffers::default(),
        encoded: Vec::new(),
        checkpoint: checkpoint::Buffers::default(),
    };
    loop {
        let polled = consumer.poll(Duration::from_millis(100));
        // Rebalances run inside poll: apply them before the record it returned.
        w.apply(consumer.context().take())?;
        let mut batch = Vec::new();
        let mut sought = BTreeSet::new();
        let mut after = polled;
        // Then what is ready without waiting; a rebalance met on the way first ends the
        // records taken before it, as one poll at a time would.
        while let Some(Ok(m)) = after {
            batch.push(m);
            if batch.len() >= BATCH_RECORDS {
                after = None;
                break;
            }
            after = consumer.poll(Duration::ZERO);
            let changes = consumer.context().take();
            if !changes.is_empty() {
                sought.extend(w.on_records(&consumer, &std::mem::take(&mut batch)));
                w.apply(changes)?;
            }
        }
        sought.extend(w.on_records(&consumer, &batch));
        drop(batch);
        w.on_other(&consumer, after, &sought);
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
                        self.closed.remove(&p);
                        self.resuming.remove(&p);
                        self.checkpointed_at.remove(&p);
                    }
                }
                Change::LostAll => {
                    self.parts.clear();
                    self.closed.clear();
                    self.resuming.clear();
                    self.checkpointed_at.clear();
                }
                Change::Failed(e) => return Err(e),
                Change::Assigned(gained) => {
                    for (p, saved) in gained {
                        let w = match saved {
                            Some(bytes) => {
                                let w = checkpoint::decode(&bytes, &self.role.schedules, self.role.from)
                                    .map_err(|e| format!("checkpoint of partition {p}: {e}"))?;
                                eprintln!("vigil worker: partition {p}: resumed from its checkpoint at offset {}", w.next_offset);
                                if self.role.cfg.resume_from_partition_start && w.next_offset > 0 {
                                    self.resuming.insert(p, Resume::new(w.next_offset));
                                }
                                w
                            }
                            None => {
                                eprintln!("vigil worker: partition {p}: no checkpoint, from its start");
                                PartitionWindows::new(p, &self.role.schedules, self.role.from)
                            }
                        };
                        self.parts.insert(p, w);
                        self.checkpointed_at.insert(p, Instant::now());
                    }
                }
            }
        }
        Ok(())
    }

    /// What a poll gave besides a record: the end of a partition, an error, or nothing.
    /// `sought`: partitions sought back by the records before it (their end is stale).
    fn on_other(
        &mut self,
        consumer: &BaseConsumer<AssignmentContext>,
        polled: Option<KafkaResult<BorrowedMessage>>,
        sought: &BTreeSet<i32>,
    ) {
        match polled {
            Some(Err(KafkaError::PartitionEOF(p))) => {
                if sought.contains(&p) || !self.resumed(consumer, p, None) {
                    return;
                }
                if let Some(pw) = self.parts.get_mut(&p) {
                    pw.at_end = true;
                }
            }
            Some(Err(e)) => eprintln!("vigil worker: {e}"),
            Some(Ok(_)) | None => {}
        }
    }

    /// Reads, routes and closes over a batch of records, partition by partition; returns the
    /// partitions sought back instead (see `resumed`).
    fn on_records(&mut self, consumer: &BaseConsumer<AssignmentContext>, batch: &[BorrowedMessage]) -> BTreeSet<i32> {
        let mut by_partition: BTreeMap<i32, Vec<&BorrowedMessage>> = BTreeMap::new();
        for m in batch {
            by_partition.entry(m.partition()).or_default().push(m);
        }
        let mut sought = BTreeSet::new();
        for (p, messages) in by_partition {
            let first = messages.first().map(|m| m.offset());
            if first.is_some() && !self.resumed(consumer, p, first) {
                sought.insert(p);
                continue;
            }
            self.on_partition_records(p, &messages);
        }
        sought
    }

    /// Whether partition `p` is read from where its checkpoint ends, given the first answer
    /// of its fetch (`first`: a record's offset, `None`: its end); when that is not proven
    /// yet, seeks back (`resume.rs`) and the answer is dropped.
    fn resumed(&mut self, consumer: &BaseConsumer<AssignmentContext>, p: i32, first: Option<i64>) -> bool {
        let Some(resume) = self.resuming.get_mut(&p) else { return true };
        match resume.on_first(first) {
            Verdict::Resumed => {
                self.resuming.remove(&p);
                true
            }
            Verdict::SeekTo(offset) => {
                let answer = first.map_or("the partition's end".to_string(), |o| format!("offset {o}"));
                eprintln!("vigil worker: partition {p}: answered with {answer}, past its checkpoint: fetching from {offset}");
                if let Err(e) = consumer.seek(&self.role.cfg.events_topic, p, Offset::Offset(offset), kafka::TIMEOUT) {
                    // The fetch goes on where it was: its next answer is past the checkpoint
                    // again and seeks further back.
                    eprintln!("vigil worker: partition {p}: seek to {offset}: {e}");
                }
                false
            }
        }
    }

    fn on_partition_records(&mut self, p: i32, messages: &[&BorrowedMessage]) {
        let Some(w) = self.parts.get_mut(&p) else {
            eprintln!("vigil worker: {} record(s) of partition {p}, not assigned to this worker, skipped", messages.len());
            return;
        };
        let now = (self.role.clock)();
        let sourcetype = self.role.cfg.sourcetype.as_deref();
        // Records in the checkpoint already (read again after a rebalance) are passed over.
        let fresh: Vec<Record> = messages.iter().filter(|m| m.offset() >= w.next_offset).map(|m| Record::of(m, sourcetype, now)).collect();
        let Some(first) = messages.first() else { return };
        let mut scan = Scan {
            w,
            schedules: &mut self.role.schedules,
            normalizer: &self.role.normalizer,
            wanted: &self.wanted,
            closed: self.closed.entry(p).or_default(),
            records: &fresh,
            now,
            grace: self.role.cfg.grace(),
            started: 0,
            rows: &mut self.rows,
            enrich: &mut self.enrich,
        };
        records::read_events(first.topic(), p, &fresh, &self.opts, &mut self.reader, &mut |i, ev| scan.event(i, ev));
        scan.finish();
    }

    /// Publishes the windows that closed, then checkpoints and commits the partitions that
    /// closed windows or are due (`checkpoint_due`).
    fn close_and_checkpoint(&mut self, consumer: &BaseConsumer<AssignmentContext>) -> Result<(), String> {
        let now = (self.role.clock)();
        let grace = self.role.cfg.grace();
        for (p, w) in self.parts.iter_mut() {
            let mut closed = self.closed.remove(p).unwrap_or_default();
            closed.extend(w.close(&mut self.role.schedules, now, grace));
            // Also at the end of the partition: an idle partition's committed offset (its lag,
            // and what a new owner re-reads) catches up with what was read.
            let since = self.checkpointed_at.get(p).map(Instant::elapsed);
            if closed.is_empty() && !checkpoint_due(w, since, &self.role.cfg) {
                continue;
            }
            if self.encoded.len() < closed.len() {
                self.encoded.resize_with(closed.len(), Vec::new);
            }
            let mut partials = Vec::with_capacity(closed.len());
            for (c, bytes) in closed.iter().zip(&mut self.encoded) {
                let s = &self.role.schedules[c.schedule];
                s.group.engine.encode_state_into(&c.state, bytes).map_err(|e| format!("partial: {e}"))?;
                metrics::global().window_closed(c.tick, now, bytes.len());
                let id = PartialId { schedule: s.id.clone(), tick: c.tick, partition: *p, partitions: self.partitions };
                partials.push((id.key(), id.headers()));
            }
            let topic = &self.role.cfg.partials_topic;
            let records = partials
                .iter()
                .zip(&self.encoded)
                .map(|((k, h), v)| Outgoing { topic, key: k.as_bytes(), value: v, headers: h.clone(), timestamp_ms: None })
                .collect();
            kafka::produce_all(&self.producer, records)?;
            let saved = checkpoint::encode(w, &self.role.schedules, &self.client_id, &mut self.checkpoint)?;
            let key = checkpoint::key(&self.role.cfg.events_topic, *p);
            let record = Outgoing {
                topic: &self.role.cfg.checkpoints_topic,
                key: key.as_bytes(),
                value: saved,
                headers: OwnedHeaders::new(),
                timestamp_ms: None,
            };
            kafka::produce_all(&self.producer, vec![record])?;
            metrics::global().checkpoint_written(saved.len());
            w.since_checkpoint = 0;
            self.checkpointed_at.insert(*p, Instant::now());
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
            // Published: the states serve later windows.
            for c in closed {
                self.role.schedules[c.schedule].give_back(c.state);
            }
        }
        Ok(())
    }
}

/// Whether a partition whose windows did not close is checkpointed now, `since` its last
/// checkpoint (None: never): every `checkpoint_records` records, and at its end at most every
/// `checkpoint_idle_ms` (records trickling in reach the end at nearly every poll, and a
/// checkpoint encodes every open window's state).
fn checkpoint_due(w: &PartitionWindows, since: Option<Duration>, cfg: &ClusterConfig) -> bool {
    let idle = w.at_end && w.since_checkpoint > 0 && since.is_none_or(|s| s >= Duration::from_millis(cfg.checkpoint_idle_ms));
    w.since_checkpoint >= cfg.checkpoint_records.max(1) || idle
}

/// One partition's records routed as their events come out of the reader, in record order:
/// each record is read (its offset and timestamp taken) before its events are routed, and the
/// windows it passed are closed before the next record's, as if every record were polled
/// alone.
struct Scan<'a> {
    w: &'a mut PartitionWindows,
    schedules: &'a mut [Planned],
    normalizer: &'a Normalizer,
    wanted: &'a RowNeeds,
    closed: &'a mut Vec<Closed>,
    records: &'a [Record<'a>],
    now: Micros,
    grace: Micros,
    /// Records read so far (their windows closed, but the last one's).
    started: usize,
    rows: &'a mut Rows,
    enrich: &'a mut EnrichBuffers,
}

impl Scan<'_> {
    /// Reads the records up to `end` (excluded): the one before each is done, its windows
    /// closed.
    fn start_through(&mut self, end: usize) {
        while self.started < end.min(self.records.len()) {
            self.close_last();
            let r = &self.records[self.started];
            self.w.read_record(r.offset, r.arrival);
            metrics::global().record_read();
            self.started += 1;
        }
    }

    /// What one poll per record closed after the last record read (the windows it passed).
    fn close_last(&mut self) {
        if self.started > 0 {
            self.closed.extend(self.w.close(self.schedules, self.now, self.grace));
        }
    }

    /// After the last event: the records that gave none are read too, and the windows the
    /// last record passed closed.
    fn finish(&mut self) {
        self.start_through(self.records.len());
        self.close_last();
    }

    /// An event of record `i`: enriched, normalized and routed.
    fn event(&mut self, i: usize, ev: &mut Event) {
        let Some(arrival) = self.records.get(i).map(|r| r.arrival) else { return };
        self.start_through(i + 1);
        let (normalizer, wanted, rows, w, schedules) = (self.normalizer, self.wanted, &mut *self.rows, &mut *self.w, &mut *self.schedules);
        // As the batch driver does: the add-on fields are added to the reader's event, not to
        // a copy of it, and the rows' buffers serve the next event.
        normalizer.with_enriched_rows(ev, self.enrich, wanted, rows, |ev, rows| {
            w.route(schedules, ev, rows, arrival);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_at_its_end_is_checkpointed_at_most_every_checkpoint_idle_ms() {
        let cfg = ClusterConfig { checkpoint_records: 100, checkpoint_idle_ms: 5000, ..ClusterConfig::default() };
        let mut w = PartitionWindows::new(0, &[], 0);
        let (soon, late) = (Some(Duration::from_millis(10)), Some(Duration::from_secs(6)));
        w.since_checkpoint = 3;
        assert!(!checkpoint_due(&w, late, &cfg), "not at the end, under checkpoint_records");
        w.at_end = true;
        assert!(!checkpoint_due(&w, soon, &cfg), "at the end, checkpointed 10 ms ago");
        assert!(checkpoint_due(&w, late, &cfg), "at the end, checkpointed 6 s ago");
        assert!(checkpoint_due(&w, None, &cfg), "at the end, never checkpointed");
        w.since_checkpoint = 0;
        assert!(!checkpoint_due(&w, late, &cfg), "nothing read since the last one");
        w.since_checkpoint = 100;
        w.at_end = false;
        assert!(checkpoint_due(&w, soon, &cfg), "checkpoint_records reached, whenever the last one was");
    }
}
