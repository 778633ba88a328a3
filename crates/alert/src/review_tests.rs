use super::*;
use crate::test_backends::{on_both_backends, Kind, TestDb};
use crate::{build_alerts, Alert, AlertContext};
use vigil_content::ContentSet;
use vigil_model::{Record, Value};

const T0: Micros = 1_800_000_000_000_000;
const HOUR: Micros = 3_600_000_000;

fn row(user: &str, dest: &str, guid: &str) -> Record {
    [("dest", dest), ("user", user), ("process_name", "msiexec.exe"), ("process_guid", guid), ("count", "1")]
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect()
}

/// A store with three seed notables: HOST1/bob at T0, HOST2/alice at T0+1h, HOST1/carol at T0+2h.
fn store(kind: Kind) -> Option<(TestDb, RiskStore)> {
    let db = TestDb::new(kind)?;
    let mut store = db.open();
    let set = ContentSet::builtin();
    let det = set.detection("Windows MSIExec Remote Download").unwrap();
    for (i, (user, dest)) in [("CORP\\bob", "HOST1"), ("CORP\\alice", "HOST2"), ("CORP\\carol", "HOST1")].iter().enumerate() {
        let at = T0 + i as Micros * HOUR;
        let alerts = build_alerts(
            det,
            set.deployment_for(det),
            &[row(user, dest, &format!("g{i}"))],
            &AlertContext { run_time: at, ..Default::default() },
        );
        assert!(alerts.iter().any(|a| matches!(a, Alert::Notable(_))));
        store.record(&alerts).unwrap();
    }
    Some((db, store))
}

on_both_backends!(
    listing_filters_pages_and_searches_text,
    updates_are_audited_and_filterable,
    bad_changes_are_refused,
    risk_events_of_one_object,
    concurrent_changes_are_not_lost,
);

fn ids(page: &[ReviewedNotable]) -> Vec<String> {
    page.iter().map(|n| n.notable["user"].as_str().unwrap_or("").to_string()).collect()
}

fn listing_filters_pages_and_searches_text(kind: Kind) {
    let Some((_d, store)) = store(kind) else { return };
    let all = NotableFilter::default();
    let (page, total) = store.review_list(&all, 0, 2).unwrap();
    assert_eq!(total, 3);
    assert_eq!(ids(&page), ["CORP\\carol", "CORP\\alice"], "newest first");
    let (page, _) = store.review_list(&all, 2, 2).unwrap();
    assert_eq!(ids(&page), ["CORP\\bob"]);
    assert!(page.iter().all(|n| n.status == "new" && n.owner == UNASSIGNED && n.urgency != "unknown"));
    let f = NotableFilter { dest: Some("host1".into()), ..Default::default() };
    assert_eq!(store.review_list(&f, 0, 10).unwrap().1, 2);
    let f = NotableFilter { user: Some("corp\\a*".into()), ..Default::default() };
    assert_eq!(ids(&store.review_list(&f, 0, 10).unwrap().0), ["CORP\\alice"]);
    let f = NotableFilter { from: Some(T0 + HOUR), to: Some(T0 + 2 * HOUR), ..Default::default() };
    assert_eq!(ids(&store.review_list(&f, 0, 10).unwrap().0), ["CORP\\alice"]);
    let f = NotableFilter { detection: Some("Windows MSIExec Remote Download".into()), text: Some("CAROL".into()), ..Default::default() };
    assert_eq!(ids(&store.review_list(&f, 0, 10).unwrap().0), ["CORP\\carol"]);
    let f = NotableFilter { detection: Some("Other".into()), ..Default::default() };
    assert_eq!(store.review_list(&f, 0, 10).unwrap().1, 0);
    // A `%` or `_` in a value is literal, not a LIKE wildcard.
    let f = NotableFilter { dest: Some("HOST_".into()), ..Default::default() };
    assert_eq!(store.review_list(&f, 0, 10).unwrap().1, 0);
}

