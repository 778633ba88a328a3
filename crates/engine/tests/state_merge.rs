//! Scan states merge in input order whatever order they are merged in: each covers its own
//! positions (`Engine::new_state_at`), and contents combine in position order. Checked with
//! results that depend on input order (`list`, `first`, `last`, raw events sharing a time),
//! with the states also passing through bytes, and with merges in every order of 4 states.

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner, ScanState};
use vigil_model::{Event, Record};
use vigil_normalize::Normalizer;
use vigil_time::Tz;

const SEARCHES: [&str; 3] = [
    "index=main | stats list(n) as l first(n) as f last(n) as z count by host",
    // Events sharing a time keep their input order.
    "index=main n=*",
    "index=main | eventstats count by host | table n host count",
];

fn events() -> Vec<Event> {
    (0..40)
        .map(|i| {
            let mut e = Event {
                time: Some(1_700_000_000_000_000 + (i / 10) * 1_000_000),
                sourcetype: "XmlWinEventLog".into(),
                host: format!("h{}", i % 3),
                ..Default::default()
            };
            e.push("n", i.to_string());
            e.raw = format!("n={i}");
            e
        })
        .collect()
}

fn engine(normalizer: &Normalizer) -> Engine {
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let queries = SEARCHES.iter().map(|s| planner.plan(s, s).unwrap_or_else(|e| panic!("{}", e.render(s)))).collect();
    Engine::new(queries, normalizer.catalog())
}

fn results(engine: &Engine, state: ScanState) -> Vec<Vec<Record>> {
    let ctx = EvalContext { now: 1_700_000_100_000_000, tz: Tz::utc() };
    engine.finish(state, &ctx).into_iter().map(|o| o.result.expect("runs")).collect()
}

/// Every permutation of 0..n.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn merge_order_does_not_change_results() {
    let normalizer = Normalizer::builtin().expect("mappings");
    let engine = engine(&normalizer);
    let events = events();
    let mut whole = engine.new_state();
    events.iter().for_each(|e| engine.on_event(&mut whole, e));
    let expected = results(&engine, whole);
    assert_eq!(expected[0].len(), 3, "{:?}", expected[0]);
    let shards = 4;
    let bytes: Vec<Vec<u8>> = (0..shards)
        .map(|i| {
            let mut state = engine.new_state_at(i as u64);
            events[events.len() * i / shards..events.len() * (i + 1) / shards].iter().for_each(|e| engine.on_event(&mut state, e));
            engine.encode_state(&state).expect("encodes")
        })
        .collect();
    for order in permutations(shards) {
        let mut merged = engine.decode_state(&bytes[order[0]]).expect("decodes");
        for &i in &order[1..] {
            engine.merge(&mut merged, engine.decode_state(&bytes[i]).expect("decodes"));
        }
        assert_eq!(results(&engine, merged), expected, "merged in order {order:?}");
        // Merged part-way and written again: a state with gaps travels too.
        let mut partial = engine.decode_state(&bytes[order[0]]).expect("decodes");
        engine.merge(&mut partial, engine.decode_state(&bytes[order[1]]).expect("decodes"));
        let partial = engine.decode_state(&engine.encode_state(&partial).expect("encodes")).expect("decodes");
        let mut rest = engine.decode_state(&bytes[order[2]]).expect("decodes");
        engine.merge(&mut rest, engine.decode_state(&bytes[order[3]]).expect("decodes"));
        engine.merge(&mut rest, partial);
        assert_eq!(results(&engine, rest), expected, "merged as ({}, {}) then ({}, {})", order[0], order[1], order[2], order[3]);
    }
}
