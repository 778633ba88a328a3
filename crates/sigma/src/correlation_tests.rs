use super::*;

fn corr(yaml: &str) -> Correlation {
    let body: Yaml = serde_norway::from_str(yaml).unwrap();
    Correlation::parse(&RuleMeta::default(), &body).unwrap()
}

fn ev(time: f64, group: &str, input: usize) -> Event {
    Event { time, group: vec![group.to_string()], inputs: vec![input], ..Default::default() }
}

fn valued(time: f64, group: &str, value: &str) -> Event {
    Event { value: Some(vec![value.to_string()]), number: value.parse().ok(), ..ev(time, group, 0) }
}

#[test]
fn spec_example_fields_are_read() {
    let c = corr(
        "correlation:\n  type: value_count\n  rules: [5638f7c0-ac70-491d-8465-2a65075e0d86]\n  group-by: [ComputerName, WorkstationName]\n  timespan: 1d\n  condition:\n    field: User\n    gte: 100\n",
    );
    assert_eq!(c.kind, Kind::ValueCount);
    assert_eq!(c.group_by, ["ComputerName", "WorkstationName"]);
    assert_eq!(c.timespan_secs, 86400.0);
    assert_eq!(c.field, ["User"]);
    assert_eq!(c.condition, Condition(vec![(Cmp::Gte, 100.0)]));
    let t = corr("correlation:\n  type: temporal\n  rules: [a, b, c]\n  group-by: [User]\n  timespan: 5m\n");
    assert_eq!(t.condition, Condition(vec![(Cmp::Gte, 3.0)]), "temporal without condition: all rules");
    let range = corr("correlation:\n  type: event_count\n  rules: [a]\n  timespan: 90m\n  condition: {gt: 100, lte: 200}\n");
    assert!(range.condition.holds(101.0) && range.condition.holds(200.0) && !range.condition.holds(100.0) && !range.condition.holds(201.0));
    assert_eq!(range.timespan_secs, 5400.0);
}

#[test]
fn bad_correlations_say_why() {
    let err = |y: &str| Correlation::parse(&RuleMeta::default(), &serde_norway::from_str(y).unwrap()).unwrap_err();
    assert!(err("correlation:\n  type: event_count\n  rules: [a]\n  timespan: 1x\n  condition: {gte: 1}\n").1.contains("timespan"));
    assert!(err("correlation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n").1.contains("condition"));
    assert!(err("correlation:\n  type: value_count\n  rules: [a]\n  timespan: 1h\n  condition: {gte: 2}\n").1.contains("field"));
    assert!(err("correlation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {ge: 2}\n").1.contains("ge"));
    assert!(err("correlation:\n  type: value_percentile\n  rules: [a]\n  timespan: 1h\n  condition: {lte: 1}\n").1.contains("field"));
}

#[test]
fn event_count_slides_and_hits_do_not_overlap() {
    let c = corr("correlation:\n  type: event_count\n  rules: [a]\n  group-by: [User]\n  timespan: 10m\n  condition: {gte: 3}\n");
    // bob: 3 events across an hour boundary within 10 minutes; alice: 3 events over 20 minutes.
    let events = vec![
        ev(3595.0, "bob", 0),
        ev(3600.0, "bob", 0),
        ev(3900.0, "bob", 0),
        ev(3901.0, "bob", 0),
        ev(0.0, "alice", 0),
        ev(600.0, "alice", 0),
        ev(1200.0, "alice", 0),
    ];
    let hits = c.correlate(&events);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let h = &hits[0];
    assert_eq!(h.group, ["bob"]);
    assert_eq!((h.first_time, h.time, h.last_time, h.aggregate), (3595.0, 3900.0, 3901.0, 4.0));
    assert_eq!(h.events, [0, 1, 2, 3]);
    // An exact window edge counts (alice's 0 and 600 are 10 minutes apart).
    let c2 = corr("correlation:\n  type: event_count\n  rules: [a]\n  group-by: [User]\n  timespan: 10m\n  condition: {gte: 2}\n");
    let alice: Vec<Hit> = c2.correlate(&events).into_iter().filter(|h| h.group == ["alice"]).collect();
    assert_eq!(alice.len(), 1, "0+600 is one hit, 1200 alone is not: {alice:?}");
}

#[test]
fn upper_bounds_judge_the_whole_window() {
    let c = corr("correlation:\n  type: event_count\n  rules: [a]\n  group-by: [h]\n  timespan: 1h\n  condition: {gte: 2, lt: 4}\n");
    let busy: Vec<Event> = (0..5).map(|i| ev(i as f64, "busy", 0)).collect();
    assert!(c.correlate(&busy).iter().all(|h| h.aggregate < 4.0));
    // Windows from each of the 5 events: 5, 4, 3 -> the third window is a hit with 3 events.
    let hits = c.correlate(&busy);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].first_time, hits[0].time, hits[0].aggregate), (2.0, 4.0, 3.0));
}

#[test]
fn value_count_counts_distinct_values() {
    let c = corr("correlation:\n  type: value_count\n  rules: [a]\n  group-by: [src]\n  timespan: 1h\n  condition: {field: user, gt: 2}\n");
    let events = vec![valued(0.0, "s", "u1"), valued(1.0, "s", "u1"), valued(2.0, "s", "u2"), valued(3.0, "s", "u3")];
    let hits = c.correlate(&events);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].time, hits[0].aggregate), (3.0, 3.0));
    assert!(c.correlate(&events[..3]).is_empty());
}

