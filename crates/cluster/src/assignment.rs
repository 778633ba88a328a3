//! Which partitions a worker or a reducer owns, followed exactly through the group's rebalances.
//!
//! Polling `assignment()` now and then misses a partition revoked and given back between two
//! looks (the worker would keep windows older than what the interim owner committed, and lose
//! the records in between). Instead the consumer's rebalance callback sees every change and
//! queues it for the role, which applies it before the next record is handled. For a worker,
//! on assignment it reads the partitions' checkpoints and starts each partition exactly at its
//! checkpoint's offset (not at the group's committed offset, which may have moved on); a
//! reducer starts at the group's committed offset (below every run it had not finished).

use crate::checkpoint;
use crate::kafka;
use crate::metrics;
use crate::ClusterConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Mutex;

/// A gained partition and its checkpoint (None: read from its start).
pub type Gained = (i32, Option<Vec<u8>>);

/// A change of ownership, in the order the group made them.
pub enum Change {
    /// Partitions gained, each with its checkpoint (None: read from its start).
    Assigned(Vec<Gained>),
    /// Partitions lost: their windows go (the new owner resumes from the checkpoint).
    Revoked(Vec<i32>),
    /// The assignment failed and was dropped: every partition goes.
    LostAll,
    /// Checkpoints could not be read: the worker stops rather than guess where to start.
    Failed(String),
}

/// Where a gained partition is read from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Starts {
    /// At its checkpoint's offset (workers, on the events topic).
    Checkpoints,
    /// At the group's committed offset (reducers, on the partials topic).
    Committed,
}

pub struct AssignmentContext {
    cfg: ClusterConfig,
    starts: Starts,
    changes: Mutex<Vec<Change>>,
}

impl AssignmentContext {
    pub fn new(cfg: ClusterConfig, starts: Starts) -> AssignmentContext {
        AssignmentContext { cfg, starts, changes: Mutex::new(Vec::new()) }
    }

    /// The changes since the last call, oldest first.
    pub fn take(&self) -> Vec<Change> {
        self.changes.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }

    fn push(&self, change: Change) {
        if let Ok(mut c) = self.changes.lock() {
            c.push(change);
        }
    }

    /// Sets every assigned partition's start to its checkpoint's offset; returns the gained
    /// partitions with their checkpoints.
    fn start_at_checkpoints(&self, tpl: &mut TopicPartitionList) -> Result<Vec<Gained>, String> {
        let mut saved = kafka::read_latest(&self.cfg, &self.cfg.checkpoints_topic)?;
        let topic = &self.cfg.events_topic;
        let partitions: Vec<i32> = tpl.elements().iter().filter(|e| e.topic() == topic).map(|e| e.partition()).collect();
        let mut gained = Vec::with_capacity(partitions.len());
        for p in partitions {
            let bytes = saved.remove(checkpoint::key(topic, p).as_bytes());
            let start = match &bytes {
                // With `resume_from_partition_start`, the worker checks where the broker's
                // answer starts and seeks back if it skipped records (resume.rs).
                Some(b) => Offset::Offset(checkpoint::next_offset(b).map_err(|e| format!("checkpoint of partition {p}: {e}"))?),
                None => Offset::Beginning,
            };
            tpl.set_partition_offset(topic, p, start).map_err(|e| format!("partition {p}: {e}"))?;
            gained.push((p, bytes));
        }
        Ok(gained)
    }
}

/// How often the client's statistics (consumer lag for /metrics) are emitted.
const STATISTICS_INTERVAL_MS: &str = "5000";

/// What a worker's fetch waits for (up to `fetch.wait.max.ms`) before the broker answers.
const WORKER_FETCH_MIN_BYTES: u32 = 1 << 20;

/// This process's client id in `group`: the group and the process id.
pub fn client_id(group: &str) -> String {
    format!("{group}-{}", std::process::id())
}

/// A member of `group` (workers or reducers) following its assignment through this context.
pub fn consumer(cfg: &ClusterConfig, group: &str, starts: Starts) -> Result<BaseConsumer<AssignmentContext>, String> {
    let mut client = kafka::client(cfg);
    if let Some(ms) = cfg.session_timeout_ms {
        // A dead member's partitions move to the others after this long without heartbeats.
        client.set("session.timeout.ms", ms.to_string());
        // Five heartbeats a session (librdkafka's default is 3 s, a third of its 10 s minimum
        // advice): a busy machine delaying one heartbeat does not evict a live member.
        client.set("heartbeat.interval.ms", (ms / 5).max(100).to_string());
    }
    if starts == Starts::Checkpoints {
        // A worker reads records as they trickle in: with librdkafka's default (answer with
        // any byte), each answer was a few hundred records per partition, each started on
        // caches other processes had cooled, which cost a worker as much CPU per event as
        // the scan itself. Waiting for a megabyte (or `fetch_wait_ms`, config.rs) reads
        // them in larger passes; a worker catching up finds a megabyte ready at once.
        client.set("fetch.min.bytes", WORKER_FETCH_MIN_BYTES.to_string());
        client.set("fetch.wait.max.ms", cfg.fetch_wait_ms.to_string());
    }
    if cfg.metrics_listen.is_some() {
        // Consumer lag for /metrics, from the client's own statistics. Each emission walks
        // librdkafka's latency histograms (about half a million instructions under
        // callgrind), a cost paid per second whether records come or not.
        client.set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
    }
    client
        // Names the member in `vigil cluster status`.
        .set("client.id", client_id(group))
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .create_with_context(AssignmentContext::new(cfg.clone(), starts))
        .map_err(|e| format!("kafka consumer ({}): {e}", cfg.brokers))
}

impl ClientContext for AssignmentContext {
    fn stats(&self, statistics: Statistics) {
        metrics::global().consumer_stats(&statistics);
    }
}

impl ConsumerContext for AssignmentContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let outcome: KafkaResult<()> = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                metrics::global().rebalance("assigned");
                let gained = match self.starts {
                    Starts::Checkpoints => self.start_at_checkpoints(tpl),
                    Starts::Committed => {
                        let gained: Vec<Gained> = tpl.elements().iter().map(|e| (e.partition(), None)).collect();
                        if self.cfg.resume_from_partition_start {
                            for (p, _) in &gained {
                                let _ = tpl.set_partition_offset(&self.cfg.partials_topic, *p, Offset::Beginning);
                            }
                        }
                        Ok(gained)
                    }
                };
                match gained {
                    Ok(gained) => self.push(Change::Assigned(gained)),
                    Err(e) => self.push(Change::Failed(e)),
                }
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                metrics::global().rebalance("revoked");
                self.push(Change::Revoked(tpl.elements().iter().map(|e| e.partition()).collect()));
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                // librdkafka's advice for a failed rebalance: drop the assignment; the group
                // assigns again and this callback runs with the new one.
                eprintln!("vigil cluster: rebalance error {other:?}");
                metrics::global().rebalance("error");
                self.push(Change::LostAll);
                consumer.unassign()
            }
        };
        if let Err(e) = outcome {
            self.push(Change::Failed(format!("kafka: applying a rebalance: {e}")));
        }
    }
}
