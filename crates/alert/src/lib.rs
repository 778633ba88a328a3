//! From detection results to what Splunk Enterprise Security raises: notables and risk events,
//! and a persistent risk index with ES's risk incident rules.
//!
//! - [`build_alerts`]: one detection's result rows -> [`Alert`]s (notables and risk events),
//!   following the deployment's alert actions, for both content formats (2025 `rba:` blocks and
//!   older `tags.observable` / `tags.risk_score` / `tags.message`).
//! - [`RiskStore`]: the alert store (risk index, notables, triage, run records), in one SQLite
//!   file or in a shared PostgreSQL database, with deduplication, risk by object and the two
//!   RBA incident rules ([`IncidentRules`]).
//!
//! Every choice where ES behaviour had to be decided is documented on the item that implements
//! it and summarised in README.md ("Alerts and risk").

mod alert;
pub mod attack;
mod backend;
mod build;
mod contributing;
mod error;
mod incident;
mod postgres;
pub mod render;
mod review;
#[cfg(any(test, feature = "scratch"))]
pub mod scratch;
mod sqlite;
mod stash;
mod store;
#[cfg(test)]
mod test_backends;
mod triage;

pub use alert::{Alert, Annotations, Drilldown, Notable, Orig, RiskEvent, Severity};
pub use backend::StoredNotable;
pub use build::{
    alert_time, build_alerts, identity_hash, risk_spec, severity_for_score, urgency, AlertContext, RiskSpec, RiskTarget, Stamp,
    ThreatTarget,
};
pub use contributing::{build_alerts_with_risk, contributing};
pub use incident::{IncidentRules, ATTACK_TACTIC_RULE, RISK_THRESHOLD_RULE};
pub use postgres::PgConnection;
pub use review::{AuditEntry, NotableFilter, ReviewChange, ReviewError, ReviewedNotable, STATUSES, UNASSIGNED, URGENCIES};
pub use stash::{risk_index_event, STASH_SOURCETYPE};
pub use store::{ObjectRisk, RiskStore, StoreError};
