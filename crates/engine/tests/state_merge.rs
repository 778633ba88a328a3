//! Scan states merge in input order whatever order they are merged in: each covers its own
//! positions (`Engine::new_state_at`), and contents combine in position order. Checked with
//! results that depend on input order (`list`, `first`, `last`, raw events sharing a time),
//! with the states also passing through bytes, and with merges in every order of 4 states.
//! A state emptied for reuse (`Engine::reuse_state_at`) is a new state: the same bytes and
//! results after the same input, whatever it held before.

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

/// FNV-1a over every byte: the checksum of format version 2.
fn fnv_bytes(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn states_encoded_into_a_reused_buffer_and_by_the_previous_version_read_back() {
    let normalizer = Normalizer::builtin().expect("mappings");
    let engine = engine(&normalizer);
    let events = events();
    let mut small = engine.new_state_at(0);
    events[..3].iter().for_each(|e| engine.on_event(&mut small, e));
    let mut large = engine.new_state_at(1);
    events.iter().for_each(|e| engine.on_event(&mut large, e));
    // One buffer, a large state then a small one: nothing of the first is left in the second.
    let mut buf = Vec::new();
    engine.encode_state_into(&large, &mut buf).expect("encodes");
    assert_eq!(buf, engine.encode_state(&large).expect("encodes"));
    engine.encode_state_into(&small, &mut buf).expect("encodes");
    let bytes = engine.encode_state(&small).expect("encodes");
    assert_eq!(buf, bytes);
    // Version 2: the same bytes, the checksum over every byte (checkpoints written before).
    let mut v2 = bytes.clone();
    v2[8..10].copy_from_slice(&2u16.to_le_bytes());
    let sum = fnv_bytes(&v2[34..]);
    v2[26..34].copy_from_slice(&sum.to_le_bytes());
    let expected = results(&engine, engine.decode_state(&bytes).expect("decodes"));
    assert_eq!(results(&engine, engine.decode_state(&v2).expect("version 2 decodes")), expected);
    // A version-2 checksum under version 3, and one word of the body changed: refused.
    let mut mixed = v2.clone();
    mixed[8..10].copy_from_slice(&vigil_engine::FORMAT_VERSION.to_le_bytes());
    let err = |b: &[u8]| engine.decode_state(b).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(&mixed).contains("checksum"), "{}", err(&mixed));
    let mut damaged = bytes.clone();
    damaged[40] ^= 0x80;
    assert!(err(&damaged).contains("checksum"), "{}", err(&damaged));
}

fn numbered_event(i: i64, hosts: i64) -> Event {
    let mut e = Event {
        time: Some(1_700_000_000_000_000 + i * 1_000_000),
        sourcetype: "XmlWinEventLog".into(),
        host: format!("h{}", i % hosts),
        ..Default::default()
    };
    e.push("n", i.to_string());
    e.raw = format!("n={i}");
    e
}

#[test]
fn a_reused_state_encodes_and_finishes_as_a_new_one() {
    let normalizer = Normalizer::builtin().expect("mappings");
    let engine = engine(&normalizer);
    // Before: many groups (past the capacity kept) and a merged-in state at a later position.
    let mut reused = engine.new_state_at(1);
    (0..6000).for_each(|i| engine.on_event(&mut reused, &numbered_event(i, 5000)));
    let mut later = engine.new_state_at(4);
    engine.on_event(&mut later, &numbered_event(1, 2));
    engine.merge(&mut reused, later);
    engine.reuse_state_at(&mut reused, 7);
    let untouched = engine.new_state_at(7);
    assert_eq!(engine.encode_state(&reused).expect("encodes"), engine.encode_state(&untouched).expect("encodes"), "empty");

    let mut fresh = engine.new_state_at(7);
    for e in (100..140).map(|i| numbered_event(i, 3)) {
        engine.on_event(&mut reused, &e);
        engine.on_event(&mut fresh, &e);
    }
    // (dc() would differ: its set is written in hash order, between two new states too.)
    assert_eq!(engine.encode_state(&reused).expect("encodes"), engine.encode_state(&fresh).expect("encodes"));
    let expected = results(&engine, fresh);
    assert_eq!(expected[0].len(), 3, "{:?}", expected[0]);
    assert_eq!(results(&engine, reused), expected);
}

#[test]
fn a_state_of_another_engine_is_rebuilt_with_this_engines_scans() {
    let normalizer = Normalizer::builtin().expect("mappings");
    let engine = engine(&normalizer);
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let other = Engine::new(vec![planner.plan("index=main", "index=main").expect("plans")], normalizer.catalog());
    let mut state = other.new_state_at(0);
    engine.reuse_state_at(&mut state, 2);
    assert_eq!(engine.encode_state(&state).expect("encodes"), engine.encode_state(&engine.new_state_at(2)).expect("encodes"));
}
