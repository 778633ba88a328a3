//! Plan and execute SPL over Vigil's data: `tstats` over CIM dataset rows, raw-event searches
//! over events, and the table commands that follow.
//!
//! ```text
//! SPL text --expand/parse (vigil-spl)--> AST --plan::Planner--> Query { scans, stages }
//! events/rows --scan::Engine::on_event/on_row (per thread)--> ScanState --merge--> ...
//!     ... --physical::choose--> Strategy --finish--> QueryOutput rows
//! ```
//!
//! Layers, each importing only from those before it (checked by `tests/layers.rs`; see
//! docs/architecture.md):
//! `error` < `expr` < `store` < `ops` < `plan` < `scan` < `physical` < `explain`.

mod error;
mod explain;
mod expr;
mod ops;
mod physical;
mod plan;
mod scan;
mod store;

pub use error::{ExecError, PlanError, StateError};
pub use expr::pattern::{decode_xml_entities, Pattern};
pub use expr::value::EvalContext;
pub use physical::QueryOutput;
pub use plan::{EventConditions, Planner, Query, QueryError};
// `Query::explain` is implemented in `explain`.
pub use scan::{Engine, ScanCost, ScanState, FORMAT_VERSION, MAX_COLLECTED_EVENTS};
pub use store::spill::temp_bytes_written;
