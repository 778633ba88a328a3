//! Alert actions: every notable and risk event a run raises also goes to the configured
//! webhooks, Splunk HECs and files, through a durable outbox.
//!
//! ```text
//! scheduler run --alerts--> Actions::enqueue --(SQLite outbox, before the risk index)--> one
//!   thread per action: deliver in order --ok--> sent | --error--> retry after backoff
//!   (head of line: later alerts wait) --max_attempts--> failed (kept, counted, logged)
//! ```
//!
//! Delivery runs on its own threads: a slow or dead endpoint never blocks ingest or the
//! scheduler, and what was queued survives a restart. See `outbox.rs` for the guarantees.

pub mod config;
mod deliver;
pub mod outbox;

pub use config::ActionConfig;
pub use deliver::stash_text;

use crate::metrics;
use deliver::Target;
use outbox::{Depth, Outbox};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vigil_alert::Alert;

/// The actions of a running server.
pub struct Actions {
    outbox_path: PathBuf,
    /// The scheduler's connection (queueing) and the metrics' (depths).
    queue: Mutex<Outbox>,
    workers: Mutex<Vec<Worker>>,
    rt: tokio::runtime::Handle,
}

struct Worker {
    config: ActionConfig,
    stop: Arc<AtomicBool>,
    wake: Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Actions {
    /// Opens `<data_dir>/outbox.db` and starts one delivery thread per action; deliveries
    /// left from before a restart resume.
    pub fn start(data_dir: &Path, configs: &[ActionConfig], rt: tokio::runtime::Handle) -> Result<Actions, String> {
        config::validate_all(configs)?;
        let outbox_path = data_dir.join("outbox.db");
        let queue = Outbox::open(&outbox_path)?;
        let orphans: Vec<String> = queue.actions_pending()?.into_iter().filter(|a| !configs.iter().any(|c| &c.name == a)).collect();
        if !orphans.is_empty() {
            eprintln!("vigil serve: outbox has undelivered alerts for action(s) no longer configured (kept): {}", orphans.join(", "));
        }
        let actions = Actions { outbox_path, queue: Mutex::new(queue), workers: Mutex::new(Vec::new()), rt };
        let mut workers = Vec::new();
        for c in configs {
            workers.push(actions.spawn(c.clone())?);
        }
        *actions.workers.lock().map_err(|_| "actions: lock poisoned")? = workers;
        Ok(actions)
    }

    fn spawn(&self, config: ActionConfig) -> Result<Worker, String> {
        let target = Target::new(&config)?;
        let outbox = Outbox::open(&self.outbox_path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::channel();
        let (c, s, rt) = (config.clone(), stop.clone(), self.rt.clone());
        let thread = std::thread::Builder::new()
            .name(format!("vigil-action-{}", config.name))
            .spawn(move || deliver_loop(&c, &target, outbox, &rt, &s, &woken))
            .map_err(|e| format!("cannot start action `{}`: {e}", config.name))?;
        Ok(Worker { config, stop, wake, thread: Some(thread) })
    }

    /// Names of the configured actions.
    pub fn names(&self) -> Vec<String> {
        self.workers.lock().map(|w| w.iter().map(|w| w.config.name.clone()).collect()).unwrap_or_default()
    }

    /// Queues every alert for each action that wants its kind; returns the rows queued (an
    /// alert queued before, by a repeated run, is not queued again).
    pub fn enqueue(&self, alerts: &[Alert]) -> Result<usize, String> {
        let Ok(workers) = self.workers.lock() else { return Err("actions: lock poisoned".into()) };
        if workers.is_empty() || alerts.is_empty() {
            return Ok(0);
        }
        let mut rows = Vec::new();
        for a in alerts {
            let payload = serde_json::to_string(a).map_err(|e| format!("alert as JSON: {e}"))?;
            for w in workers.iter().filter(|w| w.config.wants(a.kind())) {
                rows.push((w.config.name.as_str(), a.event_hash(), payload.clone()));
            }
        }
        let added = self.queue.lock().map_err(|_| "actions: lock poisoned")?.enqueue(&rows, vigil_time::now_micros())?;
        for w in workers.iter() {
            let _ = w.wake.send(());
        }
        Ok(added)
    }

    /// Pending and given-up deliveries per action.
    pub fn depths(&self) -> Vec<(String, Depth)> {
        let names = self.names();
        let Ok(q) = self.queue.lock() else { return Vec::new() };
        names.into_iter().filter_map(|n| q.depth(&n).ok().map(|d| (n, d))).collect()
    }

    /// Checks a list of actions as [`Actions::reload`] would, changing nothing.
    pub fn check(configs: &[ActionConfig]) -> Result<(), String> {
        config::validate_all(configs)?;
        configs.iter().try_for_each(|c| Target::new(c).map(|_| ()))
    }

    /// Applies a new list of actions: unchanged ones keep running, changed ones restart,
    /// removed ones stop (their undelivered alerts stay in the outbox). Returns a summary.
    pub fn reload(&self, configs: &[ActionConfig]) -> Result<String, String> {
        // A bad target (an unreadable ca_file) leaves everything as it was.
        Self::check(configs)?;
        let mut workers = self.workers.lock().map_err(|_| "actions: lock poisoned")?;
        let mut old: Vec<Worker> = std::mem::take(&mut *workers);
        let (mut kept, mut started) = (0, 0);
        for c in configs {
            match old.iter().position(|w| &w.config == c) {
                Some(i) => {
                    workers.push(old.swap_remove(i));
                    kept += 1;
                }
                None => {
                    workers.push(self.spawn(c.clone())?);
                    started += 1;
                }
            }
        }
        let stopped = old.len();
        stop_all(old);
        Ok(format!("{kept} action(s) kept, {started} started, {stopped} stopped"))
    }

    /// Stops every delivery thread after its current delivery.
    pub fn stop(&self) {
        if let Ok(mut w) = self.workers.lock() {
            stop_all(std::mem::take(&mut *w));
        }
    }
}

fn stop_all(workers: Vec<Worker>) {
    for w in &workers {
        w.stop.store(true, Ordering::SeqCst);
        let _ = w.wake.send(());
    }
    for mut w in workers {
        if let Some(t) = w.thread.take() {
            let _ = t.join();
        }
    }
}

/// One action's delivery thread: the head of its queue, in order, until stopped.
fn deliver_loop(
    cfg: &ActionConfig,
    target: &Target,
    mut outbox: Outbox,
    rt: &tokio::runtime::Handle,
    stop: &AtomicBool,
    wake: &Receiver<()>,
) {
    let batch = target.batch(cfg.batch);
    let name = cfg.name.as_str();
    let wait = |d: Duration| match wake.recv_timeout(d) {
        Ok(()) | Err(RecvTimeoutError::Timeout) => {}
        // The handle is gone: the server is stopping.
        Err(RecvTimeoutError::Disconnected) => std::thread::sleep(d.min(Duration::from_millis(100))),
    };
    let mut pruned_at = 0;
    while !stop.load(Ordering::SeqCst) {
        let now = vigil_time::now_micros();
        if now - pruned_at > 3_600_000_000 {
            pruned_at = now;
            if let Err(e) = outbox.prune_sent(now - outbox::KEEP_SENT) {
                log(name, "error", &[("error", e.into())]);
            }
        }
        let rows = match outbox.head(name, batch) {
            Ok(r) => r,
            Err(e) => {
                log(name, "error", &[("error", e.into())]);
                wait(Duration::from_secs(5));
                continue;
            }
        };
        let Some(head) = rows.first() else {
            wait(Duration::from_secs(60));
            continue;
        };
        if head.next_at > now {
            wait(Duration::from_micros((head.next_at - now) as u64));
            continue;
        }
        let due: Vec<&outbox::Row> = rows.iter().take_while(|r| r.next_at <= now).collect();
        let ids: Vec<i64> = due.iter().map(|r| r.id).collect();
        let payloads: Vec<&str> = due.iter().map(|r| r.payload.as_str()).collect();
        let result = target.deliver(rt, &payloads);
        let m = metrics::global();
        let marked = match result {
            Ok(()) => {
                m.action_delivered(name, ids.len() as u64);
                outbox.mark_sent(&ids)
            }
            Err(error) => {
                let attempt = head.attempts + 1;
                let give_up = attempt >= cfg.max_attempts;
                let retry = cfg.backoff(attempt);
                m.action_failed(name);
                let mut fields = vec![("attempt", attempt.into()), ("max_attempts", cfg.max_attempts.into()), ("alerts", ids.len().into())];
                if give_up {
                    m.action_gave_up(name, ids.len() as u64);
                    log(name, "gave_up", &[fields.as_slice(), &[("error", error.clone().into())]].concat());
                } else {
                    fields.push(("retry_in_secs", retry.as_secs_f64().into()));
                    log(name, "failed", &[fields.as_slice(), &[("error", error.clone().into())]].concat());
                }
                let next_at = now.saturating_add(i64::try_from(retry.as_micros()).unwrap_or(i64::MAX / 2));
                outbox.mark_attempt_failed(&ids, &error, next_at, give_up)
            }
        };
        if let Err(e) = marked {
            log(name, "error", &[("error", e.into())]);
            wait(Duration::from_secs(5));
        }
    }
}

/// One structured log line on stderr: `vigil serve: action {"action":..,"event":..,...}`.
fn log(action: &str, event: &str, fields: &[(&str, serde_json::Value)]) {
    let mut m = serde_json::Map::new();
    m.insert("action".into(), action.into());
    m.insert("event".into(), event.into());
    for (k, v) in fields {
        m.insert((*k).into(), v.clone());
    }
    eprintln!("vigil serve: action {}", serde_json::Value::Object(m));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_action(path: &Path) -> ActionConfig {
        let text = format!(
            "name = \"f\"\ntype = \"file\"\npath = {:?}\nmax_attempts = 3\nbackoff_initial_secs = 0.01\nbackoff_max_secs = 0.02\n",
            path
        );
        toml::from_str(&text).unwrap()
    }

    fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !ok() {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A target that fails (its directory is a file) is retried with backoff, then given up
    /// row by row; once it works, new alerts are delivered in order, each once.
    #[test]
    fn failing_deliveries_are_retried_then_given_up_and_later_ones_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "a file where a directory should be").unwrap();
        let cfg = file_action(&blocker.join("alerts.jsonl"));
        let target = Target::new(&cfg).unwrap();
        let db = dir.path().join("outbox.db");
        let mut queue = Outbox::open(&db).unwrap();
        queue.enqueue(&[("f", "h1", "{\"n\":1}".into()), ("f", "h2", "{\"n\":2}".into())], 0).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::channel();
        let worker = {
            let (cfg, stop, handle) = (cfg.clone(), stop.clone(), rt.handle().clone());
            let outbox = Outbox::open(&db).unwrap();
            std::thread::spawn(move || deliver_loop(&cfg, &target, outbox, &handle, &stop, &woken))
        };
        wait_for("both rows given up", || queue.depth("f").unwrap() == Depth { pending: 0, failed: 2 });
        assert!(queue.last_error("f").unwrap().unwrap().contains("blocker"));
        stop.store(true, Ordering::SeqCst);
        wake.send(()).unwrap();
        worker.join().unwrap();

        // Fixed: a new worker delivers what is queued now, in order.
        std::fs::remove_file(&blocker).unwrap();
        let out = blocker.join("alerts.jsonl");
        let cfg = file_action(&out);
        let target = Target::new(&cfg).unwrap();
        queue.enqueue(&[("f", "h3", "{\"n\":3}".into()), ("f", "h4", "{\"n\":4}".into())], 0).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::channel();
        let worker = {
            let (stop, handle) = (stop.clone(), rt.handle().clone());
            let outbox = Outbox::open(&db).unwrap();
            std::thread::spawn(move || deliver_loop(&cfg, &target, outbox, &handle, &stop, &woken))
        };
        wait_for("the new rows delivered", || queue.depth("f").unwrap().pending == 0);
        stop.store(true, Ordering::SeqCst);
        wake.send(()).unwrap();
        worker.join().unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"n\":3}\n{\"n\":4}\n");
        assert_eq!(queue.depth("f").unwrap(), Depth { pending: 0, failed: 2 });
    }
}
