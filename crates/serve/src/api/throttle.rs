//! Login throttling, per user name and per client address, with exponential backoff.
//!
//! A key (`user:NAME`, `ip:ADDR`) may fail [`FREE_FAILURES`] times within [`WINDOW`]; each
//! failure after that locks it for twice as long as the previous one (1 s, 2 s, 4 s, ... up to
//! [`MAX_LOCK`]). A login is refused while any of its keys is locked, without checking the
//! password, so guessing costs the guesser time and the server no argon2 work. A success
//! clears the user's key (not the address's: one good account must not reset a guesser's
//! address). The table is in memory and bounded: past [`MAX_KEYS`] the stale keys are dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FREE_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
const MAX_KEYS: usize = 100_000;

struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

#[derive(Default)]
pub struct Throttle {
    keys: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    /// `Err(wait)` when one of `keys` is locked now.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let Ok(map) = self.keys.lock() else { return Ok(()) };
        let wait = keys.iter().filter_map(|k| map.get(k)?.locked_until).filter(|u| *u > now).map(|u| u - now).max();
        match wait {
            Some(w) => Err(w.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    /// A failed login for `keys`.
    pub fn failed(&self, keys: &[String], now: Instant) {
        let Ok(mut map) = self.keys.lock() else { return };
        if map.len() >= MAX_KEYS {
            map.retain(|_, e| now.duration_since(e.last) < WINDOW || e.locked_until.is_some_and(|u| u > now));
        }
        for k in keys {
            let e = map.entry(k.clone()).or_insert(Entry { failures: 0, last: now, locked_until: None });
            if now.duration_since(e.last) >= WINDOW && e.locked_until.is_none_or(|u| u <= now) {
                e.failures = 0;
            }
            e.failures += 1;
            e.last = now;
            if e.failures > FREE_FAILURES {
                let doublings = (e.failures - FREE_FAILURES - 1).min(20);
                e.locked_until = Some(now + Duration::from_secs(1u64 << doublings).min(MAX_LOCK));
            }
        }
    }

    /// A successful login: the key starts afresh.
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut map) = self.keys.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_the_free_failures_and_success_clears_the_user() {
        let t = Throttle::default();
        let now = Instant::now();
        let keys = ["user:ann".to_string(), "ip:1.2.3.4".to_string()];
        for _ in 0..FREE_FAILURES {
            assert!(t.check(&keys, now).is_ok());
            t.failed(&keys, now);
        }
        assert!(t.check(&keys, now).is_ok());
        t.failed(&keys, now);
        assert_eq!(t.check(&keys, now), Err(Duration::from_secs(1)));
        t.failed(&keys, now);
        assert_eq!(t.check(&keys, now), Err(Duration::from_secs(2)));
        t.failed(&keys, now);
        assert_eq!(t.check(&keys, now + Duration::from_secs(1)), Err(Duration::from_secs(3)));
        assert!(t.check(&keys, now + Duration::from_secs(4)).is_ok());
        // Another user from the same address is still held back by the address.
        assert!(t.check(&["user:bob".into(), "ip:1.2.3.4".into()], now).is_err());
        t.succeeded("user:ann");
        assert!(t.check(&["user:ann".into()], now).is_ok());
        assert!(t.check(&["ip:1.2.3.4".into()], now).is_err());
        // Long quiet: the count starts again.
        let later = now + WINDOW + MAX_LOCK;
        t.failed(&["ip:1.2.3.4".into()], later);
        assert!(t.check(&["ip:1.2.3.4".into()], later).is_ok());
    }

    #[test]
    fn the_lock_is_capped() {
        let t = Throttle::default();
        let now = Instant::now();
        let k = ["user:x".to_string()];
        for _ in 0..60 {
            t.failed(&k, now);
        }
        assert_eq!(t.check(&k, now), Err(MAX_LOCK));
    }
}
