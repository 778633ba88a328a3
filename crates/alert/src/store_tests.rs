use super::*;
use crate::test_backends::{on_both_backends, Kind, TestDb};
use crate::{build_alerts, AlertContext, IncidentRules, ATTACK_TACTIC_RULE, RISK_THRESHOLD_RULE};
use vigil_content::{ContentSet, Detection, RiskObject};
use vigil_model::{Record, Value};

const HOUR: Micros = 3_600_000_000;
const T0: Micros = 1_800_000_000_000_000;

fn row(user: &str, dest: &str, guid: &str) -> Record {
    [
        ("dest", dest),
        ("user", user),
        ("process_name", "msiexec.exe"),
        ("parent_process_name", "cmd.exe"),
        ("process_guid", guid),
        ("count", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), Value::str(*v)))
    .collect()
}

/// The seed with another name, id, score and technique: a stand-in for other detections.
fn variant(set: &ContentSet, n: usize, score: f64, technique: &str) -> Detection {
    let mut d = set.detection("Windows MSIExec Remote Download").unwrap().clone();
    d.name = format!("Detection {n}");
    d.id = format!("id-{n}");
    d.tags.mitre_attack_id = vec![technique.to_string()];
    if let Some(rba) = d.rba.as_mut() {
        rba.risk_objects = vec![RiskObject { field: "dest".into(), kind: "system".into(), score: Some(score) }];
    }
    d
}

fn run(set: &ContentSet, det: &Detection, rows: &[Record], at: Micros) -> Vec<Alert> {
    build_alerts(det, set.deployment_for(det), rows, &AlertContext { run_time: at, ..Default::default() })
}

on_both_backends!(
    dedup_across_two_runs,
    risk_threshold_rule_fires_at_threshold_once,
    tactic_rule_counts_distinct_tactics_and_detections,
    incidents_over_historical_activity_are_raised_at_its_time,
    two_writers_record_the_same_alerts_once,
    run_records_newest_first_by_detection,
);

fn dedup_across_two_runs(kind: Kind) {
    let Some(db) = TestDb::new(kind) else { return };
    let set = ContentSet::builtin();
    let det = set.detection("Windows MSIExec Remote Download").unwrap();
    let rows = [row("CORP\\bob", "HOST1", "g1"), row("CORP\\bob", "HOST1", "g2")];
    {
        let mut store = db.open();
        assert_eq!(store.record(&run(&set, det, &rows, T0)).unwrap(), 6);
    }
    // A later run re-finds the same results (count grew): nothing new.
    let mut store = db.open();
    let mut again = rows.clone();
    again[0].set("count", Value::str("2"));
    assert_eq!(store.record(&run(&set, det, &again, T0 + HOUR)).unwrap(), 0);
    // A new result adds its notable and two risk events.
    assert_eq!(store.record(&run(&set, det, &[row("CORP\\bob", "HOST1", "g3")], T0 + HOUR)).unwrap(), 3);
    assert_eq!(store.counts().unwrap(), (6, 3));
    let objs = store.risk_by_object(T0, T0 + 2 * HOUR).unwrap();
    assert_eq!(objs.len(), 2);
    let host = objs.iter().find(|o| o.risk_object == "host1").unwrap();
    assert_eq!((host.risk_object_type.as_str(), host.total_score, host.count, host.distinct_detections()), ("system", 105.0, 3, 1));
    assert_eq!(host.tactics, ["defense-evasion"]);
    let user = objs.iter().find(|o| o.risk_object == "corp\\bob").unwrap();
    assert_eq!(user.risk_object_type, "user");
    // The time range is half-open and excludes the later run.
    let first = store.risk_by_object(T0, T0 + HOUR).unwrap();
    assert_eq!(first.iter().map(|o| o.count).sum::<usize>(), 4);
    assert_eq!(store.notables(T0, T0 + 2 * HOUR, None).unwrap().len(), 3);
}

