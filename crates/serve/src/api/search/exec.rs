//! One ad-hoc search over the store: SPL planned with the loaded macros, the hour segments of
//! its time range read by the scan driver through the same readers and normalizers as files,
//! finished like `vigil search`.
//!
//! ```text
//! prepare: SPL --Planner--> Engine; range --store::segments--> files; timeline buckets
//! run:     files in chunks --Driver::scan(Counting(Windowed(Engine)))--> merged state
//!          (cancel checked between chunks and per event) --Driver::finish--> rows
//! ```
//!
//! Decisions:
//! - The segments are scanned a few at a time (twice the worker count per chunk), so a cancel
//!   stops the search within one chunk and progress moves per chunk as well as per file.
//! - The timeline counts the events of the range that the scan read (`events`) and the result
//!   rows by their `_time` (`results`, for searches that return events), in the same buckets.
//! - Results are kept up to [`MAX_RESULTS`] rows; the rest are counted, not kept.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::{DatasetRow, Event, Micros, Record, Value};
use vigil_normalize::Normalizer;
use vigil_read::ReadOptions;
use vigil_scan::{Consumer, Driver, Windowed};
use vigil_time::{Tz, Window};

/// Result rows kept per search.
pub const MAX_RESULTS: usize = 100_000;
const HOUR: Micros = 3_600_000_000;

/// Plans and runs searches over one store with one set of content.
pub struct Searcher {
    content: ContentSet,
    normalizer: Normalizer,
    store_root: PathBuf,
}

/// A search ready to run.
pub struct Prepared {
    engine: Engine,
    window: Window,
    segments: Vec<PathBuf>,
    now: Micros,
    /// Timeline buckets: start, width, count.
    pub timeline_start: Micros,
    pub span: Micros,
    buckets: usize,
}

/// Shared between a running search and those watching it.
#[derive(Default)]
pub struct Control {
    pub cancel: AtomicBool,
    pub bytes_total: AtomicU64,
    pub bytes_done: AtomicU64,
}

impl Control {
    /// Fraction of the input read, 0 to 1.
    pub fn progress(&self) -> f64 {
        let total = self.bytes_total.load(Ordering::Relaxed);
        match total {
            0 => 0.0,
            t => (self.bytes_done.load(Ordering::Relaxed) as f64 / t as f64).min(1.0),
        }
    }
}

/// What a search produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub rows: Vec<Record>,
    /// All result rows, kept or not.
    pub result_count: usize,
    pub events_scanned: u64,
    pub error: Option<String>,
    pub cancelled: bool,
    /// Per bucket: events read, result rows.
    pub timeline: Vec<(u64, u64)>,
}

/// Progress reports from the driver into a [`Control`].
struct Report(Arc<Control>);

impl vigil_scan::Progress for Report {
    fn start(&self, _: u64) {}
    fn advance(&self, bytes: u64) {
        self.0.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }
    fn finish(&self) {}
}

/// Counts the events in range per timeline bucket and stops feeding the engine once the
/// search is cancelled.
struct Counting<'a> {
    inner: Windowed<'a, Engine>,
    p: &'a Prepared,
    cancel: &'a AtomicBool,
}

impl Consumer for Counting<'_> {
    type State = (vigil_scan::WindowedState<vigil_engine::ScanState>, Vec<u64>);

    fn new_state(&self) -> Self::State {
        (self.inner.new_state(), vec![0; self.p.buckets])
    }

    fn wants_dataset(&self, d: usize) -> bool {
        // Once cancelled, the rest of the chunk is read but no longer normalized.
        !self.cancel.load(Ordering::Relaxed) && self.inner.wants_dataset(d)
    }

    fn dataset_columns(&self, d: usize) -> Option<Vec<bool>> {
        self.inner.dataset_columns(d)
    }

    fn skips_rows(&self) -> bool {
        // Once cancelled, the rest of the chunk is read but no longer normalized.
        self.cancel.load(Ordering::Relaxed)
    }

    fn consume(&self, state: &mut Self::State, event: &Event, rows: &[DatasetRow]) {
        if self.cancel.load(Ordering::Relaxed) {
            return;
        }
        if let Some(b) = event.time.filter(|t| self.p.window.contains(*t)).and_then(|t| self.p.bucket(t)) {
            state.1[b] += 1;
        }
        self.inner.consume(&mut state.0, event, rows);
    }

    fn merge(&self, into: &mut Self::State, other: Self::State) {
        self.inner.merge(&mut into.0, other.0);
        for (a, b) in into.1.iter_mut().zip(other.1) {
            *a += b;
        }
    }
}

/// A bucket width giving about 60 buckets over `width` micros, from 1 s to days.
pub fn auto_span(first: Micros, last: Micros) -> Micros {
    const STEPS: [i64; 14] = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400];
    let width = last.saturating_sub(first).max(1) / 1_000_000;
    let step = STEPS.iter().copied().find(|s| width / s <= 60).unwrap_or_else(|| (width / 60 / 86_400 + 1) * 86_400);
    step * 1_000_000
}

