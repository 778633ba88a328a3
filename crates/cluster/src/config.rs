//! `[cluster]` in vigil.toml.
//!
//! ```toml
//! [cluster]
//! brokers = "127.0.0.1:9092"           # bootstrap servers
//! events_topic = "vigil-events"        # ingest produces here, workers consume
//! partitions = 6                       # of the events and partials topics, when vigil creates them
//! partials_topic = "vigil-partials"
//! checkpoints_topic = "vigil-checkpoints"
//! worker_group = "vigil-workers"
//! reducer_group = "vigil-reducers"
//! grace_secs = 30                      # an idle partition closes tick t once the clock passes t + grace
//! checkpoint_records = 10000           # open windows checkpointed at least every this many records
//! checkpoint_idle_ms = 5000            # and a partition read to its end at most this often (see below)
//! fetch_wait_ms = 2000                 # workers: how long a fetch waits for a megabyte of records (see below)
//! sourcetype = "XmlWinEventLog"        # for records the readers give no sourcetype
//! from = "2026-11-20T00:00:00Z"        # first tick (default: the first start's day)
//! to = "2026-11-21T00:00:00Z"          # no tick at or after this (a replay); default none
//! session_timeout_ms = 10000           # workers, reducers: a silent member's partitions move after this (librdkafka's default: 45000)
//! metrics_listen = "127.0.0.1:9464"    # workers, reducers: GET /metrics here (default: none)
//! resume_from_partition_start = false  # check a resumed partition's first record, seek back (Tansu; see below)
//! max_state_bytes = 67108864           # largest partial or checkpoint record (64 MiB; see below)
//! ```

//!
//! `checkpoint_idle_ms`: a partition's windows are checkpointed (and its offset committed) when
//! a window closes, every `checkpoint_records` records, and when the partition is read to its
//! end, there at most once per this many milliseconds: where records trickle in, the end is
//! reached at nearly every poll, and each checkpoint encodes every open window's state. Until
//! then a new owner re-reads those records from the previous checkpoint (same partials).
//!
//! `fetch_wait_ms`: a worker's fetch is answered once a megabyte of records is ready or after
//! this long (librdkafka's `fetch.wait.max.ms`). Where records trickle in, each answer wakes the
//! worker for a pass over what arrived since the last one, on caches other processes have used
//! meanwhile; longer waits give fewer, larger passes, and delay a window's close by at most this.
//! The default (librdkafka's is 500) is measured in docs/performance.md: a worker fed by a
//! trickle paid 1.2-1.4x backtest's CPU per event at 500 ms, about 1.03-1.25x at 2000 ms.
//!
//! `resume_from_partition_start`: a worker resumes a partition at its checkpoint's offset, a
//! reducer at the group's committed offset. Tansu 0.6 answers a fetch from an offset inside a
//! record batch with the batches after it, skipping the rest of that batch (Kafka answers with
//! the batch that holds the offset). With this set, a worker checks the first record a resumed
//! partition returns and, if it is past the checkpoint's offset (or the partition's end is
//! returned), fetches again from 1, 2, 4, ... records before that offset until the first
//! record is at or before it (`resume.rs`: ~log2 of a batch's records in extra fetches), then
//! passes over what the checkpoint covers; a reducer reads the partials topic again from its
//! start (it ignores the partials of finished runs). Correct on any broker (on Kafka a resumed
//! partition costs at most one extra fetch); needed on Tansu. The key keeps its name from when
//! a worker, too, read a resumed partition from its start.
//!
//! `max_state_bytes`: a partial or a checkpoint is one record, as large as the windows' state
//! (distinct group keys per partition and window): past Kafka's default of 1 MB on a busy
//! partition. The clients are set to send and fetch records up to this size, and the partials
//! and checkpoints topics vigil creates get it as `max.message.bytes`; a broker whose own
//! `message.max.bytes` is lower refuses larger ones with an error that names this key.

use serde::Deserialize;
use vigil_model::Micros;

