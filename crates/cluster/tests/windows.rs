//! Without a broker: the shipped samples split over partitions, routed into per-partition
//! windows, closed, encoded, decoded, merged and finished give the rows backtest's
//! `Scheduled` consumer gives over the same events in one process; a checkpoint taken midway
//! and restored changes nothing; a record for a closed window is counted as missed.

use std::path::PathBuf;
use vigil_cluster::checkpoint;
use vigil_cluster::plan::{plan, Planned};
use vigil_cluster::windows::PartitionWindows;
use vigil_engine::EvalContext;
use vigil_model::{DatasetRow, Event, Micros};
use vigil_normalize::Normalizer;
use vigil_scan::schedule::{finish_runs, Runs, Scheduled, ScheduledState};
use vigil_scan::Consumer;
use vigil_serve::selection::Selection;

fn t(s: &str) -> Micros {
    vigil_time::parse_iso8601_utc(s).unwrap()
}

fn sample_events() -> Vec<Event> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|f| f.extension().is_some_and(|e| e == "xml" || e == "json"));
    files.sort();
    let mut events = Vec::new();
    for f in files {
        vigil_read::read_file(&f, &vigil_read::ReadOptions::default(), &mut |e| events.push(e.clone()));
    }
    assert!(events.len() > 10);
    events
}

fn planned(normalizer: &Normalizer) -> Vec<Planned> {
    let content = vigil_content::ContentSet::builtin();
    let selection = Selection { enable: vec!["Windows MSIExec Remote Download".into()], ..Selection::default() };
    plan(&content, normalizer, &selection, Vec::new(), t("2026-11-20T00:00:00Z"), Some(t("2026-11-21T00:00:00Z"))).unwrap().events
}

fn rows_of(normalizer: &Normalizer, ev: &Event) -> Vec<DatasetRow> {
    let mut rows = Vec::new();
    normalizer.normalize_filtered(ev, &|_| true, &mut rows);
    rows
}

/// Finishes one run of schedule 0 over `state`: its result rows as JSON lines.
fn finish(s: &mut Planned, tick: Micros, state: Option<vigil_engine::ScanState>) -> Vec<String> {
    s.group.runs = Runs::new(vec![(tick, s.window(tick).unwrap())]);
    let mut st = ScheduledState { states: vec![vec![state]], ..ScheduledState::default() };
    let ctx = EvalContext { now: tick, tz: vigil_time::Tz::utc() };
    let (hits, failures) = finish_runs(std::slice::from_ref(&s.group), &mut st, &ctx, &|| {});
    assert!(failures.is_empty(), "{failures:?}");
    hits.iter().flat_map(|h| h.rows.iter().map(|r| serde_json::to_string(r).unwrap())).collect()
}

#[test]
fn partitions_merged_equal_one_process_and_checkpoints_change_nothing() {
    let normalizer = Normalizer::builtin().unwrap();
    let events = sample_events();
    let tick = t("2026-11-20T11:00:00Z");
    let arrival = t("2026-11-20T10:30:00Z");

    // One process, backtest's consumer.
    let mut single = planned(&normalizer);
    single[0].group.runs = Runs::new(vec![(tick, single[0].window(tick).unwrap())]);
    let consumer = Scheduled { groups: std::slice::from_ref(&single[0].group), arrival_field: "_indextime" };
    let mut state = consumer.new_state();
    for ev in &events {
        consumer.consume(&mut state, ev, &rows_of(&normalizer, ev));
    }
    let expected = finish(&mut single[0], tick, state.states[0][0].take());
    assert!(!expected.is_empty(), "the seed matches the samples at 11:00");

    // Three partitions (events dealt round-robin), partition 1 checkpointed midway.
    let mut schedules = planned(&normalizer);
    let mut parts: Vec<PartitionWindows> = (0..3).map(|p| PartitionWindows::new(p, &schedules, t("2026-11-20T00:00:00Z"))).collect();
    // Buffers reused from checkpoint to checkpoint, as a worker does.
    let mut bufs = checkpoint::Buffers::default();
    for (i, ev) in events.iter().enumerate() {
        let p = i % 3;
        if p == 1 && (i == events.len() / 3 || i == events.len() / 2) {
            let bytes = checkpoint::encode(&parts[1], &schedules, "w", &mut bufs).unwrap();
            parts[1] = checkpoint::decode(bytes, &schedules, t("2026-11-20T00:00:00Z")).unwrap();
        }
        parts[p].read_record(i as i64, arrival);
        parts[p].route(&mut schedules, ev, &rows_of(&normalizer, ev), arrival);
    }
    let mut partials = Vec::new();
    for w in &mut parts {
        w.at_end = true;
        let closed = w.close(&mut schedules, t("2026-11-21T01:00:00Z"), 0);
        assert_eq!(closed.len(), 24, "every hourly tick of the day closes once the clock is past it");
        let at_11 = closed.into_iter().find(|c| c.tick == tick).unwrap();
        partials.push(schedules[0].group.engine.encode_state(&at_11.state).unwrap());
    }
    // Partials arrive in any order; the merge is in partition order.
    let engine = &schedules[0].group.engine;
    let mut merged = engine.decode_state(&partials[2]).unwrap();
    for b in [&partials[0], &partials[1]] {
        engine.merge(&mut merged, engine.decode_state(b).unwrap());
    }
    assert_eq!(finish(&mut schedules[0], tick, Some(merged)), expected);

    // A record for a window already closed is missed, not added.
    let ev = &events[0];
    parts[0].route(&mut schedules, ev, &rows_of(&normalizer, ev), arrival);
    assert_eq!(parts[0].missed, 1);
    assert!(parts[0].open[0].is_empty());
}

