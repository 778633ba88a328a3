//! `--store DIR` and `store:DIR` inputs: `vigil serve`'s event store read as logs.
//!
//! A store is a list of hour partitions of event files (`vigil_serve::store`); a run opens
//! only the partitions overlapping its time range (`--earliest/--latest` for hunt and search,
//! the union of the scheduled windows for backtest). Each event file is read by the same
//! readers as any log, with its metadata (`_time`, host, source, sourcetype, index,
//! `_indextime`, HEC fields) from the sidecar beside it (`vigil_read::sidecar`).

use clap::Args;
use std::path::{Path, PathBuf};
use vigil_time::Window;

/// An input argument naming a store: `store:DIR`.
pub const PREFIX: &str = "store:";

#[derive(Args, Clone, Debug, Default)]
pub struct StoreArgs {
    /// Read `vigil serve`'s event store: its data directory or the `store` directory in it.
    /// Only the hour partitions overlapping the time range are opened. Repeatable; an input
    /// argument `store:DIR` does the same.
    #[arg(long = "store", value_name = "DIR")]
    pub stores: Vec<PathBuf>,
}

/// The files to read: `paths` as given, with each store (`store:DIR` among them, and every
/// `--store`) replaced by its event files overlapping `window` (all of them without one).
pub fn expand(paths: &[PathBuf], args: &StoreArgs, window: Option<Window>, verbose: bool) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut roots = Vec::new();
    for p in paths {
        match p.to_str().and_then(|s| s.strip_prefix(PREFIX)) {
            Some(dir) => roots.push(PathBuf::from(dir)),
            None => out.push(p.clone()),
        }
    }
    roots.extend(args.stores.iter().cloned());
    let window = window.unwrap_or(Window::ALL);
    for dir in roots {
        let root = store_root(&dir)?;
        let files = vigil_serve::store::segments(&root, window).map_err(|e| format!("store {}: {e}", root.display()))?;
        if verbose {
            eprintln!("vigil: store {}: {} event file(s) overlap the time range", root.display(), files.len());
        }
        out.extend(files);
    }
    Ok(out)
}

/// A store directory, given it or the data directory holding it.
fn store_root(dir: &Path) -> Result<PathBuf, String> {
    let inner = vigil_serve::store_dir(dir);
    if inner.is_dir() {
        return Ok(inner);
    }
    if dir.is_dir() {
        return Ok(dir.to_path_buf());
    }
    Err(format!("store {}: not a directory (give vigil serve's data directory or its store/ directory)", dir.display()))
}

/// The smallest window holding every window in `windows` (`None` when there are none).
pub fn covering(windows: impl IntoIterator<Item = Window>) -> Option<Window> {
    windows.into_iter().reduce(|a, b| Window::new(a.earliest.min(b.earliest), a.latest.max(b.latest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_arguments_become_the_files_in_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = vigil_serve::store_dir(dir.path());
        for hour in ["2026-11-20T10", "2026-11-20T11", "2026-11-20T13"] {
            std::fs::create_dir_all(store.join(hour)).unwrap();
            std::fs::write(store.join(hour).join("events.log"), "x\n").unwrap();
        }
        let t = |s: &str| vigil_time::parse_iso8601_utc(s).unwrap();
        let arg = PathBuf::from(format!("{PREFIX}{}", dir.path().display()));
        let w = Window::new(t("2026-11-20T10:30:00Z"), t("2026-11-20T12:00:00Z"));
        let files = expand(&[PathBuf::from("a.log"), arg], &StoreArgs::default(), Some(w), false).unwrap();
        assert_eq!(files, [PathBuf::from("a.log"), store.join("2026-11-20T10/events.log"), store.join("2026-11-20T11/events.log")]);
        let all = expand(&[], &StoreArgs { stores: vec![store.clone()] }, None, false).unwrap();
        assert_eq!(all.len(), 3);
        assert!(expand(&[], &StoreArgs { stores: vec![dir.path().join("nope")] }, None, false).is_err());
        assert_eq!(
            covering([w, Window::new(t("2026-11-20T09:00:00Z"), t("2026-11-20T10:00:00Z"))]).unwrap().earliest,
            t("2026-11-20T09:00:00Z")
        );
    }
}