/// 64 MiB: room for the state of a busy partition's window, well under librdkafka's ceiling.
pub const DEFAULT_MAX_STATE_BYTES: u32 = 64 << 20;
/// Room for a record's key, headers and batch framing beside its value.
const RECORD_OVERHEAD: u32 = 64 << 10;
/// librdkafka's limits on `message.max.bytes` (1000 to 10^9).
const CLIENT_MESSAGE_BYTES: std::ops::RangeInclusive<u32> = 1_000..=1_000_000_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    pub brokers: String,
    pub events_topic: String,
    pub partitions: i32,
    pub partials_topic: String,
    pub checkpoints_topic: String,
    pub worker_group: String,
    pub reducer_group: String,
    pub grace_secs: u64,
    pub checkpoint_records: u64,
    pub checkpoint_idle_ms: u64,
    pub fetch_wait_ms: u32,
    pub sourcetype: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub session_timeout_ms: Option<u32>,
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub resume_from_partition_start: bool,
    pub max_state_bytes: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            brokers: "127.0.0.1:9092".into(),
            events_topic: "vigil-events".into(),
            partitions: 6,
            partials_topic: "vigil-partials".into(),
            checkpoints_topic: "vigil-checkpoints".into(),
            worker_group: "vigil-workers".into(),
            reducer_group: "vigil-reducers".into(),
            grace_secs: 30,
            checkpoint_records: 10_000,
            checkpoint_idle_ms: 5_000,
            fetch_wait_ms: 2_000,
            sourcetype: None,
            from: None,
            to: None,
            session_timeout_ms: None,
            metrics_listen: None,
            resume_from_partition_start: false,
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
        }
    }
}

impl ClusterConfig {
    /// The `[cluster]` table of a serve config (defaults when absent).
    pub fn from_table(table: Option<&toml::Table>) -> Result<ClusterConfig, String> {
        match table {
            None => Ok(ClusterConfig::default()),
            Some(t) => {
                let c: ClusterConfig = t.clone().try_into().map_err(|e| format!("[cluster]: {e}"))?;
                // Headers and framing ride on top of the state in a record.
                if !CLIENT_MESSAGE_BYTES.contains(&c.max_state_bytes.saturating_add(RECORD_OVERHEAD)) {
                    return Err(format!(
                        "[cluster] max_state_bytes = {}: must be between {} and {}",
                        c.max_state_bytes,
                        CLIENT_MESSAGE_BYTES.start(),
                        CLIENT_MESSAGE_BYTES.end() - RECORD_OVERHEAD
                    ));
                }
                Ok(c)
            }
        }
    }

    /// The largest record the clients send or fetch: a state and its record's framing.
    pub fn max_record_bytes(&self) -> u32 {
        self.max_state_bytes.saturating_add(RECORD_OVERHEAD)
    }

    /// The tick range: `from` (else the start of `now`'s UTC day) and `to`.
    pub fn tick_range(&self, now: Micros) -> Result<(Micros, Option<Micros>), String> {
        let parse = |name: &str, v: &str| {
            vigil_time::parse_iso8601_utc(v).ok_or_else(|| format!("[cluster] {name}: `{v}` is not an ISO 8601 time"))
        };
        let from = match &self.from {
            Some(f) => parse("from", f)?,
            None => now - now.rem_euclid(86_400_000_000),
        };
        let to = self.to.as_deref().map(|t| parse("to", t)).transpose()?;
        Ok((from, to))
    }

    pub fn grace(&self) -> Micros {
        i64::try_from(self.grace_secs).unwrap_or(i64::MAX / 2_000_000).saturating_mul(1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_table_and_rejects_unknown_keys() {
        let t: toml::Table = toml::from_str("brokers = \"h:1\"\npartitions = 3\nfrom = \"2026-11-20T00:00:00Z\"").unwrap();
        let c = ClusterConfig::from_table(Some(&t)).unwrap();
        assert_eq!((c.brokers.as_str(), c.partitions, c.events_topic.as_str()), ("h:1", 3, "vigil-events"));
        assert_eq!(c.tick_range(0).unwrap().0, vigil_time::parse_iso8601_utc("2026-11-20T00:00:00Z").unwrap());
        let bad: toml::Table = toml::from_str("brokerz = \"h:1\"").unwrap();
        assert!(ClusterConfig::from_table(Some(&bad)).unwrap_err().contains("brokerz"));
        let big: toml::Table = toml::from_str("max_state_bytes = 2000000000").unwrap();
        assert!(ClusterConfig::from_table(Some(&big)).unwrap_err().contains("max_state_bytes"));
        let ok: toml::Table = toml::from_str("max_state_bytes = 200000000").unwrap();
        assert_eq!(ClusterConfig::from_table(Some(&ok)).unwrap().max_record_bytes(), 200_000_000 + 65_536);
        let day = 86_400_000_000i64;
        assert_eq!(ClusterConfig::default().tick_range(3 * day + 5).unwrap(), (3 * day, None));
    }
}
