//! The second pass of `--alerts`: Correlation detections over risk events (the running of
//! them lives in the scan library, `vigil_scan::correlation`, shared with `vigil serve`).
//!
//! Here the detections whose queries read `Risk.All_Risk` are held back from the pass over the
//! logs; once that pass's risk events exist, they are fed to those queries.

use vigil_content::Detection;
use vigil_engine::Query;
use vigil_model::Catalog;
pub use vigil_scan::correlation::{reads_risk, run, scheduled};

/// Splits planned detections (and their queries, same order) into those that read logs and
/// those that read risk events.
pub fn split<'a>(detections: Vec<&'a Detection>, queries: Vec<Query>, catalog: &Catalog) -> (Pass<'a>, Pass<'a>) {
    let mut logs = Pass::default();
    let mut risk = Pass::default();
    for (d, q) in detections.into_iter().zip(queries) {
        let pass = if reads_risk(&q, catalog) { &mut risk } else { &mut logs };
        pass.detections.push(d);
        pass.queries.push(q);
    }
    (logs, risk)
}

/// Detections of one pass with their planned queries.
#[derive(Default)]
pub struct Pass<'a> {
    pub detections: Vec<&'a Detection>,
    pub queries: Vec<Query>,
}
