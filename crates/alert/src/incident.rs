//! ES's risk incident rules: notables raised from accumulated risk rather than from one result.
//!
//! - [`RISK_THRESHOLD_RULE`]: the sum of an object's risk scores over the last 24 hours
//!   reaches `risk_threshold` (100).
//! - [`ATTACK_TACTIC_RULE`]: an object's risk events over the last 7 days span at least
//!   `tactic_threshold` (3) distinct ATT&CK tactics, from at least `tactic_min_detections`
//!   distinct detections. ES's shipped search also requires `source_count >= 4`; Vigil keeps
//!   that as the default (set it to 1 to count tactics alone).
//!
//! Objects are grouped by normalized (lowercased) risk object and type, as ES groups by
//! `normalized_risk_object`. Decisions: the threshold test is `>=` (the and ES
//! documentation's wording; the shipped SPL may use `>`); an incident notable for a rule and
//! object is not raised again while one exists within the rule's window around the
//! evaluation time (a throttle, so hourly evaluations do not repeat it), which is also what
//! makes re-evaluation idempotent.

use crate::alert::{Alert, Annotations, Notable, Orig};
use crate::build::{hash_hex, severity_for_score, urgency};
use crate::render::render_fields;
use crate::store::{ObjectRisk, RiskStore, StoreError};
use crate::Severity;
use vigil_model::{Micros, Record, Value};

pub const RISK_THRESHOLD_RULE: &str = "Risk Threshold Exceeded For Object Over 24 Hour Period";
pub const ATTACK_TACTIC_RULE: &str = "ATT&CK Tactic Threshold Exceeded For Object Over Previous 7 Days";

const HOUR: Micros = 3_600_000_000;

/// Thresholds and windows of the two incident rules.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentRules {
    pub risk_threshold: f64,
    pub risk_window: Micros,
    pub tactic_threshold: usize,
    pub tactic_min_detections: usize,
    pub tactic_window: Micros,
}

impl Default for IncidentRules {
    fn default() -> Self {
        IncidentRules {
            risk_threshold: 100.0,
            risk_window: 24 * HOUR,
            tactic_threshold: 3,
            tactic_min_detections: 4,
            tactic_window: 7 * 24 * HOUR,
        }
    }
}

struct Rule {
    name: &'static str,
    search_name: &'static str,
    title: &'static str,
    description: &'static str,
}

const RISK_RULE: Rule = Rule {
    name: RISK_THRESHOLD_RULE,
    search_name: "Risk - 24 Hour Risk Threshold Exceeded - Rule",
    title: "24 hour risk threshold exceeded for $risk_object_type$=$risk_object$",
    description: "Risk score for $risk_object_type$ $risk_object$ reached $risk_score$ over the previous 24 hours from $risk_event_count$ risk events of $source_count$ detections.",
};

const TACTIC_RULE: Rule = Rule {
    name: ATTACK_TACTIC_RULE,
    search_name: "Risk - 7 Day ATT&CK Tactic Threshold Exceeded - Rule",
    title: "ATT&CK tactic threshold exceeded over previous 7 days for $risk_object_type$=$risk_object$",
    description: "$risk_object_type$ $risk_object$ has risk events from $mitre_tactic_id_count$ ATT&CK tactics ($mitre_tactic$) and $source_count$ detections over the previous 7 days.",
};

impl RiskStore {
    /// Evaluates both rules as of `at` over the risk index, records the incident notables that
    /// fire and are not throttled, and returns them.
    pub fn evaluate_incidents(&mut self, at: Micros, rules: &IncidentRules) -> Result<Vec<Alert>, StoreError> {
        // A shared store: one process evaluates at a time, so a throttled incident is raised once.
        self.backend.incident_lock(true)?;
        let raised = self.evaluate_locked(at, rules);
        let released = self.backend.incident_lock(false);
        let raised = raised?;
        released?;
        Ok(raised)
    }

    fn evaluate_locked(&mut self, at: Micros, rules: &IncidentRules) -> Result<Vec<Alert>, StoreError> {
        let mut out = Vec::new();
        let end = at.saturating_add(1);
        for o in self.risk_by_object(at.saturating_sub(rules.risk_window), end)? {
            if o.total_score >= rules.risk_threshold {
                out.extend(self.raise(&RISK_RULE, &o, at, rules.risk_window)?);
            }
        }
        for o in self.risk_by_object(at.saturating_sub(rules.tactic_window), end)? {
            if o.tactics.len() >= rules.tactic_threshold && o.distinct_detections() >= rules.tactic_min_detections {
                out.extend(self.raise(&TACTIC_RULE, &o, at, rules.tactic_window)?);
            }
        }
        self.record(&out)?;
        Ok(out)
    }

    /// Evaluates both rules as of every distinct risk event time in `from <= time < to`, in
    /// order: over historical activity, an incident is raised when (and stamped where) the
    /// activity crossed the threshold, as rules running all along would have raised it. A
    /// rule's sums only grow at risk event times, so no incident is missed between them.
    pub fn evaluate_incidents_over(&mut self, from: Micros, to: Micros, rules: &IncidentRules) -> Result<Vec<Alert>, StoreError> {
        let mut out = Vec::new();
        for at in self.risk_event_times(from, to)? {
            out.extend(self.evaluate_incidents(at, rules)?);
        }
        Ok(out)
    }

    fn raise(&self, rule: &Rule, o: &ObjectRisk, at: Micros, window: Micros) -> Result<Option<Alert>, StoreError> {
        if self.has_incident(
            rule.name,
            &o.risk_object,
            &o.risk_object_type,
            at.saturating_sub(window).saturating_add(1),
            at.saturating_add(window),
        )? {
            return Ok(None);
        }
        Ok(Some(incident_notable(rule, o, at)))
    }
}

fn incident_notable(rule: &Rule, o: &ObjectRisk, at: Micros) -> Alert {
    let mv = |v: &[String]| Value::from_items(v.to_vec());
    let mut f = Record::new();
    f.set("risk_object", Value::str(&o.risk_object));
    f.set("risk_object_type", Value::str(&o.risk_object_type));
    f.set("risk_score", Value::Num(o.total_score));
    f.set("risk_event_count", Value::Num(o.count as f64));
    f.set("source", mv(&o.detections));
    f.set("source_count", Value::Num(o.detections.len() as f64));
    f.set("mitre_tactic", mv(&o.tactics));
    f.set("mitre_tactic_id_count", Value::Num(o.tactics.len() as f64));
    f.set("mitre_technique", mv(&o.techniques));
    f.set("firstTime", Value::Num(o.first_time as f64 / 1e6));
    f.set("lastTime", Value::Num(o.last_time as f64 / 1e6));
    let severity = severity_for_score(o.total_score);
    let hash = hash_hex(&[rule.name.as_bytes(), o.risk_object.as_bytes(), o.risk_object_type.as_bytes(), at.to_string().as_bytes()]);
    Alert::Notable(Notable {
        time: at,
        search_name: rule.search_name.to_string(),
        rule_name: rule.name.to_string(),
        rule_title: render_fields(rule.title, &f),
        rule_description: render_fields(rule.description, &f),
        security_domain: Some("threat".into()),
        severity,
        urgency: urgency(Severity::Unknown, severity),
        risk_score: Some(o.total_score),
        detection_id: String::new(),
        detection_version: String::new(),
        annotations: Annotations { mitre_attack: o.techniques.clone(), mitre_tactic: o.tactics.clone(), analytic_story: Vec::new() },
        drilldown_searches: Vec::new(),
        fields: f,
        orig: Orig::default(),
        contributing_risk_events: Vec::new(),
        event_hash: hash,
    })
}
