//! Retention: sealed hour partitions beyond `[store] max_age` or `max_size` are deleted,
//! oldest first, while the server runs.
//!
//! ```toml
//! [store]
//! max_age = "30d"      # s, m, h, d, w; a partition goes once its whole hour is older
//! max_size = "10GB"    # B, KB, MB, GB, TB (powers of 1024); the whole store, open segments too
//! ```
//!
//! Decisions:
//! - Age is event time (`_time`), as Splunk freezes buckets by the time of their newest event:
//!   a partition `[h, h+1h)` is deleted once `h + 1h <= now - max_age`.
//! - Size counts every file of the store; past it, the oldest sealed partitions are deleted
//!   until the store fits. A partition with an open segment (being written, or holding late
//!   events not yet sealed) is never deleted; if only those are left, the store stays over
//!   the limit until they are sealed.
//! - Retention runs in the commit thread (the store's only writer), right after partitions
//!   are sealed and at most every [`EVERY`] otherwise, so no write races a deletion.
//!   Runs reading a deleted partition at that moment see its files vanish (an open file
//!   stays readable; a file not yet opened is reported as unreadable by that run).

use crate::store::{Retention, Store};
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_model::Micros;

const HOUR: Micros = 3_600_000_000;
/// Retention looks at the store at most this often unless a partition was just sealed.
const EVERY: Duration = Duration::from_secs(10);

/// The retention of `[store] max_age` / `max_size`; `None` when neither is set.
pub fn from_config(max_age: Option<&str>, max_size: Option<&str>) -> Result<Option<Retention>, String> {
    let max_age = max_age
        .map(|a| parse_age(a).ok_or_else(|| format!("[store] max_age = {a:?}: expected a number and s, m, h, d or w (\"30d\")")))
        .transpose()?;
    let max_size = max_size
        .map(|s| parse_size(s).ok_or_else(|| format!("[store] max_size = {s:?}: expected a number and B, KB, MB, GB or TB (\"10GB\")")))
        .transpose()?;
    if max_age.is_none() && max_size.is_none() {
        return Ok(None);
    }
    Ok(Some(Retention { max_age, max_size, stats: Arc::default(), last: None }))
}

impl Store {
    /// Applies retention (if configured) when it is due: `sealed` partitions were just sealed,
    /// or [`EVERY`] passed. Problems are logged; the server goes on.
    pub fn apply_retention(&mut self, now: Micros, sealed: bool) {
        let Some(mut r) = self.retention.take() else { return };
        if sealed || r.last.is_none_or(|l| l.elapsed() >= EVERY) {
            r.last = Some(Instant::now());
            if let Err(e) = self.retain(&r, now) {
                eprintln!("vigil serve: retention under {}: {e}", self.root().display());
            }
        }
        self.retention = Some(r);
    }

    /// Deletes what is beyond the limits; returns the partitions deleted (hour, bytes).
    fn retain(&mut self, r: &Retention, now: Micros) -> io::Result<Vec<(Micros, u64)>> {
        let mut parts: Vec<(Micros, std::path::PathBuf, u64, bool)> = Vec::new();
        for (hour, dir) in crate::store::partition_dirs(self.root())? {
            let open = self.is_unsealed(hour) || dir.join(crate::seal::LOG).exists();
            parts.push((hour, dir.clone(), dir_bytes(&dir)?, open));
        }
        let mut total: u64 = parts.iter().map(|p| p.2).sum();
        let mut deleted = Vec::new();
        // Oldest first: partition_dirs is sorted by hour.
        for (hour, dir, bytes, open) in &parts {
            if *open {
                continue;
            }
            let too_old = r.max_age.is_some_and(|age| hour.saturating_add(HOUR) <= now.saturating_sub(age));
            let too_big = r.max_size.is_some_and(|max| total > max);
            if !too_old && !too_big {
                continue;
            }
            std::fs::remove_dir_all(dir)?;
            total -= bytes;
            deleted.push((*hour, *bytes));
            let why = if too_old { "older than max_age" } else { "store over max_size" };
            eprintln!("vigil serve: retention: deleted partition {} ({bytes} bytes, {why})", dir.display());
        }
        if !deleted.is_empty() {
            std::fs::File::open(self.root())?.sync_all()?;
        }
        r.stats.partitions_deleted.fetch_add(deleted.len() as u64, Ordering::Relaxed);
        r.stats.bytes_deleted.fetch_add(deleted.iter().map(|d| d.1).sum(), Ordering::Relaxed);
        r.stats.store_bytes.store(total, Ordering::Relaxed);
        Ok(deleted)
    }
}

fn dir_bytes(dir: &Path) -> io::Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            n += e.metadata()?.len();
        }
    }
    Ok(n)
}

/// `30d`, `12h`, `90m`, `3600s`, `2w` (a bare number is seconds).
pub fn parse_age(text: &str) -> Option<Micros> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: i64 = t[..split].parse().ok()?;
    let unit: i64 = match t[split..].trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit)?.checked_mul(1_000_000)
}

/// `10GB`, `500MB`, `1TB`, `4096` (bytes): powers of 1024 (`GiB` spellings too).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split].parse().ok()?;
    let unit = t[split..].trim().to_ascii_uppercase();
    let shift = match unit.trim_end_matches('B').trim_end_matches('I') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::ev;
    use crate::store::StoredEvent;

    fn hours(root: &Path) -> Vec<Micros> {
        crate::store::partition_dirs(root).unwrap().into_iter().map(|(h, _)| h).collect()
    }

    #[test]
    fn limits_parse() {
        assert_eq!(parse_age("30d"), Some(30 * 86_400_000_000));
        assert_eq!(parse_age("90m"), Some(5_400_000_000));
        assert_eq!(parse_age("5 parsecs"), None);
        assert_eq!(parse_size("10GB"), Some(10 << 30));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1PB"), None);
        assert!(from_config(None, None).unwrap().is_none());
        assert!(from_config(Some("soon"), None).is_err());
    }

    #[test]
    fn old_and_oversized_sealed_partitions_go_oldest_first_never_open_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), 0).unwrap();
        let text = "x".repeat(1000);
        let evs: Vec<StoredEvent> = (0..6).map(|h| ev(h * HOUR + 5, &text)).collect();
        store.append(&evs, 0).unwrap();
        // Hours 0-4 sealed; hour 5 still open.
        assert_eq!(store.seal_idle(6 * HOUR - 1, 0).unwrap(), 5);
        store.append(&[ev(5 * HOUR + 9, &text)], 6 * HOUR).unwrap();
        let r = from_config(Some("3h"), None).unwrap().unwrap();
        // At 7:00 with 3h: hours ending by 4:00 go (0..=3).
        let deleted = store.retain(&r, 7 * HOUR).unwrap();
        assert_eq!(deleted.iter().map(|d| d.0).collect::<Vec<_>>(), [0, HOUR, 2 * HOUR, 3 * HOUR]);
        assert_eq!(hours(dir.path()), [4 * HOUR, 5 * HOUR]);
        // Size: one byte allowed; the sealed hour 4 goes, the open hour 5 stays.
        let r = from_config(None, Some("1")).unwrap().unwrap();
        store.retain(&r, 7 * HOUR).unwrap();
        assert_eq!(hours(dir.path()), [5 * HOUR]);
        assert_eq!(r.stats.partitions_deleted.load(Ordering::Relaxed), 1);
        assert!(r.stats.store_bytes.load(Ordering::Relaxed) > 1);
    }
}
