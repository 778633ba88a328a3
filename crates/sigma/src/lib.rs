//! Sigma rules for Vigil: parse, check against the specification, map log sources and field
//! names (mappings/sigma.toml), compile detections into matchers. No I/O: callers read the
//! files and hand over their text; the engine plans compiled rules as raw-event scans.
//!
//! ```text
//! rule text --parse_file--> Document (Rule | Correlation | Filter) --Mapping::compile-->
//! CompiledRule { variants: [(source conditions, Expr)] } --engine--> one scan per rule
//! Correlation --CompiledCorrelation::link--> inputs (rules, correlations) --engine--> a scan
//! per rule named, then the sliding windows of Correlation::correlate
//! ```

mod condition;
pub mod correlation;
pub mod datepart;
mod detection;
pub mod expr;
pub mod link;
pub mod mapping;
pub mod pattern;
pub mod rule;
mod schema;
pub mod value;

pub use correlation::Correlation;
pub use expr::{Expr, Fields, Test};
pub use link::{CompiledCorrelation, Input, InputSource, Target};
pub use mapping::{CompileError, CompiledRule, Mapping, Variant};
pub use rule::{parse_file, Document, LogSource, Rule, RuleMeta, SigmaError};

/// The built-in mapping file (mappings/sigma.toml), compiled in.
pub const BUILTIN_MAPPING: &str = include_str!("../../../mappings/sigma.toml");
