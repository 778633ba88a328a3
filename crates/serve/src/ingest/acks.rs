//! Indexer acknowledgement: per channel, ackIds handed out and whether each is durable yet.
//!
//! Splunk forgets an ackId once a query has reported it true; so does this. Channels and
//! pending ids are bounded, so a client that never queries cannot grow memory without limit
//! (past the bound it gets "server is busy").

use std::collections::HashMap;
use std::sync::Mutex;

const MAX_CHANNELS: usize = 10_000;
const MAX_PENDING_PER_CHANNEL: usize = 100_000;

#[derive(Default)]
struct Channel {
    next: u64,
    /// ackId -> stored (false while the commit is in flight or if it failed).
    status: HashMap<u64, bool>,
}

#[derive(Default)]
pub struct Acks {
    channels: Mutex<HashMap<String, Channel>>,
}

impl Acks {
    /// A new ackId on `channel`; `None` when the bounds are reached.
    pub fn register(&self, channel: &str) -> Option<u64> {
        let mut map = self.channels.lock().ok()?;
        if !map.contains_key(channel) && map.len() >= MAX_CHANNELS {
            return None;
        }
        let ch = map.entry(channel.to_string()).or_default();
        if ch.status.len() >= MAX_PENDING_PER_CHANNEL {
            return None;
        }
        let id = ch.next;
        ch.next += 1;
        ch.status.insert(id, false);
        Some(id)
    }

    /// The commit of `id` ended; a failed one stays false (the client resends).
    pub fn complete(&self, channel: &str, id: u64, stored: bool) {
        if let Ok(mut map) = self.channels.lock() {
            if let Some(s) = map.get_mut(channel).and_then(|c| c.status.get_mut(&id)) {
                *s = stored;
            }
        }
    }

    /// The status of `ids` (unknown ids are false); ids reported true are forgotten.
    /// `None` for a channel never seen.
    pub fn query(&self, channel: &str, ids: &[u64]) -> Option<Vec<(u64, bool)>> {
        let mut map = self.channels.lock().ok()?;
        let ch = map.get_mut(channel)?;
        let out: Vec<(u64, bool)> = ids.iter().map(|id| (*id, ch.status.get(id).copied().unwrap_or(false))).collect();
        for (id, ok) in &out {
            if *ok {
                ch.status.remove(id);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_true_once_stored_and_are_then_forgotten() {
        let acks = Acks::default();
        assert_eq!(acks.register("c"), Some(0));
        assert_eq!(acks.register("c"), Some(1));
        assert_eq!(acks.query("c", &[0, 1]), Some(vec![(0, false), (1, false)]));
        acks.complete("c", 1, true);
        assert_eq!(acks.query("c", &[0, 1]), Some(vec![(0, false), (1, true)]));
        assert_eq!(acks.query("c", &[1]), Some(vec![(1, false)]), "forgotten after reported true");
        assert_eq!(acks.query("other", &[0]), None);
    }
}