#[test]
fn a_window_stays_open_until_a_later_record_or_the_clock_passes_it() {
    let normalizer = Normalizer::builtin().unwrap();
    let mut schedules = planned(&normalizer);
    let mut w = PartitionWindows::new(0, &schedules, t("2026-11-20T00:00:00Z"));
    w.read_record(0, t("2026-11-20T10:30:00Z"));
    let closed: Vec<Micros> = w.close(&mut schedules, t("2026-11-20T10:31:00Z"), 0).iter().map(|c| c.tick).collect();
    assert_eq!(closed.len(), 11, "00:00 .. 10:00 are behind the record stamped 10:30");
    assert_eq!(closed.last(), Some(&t("2026-11-20T10:00:00Z")));
    // At the end of the partition, 11:00 closes only once the clock passed it plus the grace.
    w.at_end = true;
    assert!(w.close(&mut schedules, t("2026-11-20T11:00:30Z"), 60_000_000).is_empty());
    let closed = w.close(&mut schedules, t("2026-11-20T11:01:01Z"), 60_000_000);
    assert_eq!(closed.iter().map(|c| c.tick).collect::<Vec<_>>(), vec![t("2026-11-20T11:00:00Z")]);
    assert!(w.close(&mut schedules, t("2026-11-20T11:01:02Z"), 60_000_000).is_empty(), "each tick closes once");
}

/// A process that restores a checkpoint and closes before routing any event (its ticks not
/// generated yet) closes nothing the checkpoint had closed: republishing those ticks would
/// replace their partials with empty ones.
#[test]
fn a_restored_partition_does_not_close_its_closed_ticks_again() {
    let normalizer = Normalizer::builtin().unwrap();
    let mut schedules = planned(&normalizer);
    let mut w = PartitionWindows::new(0, &schedules, t("2026-11-20T00:00:00Z"));
    w.read_record(0, t("2026-11-20T10:30:00Z"));
    let closed = w.close(&mut schedules, t("2026-11-20T10:30:00Z"), 0);
    assert_eq!(closed.len(), 11, "00:00 .. 10:00");
    let mut bufs = checkpoint::Buffers::default();
    let saved = checkpoint::encode(&w, &schedules, "w", &mut bufs).unwrap();

    let mut fresh = planned(&normalizer);
    let mut restored = checkpoint::decode(saved, &fresh, t("2026-11-20T00:00:00Z")).unwrap();
    assert!(restored.close(&mut fresh, t("2026-11-20T10:30:00Z"), 0).is_empty());
    restored.read_record(1, t("2026-11-20T12:30:00Z"));
    let ticks: Vec<Micros> = restored.close(&mut fresh, t("2026-11-20T12:30:00Z"), 0).iter().map(|c| c.tick).collect();
    assert_eq!(ticks, vec![t("2026-11-20T11:00:00Z"), t("2026-11-20T12:00:00Z")]);
}