impl Prepared {
    fn bucket(&self, t: Micros) -> Option<usize> {
        let i = t.checked_sub(self.timeline_start)?.div_euclid(self.span);
        usize::try_from(i).ok().filter(|i| *i < self.buckets)
    }

    /// The files this search reads.
    pub fn segments(&self) -> &[PathBuf] {
        &self.segments
    }
}

impl Searcher {
    pub fn new(content: ContentSet, store_root: PathBuf) -> Result<Searcher, String> {
        let normalizer = Normalizer::builtin().map_err(|e| format!("built-in mappings: {e}"))?;
        Ok(Searcher { content, normalizer, store_root })
    }

    /// Plans `spl` over `[earliest, latest)` (open bounds: the whole store) as of `now`.
    /// The error is for people (the SPL with a caret under the problem).
    pub fn prepare(&self, spl: &str, earliest: Option<Micros>, latest: Option<Micros>, now: Micros) -> Result<Prepared, String> {
        let spl = spl.trim();
        if spl.is_empty() {
            return Err("the search is empty".into());
        }
        let mut planner = Planner::new(self.normalizer.catalog(), &self.content);
        let query = planner.plan("search", spl).map_err(|e| e.render("search"))?;
        let engine = Engine::new(vec![query], self.normalizer.catalog());
        let window = Window::new(earliest.unwrap_or(Micros::MIN), latest.unwrap_or(Micros::MAX));
        let segments = crate::store::segments(&self.store_root, window).map_err(|e| format!("store {}: {e}", self.store_root.display()))?;
        // The timeline spans the range, an open bound closed by the store's oldest/newest hour.
        let hours: Vec<Micros> = segments.iter().filter_map(|p| partition_hour(p)).collect();
        let lo = earliest.or(hours.iter().min().copied()).unwrap_or(now);
        let hi = latest.or(hours.iter().max().map(|h| h + HOUR)).unwrap_or(now).max(lo.saturating_add(1));
        let span = auto_span(lo, hi);
        let timeline_start = lo.div_euclid(span) * span;
        let buckets = usize::try_from((hi.saturating_sub(timeline_start) + span - 1) / span).unwrap_or(1).clamp(1, 10_000);
        Ok(Prepared { engine, window, segments, now, timeline_start, span, buckets })
    }

    /// Runs a prepared search, reporting progress into `control` and stopping when it is
    /// cancelled.
    pub fn run(&self, p: &Prepared, control: &Arc<Control>) -> Outcome {
        let total: u64 = p.segments.iter().filter_map(|s| std::fs::metadata(s).ok()).map(|m| m.len()).sum();
        control.bytes_total.store(total, Ordering::Relaxed);
        let driver = match Driver::new(None) {
            Ok(d) => d.with_progress(Box::new(Report(control.clone()))),
            Err(e) => return Outcome { error: Some(e), ..Default::default() },
        };
        let consumer = Counting { inner: Windowed { inner: &p.engine, window: p.window }, p, cancel: &control.cancel };
        let read = ReadOptions::default();
        let mut state = consumer.new_state();
        let mut out = Outcome::default();
        for chunk in p.segments.chunks(driver.threads().max(1) * 2) {
            if control.cancel.load(Ordering::Relaxed) {
                break;
            }
            let scanned = driver.scan(&consumer, &self.normalizer, vigil_scan::Inputs { paths: chunk, read: &read });
            out.events_scanned += scanned.report.events;
            consumer.merge(&mut state, scanned.state);
        }
        if control.cancel.load(Ordering::Relaxed) {
            out.cancelled = true;
            return out;
        }
        let ((windowed, events), ctx) = (state, EvalContext { now: p.now, tz: Tz::utc() });
        let (outputs, _) = driver.finish(&p.engine, windowed.inner, &ctx, vigil_scan::Delivery::Collect);
        let mut results = vec![0u64; p.buckets];
        for o in outputs {
            match o.result {
                Err(e) => out.error = Some(e.to_string()),
                Ok(rows) => {
                    out.result_count += rows.len();
                    for mut r in rows {
                        let t = r.get("_time").and_then(Value::as_num).and_then(vigil_time::micros_from_secs);
                        if let Some(b) = t.and_then(|t| p.bucket(t)) {
                            results[b] += 1;
                        }
                        if out.rows.len() < MAX_RESULTS {
                            if let Some(t) = t {
                                r.set("_time", Value::Str(vigil_time::format_export_time(t, &Tz::utc())));
                            }
                            out.rows.push(r);
                        }
                    }
                }
            }
        }
        out.timeline = events.into_iter().zip(results).collect();
        out
    }
}

/// The hour of a store segment file (`<root>/<YYYY-MM-DDTHH>/events.log[.zst]`).
fn partition_hour(path: &std::path::Path) -> Option<Micros> {
    let dir = path.parent()?.file_name()?.to_str()?;
    vigil_time::parse_iso8601_utc(&format!("{dir}:00:00Z"))
}
