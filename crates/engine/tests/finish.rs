//! The finishing shortcuts give the results of the plain evaluation: groups spilled to disk
//! under a tiny memory budget (tstats and stats-in-scan, order-sensitive aggregations, two
//! scan states merged), queries finished in chunks, and joins whose one side is filtered by
//! the other's keys before its rows are built.

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::{Event, Record};
use vigil_normalize::Normalizer;
use vigil_time::Tz;

mod common;
use common::process;

/// Runs `spl` over `events` split between two scan states, with the given memory budget.
fn run(spl: &str, events: &[Event], budget: usize) -> Vec<Record> {
    run_together(&[spl], events, budget).remove(0)
}

/// Runs the searches in one engine (one pass) over `events` split between two scan states.
fn run_together(spls: &[&str], events: &[Event], budget: usize) -> Vec<Vec<Record>> {
    let normalizer = Normalizer::builtin().expect("mappings");
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let queries = spls.iter().map(|spl| planner.plan("t", spl).unwrap_or_else(|e| panic!("{}", e.render(spl)))).collect();
    let mut engine = Engine::new(queries, normalizer.catalog());
    engine.set_memory_budget(budget);
    let mut states = [engine.new_state(), engine.new_state()];
    let mut rows = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let state = &mut states[usize::from(i >= events.len() / 2)];
        engine.on_event(state, e);
        rows.clear();
        normalizer.normalize(e, &mut rows);
        for r in &rows {
            engine.on_row(state, r);
        }
    }
    let [mut a, b] = states;
    engine.merge(&mut a, b);
    let ctx = EvalContext { now: 1_700_000_100_000_000, tz: Tz::utc() };
    engine.finish(a, &ctx).into_iter().map(|o| o.result.expect("runs")).collect()
}

#[test]
fn queries_sharing_a_scan_get_what_each_gets_alone() {
    // The same tstats (output names aside) under different operators, twice as a join
    // subsearch, and one that differs only in its filter: the identical scans accumulate
    // once and every query still sees all of its groups, in memory and spilled.
    let sub = "| tstats count min(_time) as t values(Processes.user) as users from datamodel=Endpoint.Processes \
               by Processes.process_guid Processes.process";
    let searches = [
        format!("{sub} | rename Processes.* as * | stats count by process"),
        "| tstats count min(_time) as first values(Processes.user) as u from datamodel=Endpoint.Processes \
         by Processes.process_guid Processes.process | where count > 1"
            .to_string(),
        format!(
            "| tstats count from datamodel=Endpoint.Processes where Processes.process=\"*--job 7*\" by Processes.process_guid \
             | rename Processes.* as * | join process_guid [{sub} | rename Processes.* as *]"
        ),
        format!("{sub} | head 3"),
        "| tstats count min(_time) as t values(Processes.user) as users from datamodel=Endpoint.Processes \
         where Processes.user=\"*user1*\" by Processes.process_guid Processes.process"
            .to_string(),
    ];
    let spls: Vec<&str> = searches.iter().map(String::as_str).collect();
    let events: Vec<Event> = (0..3000).map(process).collect();
    let alone: Vec<Vec<Record>> = spls.iter().map(|spl| run(spl, &events, usize::MAX)).collect();
    assert!(alone.iter().all(|rows| !rows.is_empty()), "every search finds something");
    for budget in [usize::MAX, 0] {
        assert_eq!(run_together(&spls, &events, budget), alone, "budget {budget}");
    }
}

#[test]
fn spilled_groups_give_the_same_results() {
    let events: Vec<Event> = (0..6000).map(process).collect();
    for spl in [
        "| tstats count min(_time) as firstTime max(_time) as lastTime values(Processes.user) as users dc(Processes.dest) as hosts \
         from datamodel=Endpoint.Processes by Processes.process Processes.process_name",
        "| tstats count latest(Processes.process) as last earliest(Processes.dest) as first_dest from datamodel=Endpoint.Processes \
         by Processes.process_guid _time span=1h",
        "search EventCode=1 | stats count first(CommandLine) as first_cmd list(User) as users avg(EventCode) as avg by ProcessGuid host",
        "| tstats count from datamodel=Endpoint.Processes by Processes.process_guid Processes.process | rename Processes.* as * \
         | join process_guid [| tstats count as n from datamodel=Endpoint.Processes where Processes.process=\"*--job 7*\" \
         by Processes.process_guid | rename Processes.* as *]",
    ] {
        let in_memory = run(spl, &events, usize::MAX);
        assert!(in_memory.len() > 10, "{spl}: {} rows", in_memory.len());
        // One byte: every check spills.
        let spilled = run(spl, &events, 1);
        assert_eq!(format!("{spilled:?}"), format!("{in_memory:?}"), "{spl}");
    }
}

