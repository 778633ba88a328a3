//! `vigil cluster status`: what the broker knows of the cluster, read without joining it.
//!
//! - members of the workers' and reducers' groups and the partitions each was assigned
//!   (DescribeGroups; the assignment is the consumer protocol's, decoded here). Tansu 0.6
//!   answers member ids only (no client id, host or assignment): an events partition's
//!   checkpoint then still says which worker wrote it last;
//! - per partition of the events and partials topics: the group's committed offset, the
//!   high watermark and their difference (the lag);
//! - per events partition, its checkpoint: the offset it covers and its oldest open window
//!   (the oldest tick whose partial is not published yet), and the oldest of them all.

use crate::checkpoint;
use crate::kafka::{self, TIMEOUT};
use crate::ClusterConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use vigil_model::Micros;
use vigil_scan::schedule::iso;

#[derive(Serialize)]
pub struct Status {
    pub groups: Vec<Group>,
    pub topics: Vec<Topic>,
    /// The oldest open window over every events partition's checkpoint: (partition, tick).
    pub oldest_open_window: Option<(i32, Micros)>,
}

#[derive(Serialize)]
pub struct Group {
    /// `workers` or `reducers`.
    pub role: &'static str,
    pub name: String,
    pub state: String,
    pub members: Vec<Member>,
}

#[derive(Serialize)]
pub struct Member {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// topic -> partitions.
    pub assignment: BTreeMap<String, Vec<i32>>,
}

#[derive(Serialize)]
pub struct Topic {
    pub name: String,
    pub group: String,
    pub partitions: Vec<Partition>,
}

#[derive(Serialize)]
pub struct Partition {
    pub partition: i32,
    /// The group's committed offset (None: nothing committed).
    pub committed: Option<i64>,
    pub high_watermark: i64,
    pub lag: i64,
    /// The member's client id that owns it now.
    pub owner: Option<String>,
    /// Events partitions: the offset its checkpoint covers, the worker that wrote it and its
    /// oldest open window.
    pub checkpoint_offset: Option<i64>,
    pub checkpointed_by: Option<String>,
    pub oldest_open_window: Option<Micros>,
}

/// Reads the cluster's status from the broker.
pub fn read(cfg: &ClusterConfig) -> Result<Status, String> {
    let groups = vec![group(cfg, "workers", &cfg.worker_group)?, group(cfg, "reducers", &cfg.reducer_group)?];
    let checkpoints = kafka::read_latest(cfg, &cfg.checkpoints_topic)?;
    let mut saved = BTreeMap::new();
    for (key, bytes) in &checkpoints {
        if let Some(p) = checkpoint::partition_of_key(&cfg.events_topic, key) {
            saved.insert(p, checkpoint::summary(bytes).map_err(|e| format!("checkpoint of partition {p}: {e}"))?);
        }
    }
    let mut topics = Vec::new();
    for (topic, g) in [(&cfg.events_topic, &groups[0]), (&cfg.partials_topic, &groups[1])] {
        let mut t = lag(cfg, topic, &g.name)?;
        for part in &mut t.partitions {
            part.owner = g
                .members
                .iter()
                .find(|m| m.assignment.get(topic).is_some_and(|ps| ps.contains(&part.partition)))
                .map(|m| m.client_id.clone());
            if topic == &cfg.events_topic {
                if let Some(s) = saved.get(&part.partition) {
                    part.checkpoint_offset = Some(s.next_offset);
                    part.checkpointed_by = s.writer.clone();
                    part.oldest_open_window = s.oldest_open;
                }
            }
        }
        topics.push(t);
    }
    let oldest_open_window = saved.iter().filter_map(|(p, s)| s.oldest_open.map(|t| (*p, t))).min_by_key(|(p, t)| (*t, *p));
    Ok(Status { groups, topics, oldest_open_window })
}

fn group(cfg: &ClusterConfig, role: &'static str, name: &str) -> Result<Group, String> {
    let consumer: BaseConsumer = kafka::client(cfg).create().map_err(|e| format!("kafka client ({}): {e}", cfg.brokers))?;
    let list = consumer.fetch_group_list(Some(name), TIMEOUT).map_err(|e| format!("kafka: describe group {name}: {e}"))?;
    let Some(info) = list.groups().iter().find(|g| g.name() == name) else {
        return Ok(Group { role, name: name.to_string(), state: "unknown".into(), members: Vec::new() });
    };
    let mut members: Vec<Member> = info
        .members()
        .iter()
        .map(|m| Member {
            member_id: m.id().to_string(),
            client_id: m.client_id().to_string(),
            host: m.client_host().to_string(),
            assignment: m.assignment().map(decode_assignment).unwrap_or_default(),
        })
        .collect();
    members.sort_by(|a, b| (&a.client_id, &a.member_id).cmp(&(&b.client_id, &b.member_id)));
    Ok(Group { role, name: name.to_string(), state: info.state().to_string(), members })
}

