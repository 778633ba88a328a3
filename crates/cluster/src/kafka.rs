//! Kafka plumbing shared by the roles: clients, topics, producing with the broker's
//! acknowledgement, reading a topic to its end.

use crate::ClusterConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the cluster's brokers that sends and fetches records up to
/// [`ClusterConfig::max_record_bytes`] (librdkafka needs `fetch.max.bytes` >= `message.max.bytes`
/// and `receive.message.max.bytes` >= `fetch.max.bytes` + 512; its defaults are 1 MB, 50 MiB
/// and 100 MB).
pub fn client(cfg: &ClusterConfig) -> ClientConfig {
    let max = cfg.max_record_bytes();
    let fetch = max.max(52_428_800);
    let receive = fetch.saturating_add(1 << 20).max(100_000_000);
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("message.max.bytes", max.to_string())
        .set("fetch.max.bytes", fetch.to_string())
        .set("receive.message.max.bytes", receive.to_string());
    c
}

/// The broker's answer for one record, sent to the `produce_all` that waits for it.
type Ack = mpsc::Sender<Result<(), KafkaError>>;

/// Hands each delivery report to the `produce_all` waiting for it.
pub struct Acks;

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = Box<Ack>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Box<Ack>) {
        // The waiter may have given up on an earlier error: nobody to tell then.
        let _ = ack.send(result.as_ref().map(|_| ()).map_err(|(e, _)| e.clone()));
    }
}

/// A producer whose acknowledged records are on every in-sync replica and written once.
pub type Producer = Arc<BaseProducer<Acks>>;

/// A [`Producer`], its delivery reports served by a thread of its own that blocks until
/// one arrives. (rdkafka 0.39's `FutureProducer` polls every 100 ms and spins through the
/// last millisecond of each poll, its timeout rounded down to 0 ms: most of an idle
/// worker's CPU.) The thread lives as long as the process.
pub fn producer(cfg: &ClusterConfig) -> Result<Producer, String> {
    let producer: BaseProducer<Acks> = client(cfg)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create_with_context(Acks)
        .map_err(|e| format!("kafka producer ({}): {e}", cfg.brokers))?;
    let producer = Arc::new(producer);
    let polled = Arc::clone(&producer);
    std::thread::Builder::new()
        .name("vigil-acks".into())
        .spawn(move || loop {
            // Timeout::Never: blocks for the next report, never returns.
            polled.poll(rdkafka::util::Timeout::Never);
        })
        .map_err(|e| format!("kafka producer: cannot start its thread: {e}"))?;
    Ok(producer)
}

/// A current-thread runtime to wait on the client's futures from plain threads.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start a runtime: {e}"))
}

/// One record to produce.
pub struct Outgoing<'a> {
    pub topic: &'a str,
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub headers: OwnedHeaders,
    /// Record timestamp (ms); `None`: the producer's clock.
    pub timestamp_ms: Option<i64>,
}

/// Produces every record and waits until the broker acknowledged all of them (or one failed).
pub fn produce_all(producer: &Producer, records: Vec<Outgoing>) -> Result<(), String> {
    let (ack, acks) = mpsc::channel();
    let sent = records.len();
    for r in records {
        let mut rec = BaseRecord::with_opaque_to(r.topic, Box::new(ack.clone())).key(r.key).payload(r.value).headers(r.headers);
        if let Some(ts) = r.timestamp_ms {
            rec = rec.timestamp(ts);
        }
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The acks thread empties the queue as the broker answers.
                    rec = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((e @ KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
                    return Err(too_large(r.topic, r.value.len(), &e));
                }
                Err((e, _)) => return Err(format!("kafka: cannot produce to {}: {e}", r.topic)),
            }
        }
    }
    drop(ack);
    for _ in 0..sent {
        match acks.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e @ KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge))) => {
                return Err(too_large("the broker", 0, &e));
            }
            Ok(Err(e)) => return Err(format!("kafka: not acknowledged: {e}")),
            Err(_) => return Err("kafka: the producer stopped before the broker answered".to_string()),
        }
    }
    Ok(())
}