fn updates_are_audited_and_filterable(kind: Kind) {
    let Some((_d, mut store)) = store(kind) else { return };
    let (page, _) = store.review_list(&NotableFilter::default(), 0, 10).unwrap();
    let id = page[0].id.clone();
    let own_urgency = page[0].urgency.clone();
    let change =
        ReviewChange { status: Some("in_progress".into()), owner: Some("ann".into()), comment: Some("looking".into()), urgency: None };
    let n = store.review_update(&id, &change, "ann", T0 + 10).unwrap();
    assert_eq!((n.status.as_str(), n.owner.as_str(), n.urgency.as_str()), ("in_progress", "ann", own_urgency.as_str()));
    assert_eq!(n.updated, Some((T0 + 10) as f64 / 1e6));
    // The same values again change nothing and add no audit entry.
    store.review_update(&id, &ReviewChange { status: Some("in_progress".into()), ..Default::default() }, "bo", T0 + 20).unwrap();
    store.review_update(&id, &ReviewChange { urgency: Some("critical".into()), ..Default::default() }, "bo", T0 + 30).unwrap();
    let audit = store.review_audit(&id).unwrap();
    let fields: Vec<(&str, &str, Option<&str>, Option<&str>)> =
        audit.iter().map(|a| (a.user.as_str(), a.field.as_str(), a.old_value.as_deref(), a.new_value.as_deref())).collect();
    assert_eq!(
        fields,
        [
            ("ann", "status", Some("new"), Some("in_progress")),
            ("ann", "owner", Some("unassigned"), Some("ann")),
            ("ann", "comment", None, Some("looking")),
            ("bo", "urgency", Some(own_urgency.as_str()), Some("critical")),
        ]
    );
    assert_eq!(audit[3].time, T0 + 30);
    let f = NotableFilter { status: vec!["in_progress".into(), "pending".into()], owner: Some("ann".into()), ..Default::default() };
    assert_eq!(store.review_list(&f, 0, 10).unwrap().1, 1);
    let f = NotableFilter { urgency: vec!["critical".into()], ..Default::default() };
    assert_eq!(store.review_list(&f, 0, 10).unwrap().0[0].id, id);
    let f = NotableFilter { status: vec!["new".into()], ..Default::default() };
    assert_eq!(store.review_list(&f, 0, 10).unwrap().1, 2);
}

fn bad_changes_are_refused(kind: Kind) {
    let Some((_d, mut store)) = store(kind) else { return };
    let id = store.review_list(&NotableFilter::default(), 0, 1).unwrap().0[0].id.clone();
    let mut bad = |c: ReviewChange| match store.review_update(&id, &c, "x", T0) {
        Err(ReviewError::Invalid(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(bad(ReviewChange { status: Some("done".into()), ..Default::default() }).contains("status `done`"));
    assert!(bad(ReviewChange { urgency: Some("extreme".into()), ..Default::default() }).contains("urgency"));
    assert!(bad(ReviewChange { owner: Some(" ".into()), ..Default::default() }).contains("owner"));
    assert!(matches!(store.review_update("nope", &ReviewChange::default(), "x", T0), Err(ReviewError::NotFound(_))));
    assert!(store.review_audit(&id).unwrap().is_empty());
}

fn risk_events_of_one_object(kind: Kind) {
    let Some((_d, store)) = store(kind) else { return };
    let host1 = store.risk_events_of("HOST1", "system", T0, T0 + 3 * HOUR, 100).unwrap();
    assert_eq!(host1.len(), 2);
    assert!(host1.iter().all(|e| e["normalized_risk_object"] == "host1"));
    assert_eq!(store.risk_events_of("host1", "system", T0, T0 + 3 * HOUR, 1).unwrap().len(), 1);
    assert!(store.risk_events_of("host1", "user", T0, T0 + 3 * HOUR, 10).unwrap().is_empty());
}

/// Analysts on several API processes (each its own connection) take the same notable at once:
/// each change is decided from the one before it, so the audit trail is one unbroken chain
/// (every entry's old owner is the previous entry's new one) and no change is lost.
fn concurrent_changes_are_not_lost(kind: Kind) {
    let Some((db, store)) = store(kind) else { return };
    let id = store.review_list(&NotableFilter::default(), 0, 1).unwrap().0[0].id.clone();
    let stores: Vec<RiskStore> = (0..6).map(|_| db.open()).collect();
    std::thread::scope(|s| {
        for (i, mut store) in stores.into_iter().enumerate() {
            let id = &id;
            s.spawn(move || {
                let change = ReviewChange { owner: Some(format!("analyst{i}")), ..Default::default() };
                store.review_update(id, &change, &format!("analyst{i}"), T0 + i as Micros).unwrap();
            });
        }
    });
    let audit = store.review_audit(&id).unwrap();
    assert_eq!(audit.len(), 6, "{audit:?}");
    let mut owner = UNASSIGNED.to_string();
    for a in &audit {
        assert_eq!(a.old_value.as_deref(), Some(owner.as_str()), "{audit:?}");
        owner = a.new_value.clone().unwrap();
    }
    assert_eq!(store.review_get(&id).unwrap().unwrap().owner, owner);
}
