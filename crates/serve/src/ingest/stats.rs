//! What ingest received, per HEC token and sourcetype: totals and per-minute counts of the last
//! hour, from which the API gives rates. Counted when the events are stored (answered success).

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use vigil_model::Micros;

const MINUTE: Micros = 60_000_000;
/// Minutes of per-minute counts kept.
const KEEP_MINUTES: usize = 60;

#[derive(Default)]
struct Series {
    events: u64,
    bytes: u64,
    first: Option<Micros>,
    last: Option<Micros>,
    /// (minute start, events, bytes), oldest first.
    minutes: VecDeque<(Micros, u64, u64)>,
}

/// Counters shared by the ingest handlers and the API.
#[derive(Default)]
pub struct IngestStats {
    by_key: Mutex<BTreeMap<(String, String), Series>>,
}

/// One token and sourcetype's counts, as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestRate {
    pub token: String,
    pub sourcetype: String,
    pub events: u64,
    pub bytes: u64,
    /// Epoch seconds of the first and last events received.
    pub first_received: Option<i64>,
    pub last_received: Option<i64>,
    /// Events per second over the last 1, 5 and 15 minutes.
    pub eps_1m: f64,
    pub eps_5m: f64,
    pub eps_15m: f64,
    /// Bytes per second over the last 5 minutes.
    pub bytes_per_sec_5m: f64,
}

impl IngestStats {
    /// `events` events of `bytes` bytes stored at `now` for this token and sourcetype.
    pub fn record(&self, token: &str, sourcetype: &str, events: u64, bytes: u64, now: Micros) {
        let Ok(mut map) = self.by_key.lock() else { return };
        let s = map.entry((token.to_string(), sourcetype.to_string())).or_default();
        s.events += events;
        s.bytes += bytes;
        s.first = s.first.or(Some(now));
        s.last = Some(s.last.map_or(now, |l| l.max(now)));
        let minute = now.div_euclid(MINUTE) * MINUTE;
        match s.minutes.back_mut() {
            Some(m) if m.0 == minute => {
                m.1 += events;
                m.2 += bytes;
            }
            _ => s.minutes.push_back((minute, events, bytes)),
        }
        while s.minutes.len() > KEEP_MINUTES {
            s.minutes.pop_front();
        }
    }

    /// Counts and rates as of `now`, by token then sourcetype.
    pub fn rates(&self, now: Micros) -> Vec<IngestRate> {
        let Ok(map) = self.by_key.lock() else { return Vec::new() };
        let over = |s: &Series, minutes: i64| -> (f64, f64) {
            let since = now - minutes * MINUTE;
            let (e, b) = s.minutes.iter().filter(|m| m.0 + MINUTE > since && m.0 <= now).fold((0, 0), |(e, b), m| (e + m.1, b + m.2));
            let secs = (minutes * 60) as f64;
            (e as f64 / secs, b as f64 / secs)
        };
        map.iter()
            .map(|((token, sourcetype), s)| IngestRate {
                token: token.clone(),
                sourcetype: sourcetype.clone(),
                events: s.events,
                bytes: s.bytes,
                first_received: s.first.map(|t| t.div_euclid(1_000_000)),
                last_received: s.last.map(|t| t.div_euclid(1_000_000)),
                eps_1m: over(s, 1).0,
                eps_5m: over(s, 5).0,
                eps_15m: over(s, 15).0,
                bytes_per_sec_5m: over(s, 5).1,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_the_last_minutes() {
        let s = IngestStats::default();
        let t0 = 1_800_000_000 * 1_000_000;
        s.record("sysmon", "XmlWinEventLog", 60, 6000, t0);
        s.record("sysmon", "XmlWinEventLog", 60, 6000, t0 + 4 * MINUTE);
        s.record("edr", "crowdstrike:events:sensor", 30, 100, t0 + 4 * MINUTE);
        let r = s.rates(t0 + 4 * MINUTE + 1);
        assert_eq!(r.len(), 2);
        let sysmon = r.iter().find(|r| r.token == "sysmon").unwrap();
        assert_eq!((sysmon.events, sysmon.bytes), (120, 12000));
        assert_eq!(sysmon.eps_1m, 1.0);
        assert_eq!(sysmon.eps_5m, 120.0 / 300.0);
        assert_eq!(sysmon.first_received, Some(1_800_000_000));
        // An hour later nothing is recent, the totals stay.
        let later = s.rates(t0 + 70 * MINUTE);
        assert_eq!(later[1].eps_15m, 0.0);
        assert_eq!(later[1].events, 120);
    }
}