fn risk_threshold_rule_fires_at_threshold_once(kind: Kind) {
    let Some(db) = TestDb::new(kind) else { return };
    let set = ContentSet::builtin();
    let mut store = db.open();
    let d1 = variant(&set, 1, 60.0, "T1218.007");
    let d2 = variant(&set, 2, 40.0, "T1218.007");
    store.record(&run(&set, &d1, &[row("u", "HOST9", "a")], T0)).unwrap();
    let rules = IncidentRules::default();
    assert!(store.evaluate_incidents(T0 + HOUR, &rules).unwrap().is_empty(), "60 < 100");
    store.record(&run(&set, &d2, &[row("u", "HOST9", "b")], T0 + 2 * HOUR)).unwrap();
    let inc = store.evaluate_incidents(T0 + 3 * HOUR, &rules).unwrap();
    assert_eq!(inc.len(), 1, "60 + 40 >= 100");
    let Alert::Notable(n) = &inc[0] else { panic!("incident is a notable") };
    assert_eq!(n.rule_name, RISK_THRESHOLD_RULE);
    assert_eq!(n.rule_title, "24 hour risk threshold exceeded for system=host9");
    assert_eq!(n.fields.value("risk_score"), &Value::Num(100.0));
    assert_eq!(n.fields.value("source_count"), &Value::Num(2.0));
    assert_eq!(n.severity, crate::Severity::Critical);
    // Throttled: evaluating again an hour later raises nothing new.
    assert!(store.evaluate_incidents(T0 + 4 * HOUR, &rules).unwrap().is_empty());
    assert_eq!(store.notables(0, i64::MAX, Some(&[RISK_THRESHOLD_RULE])).unwrap().len(), 1);
    // Outside the 24h window the sum falls below the threshold.
    let Some(db2) = TestDb::new(kind) else { return };
    let mut store2 = db2.open();
    store2.record(&run(&set, &d1, &[row("u", "HOST9", "a")], T0)).unwrap();
    store2.record(&run(&set, &d2, &[row("u", "HOST9", "b")], T0 + 25 * HOUR)).unwrap();
    assert!(store2.evaluate_incidents(T0 + 25 * HOUR, &rules).unwrap().is_empty());
    // A configurable threshold.
    let low = IncidentRules { risk_threshold: 40.0, ..IncidentRules::default() };
    assert_eq!(store2.evaluate_incidents(T0 + 25 * HOUR, &low).unwrap().len(), 1);
}

fn tactic_rule_counts_distinct_tactics_and_detections(kind: Kind) {
    let Some(db) = TestDb::new(kind) else { return };
    let set = ContentSet::builtin();
    let mut store = db.open();
    // defense-evasion, execution, persistence + privilege-escalation, defense-evasion again.
    let techniques = ["T1218.007", "T1059.001", "T1547.001", "T1218.011"];
    for (i, t) in techniques.iter().enumerate() {
        let d = variant(&set, i, 1.0, t);
        store.record(&run(&set, &d, &[row("u", "HOST7", &format!("g{i}"))], T0 + i as i64 * 24 * HOUR)).unwrap();
    }
    let at = T0 + 4 * 24 * HOUR;
    let only_three_detections = IncidentRules { tactic_min_detections: 5, ..IncidentRules::default() };
    assert!(store.evaluate_incidents(at, &only_three_detections).unwrap().is_empty());
    let inc = store.evaluate_incidents(at, &IncidentRules::default()).unwrap();
    assert_eq!(inc.len(), 1);
    let Alert::Notable(n) = &inc[0] else { panic!("incident is a notable") };
    assert_eq!(n.rule_name, ATTACK_TACTIC_RULE);
    assert!(n.annotations.mitre_tactic.len() >= 3, "{:?}", n.annotations.mitre_tactic);
    assert_eq!(n.fields.value("source_count"), &Value::Num(4.0));
    // A higher tactic threshold does not fire.
    let Some(db2) = TestDb::new(kind) else { return };
    let mut fresh = db2.open();
    for (i, t) in techniques.iter().enumerate() {
        let d = variant(&set, i, 1.0, t);
        fresh.record(&run(&set, &d, &[row("u", "HOST7", &format!("g{i}"))], T0)).unwrap();
    }
    let strict = IncidentRules { tactic_threshold: 10, ..IncidentRules::default() };
    assert!(fresh.evaluate_incidents(T0 + HOUR, &strict).unwrap().is_empty());
    // Older than 7 days: out of the window.
    assert!(fresh.evaluate_incidents(T0 + 8 * 24 * HOUR, &IncidentRules::default()).unwrap().is_empty());
}

