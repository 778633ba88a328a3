//! Correlation detections' notables: each carries the risk events its result counted, as
//! ES's "Contributing risk events" drilldown shows them.

use crate::alert::Alert;
use crate::build::{build_alerts, AlertContext};
use std::collections::HashSet;
use vigil_content::{Deployment, Detection};
use vigil_model::{Record, Value};

/// A detection's alerts for its result rows. With `risk_input` (a Correlation detection's run:
/// the risk events it read), each notable carries those its row counted ([`contributing`]).
pub fn build_alerts_with_risk(
    det: &Detection,
    deployment: Option<&Deployment>,
    rows: &[Record],
    ctx: &AlertContext,
    risk_input: Option<&[serde_json::Value]>,
) -> Vec<Alert> {
    let Some(risk) = risk_input else {
        return build_alerts(det, deployment, rows, ctx);
    };
    let mut alerts = Vec::new();
    for row in rows {
        for mut a in build_alerts(det, deployment, std::slice::from_ref(row), ctx) {
            if let Alert::Notable(n) = &mut a {
                n.contributing_risk_events = contributing(row, risk);
            }
            alerts.push(a);
        }
    }
    alerts
}

/// The risk events a Correlation result counted: those of its risk object (`risk_object`,
/// compared as ES's normalized_risk_object) and, when the result lists them, of its `source`
/// detections and `risk_object_type`, within its `firstTime`..`lastTime` when it has them.
pub fn contributing(row: &Record, risk_events: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let texts = |f: &str| -> Vec<String> {
        match row.get(f) {
            Some(Value::Multi(v)) => v.clone(),
            Some(v) => v.as_text().map(|t| vec![t.to_string()]).unwrap_or_default(),
            None => Vec::new(),
        }
    };
    let objects: HashSet<String> = texts("risk_object").iter().map(|o| o.to_lowercase()).collect();
    if objects.is_empty() {
        return Vec::new();
    }
    let sources: HashSet<String> = texts("source").into_iter().collect();
    let types: HashSet<String> = texts("risk_object_type").into_iter().collect();
    let secs = |f: &str| row.get(f).and_then(Value::as_num);
    let (first, last) = (secs("firstTime"), secs("lastTime"));
    let text = |e: &serde_json::Value, k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    risk_events
        .iter()
        .filter(|e| objects.contains(&text(e, "normalized_risk_object")))
        .filter(|e| sources.is_empty() || sources.contains(&text(e, "search_name")))
        .filter(|e| types.is_empty() || types.contains(&text(e, "risk_object_type")))
        .filter(|e| {
            let t = e.get("_time").and_then(|v| v.as_f64());
            match (t, first, last) {
                (Some(t), Some(f), Some(l)) => t >= f && t <= l,
                _ => true,
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributing_events_match_object_source_and_time() {
        let ev = |obj: &str, src: &str, t: i64| {
            serde_json::json!({"kind": "risk", "_time": t, "search_name": src, "risk_object": obj,
                "normalized_risk_object": obj.to_lowercase(), "risk_object_type": "system"})
        };
        let events = [
            ev("HOST1", "ESCU - A - Rule", 10),
            ev("HOST1", "ESCU - B - Rule", 20),
            ev("HOST2", "ESCU - A - Rule", 10),
            ev("host1", "ESCU - C - Rule", 15),
            ev("HOST1", "ESCU - A - Rule", 99),
        ];
        let mut row = Record::new();
        row.set("risk_object", Value::str("HOST1"));
        row.set("risk_object_type", Value::str("system"));
        row.set("source", Value::from_items(vec!["ESCU - A - Rule".to_string(), "ESCU - B - Rule".to_string()]));
        row.set("firstTime", Value::Num(10.0));
        row.set("lastTime", Value::Num(20.0));
        let got = contributing(&row, &events);
        let names: Vec<_> = got.iter().map(|e| e["search_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ESCU - A - Rule", "ESCU - B - Rule"]);
        assert!(contributing(&Record::new(), &events).is_empty());
    }
}
