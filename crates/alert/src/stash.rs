//! Risk events as ES's risk index holds them (`index=risk sourcetype=stash`, `source` the
//! detection's saved search name): raw events whose fields are the risk event's, which the
//! mapping file mappings/risk.toml turns into rows of the Risk data model (`Risk.All_Risk`).
//!
//! The input is a risk event's JSON, as `hunt --alerts` writes it and the risk index stores it,
//! so the risk events of a run and those read back from the index take the same path.

use crate::attack::tactic_id;
use serde_json::Value as J;
use vigil_model::Event;

/// The sourcetype ES gives events its searches write (risk events, notables).
pub const STASH_SOURCETYPE: &str = "stash";

/// The raw event ES indexes for a risk event (`kind: "risk"` JSON); `None` for anything else.
///
/// Fields, as ES names them: the risk fields (risk_object, risk_object_type, risk_score,
/// risk_message, threat_object, threat_object_type, normalized_risk_object, search_name);
/// the annotations flattened (`annotations.mitre_attack` and `...mitre_technique_id` the
/// technique ids, `...mitre_tactic` the tactic names, `...mitre_tactic_id` their ids,
/// `analyticstories` the analytic stories, `annotations._frameworks`, `annotations._all`);
/// `index=risk`; and the result's own fields under their own names (`orig_dest` -> `dest`),
/// as ES keeps them, unless a risk field has that name.
pub fn risk_index_event(alert: &J) -> Option<Event> {
    let obj = alert.as_object()?;
    if obj.get("kind").and_then(J::as_str) != Some("risk") {
        return None;
    }
    let search_name = obj.get("search_name").and_then(J::as_str).unwrap_or_default().to_string();
    let time = obj.get("_time").and_then(J::as_f64).map(|s| (s * 1_000_000.0).round() as i64);
    let mut ev = Event { time, source: search_name, sourcetype: STASH_SOURCETYPE.to_string(), ..Event::default() };
    ev.push("index", "risk");
    for (k, v) in obj {
        if k == "annotations" || k == "kind" || k == "_time" || k.starts_with("orig_") {
            continue;
        }
        push_json(&mut ev, k, v);
    }
    if let Some(a) = obj.get("annotations").and_then(J::as_object) {
        push_annotations(&mut ev, a);
    }
    for (k, v) in obj {
        if let Some(name) = k.strip_prefix("orig_") {
            if !obj.contains_key(name) && name != "_time" && ev.get(name).is_none() {
                push_json(&mut ev, name, v);
            }
        }
    }
    Some(ev)
}

fn push_annotations(ev: &mut Event, a: &serde_json::Map<String, J>) {
    let list = |k: &str| -> Vec<String> {
        a.get(k).and_then(J::as_array).map(|v| v.iter().filter_map(J::as_str).map(String::from).collect()).unwrap_or_default()
    };
    let (techniques, tactics, stories) = (list("mitre_attack"), list("mitre_tactic"), list("analytic_story"));
    for t in &techniques {
        ev.push("annotations.mitre_attack", t.as_str());
        ev.push("annotations.mitre_attack.mitre_technique_id", t.as_str());
    }
    for t in &tactics {
        ev.push("annotations.mitre_attack.mitre_tactic", t.as_str());
        if let Some(id) = tactic_id(t) {
            ev.push("annotations.mitre_attack.mitre_tactic_id", id);
        }
    }
    for s in &stories {
        ev.push("analyticstories", s.as_str());
    }
    if !techniques.is_empty() {
        ev.push("annotations._frameworks", "mitre_attack");
    }
    if !stories.is_empty() {
        ev.push("annotations._frameworks", "analytic_story");
    }
    for v in techniques.iter().chain(&tactics).chain(&stories) {
        ev.push("annotations._all", v.as_str());
    }
}

/// A JSON value as event field values: scalars as text, arrays as repeated fields.
fn push_json(ev: &mut Event, name: &str, v: &J) {
    match v {
        J::Null => {}
        J::String(s) => ev.push(name, s.as_str()),
        J::Array(items) => items.iter().for_each(|i| push_json(ev, name, i)),
        J::Object(_) => {}
        other => ev.push(name, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_event_becomes_an_index_event() {
        let j = serde_json::json!({
            "kind": "risk", "_time": 1700000000, "search_name": "ESCU - X - Rule",
            "risk_object": "HOST1", "risk_object_type": "system", "risk_score": 56,
            "threat_object": ["a.exe", "b.exe"], "threat_object_type": ["process_name", "process_name"],
            "annotations": { "mitre_attack": ["T1218.007"], "mitre_tactic": ["defense-evasion"], "analytic_story": ["Living Off The Land"] },
            "orig_dest": "HOST1", "orig_risk_score": 3, "orig_count": 2,
        });
        let ev = risk_index_event(&j).unwrap();
        assert_eq!(ev.sourcetype, "stash");
        assert_eq!(ev.source, "ESCU - X - Rule");
        assert_eq!(ev.time, Some(1_700_000_000_000_000));
        assert_eq!(ev.get("risk_score"), Some("56"));
        assert_eq!(ev.get_all("threat_object").collect::<Vec<_>>(), ["a.exe", "b.exe"]);
        assert_eq!(ev.get("annotations.mitre_attack.mitre_tactic_id"), Some("TA0005"));
        assert_eq!(ev.get("analyticstories"), Some("Living Off The Land"));
        assert_eq!(ev.get("dest"), Some("HOST1"));
        assert_eq!(ev.get("count"), Some("2"));
        assert_eq!(ev.get_all("risk_score").count(), 1, "a result field does not shadow a risk field");
        assert!(risk_index_event(&serde_json::json!({"kind": "notable"})).is_none());
    }
}