#[test]
fn temporal_and_ordered() {
    let t = corr("correlation:\n  type: temporal\n  rules: [a, b]\n  group-by: [h]\n  timespan: 5m\n");
    let o = corr("correlation:\n  type: temporal_ordered\n  rules: [a, b]\n  group-by: [h]\n  timespan: 5m\n");
    let b_then_a = vec![ev(0.0, "h", 1), ev(60.0, "h", 0)];
    assert_eq!(t.correlate(&b_then_a).len(), 1);
    assert!(o.correlate(&b_then_a).is_empty());
    let a_then_b = vec![ev(0.0, "h", 0), ev(60.0, "h", 1)];
    assert_eq!(o.correlate(&a_then_b).len(), 1);
    let too_far = vec![ev(0.0, "h", 0), ev(301.0, "h", 1)];
    assert!(t.correlate(&too_far).is_empty() && o.correlate(&too_far).is_empty());
    // Other hosts do not complete each other's sequences.
    let split = vec![ev(0.0, "x", 0), ev(10.0, "y", 1)];
    assert!(t.correlate(&split).is_empty());
    // b, a, b: ordered finds a then the later b.
    let bab = vec![ev(0.0, "h", 1), ev(10.0, "h", 0), ev(20.0, "h", 1)];
    let hits = o.correlate(&bab);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].time, 20.0);
}

#[test]
fn value_sum_and_avg() {
    let s =
        corr("correlation:\n  type: value_sum\n  rules: [a]\n  group-by: [ip]\n  timespan: 1h\n  condition: {field: bytes, gt: 1000}\n");
    let a = corr("correlation:\n  type: value_avg\n  rules: [a]\n  group-by: [ip]\n  timespan: 1h\n  condition: {field: bytes, gt: 500}\n");
    let events = vec![valued(0.0, "ip", "600"), valued(10.0, "ip", "300"), valued(20.0, "ip", "200")];
    let hits = s.correlate(&events);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].aggregate, hits[0].time), (1100.0, 20.0));
    // Averages over the windows from each event: 366.7, 250, 200: none above 500.
    assert!(a.correlate(&events).is_empty());
    assert_eq!(a.correlate(&events[..1]).len(), 1);
}

#[test]
fn value_percentile_reads_the_spec_example() {
    let c = corr("correlation:\n  type: value_percentile\n  rules: [process_creation]\n  group-by: [ComputerName]\n  timespan: 24h\n  condition:\n    field: Image\n    lte: 1\n");
    assert_eq!(
        (c.kind, c.field.as_slice(), c.aggregate_name()),
        (Kind::ValuePercentile, ["Image".to_string()].as_slice(), "value_percentile")
    );
    assert_eq!(c.condition, Condition(vec![(Cmp::Lte, 1.0)]));
}

#[test]
fn value_percentile_finds_each_rare_value_of_a_group() {
    let c = corr(
        "correlation:\n  type: value_percentile\n  rules: [a]\n  group-by: [host]\n  timespan: 1h\n  condition: {field: image, lte: 10}\n",
    );
    // h1: 18 x a.exe, 1 x b.exe, 1 x c.exe in one hour: b and c are 5 % each, a 90 %.
    let mut events: Vec<Event> = (0..18).map(|i| valued(i as f64, "h1", "a.exe")).collect();
    events.push(valued(100.0, "h1", "c.exe"));
    events.push(valued(50.0, "h1", "b.exe"));
    // h2: 9 x a.exe, 1 x b.exe: b is exactly 10 % (lte holds); an event without the field
    // does not count in the shares.
    events.extend((0..9).map(|i| valued(i as f64, "h2", "a.exe")));
    events.push(valued(20.0, "h2", "b.exe"));
    events.push(ev(21.0, "h2", 0));
    let hits = c.correlate(&events);
    let got: Vec<(&str, String, f64)> =
        hits.iter().map(|h| (h.group[0].as_str(), h.value.as_ref().unwrap()[0].clone(), h.aggregate)).collect();
    assert_eq!(got, [("h2", "b.exe".to_string(), 10.0), ("h1", "b.exe".to_string(), 5.0), ("h1", "c.exe".to_string(), 5.0)]);
    // The window is judged whole: its last event is the hit's time; a hit lists only the
    // events with its value.
    assert_eq!((hits[1].time, hits[1].first_time, hits[1].last_time), (100.0, 0.0, 100.0));
    assert_eq!(hits[1].events, [19]);
    // Without the rare values the group has one value at 100 %: no hit.
    assert!(c.correlate(&events[..18]).is_empty());
}

#[test]
fn value_percentile_windows_slide_and_do_not_overlap() {
    let c = corr(
        "correlation:\n  type: value_percentile\n  rules: [a]\n  group-by: [host]\n  timespan: 10m\n  condition: {field: image, gte: 50}\n",
    );
    // x.exe alone (100 %) at 0; then from 1000 s, y and z alternate (50 % each) in one window.
    let events = vec![valued(0.0, "h", "x.exe"), valued(1000.0, "h", "y.exe"), valued(1001.0, "h", "z.exe")];
    let hits = c.correlate(&events);
    let got: Vec<(String, f64, f64)> = hits.iter().map(|h| (h.value.as_ref().unwrap()[0].clone(), h.aggregate, h.time)).collect();
    assert_eq!(got, [("x.exe".to_string(), 100.0, 0.0), ("y.exe".to_string(), 50.0, 1001.0), ("z.exe".to_string(), 50.0, 1001.0)]);
    // lt 50: x is under half only of a window with y and z too, which is longer than 10 min.
    let rare = corr(
        "correlation:\n  type: value_percentile\n  rules: [a]\n  group-by: [host]\n  timespan: 10m\n  condition: {field: image, lt: 50}\n",
    );
    assert!(rare.correlate(&events).is_empty());
}
