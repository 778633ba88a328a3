//! ESCU content: detections, macros, lookups and deployment defaults.
//!
//! Content comes in layers: the built-in base layer (the seed detection and the macros it
//! needs, compiled into the binary) and then each `--content DIR` in order. A later layer
//! overrides an earlier one by name, so a user can keep their own `*_filter` macros in a small
//! directory next to a full security_content checkout.

mod builtin;
mod data_source;
mod detection;
mod error;
mod lookup;
mod set;
mod yaml_guard;
#[cfg(test)]
mod yaml_tests;

/// The built-in detection files: (path shown in messages, YAML text).
pub use builtin::DETECTIONS as BUILTIN_DETECTION_FILES;
pub use data_source::{load_data_sources, DataSource};
pub use detection::{
    AlertAction, Deployment, Detection, Drilldown, NotableAction, Observable, Rba, RbaAction, RiskObject, Scheduling, Tags, TestCase,
    TestData, ThreatObject,
};
pub use error::ContentError;
pub use lookup::{LookupDef, LookupTable};
pub use set::{filter_macro_name, ContentSet};
pub use yaml_guard::{check_yaml_nesting, MAX_YAML_NESTING};