fn incidents_over_historical_activity_are_raised_at_its_time(kind: Kind) {
    let Some(db) = TestDb::new(kind) else { return };
    let set = ContentSet::builtin();
    let mut store = db.open();
    let d1 = variant(&set, 1, 60.0, "T1218.007");
    let d2 = variant(&set, 2, 40.0, "T1218.007");
    // Two years before T0: 60 at -2h, 40 at -1h (100 within 24 h), then 60 alone 3 days later.
    let old = T0 - 2 * 365 * 24 * HOUR;
    store.record(&run(&set, &d1, &[row("u", "HOST9", "a")], old)).unwrap();
    store.record(&run(&set, &d2, &[row("u", "HOST9", "b")], old + HOUR)).unwrap();
    store.record(&run(&set, &d1, &[row("u", "HOST9", "c")], old + 72 * HOUR)).unwrap();
    let rules = IncidentRules::default();
    // As of now nothing is within 24 h; over the activity, one incident at the crossing time.
    assert!(store.evaluate_incidents(T0, &rules).unwrap().is_empty());
    assert_eq!(store.risk_event_times(old, old + 73 * HOUR).unwrap(), [old, old + HOUR, old + 72 * HOUR]);
    let inc = store.evaluate_incidents_over(i64::MIN, T0, &rules).unwrap();
    assert_eq!(inc.iter().map(Alert::time).collect::<Vec<_>>(), [old + HOUR]);
    // Idempotent: evaluating the same range again raises nothing.
    assert!(store.evaluate_incidents_over(i64::MIN, T0, &rules).unwrap().is_empty());
}

/// Two processes (two reducers) record the same run's alerts at once, each through its own
/// connection: every alert is stored once, and the two are told of each new row once between
/// them.
fn two_writers_record_the_same_alerts_once(kind: Kind) {
    let Some(db) = TestDb::new(kind) else { return };
    let set = ContentSet::builtin();
    let det = set.detection("Windows MSIExec Remote Download").unwrap();
    let rows: Vec<Record> = (0..50).map(|i| row("CORP\\bob", &format!("HOST{i}"), &format!("g{i}"))).collect();
    let alerts = run(&set, det, &rows, T0);
    let stores = [db.open(), db.open()];
    let new: usize = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .into_iter()
            .map(|mut store| {
                let alerts = &alerts;
                s.spawn(move || store.record(alerts).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(new, alerts.len());
    let store = db.open();
    assert_eq!(store.counts().unwrap(), (100, 50));
    // The risk of an object is counted once.
    let objs = store.risk_by_object(T0, T0 + 1).unwrap();
    assert_eq!(objs.iter().find(|o| o.risk_object == "corp\\bob").map(|o| o.count), Some(50));
}

fn run_records_newest_first_by_detection(kind: Kind) {
    let Some(db) = TestDb::new(kind) else { return };
    let mut store = db.open();
    for (i, names) in [vec!["A"], vec!["A", "B"], vec!["C"]].into_iter().enumerate() {
        let names: Vec<String> = names.into_iter().map(String::from).collect();
        store.record_run(&names, &serde_json::json!({"n": i, "detections": names})).unwrap();
    }
    let n = |v: Vec<serde_json::Value>| v.iter().map(|r| r["n"].as_i64().unwrap()).collect::<Vec<_>>();
    let other = db.open();
    assert_eq!(n(other.recent_runs(None, 10).unwrap()), [2, 1, 0]);
    assert_eq!(n(other.recent_runs(Some("A"), 10).unwrap()), [1, 0]);
    assert_eq!(n(other.recent_runs(Some("A"), 1).unwrap()), [1]);
    assert!(other.recent_runs(Some("Z"), 10).unwrap().is_empty());
}
