//! Types at the boundaries of Vigil's data flow.
//!
//! read -> [`Event`] -> normalize -> [`DatasetRow`] -> plan/execute -> result rows ([`Record`])
//! -> alert -> sink. Every stage speaks these types and nothing more, so that a reader never
//! needs to know about detections and the engine never needs to know about file formats.

pub mod calendar;
mod dataset;
mod event;
pub mod lazy_regex;
mod record;
mod regex_existence;
pub mod value;

pub use dataset::{Catalog, ChildDataset, DatasetRow, DatasetSchema};
pub use event::{Event, NamesShape, Origin};
pub use lazy_regex::LazyRegex;
pub use record::Record;
pub use value::Value;

/// A point in time, in microseconds since the Unix epoch (UTC).
///
/// Splunk's `_time` is seconds with a fraction; microseconds keep every digit that EVTX
/// (100 ns ticks, rendered with 7 digits) and Sysmon's `UtcTime` (ms) carry that matters.
pub type Micros = i64;

/// Converts microseconds to Splunk's `_time` (epoch seconds, fractional).
pub fn micros_to_secs(t: Micros) -> f64 {
    t as f64 / 1_000_000.0
}
