use serde::Deserialize;
use std::path::PathBuf;

/// An ESCU detection (`detections/**/*.yml`), old (`tags.observable`) or 2025 (`rba:`) format.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Detection {
    pub name: String,
    pub id: String,
    pub version: Option<serde_norway::Value>,
    pub date: Option<String>,
    pub author: Option<String>,
    pub status: Option<String>,
    /// `TTP`, `Anomaly`, `Hunting`, `Correlation`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub data_source: Vec<String>,
    pub search: String,
    pub how_to_implement: Option<String>,
    pub known_false_positives: Option<String>,
    pub references: Vec<String>,
    pub drilldown_searches: Vec<Drilldown>,
    pub rba: Option<Rba>,
    pub tags: Tags,
    pub tests: Vec<TestCase>,
    /// A detection's own schedule and actions; absent in ESCU, where defaults by type apply.
    pub deployment: Option<Deployment>,
    /// The file it was loaded from (`<built-in>/...` for the base layer).
    #[serde(skip)]
    pub file: PathBuf,
}

impl Detection {
    /// `version` as text (ESCU writes it as a number).
    pub fn version_text(&self) -> String {
        match &self.version {
            Some(serde_norway::Value::Number(n)) => n.to_string(),
            Some(serde_norway::Value::String(s)) => s.clone(),
            _ => String::new(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Drilldown {
    pub name: String,
    pub search: String,
    pub earliest_offset: Option<String>,
    pub latest_offset: Option<String>,
}

/// The 2025 risk block.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Rba {
    pub message: String,
    pub risk_objects: Vec<RiskObject>,
    pub threat_objects: Vec<ThreatObject>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RiskObject {
    pub field: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub score: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ThreatObject {
    pub field: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Tags {
    pub analytic_story: Vec<String>,
    pub asset_type: Option<String>,
    pub confidence: Option<f64>,
    pub impact: Option<f64>,
    pub message: Option<String>,
    pub mitre_attack_id: Vec<String>,
    pub observable: Vec<Observable>,
    pub product: Vec<String>,
    pub required_fields: Vec<String>,
    pub risk_score: Option<f64>,
    pub security_domain: Option<String>,
}

/// Old-format observable: role `Victim` marks a risk object, attacker/process roles threat
/// objects.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Observable {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub role: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TestCase {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub attack_data: Vec<TestData>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TestData {
    pub data: String,
    pub source: String,
    pub sourcetype: String,
    pub update_timestamp: Option<bool>,
}

/// Schedule and actions: a detection's `deployment:` or a `deployments/*.yml` default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Deployment {
    pub name: String,
    /// Detection type the default applies to (`TTP`, `Anomaly`, `Hunting`, ...).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub scheduling: Scheduling,
    pub alert_action: AlertAction,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Scheduling {
    pub cron_schedule: Option<String>,
    pub earliest_time: Option<String>,
    pub latest_time: Option<String>,
    pub schedule_window: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AlertAction {
    pub notable: Option<NotableAction>,
    pub rba: Option<RbaAction>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NotableAction {
    pub rule_title: String,
    pub rule_description: String,
    pub nes_fields: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RbaAction {
    pub enabled: bool,
}
