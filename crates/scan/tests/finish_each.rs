//! `finish_runs_each` (serve: each detection's results handed on as it finishes) gives what
//! `finish_runs` (backtest: every run's results together) gives: the same hits in the same
//! order, each detection's rows in one hit even when the engine finishes it in chunks.

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::{DatasetRow, Event, Micros};
use vigil_normalize::Normalizer;
use vigil_scan::schedule::{finish_runs, finish_runs_each, Group, Hit, Runs, Scheduled, ScheduledState};
use vigil_scan::Consumer;
use vigil_time::{Tz, Window};

const HOUR: Micros = 3_600_000_000;
const START: Micros = 1_700_002_800_000_000; // on the hour

const SEARCHES: [&str; 4] = [
    "index=main | stats count by host",
    // A group per event: more groups than the engine hands on at once (4096), so the engine
    // finishes this detection in chunks.
    "index=main | stats count by n",
    "index=main nothing_has_this=*",
    "index=main | eventstats count by host | where count > 0 | table n host count",
];

fn events() -> Vec<Event> {
    (0..9000)
        .map(|i: i64| {
            let mut e = Event {
                time: Some(START + i * 500_000),
                sourcetype: "XmlWinEventLog".into(),
                host: format!("h{}", i % 5),
                ..Default::default()
            };
            e.push("n", i.to_string());
            e.raw = format!("n={i}");
            e
        })
        .collect()
}

/// One group, an hourly run at each of the next three hours over the hour before it.
fn group(normalizer: &Normalizer) -> Group {
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let queries = SEARCHES.iter().map(|s| planner.plan(s, s).unwrap_or_else(|e| panic!("{}", e.render(s)))).collect();
    let mut engine = Engine::new(queries, normalizer.catalog());
    engine.set_memory_budget(1 << 20);
    let runs = (1..=3).map(|h| (START + h * HOUR, Window { earliest: START + (h - 1) * HOUR, latest: START + h * HOUR })).collect();
    Group {
        engine,
        names: SEARCHES.iter().map(|s| s.to_string()).collect(),
        cron: "0 * * * *".into(),
        earliest: "-60m".into(),
        latest: "now".into(),
        runs: Runs::new(runs),
    }
}

fn scanned(groups: &[Group], normalizer: &Normalizer, events: &[Event]) -> ScheduledState {
    let consumer = Scheduled { groups, arrival_field: "_indextime" };
    let mut state = consumer.new_state();
    let mut rows: Vec<DatasetRow> = Vec::new();
    for e in events {
        rows.clear();
        normalizer.normalize(e, &mut rows);
        consumer.consume(&mut state, e, &rows);
    }
    state
}

fn text(h: &Hit) -> (Micros, String, Vec<String>) {
    (h.run_time, h.name.clone(), h.rows.iter().map(|r| serde_json::to_string(r).expect("json")).collect())
}

#[test]
fn each_detection_handed_on_as_finished_equals_all_together() {
    let normalizer = Normalizer::builtin().expect("mappings");
    let groups = [group(&normalizer)];
    let events = events();
    let ctx = EvalContext { now: START + 3 * HOUR, tz: Tz::utc() };

    let (all, failures) = finish_runs(&groups, &mut scanned(&groups, &normalizer, &events), &ctx, &|| {});
    assert!(failures.is_empty(), "{failures:?}");
    let expected: Vec<_> = all.iter().map(text).collect();

    let mut each = Vec::new();
    let failures = finish_runs_each(&groups, &mut scanned(&groups, &normalizer, &events), &ctx, &mut |h| each.push(text(&h)));
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(each, expected);

    // Two runs hold events (4500 s from START), three detections have rows in each; the one
    // with a row per event comes whole, in one hit.
    assert_eq!(each.len(), 6, "{:?}", each.iter().map(|h| (h.0, h.1.clone(), h.2.len())).collect::<Vec<_>>());
    let every = each.iter().filter(|h| h.1 == SEARCHES[1]).map(|h| h.2.len()).collect::<Vec<_>>();
    assert_eq!(every, [7200, 1800]);
}