/// What to do about a record over a size limit, for people.
fn too_large(topic: &str, bytes: usize, e: &KafkaError) -> String {
    let size = if bytes > 0 { format!("a record of {bytes} bytes for {topic}") } else { format!("a record refused by {topic}") };
    format!(
        "kafka: {size}: {e}; a partial or checkpoint is as large as its windows' state: raise [cluster] max_state_bytes \
         (and the broker's message.max.bytes, or the topic's max.message.bytes, where the broker made the topic)"
    )
}

/// Creates the topics the cluster uses when they do not exist: the events and partials
/// topics with `partitions` partitions, the checkpoints topic with one, compacted; partials
/// and checkpoints take records up to `max_state_bytes`.
pub fn ensure_topics(cfg: &ClusterConfig) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = client(cfg).create().map_err(|e| format!("kafka admin ({}): {e}", cfg.brokers))?;
    let rt = runtime()?;
    let max = cfg.max_record_bytes().to_string();
    let topics = [
        NewTopic::new(&cfg.events_topic, cfg.partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&cfg.partials_topic, cfg.partitions, TopicReplication::Fixed(1)).set("max.message.bytes", &max),
        NewTopic::new(&cfg.checkpoints_topic, 1, TopicReplication::Fixed(1))
            .set("cleanup.policy", "compact")
            .set("max.message.bytes", &max),
    ];
    let results = rt
        .block_on(admin.create_topics(&topics, &AdminOptions::new().operation_timeout(Some(TIMEOUT))))
        .map_err(|e| format!("kafka: create topics: {e}"))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, e)) => return Err(format!("kafka: cannot create topic {topic}: {e}")),
        }
    }
    Ok(())
}

/// Partitions of `topic`.
pub fn partition_count<C: ConsumerContext>(consumer: &BaseConsumer<C>, topic: &str) -> Result<i32, String> {
    let md = consumer.fetch_metadata(Some(topic), TIMEOUT).map_err(|e| format!("kafka: metadata of {topic}: {e}"))?;
    let n = md.topics().iter().find(|t| t.name() == topic).map_or(0, |t| t.partitions().len());
    match i32::try_from(n) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("kafka: topic {topic} has no partitions (does it exist?)")),
    }
}

/// The last value of every key in `topic`, read from its start to its current end (a
/// compacted topic's view).
pub fn read_latest(cfg: &ClusterConfig, topic: &str) -> Result<HashMap<Vec<u8>, Vec<u8>>, String> {
    let consumer: BaseConsumer = client(cfg)
        .set("group.id", "vigil-checkpoint-reader")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("kafka consumer: {e}"))?;
    let n = partition_count(&consumer, topic)?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in 0..n {
        let (_, high) = consumer.fetch_watermarks(topic, p, TIMEOUT).map_err(|e| format!("kafka: watermarks of {topic}/{p}: {e}"))?;
        if high > 0 {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning).map_err(|e| e.to_string())?;
        }
    }
    let mut latest = HashMap::new();
    if ends.is_empty() {
        return Ok(latest);
    }
    consumer.assign(&tpl).map_err(|e| format!("kafka: assign {topic}: {e}"))?;
    let started = std::time::Instant::now();
    while !ends.is_empty() {
        if started.elapsed() > TIMEOUT {
            return Err(format!("kafka: reading {topic} to its end took longer than {TIMEOUT:?}"));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                if let (Some(k), Some(v)) = (m.key(), m.payload()) {
                    latest.insert(k.to_vec(), v.to_vec());
                }
                if ends.get(&m.partition()).is_some_and(|end| m.offset() + 1 >= *end) {
                    ends.remove(&m.partition());
                }
            }
            Some(Err(e)) => eprintln!("vigil cluster: reading {topic}: {e}"),
            None => {}
        }
    }
    Ok(latest)
}
