//! The ingest role's sink: vigil-serve's HEC endpoints (same tokens, limits, answers and acks)
//! commit each round of batches by producing it to the events topic and waiting for the
//! broker's acknowledgement (acks=all, idempotent producer), so success / ackId true follow
//! the broker's ack as they follow the fsync on a single node.
//!
//! A record is one event: value = its text (what the readers read), key = host (a host's
//! events stay in one partition, in order), headers = HEC metadata (`host`, `source`,
//! `sourcetype`, `index`, `fields` as JSON), timestamp = the arrival time (`_indextime`).

use crate::kafka::{self, Outgoing};
use crate::ClusterConfig;
use rdkafka::message::{Header, OwnedHeaders};
use vigil_model::Micros;
use vigil_serve::commit::Sink;
use vigil_serve::store::StoredEvent;

pub struct KafkaSink {
    topic: String,
    brokers: String,
    producer: kafka::Producer,
}

impl KafkaSink {
    pub fn new(cfg: &ClusterConfig) -> Result<KafkaSink, String> {
        Ok(KafkaSink { topic: cfg.events_topic.clone(), brokers: cfg.brokers.clone(), producer: kafka::producer(cfg)? })
    }
}

pub fn headers(e: &StoredEvent) -> OwnedHeaders {
    let mut h = OwnedHeaders::new()
        .insert(Header { key: "host", value: Some(e.host.as_str()) })
        .insert(Header { key: "source", value: Some(e.source.as_str()) })
        .insert(Header { key: "sourcetype", value: Some(e.sourcetype.as_str()) })
        .insert(Header { key: "index", value: Some(e.index.as_str()) });
    if !e.fields.is_empty() {
        let fields = serde_json::Value::Object(e.fields.clone()).to_string();
        h = h.insert(Header { key: "fields", value: Some(fields.as_str()) });
    }
    h
}

impl Sink for KafkaSink {
    fn append(&mut self, events: &[StoredEvent], _now: Micros) -> Result<(), String> {
        let records = events
            .iter()
            .map(|e| Outgoing {
                topic: &self.topic,
                key: e.host.as_bytes(),
                value: e.text.as_bytes(),
                headers: headers(e),
                timestamp_ms: Some((e.indextime * 1000.0).round() as i64),
            })
            .collect();
        kafka::produce_all(&self.producer, records)
    }

    fn describe(&self) -> String {
        format!("kafka topic {} at {}", self.topic, self.brokers)
    }
}
