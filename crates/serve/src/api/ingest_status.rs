//! `/api/v1/ingest`: what arrives (events and rates per HEC token and sourcetype) and what is
//! kept (the store's partitions, size on disk, oldest and newest hour, sealing).

use super::auth::Caller;
use super::http::{blocking, iso, ApiError};
use super::state::{Api, Routes};
use super::users::Role;
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

pub(super) fn routes(r: Routes) -> Routes {
    r.add("/api/v1/ingest", &["GET"], get(status))
}

/// The store on disk.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct StoreStatus {
    pub partitions: usize,
    /// Partitions whose segment is compressed (sealed).
    pub sealed: usize,
    pub bytes: u64,
    pub oldest_partition: Option<String>,
    pub newest_partition: Option<String>,
}

/// Walks `<store>/<hour>/` directories (a store that does not exist is empty).
pub fn store_status(root: &Path) -> StoreStatus {
    let mut s = StoreStatus::default();
    let Ok(entries) = std::fs::read_dir(root) else { return s };
    let mut names = Vec::new();
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name().to_string_lossy().to_string();
        let Ok(files) = std::fs::read_dir(e.path()) else { continue };
        let mut sealed = false;
        for f in files.flatten() {
            s.bytes += f.metadata().map(|m| m.len()).unwrap_or(0);
            sealed |= f.file_name().to_string_lossy().ends_with(".zst");
        }
        s.partitions += 1;
        s.sealed += usize::from(sealed);
        names.push(name);
    }
    names.sort();
    s.oldest_partition = names.first().cloned();
    s.newest_partition = names.last().cloned();
    s
}

async fn status(State(api): State<Arc<Api>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let now = api.now();
    let rates = api.ingest.rates(now);
    let a = api.clone();
    let store = blocking(move || Ok(store_status(&a.store_root))).await?;
    let total_events: u64 = rates.iter().map(|r| r.events).sum();
    Ok(Json(json!({
        "now": iso(now),
        "received": {"events": total_events, "by_token_sourcetype": rates},
        "store": store,
        // Kept until removed by hand: the store has no retention yet besides sealing.
        "retention": {"seal_idle_secs": api.seal_idle_secs, "max_age_secs": null, "max_bytes": null},
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_status_counts_partitions_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(store_status(&dir.path().join("none")), StoreStatus::default());
        for (hour, file, len) in
            [("2026-11-20T10", "events.log.zst", 10), ("2026-11-20T11", "events.log", 7), ("2026-11-20T11", "events.meta", 3)]
        {
            std::fs::create_dir_all(dir.path().join(hour)).unwrap();
            std::fs::write(dir.path().join(hour).join(file), vec![b'x'; len]).unwrap();
        }
        let s = store_status(dir.path());
        assert_eq!((s.partitions, s.sealed, s.bytes), (2, 1, 20));
        assert_eq!(s.oldest_partition.as_deref(), Some("2026-11-20T10"));
        assert_eq!(s.newest_partition.as_deref(), Some("2026-11-20T11"));
    }
}
