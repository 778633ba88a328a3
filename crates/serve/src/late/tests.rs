use super::*;

fn t(s: &str) -> Micros {
    vigil_time::parse_iso8601_utc(s).unwrap()
}

fn ev(time: &str, arrival: &str) -> StoredEvent {
    StoredEvent { indextime: t(arrival) as f64 / 1e6, ..crate::store::tests::ev(t(time), "x") }
}

fn key() -> ScheduleKey {
    ("0 * * * *".into(), "-70m@m".into(), "-10m@m".into())
}

fn tracker(dir: &Path, mode: LateMode) -> Arc<LateTracker> {
    let l = LateTracker::open(dir, mode).unwrap();
    let spec = ScheduleSpec { key: key(), names: vec!["A".into(), "B".into()], schedule: Schedule::parse("0 * * * *").unwrap() };
    l.set_schedules(vec![spec], t("2026-11-20T09:00:00Z"), &Tz::utc());
    l
}

#[test]
fn late_events_are_counted_listed_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let l = tracker(dir.path(), LateMode::Count);
    // The 11:00 run holds 10:15: arriving at 10:59 is on time, at 11:00:01 late.
    l.observe(&[ev("2026-11-20T10:15:00Z", "2026-11-20T10:59:00Z"), ev("2026-11-20T10:15:00Z", "2026-11-20T11:00:01Z")]);
    let s = l.summary(None, 10);
    assert_eq!(s["total"], 1);
    assert_eq!(s["by_detection"]["A"], 1);
    assert_eq!(s["recent"][0]["window_run_time"], "2026-11-20T11:00:00Z");
    assert_eq!(s["recent"][0]["arrival_time"], "2026-11-20T11:00:01Z");
    assert!(s["recent"][0].get("rerun").is_none());
    assert!(l.pending_reruns().is_empty(), "counted only");
    assert_eq!(l.take_since_run(&key()), 1);
    assert_eq!(l.take_since_run(&key()), 0);
    drop(l);
    let l = tracker(dir.path(), LateMode::Count);
    assert_eq!(l.summary(Some("B"), 10)["recent"].as_array().unwrap().len(), 1);
    assert_eq!(l.summary(Some("C"), 10)["recent"].as_array().unwrap().len(), 0);
    assert_eq!(l.summary(None, 10)["total"], 1);
    assert_eq!(std::fs::read_to_string(dir.path().join("late.jsonl")).unwrap().lines().count(), 1);
}

#[test]
fn rerun_mode_queues_the_runs_that_ran_until_done() {
    let dir = tempfile::tempdir().unwrap();
    let l = tracker(dir.path(), LateMode::Rerun);
    l.observe(&[
        ev("2026-11-20T10:15:00Z", "2026-11-20T12:00:00Z"),
        ev("2026-11-20T10:20:00Z", "2026-11-20T12:00:00Z"),
        // Held by the 08:00 run only, before the scheduler's first start: it never ran.
        ev("2026-11-20T07:45:00Z", "2026-11-20T12:00:00Z"),
    ]);
    assert_eq!(l.pending_reruns(), [(key(), t("2026-11-20T11:00:00Z"))]);
    assert_eq!(l.summary(None, 10)["total"], 3);
    drop(l);
    let l = tracker(dir.path(), LateMode::Rerun);
    assert_eq!(l.pending_reruns().len(), 1, "pending reruns survive a restart");
    l.rerun_done(&key(), t("2026-11-20T11:00:00Z"));
    assert!(l.pending_reruns().is_empty());
    assert!(tracker(dir.path(), LateMode::Rerun).pending_reruns().is_empty());
}
