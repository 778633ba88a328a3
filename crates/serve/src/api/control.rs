//! Enabling and disabling detections: the choices made through the API, kept in
//! `<data dir>/detections.json` on top of the config's `[scheduler]` and `--enable`, and the
//! scheduler rebuilt with the new selection (the handlers are in detections.rs).

use super::http::ApiError;
use crate::schedule::{ScheduleInfo, Scheduler, Selection};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vigil_content::{ContentSet, Detection};

/// Enable/disable choices made through the API, kept in the data directory.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Overrides {
    enable: Vec<String>,
    disable: Vec<String>,
}

fn overrides_path(data_dir: &Path) -> PathBuf {
    data_dir.join("detections.json")
}

fn load_overrides(data_dir: &Path) -> Overrides {
    std::fs::read(overrides_path(data_dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// The config's selection with the API's choices on top (what the scheduler runs).
pub fn effective_selection(base: &Selection, data_dir: &Path) -> Selection {
    apply(base, &load_overrides(data_dir))
}

fn apply(base: &Selection, o: &Overrides) -> Selection {
    let mut s = base.clone();
    s.enable.retain(|n| !o.disable.contains(n));
    s.disable.retain(|n| !o.enable.contains(n));
    s.enable.extend(o.enable.iter().cloned());
    s.disable.extend(o.disable.iter().cloned());
    s
}

/// What the API needs to show and change the schedule.
#[derive(Clone)]
pub struct DetectionControl {
    inner: Arc<Control>,
}

struct Control {
    content: ContentSet,
    base: Selection,
    data_dir: PathBuf,
    /// `None` in a `--role api` process.
    scheduler: Option<Arc<Mutex<Scheduler>>>,
    overrides: Mutex<Overrides>,
    /// The scheduler's schedules as last read: shown while a run holds the scheduler.
    last_seen: Mutex<Option<SchedulerView>>,
}

/// What the API reads from the scheduler.
#[derive(Clone)]
pub(super) struct SchedulerView {
    pub(super) schedules: Vec<ScheduleInfo>,
    pub(super) not_scheduled: Vec<(String, String)>,
}

impl SchedulerView {
    fn of(s: &Scheduler) -> SchedulerView {
        SchedulerView { schedules: s.schedules(), not_scheduled: s.not_scheduled().to_vec() }
    }
}

impl DetectionControl {
    /// `scheduler`: `None` for a process that serves the API without scheduling (`--role api`).
    pub fn new(content: ContentSet, base: Selection, data_dir: PathBuf, scheduler: Option<Arc<Mutex<Scheduler>>>) -> DetectionControl {
        let overrides = Mutex::new(load_overrides(&data_dir));
        let last_seen = Mutex::new(None);
        DetectionControl { inner: Arc::new(Control { content, base, data_dir, scheduler, overrides, last_seen }) }
    }

    pub fn content(&self) -> ContentSet {
        self.inner.content.clone()
    }

    /// The loaded content, borrowed.
    pub(super) fn content_ref(&self) -> &ContentSet {
        &self.inner.content
    }

    /// The server's data directory (runs.jsonl is there).
    pub(super) fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The scheduler's state; while a run holds the scheduler, the last one read (so the API
    /// does not wait for a long run), unless there is none yet.
    pub(super) fn view(&self) -> Result<SchedulerView, ApiError> {
        let c = &self.inner;
        let Some(scheduler) = &c.scheduler else {
            return Ok(SchedulerView { schedules: Vec::new(), not_scheduled: Vec::new() });
        };
        let fresh = match scheduler.try_lock() {
            Ok(s) => Some(SchedulerView::of(&s)),
            Err(std::sync::TryLockError::WouldBlock) => None,
            Err(std::sync::TryLockError::Poisoned(_)) => return Err(ApiError::Internal("scheduler lock poisoned".into())),
        };
        let mut last = c.last_seen.lock().map_err(|_| ApiError::Internal("lock poisoned".into()))?;
        let view = match (fresh, last.clone()) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => SchedulerView::of(&*scheduler.lock().map_err(|_| ApiError::Internal("scheduler lock poisoned".into()))?),
        };
        *last = Some(view.clone());
        Ok(view)
    }

    pub(super) fn selection(&self) -> Selection {
        let o = self.inner.overrides.lock().map(|o| o.clone()).unwrap_or_default();
        apply(&self.inner.base, &o)
    }

    /// A detection's headline, by id (the notable detail shows it).
    pub fn describe_by_id(&self, id: &str) -> Option<Value> {
        self.inner.content.detections().iter().find(|d| d.id == id).map(headline)
    }

    /// Enables or disables `name` and rebuilds the scheduler with the new selection.
    pub(super) fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), ApiError> {
        let c = &self.inner;
        let Some(scheduler) = &c.scheduler else {
            return Err(ApiError::Conflict(
                "this process does not schedule detections (--role api): change the selection of the processes that do".into(),
            ));
        };
        let mut o = c.overrides.lock().map_err(|_| ApiError::Internal("lock poisoned".into()))?;
        let before = o.clone();
        o.enable.retain(|n| n != name);
        o.disable.retain(|n| n != name);
        match enabled {
            true => o.enable.push(name.to_string()),
            false => o.disable.push(name.to_string()),
        }
        let selection = apply(&c.base, &o);
        let rebuilt = (|| -> Result<(), String> {
            // Held while re-planning: no run starts on the old selection meanwhile. Unchanged
            // schedules keep their engines, the tick position and the alert actions stay.
            let mut current = scheduler.lock().map_err(|_| "scheduler lock poisoned".to_string())?;
            let content = current.content().clone();
            current.reload(content, &selection)?;
            // Seen at once, even if a run holds the scheduler when the answer is made.
            if let Ok(mut last) = c.last_seen.lock() {
                *last = Some(SchedulerView::of(&current));
            }
            Ok(())
        })();
        if let Err(e) = rebuilt {
            *o = before;
            return Err(ApiError::Internal(format!("cannot reschedule: {e}")));
        }
        let text = serde_json::to_vec_pretty(&*o).map_err(|e| ApiError::Internal(e.to_string()))?;
        let path = overrides_path(&c.data_dir);
        std::fs::write(&path, text).map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))
    }
}

pub(super) fn headline(d: &Detection) -> Value {
    json!({
        "name": d.name,
        "id": d.id,
        "type": d.kind,
        "status": d.status,
        "description": d.description.trim(),
        "data_source": d.data_source,
        "mitre_attack_id": d.tags.mitre_attack_id,
        "analytic_story": d.tags.analytic_story,
        "known_false_positives": d.known_false_positives,
    })
}
