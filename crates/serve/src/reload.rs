//! Reload on SIGHUP or `POST /vigil/reload`: the config file and the content are read again
//! and applied without stopping ingest.
//!
//! - Everything is read and checked first (config, content, the selection's plans, the
//!   actions' targets); on any error nothing changes and the error is answered and logged.
//! - HEC tokens and limits apply to requests that start afterwards; requests under way finish
//!   with what they started with, so no event is lost or refused by the switch.
//! - The scheduler keeps every schedule whose detections and planned searches are unchanged,
//!   and its tick position: no tick runs twice or is skipped (`schedule.rs`).
//! - Actions: unchanged ones keep their delivery thread, changed ones restart; the outbox
//!   keeps what was queued.
//! - `listen`, `tls`, `data_dir`, `[store]`, `max_queued_events` and the listener's limits
//!   (`max_inflight_body_bytes`, `max_connections`, the header and body timeouts) need a
//!   restart: a change is reported, not applied.

use crate::actions::Actions;
use crate::config::Config;
use crate::ingest::Hec;
use crate::schedule::Scheduler;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use vigil_content::ContentSet;

/// Loads the content for a config: the built-in and `--content` layers, then `layers`.
pub type ContentLoader = Box<dyn Fn(&[PathBuf]) -> Result<ContentSet, String> + Send>;

/// Where a reload reads from: the config file (none: defaults), the command line's
/// overrides applied over it, the content loader.
pub struct Source {
    pub config_path: Option<PathBuf>,
    pub apply_flags: Box<dyn Fn(&mut Config) + Send>,
    pub load_content: ContentLoader,
}

impl Source {
    /// The config as the command line and the file say now.
    pub fn config(&self) -> Result<Config, String> {
        let mut config = match &self.config_path {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        (self.apply_flags)(&mut config);
        Ok(config)
    }
}

pub struct Reloader {
    pub source: Source,
    pub data_dir: PathBuf,
    /// The config in force.
    pub current: Config,
    pub hec: Arc<Hec>,
    pub scheduler: Arc<Mutex<Scheduler>>,
    pub actions: Arc<Actions>,
    pub scheduled: Arc<AtomicUsize>,
}

impl Reloader {
    /// Reloads; the summary or the error is also logged.
    pub fn reload(&mut self) -> Result<String, String> {
        let result = self.try_reload();
        crate::metrics::global().reload(result.is_ok());
        match &result {
            Ok(s) => eprintln!("vigil serve: reloaded: {s}"),
            Err(e) => eprintln!("vigil serve: reload failed, the running configuration is unchanged: {e}"),
        }
        result
    }

    fn try_reload(&mut self) -> Result<String, String> {
        let config = self.source.config()?;
        let content = (self.source.load_content)(&config.content)?;
        let tokens = crate::tokens(&config, &self.data_dir)?;
        Actions::check(&config.actions)?;
        let mut scheduler = self.scheduler.lock().map_err(|_| "scheduler lock poisoned")?;
        // The API's enable/disable choices stay on top of the reloaded config.
        let selection = crate::api::effective_selection(&config.scheduler, &self.data_dir);
        let schedules = scheduler.reload(content, &selection)?;
        self.scheduled.store(scheduler.detection_count(), Ordering::Relaxed);
        drop(scheduler);
        let actions = self.actions.reload(&config.actions)?;
        self.hec.reconfigure(tokens, config.limits.clone());
        let mut summary = format!("{schedules}; {actions}; {} HEC token(s)", config.tokens.len().max(1));
        let restart = needs_restart(&self.current, &config);
        if !restart.is_empty() {
            summary.push_str(&format!("; changed but applied only at the next start: {}", restart.join(", ")));
        }
        self.current = config;
        Ok(summary)
    }
}

/// Settings that differ and cannot change while running.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    if old.listen != new.listen {
        out.push("listen");
    }
    if old.tls != new.tls {
        out.push("tls");
    }
    if old.data_dir != new.data_dir {
        out.push("data_dir");
    }
    if old.store.seal_idle_secs != new.store.seal_idle_secs {
        out.push("store");
    }
    let (o, n) = (&old.limits, &new.limits);
    // The commit queue, the byte budget and the listener are sized at start.
    let sized_at_start: [(&'static str, bool); 6] = [
        ("limits.max_queued_events", o.max_queued_events != n.max_queued_events),
        ("limits.max_inflight_body_bytes", o.max_inflight_body_bytes != n.max_inflight_body_bytes),
        ("limits.max_connections", o.max_connections != n.max_connections),
        ("limits.header_timeout_secs", o.header_timeout_secs != n.header_timeout_secs),
        ("limits.body_timeout_secs", o.body_timeout_secs != n.body_timeout_secs),
        ("limits.min_body_rate", o.min_body_rate != n.min_body_rate),
    ];
    out.extend(sized_at_start.iter().filter(|(_, changed)| *changed).map(|(name, _)| *name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_only_settings_are_named() {
        let old = Config::default();
        let mut new = Config::default();
        assert!(needs_restart(&old, &new).is_empty());
        new.listen = "127.0.0.1:9999".parse().unwrap();
        new.limits.max_queued_events = 5;
        new.limits.max_event_bytes = 5; // applied live
        new.limits.max_connections = 5;
        assert_eq!(needs_restart(&old, &new), ["listen", "limits.max_queued_events", "limits.max_connections"]);
    }
}
