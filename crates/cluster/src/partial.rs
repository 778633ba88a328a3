//! A partial: the scan state of one (schedule, tick, partition), as a record of the partials
//! topic. Keyed by `schedule|tick` so every partition's partial of a run lands in the same
//! partials partition (one reducer sees them all); the headers say which partition it is and
//! how many the events topic has. The value is `Engine::encode_state` (checked on decode).

use rdkafka::message::{Header, Headers, OwnedHeaders};
use vigil_model::Micros;

/// Which run and which part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialId {
    pub schedule: String,
    pub tick: Micros,
    pub partition: i32,
    /// Partitions of the events topic: a run is complete with this many partials.
    pub partitions: i32,
}

impl PartialId {
    /// The record key: the run.
    pub fn key(&self) -> String {
        format!("{}|{}", self.schedule, self.tick)
    }

    pub fn headers(&self) -> OwnedHeaders {
        let (tick, partition, partitions) = (self.tick.to_string(), self.partition.to_string(), self.partitions.to_string());
        OwnedHeaders::new()
            .insert(Header { key: "vigil-schedule", value: Some(self.schedule.as_str()) })
            .insert(Header { key: "vigil-tick", value: Some(tick.as_str()) })
            .insert(Header { key: "vigil-partition", value: Some(partition.as_str()) })
            .insert(Header { key: "vigil-partitions", value: Some(partitions.as_str()) })
    }

    /// Reads the identity from a record's headers; `None` for a record that is not a partial.
    pub fn from_headers(headers: Option<&impl Headers>) -> Option<PartialId> {
        let headers = headers?;
        let get = |name: &str| -> Option<String> {
            headers.iter().find(|h| h.key == name).and_then(|h| h.value).and_then(|v| std::str::from_utf8(v).ok()).map(str::to_string)
        };
        Some(PartialId {
            schedule: get("vigil-schedule")?,
            tick: get("vigil-tick")?.parse().ok()?,
            partition: get("vigil-partition")?.parse().ok()?,
            partitions: get("vigil-partitions")?.parse().ok()?,
        })
    }
}

/// A header's text value.
pub fn header_text(headers: Option<&impl Headers>, name: &str) -> Option<String> {
    headers?.iter().find(|h| h.key == name).and_then(|h| h.value).and_then(|v| std::str::from_utf8(v).ok()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_through_headers() {
        let id = PartialId { schedule: "00ff".into(), tick: 1_795_168_800_000_000, partition: 2, partitions: 3 };
        let h = id.headers();
        assert_eq!(PartialId::from_headers(Some(&h)), Some(id.clone()));
        assert_eq!(id.key(), "00ff|1795168800000000");
        let other = OwnedHeaders::new().insert(Header { key: "vigil-tick", value: Some("x") });
        assert_eq!(PartialId::from_headers(Some(&other)), None);
        assert_eq!(PartialId::from_headers(None::<&OwnedHeaders>), None);
    }
}
