//! From detection results to what Splunk Enterprise Security raises: notables and risk events,
//! and a persistent risk index with ES's risk incident rules.
//!
//! - [`build_alerts`]: one detection's result rows -> [`Alert`]s (notables and risk events),
//!   following the deployment's alert actions, for both content formats (2025 `rba:` blocks and
//!   older `tags.observable` / `tags.risk_score` / `tags.message`).
//! - [`RiskStore`]: the risk index in one SQLite file, with deduplication, risk by object and
//!   the two RBA incident rules ([`IncidentRules`]).
//!
//! Every choice where ES behaviour had to be decided is documented on the item that implements
//! it and summarised in README.md ("Alerts and risk").

mod alert;
pub mod attack;
mod build;
mod incident;
pub mod render;
mod review;
mod stash;
mod store;

pub use alert::{Alert, Annotations, Drilldown, Notable, Orig, RiskEvent, Severity};
pub use build::{
    alert_time, build_alerts, identity_hash, risk_spec, severity_for_score, urgency, AlertContext, RiskSpec, RiskTarget, Stamp,
    ThreatTarget,
};
pub use incident::{IncidentRules, ATTACK_TACTIC_RULE, RISK_THRESHOLD_RULE};
pub use review::{AuditEntry, NotableFilter, ReviewChange, ReviewError, ReviewedNotable, STATUSES, UNASSIGNED, URGENCIES};
pub use stash::{risk_index_event, STASH_SOURCETYPE};
pub use store::{ObjectRisk, RiskStore, StoreError, StoredNotable};