/// Committed offsets of `group` and high watermarks of every partition of `topic`.
fn lag(cfg: &ClusterConfig, topic: &str, group: &str) -> Result<Topic, String> {
    // A client of the group that never subscribes: it reads the group's offsets without joining.
    let consumer: BaseConsumer = kafka::client(cfg)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("kafka consumer ({}): {e}", cfg.brokers))?;
    let n = kafka::partition_count(&consumer, topic)?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..n {
        tpl.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(tpl, TIMEOUT).map_err(|e| format!("kafka: committed offsets of {group} on {topic}: {e}"))?;
    let mut partitions = Vec::new();
    for p in 0..n {
        let (_, high) = consumer.fetch_watermarks(topic, p, TIMEOUT).map_err(|e| format!("kafka: watermarks of {topic}/{p}: {e}"))?;
        let committed = match committed.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => Some(o),
            _ => None,
        };
        let lag = high - committed.unwrap_or(0);
        partitions.push(Partition {
            partition: p,
            committed,
            high_watermark: high,
            lag,
            owner: None,
            checkpoint_offset: None,
            checkpointed_by: None,
            oldest_open_window: None,
        });
    }
    Ok(Topic { name: topic.to_string(), group: group.to_string(), partitions })
}

/// The consumer protocol's assignment: version (i16), [topic (i16 length + bytes),
/// [partition (i32)]], user data. Anything unreadable gives what was read so far.
fn decode_assignment(bytes: &[u8]) -> BTreeMap<String, Vec<i32>> {
    let mut out = BTreeMap::new();
    let mut r = Reader { bytes, at: 0 };
    let (Some(_version), Some(topics)) = (r.i16(), r.i32()) else { return out };
    for _ in 0..topics.max(0) {
        let Some(name) = r.string() else { break };
        let Some(n) = r.i32() else { break };
        let partitions: Option<Vec<i32>> = (0..n.max(0)).map(|_| r.i32()).collect();
        let Some(mut partitions) = partitions else { break };
        partitions.sort_unstable();
        out.insert(name, partitions);
    }
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.bytes.get(self.at..self.at + N)?.try_into().ok()?;
        self.at += N;
        Some(b)
    }

    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }

    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.i16()?).ok()?;
        let s = self.bytes.get(self.at..self.at + n)?;
        self.at += n;
        String::from_utf8(s.to_vec()).ok()
    }
}

/// The status as text, for people.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    for g in &s.groups {
        let _ = writeln!(out, "{} (group {}, {}): {} member(s)", g.role, g.name, g.state, g.members.len());
        for m in &g.members {
            let parts: Vec<String> = m.assignment.iter().map(|(t, ps)| format!("{t} {}", join(ps))).collect();
            let _ = writeln!(
                out,
                "  {} ({}): {}",
                m.client_id,
                m.host,
                if parts.is_empty() { "no partitions".into() } else { parts.join("; ") }
            );
        }
    }
    for t in &s.topics {
        let _ = writeln!(out, "topic {} (group {}):", t.name, t.group);
        let _ = writeln!(out, "  partition  committed  end  lag  owner  checkpoint  checkpointed by  oldest open window");
        for p in &t.partitions {
            let opt = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
            let _ = writeln!(
                out,
                "  {}  {}  {}  {}  {}  {}  {}  {}",
                p.partition,
                opt(p.committed),
                p.high_watermark,
                p.lag,
                p.owner.as_deref().unwrap_or("-"),
                opt(p.checkpoint_offset),
                p.checkpointed_by.as_deref().unwrap_or("-"),
                p.oldest_open_window.map_or_else(|| "-".to_string(), iso)
            );
        }
    }
    let _ = match s.oldest_open_window {
        Some((p, t)) => writeln!(out, "oldest open window: {} (partition {p})", iso(t)),
        None => writeln!(out, "oldest open window: none"),
    };
    out
}

fn join(ps: &[i32]) -> String {
    ps.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_consumer_protocols_assignment() {
        let mut b = vec![0, 3, 0, 0, 0, 1, 0, 2];
        b.extend_from_slice(b"ev");
        b.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
        let got = decode_assignment(&b);
        assert_eq!(got, BTreeMap::from([("ev".to_string(), vec![1, 4])]));
        assert!(decode_assignment(&b[..5]).is_empty(), "cut short: nothing");
    }
}