#[test]
fn chunked_finishing_gives_the_same_rows_as_whole_tables() {
    // 6000 events make more groups than one chunk (4096). A final `head` with a large limit
    // changes nothing but is not row-by-row, so that query finishes as one table.
    let events: Vec<Event> = (0..6000).map(process).collect();
    let chunked = "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes \
                   by Processes.process Processes.dest Processes.process_guid | rename Processes.* as * \
                   | convert ctime(firstTime) | eval len=len(process) | where len > 14 | search dest!=host3";
    for budget in [usize::MAX, 1] {
        let parts = run(chunked, &events, budget);
        let whole = run(&format!("{chunked} | head 1000000"), &events, budget);
        assert!(parts.len() > 4096, "{} rows", parts.len());
        assert_eq!(format!("{parts:?}"), format!("{whole:?}"));
    }
}

/// `got` gives the rows `want` gives, at least `min_rows` of them, in memory and spilled.
fn assert_same_rows(got: &str, want: &str, events: &[Event], min_rows: usize) {
    for budget in [usize::MAX, 1] {
        let (got_rows, want_rows) = (run(got, events, budget), run(want, events, budget));
        assert!(want_rows.len() >= min_rows, "{got}: {} rows", want_rows.len());
        assert_eq!(format!("{got_rows:?}"), format!("{want_rows:?}"), "{got}");
    }
}

#[test]
fn joins_filtered_by_either_side_give_the_plain_join() {
    let events: Vec<Event> = (0..6000).map(process).collect();
    let small = "| tstats count as n from datamodel=Endpoint.Processes where Processes.process=\"*--job 7*\" \
                 by Processes.process_guid Processes.dest | rename Processes.* as *";
    let large = "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes \
                 by Processes.process_guid Processes.dest Processes.process | rename Processes.* as * | convert ctime(firstTime)";
    // `head` with a large limit changes nothing but stops both shortcuts from applying.
    for (outer, sub) in [(large, small), (small, large)] {
        for join in ["join process_guid dest", "join type=outer max=0 process_guid", "join max=0 dest process_guid"] {
            // Row-by-row operators after the join: the semi-join's rows stream through it.
            for tail in ["", "| eval k=n*2 | search dest!=host4 | table process_guid dest k"] {
                let sub_inner = sub.trim_start_matches("| ");
                let shortcut = format!("{outer} | {join} [| {sub_inner}] {tail}");
                let plain = format!("{outer} | head 1000000 | {join} [| {sub_inner} | head 1000000] {tail}");
                assert_same_rows(&shortcut, &plain, &events, 1);
            }
        }
    }
}

/// `head` then `tail` gives some rows, in memory and spilled, and the rows it gives with its
/// key filter cut off: `head` with a large limit changes nothing but ends the filter before it.
fn assert_key_filter_changes_nothing(head: &str, tail: &str, events: &[Event]) {
    let filtered = format!("{head} {tail}");
    let plain = format!("{head} | head 1000000 {tail}");
    for budget in [usize::MAX, 1] {
        let got = run(&filtered, events, budget);
        assert!(!got.is_empty(), "{filtered}: plain gives {}", run(&plain, events, budget).len());
        assert_eq!(format!("{got:?}"), format!("{:?}", run(&plain, events, budget)), "{filtered}");
    }
}

#[test]
fn groups_refused_by_their_key_give_the_same_results() {
    let events: Vec<Event> = (0..6000).map(process).collect();
    let head = "| tstats count min(_time) as firstTime values(Processes.user) as users from datamodel=Endpoint.Processes \
                by Processes.process Processes.dest | rename Processes.* as * | convert ctime(firstTime)";
    for tail in [
        "| regex process=\"--job [17]\\d\\b\" | eval n=len(process) | where n > 14",
        "| rex field=process \"--job (?<job>\\d+)\" | search job=3* dest!=host2",
        "| eval big=if(count > 1, 1, 0) | search big=1 process=\"*job 0\"",
    ] {
        assert_key_filter_changes_nothing(head, tail, &events);
    }
    // Filters on one by-field that the scan's rows must meet too (see `plan::keyrow`).
    let head = "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes \
                by Processes.process Processes.process_name | rename Processes.* as *";
    for tail in [
        "| regex process=\"job 1\\d\" | search process_name=tool3.exe OR process_name=tool5.exe",
        "| search process=\"*job 2*\" process_name IN (tool1.exe, TOOL2.EXE) | regex process_name!=\"tool2\"",
    ] {
        assert_key_filter_changes_nothing(head, tail, &events);
    }
    // A by-field no event has makes every key `none`: what a filter keeps of it, rows without
    // the field must not be dropped for; what it refuses, they may.
    let head = "| tstats fillnull_value=none count from datamodel=Endpoint.Processes \
                by Processes.process Processes.parent_process_id | rename Processes.* as *";
    for tail in [
        "| search parent_process_id=none | regex process=\"job 1\"",
        "| regex parent_process_id=\"^no\" | search process=*4",
        "| search parent_process_id=n* OR process=*5",
    ] {
        assert_key_filter_changes_nothing(head, tail, &events);
    }
}

