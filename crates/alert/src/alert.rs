//! The alert records: ES notables and risk events, serialized with ES field names.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use vigil_model::{Micros, Record, Value};

/// What ES writes for a detection result: a notable (`index=notable`) or a risk event
/// (`index=risk`). Serializes as one flat JSON object with `"kind": "notable" | "risk"`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Alert {
    Notable(Notable),
    Risk(RiskEvent),
}

/// ES notable severity (and urgency, which uses the same levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The detection's annotations, as ES attaches them to notables and risk events.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Annotations {
    /// ATT&CK technique ids (`tags.mitre_attack_id`).
    pub mitre_attack: Vec<String>,
    /// Tactic short names derived from the techniques (see [`crate::attack`]).
    pub mitre_tactic: Vec<String>,
    /// `tags.analytic_story`.
    pub analytic_story: Vec<String>,
}

/// A drilldown search with its tokens rendered from the result row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Drilldown {
    pub name: String,
    pub search: String,
    pub earliest_offset: Option<String>,
    pub latest_offset: Option<String>,
}

/// A notable event: one per result row of a detection whose deployment creates notables, or
/// one per object for which a risk incident rule fired.
#[derive(Clone, Debug, Serialize)]
pub struct Notable {
    /// ES stamps the notable with the search's run time unless the result has its own `_time`.
    #[serde(rename = "_time", serialize_with = "ser_secs")]
    pub time: Micros,
    /// `ESCU - <name> - Rule` (the saved search).
    pub search_name: String,
    /// The correlation search's label; for ESCU the same text as `search_name`.
    pub rule_name: String,
    pub rule_title: String,
    pub rule_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_domain: Option<String>,
    pub severity: Severity,
    pub urgency: Severity,
    /// Highest risk score of the detection's risk objects, when it has any.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_score")]
    pub risk_score: Option<f64>,
    pub detection_id: String,
    pub detection_version: String,
    pub annotations: Annotations,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drilldown_searches: Vec<Drilldown>,
    /// The notable fields (`nes_fields`, e.g. user, dest) from the result, or an incident
    /// rule's own fields (risk_object, risk_score, ...).
    #[serde(flatten)]
    pub fields: Record,
    /// Every field of the result row, prefixed `orig_`.
    #[serde(flatten)]
    pub orig: Orig,
    /// For a Correlation detection's notable: the risk events (their JSON) of its risk object
    /// that its result counted, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contributing_risk_events: Vec<serde_json::Value>,
    /// Stable identity used to deduplicate in the risk index.
    pub event_hash: String,
}

/// A risk event: one per risk object value per result row.
#[derive(Clone, Debug, Serialize)]
pub struct RiskEvent {
    #[serde(rename = "_time", serialize_with = "ser_secs")]
    pub time: Micros,
    pub search_name: String,
    pub detection_id: String,
    pub detection_version: String,
    pub risk_object: String,
    /// `risk_object` lowercased: what ES groups by (`normalized_risk_object`) absent an
    /// asset/identity lookup.
    pub normalized_risk_object: String,
    /// `user`, `system` or `other`.
    pub risk_object_type: String,
    #[serde(serialize_with = "ser_score")]
    pub risk_score: f64,
    pub risk_message: String,
    /// Parallel lists: the value of each threat object and its type.
    pub threat_object: Vec<String>,
    pub threat_object_type: Vec<String>,
    pub annotations: Annotations,
    #[serde(flatten)]
    pub orig: Orig,
    pub event_hash: String,
}

/// Result fields serialized with an `orig_` prefix.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Orig(pub Record);

impl Serialize for Orig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter() {
            map.serialize_entry(&format!("orig_{k}"), v)?;
        }
        map.end()
    }
}

pub(crate) fn ser_secs<S: Serializer>(t: &Micros, s: S) -> Result<S::Ok, S::Error> {
    if t % 1_000_000 == 0 {
        s.serialize_i64(t / 1_000_000)
    } else {
        s.serialize_f64(*t as f64 / 1_000_000.0)
    }
}

pub(crate) fn ser_score<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

fn ser_opt_score<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => ser_score(v, s),
        None => s.serialize_none(),
    }
}

impl Alert {
    pub fn kind(&self) -> &'static str {
        match self {
            Alert::Notable(_) => "notable",
            Alert::Risk(_) => "risk",
        }
    }

    pub fn time(&self) -> Micros {
        match self {
            Alert::Notable(n) => n.time,
            Alert::Risk(r) => r.time,
        }
    }

    pub fn search_name(&self) -> &str {
        match self {
            Alert::Notable(n) => &n.search_name,
            Alert::Risk(r) => &r.search_name,
        }
    }

    pub fn event_hash(&self) -> &str {
        match self {
            Alert::Notable(n) => &n.event_hash,
            Alert::Risk(r) => &r.event_hash,
        }
    }

    /// A flat row for table/CSV sinks: the headline fields, then (with `with_orig`) every
    /// `orig_*` field. Multivalue fields stay multivalue.
    pub fn to_record(&self, with_orig: bool) -> Record {
        let mut r = Record::new();
        r.set("kind", Value::str(self.kind()));
        r.set("_time", Value::Num(self.time() as f64 / 1_000_000.0));
        r.set("search_name", Value::str(self.search_name()));
        let mv = |v: &[String]| Value::from_items(v.to_vec());
        let orig = match self {
            Alert::Notable(n) => {
                r.set("rule_title", Value::str(&n.rule_title));
                r.set("severity", Value::str(n.severity.as_str()));
                r.set("urgency", Value::str(n.urgency.as_str()));
                for (k, v) in n.fields.iter() {
                    r.set(k, v.clone());
                }
                r.set("mitre_attack", mv(&n.annotations.mitre_attack));
                &n.orig
            }
            Alert::Risk(e) => {
                r.set("risk_object", Value::str(&e.risk_object));
                r.set("risk_object_type", Value::str(&e.risk_object_type));
                r.set("risk_score", Value::Num(e.risk_score));
                r.set("risk_message", Value::str(&e.risk_message));
                r.set("threat_object", mv(&e.threat_object));
                r.set("threat_object_type", mv(&e.threat_object_type));
                r.set("mitre_attack", mv(&e.annotations.mitre_attack));
                &e.orig
            }
        };
        if with_orig {
            for (k, v) in orig.0.iter() {
                r.set(format!("orig_{k}"), v.clone());
            }
        }
        r
    }
}
