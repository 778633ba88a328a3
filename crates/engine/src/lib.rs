//! Plan and execute SPL over Vigil's data: `tstats` over CIM dataset rows, raw-event searches
//! over events, and the table commands that follow.
//!
//! ```text
//! SPL text --expand/parse (vigil-spl)--> AST --Planner--> Query { scans, stages }
//! events/rows --Engine::on_event/on_row (per thread)--> ScanState --merge--> finish --> rows
//! ```

mod agg;
mod error;
mod eval;
mod exec;
mod functions;
mod joinstream;
mod keyfilter;
mod ops;
mod outputs;
mod pattern;
mod patternlist;
mod plan;
mod pipeline;
mod predicate;
mod rowstore;
mod prefilter;
mod runner;
mod semijoin;
mod sigma;
mod spill;
mod stream;
mod symbols;
mod tuplelist;

pub use error::{ExecError, PlanError};
pub use eval::EvalContext;
pub use exec::{Engine, QueryOutput, ScanState, MAX_COLLECTED_EVENTS};
pub use pattern::{decode_xml_entities, Pattern};
pub use plan::{Planner, Query, QueryError};
pub use sigma::SIGMA_FIELDS;