#[test]
fn raw_event_groups_refused_by_their_key_give_the_same_results() {
    let events: Vec<Event> = (0..6000).map(process).collect();
    // The shape of "Windows Remote Access Software BRC4 Loaded Dll": a `where` testing both
    // aggregates and by-fields; and a multivalue by-field, split into one group per value.
    let head = "search EventCode=1 | eval odd=if(match(CommandLine, \"[13579]$\"), 1, 0), \
                tags=split(if(match(User, \"user[12]$\"), \"a,b\", \"c\"), \",\") \
                | stats count min(_time) as firstTime dc(CommandLine) as lines values(User) as users by Image odd tags";
    for tail in [
        "| where lines > 3 AND odd == 1",
        "| where (odd == 1 AND count >= 2) AND tags=\"b\"",
        "| where count > 1 AND (odd == 0 OR Image=\"*tool3.exe\") | convert ctime(firstTime)",
        "| search tags=c | where odd=1 AND lines > 100",
    ] {
        assert_key_filter_changes_nothing(head, tail, &events);
    }
}

#[test]
fn stats_and_eventstats_in_stages_give_the_whole_table_results() {
    // The shape of "Unusually Long Command Line" and other whole-table tails; a leading
    // `head` with a large limit makes the same query run on whole tables.
    let events: Vec<Event> = (0..6000).map(process).collect();
    let head = "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes \
                by Processes.user Processes.dest Processes.process_name Processes.process | rename Processes.* as *";
    for tail in [
        "| convert ctime(firstTime) | eval processlen=len(process) | eventstats stdev(processlen) as stdev, avg(processlen) as avg by user \
         | stats max(processlen) as maxlen, values(stdev) as stdevperhost, values(avg) as avgperhost by user, process_name, process \
         | eval threshold = 1 | where maxlen > ((threshold*stdevperhost) + avgperhost)",
        "| stats count as n dc(process) as procs by user | eventstats sum(n) as total | eval share=n/total",
        "| eventstats count as per_user by user | stats sum(count) as c first(process) as p list(process_name) as names by per_user",
        "| stats count",
        "| search user=nobody | stats count by user",
        "| search user=nobody | stats count",
    ] {
        let staged = format!("{head} {tail}");
        let whole = format!("{head} | head 1000000 {tail}");
        for budget in [usize::MAX, 1] {
            let got = run(&staged, &events, budget);
            assert_eq!(format!("{got:?}"), format!("{:?}", run(&whole, &events, budget)), "{staged}");
        }
    }
}

#[test]
fn joins_streaming_their_outer_rows_give_the_plain_join() {
    let events: Vec<Event> = (0..6000).map(process).collect();
    // More outer rows than one chunk (4096), joined with a subsearch that has more groups,
    // so the outer rows stream through the join (see `joinstream`).
    let outer = "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes \
                 by Processes.process Processes.dest Processes.process_guid | rename Processes.* as * | convert ctime(firstTime)";
    let sub = "| tstats count as n from datamodel=Endpoint.Processes \
               by Processes.process_guid Processes.dest Processes.user Processes.process | rename Processes.* as * | fields - process";
    for join in ["join process_guid", "join type=outer max=0 process_guid", "join max=2 process_guid"] {
        for tail in ["", "| eval k=n*2 | where k >= 2 OR isnull(n) | search dest!=host4"] {
            let sub_inner = sub.trim_start_matches("| ");
            let streamed = format!("{outer} | {join} [| {sub_inner}] {tail}");
            // `head` with a large limit changes nothing but stops the streaming.
            let plain = format!("{outer} | head 1000000 | {join} [| {sub_inner}] {tail}");
            assert_same_rows(&streamed, &plain, &events, 4097);
        }
    }
}

#[test]
fn raw_events_finished_in_chunks_give_the_whole_table() {
    // Times out of input order with ties, across the two scan states: the chunks must still
    // come newest first, ties in input order. 3000 matching events make several chunks.
    let events: Vec<Event> = (0..3000)
        .map(|i| {
            let mut e = process(i);
            e.time = Some(1_700_000_000_000_000 + ((i * 7919) % 500) as i64 * 1_000_000);
            e
        })
        .collect();
    let search = "search EventCode=1 CommandLine=\"*--job*\" | eval tag=\"t\", n=len(CommandLine) | where n > 11 | fields - ProcessGuid";
    for budget in [usize::MAX, 1] {
        let parts = run(search, &events, budget);
        let whole = run(&format!("{search} | head 1000000"), &events, budget);
        assert!(parts.len() > 2000, "{} rows", parts.len());
        assert_eq!(format!("{parts:?}"), format!("{whole:?}"));
    }
}
