//! Tests of `store::groups`.

use super::*;
use crate::store::agg::{AggFunc, AggInput};

#[test]
fn keys_are_the_cartesian_product() {
    let mut keys = Vec::new();
    for_each_key(&[KeyPart::One(7), KeyPart::Many(vec![1, 2]), KeyPart::One(9)], |k| keys.push(k.to_vec()));
    assert_eq!(keys, [vec![7, 1, 9], vec![7, 2, 9]]);
    let mut n = 0;
    for_each_key(&[KeyPart::Many(vec![1, 2]), KeyPart::Many(vec![3, 4])], |_| n += 1);
    assert_eq!(n, 4);
    // Single keys: none, a few parts (on the stack), more parts than fit there.
    let mut single = Vec::new();
    for_each_key(&[], |k| single.push(k.to_vec()));
    for_each_key(&[KeyPart::One(7), KeyPart::One(9)], |k| single.push(k.to_vec()));
    let long: Vec<KeyPart> = (0..40).map(KeyPart::One).collect();
    for_each_key(&long, |k| single.push(k.to_vec()));
    assert_eq!(single, [vec![], vec![7, 9], (0..40).collect::<Vec<u32>>()]);
}

#[test]
fn key_filter_decisions_are_remembered() {
    let aggs = [AggSpec { func: AggFunc::Count, input: AggInput::Rows, name: "count".into() }];
    let mut calls = Vec::new();
    let mut syms = Symbols::default();
    (0..10).for_each(|i| assert_eq!(syms.intern(&i.to_string()), i));
    // Decided by part 0 alone: one decision per value of it, admitting odd values.
    let mut g = Groups::default();
    for key in [[1, 5], [1, 6], [2, 5], [2, 7], [1, 7], [3, 5]] {
        let kept = g.entry_if(&key, &aggs, Some(&[0]), |k| {
            calls.push(k.to_vec());
            k[0] % 2 == 1
        });
        assert_eq!(kept.is_some(), key[0] % 2 == 1, "{key:?}");
    }
    assert_eq!(calls, [vec![1, 5], vec![2, 5], vec![3, 5]]);
    assert_eq!(g.len(), 4);
    // Spilling drops the decisions with the ids they were made for.
    let file = SpillFile::new().expect("temporary file");
    g.spill(&syms, &file).expect("spills");
    calls.clear();
    assert!(g
        .entry_if(&[2, 9], &aggs, Some(&[0]), |k| {
            calls.push(k.to_vec());
            true
        })
        .is_some());
    assert_eq!(calls, [vec![2, 9]]);
    // Without positions, only refusals are remembered, by whole key.
    let mut g = Groups::default();
    let mut n = 0;
    for key in [[2, 5], [2, 5], [2, 6], [1, 5], [1, 5]] {
        g.entry_if(&key, &aggs, None, |k| {
            n += 1;
            k[0] == 1
        });
    }
    assert_eq!((n, g.len()), (3, 1));
}

#[test]
fn groups_past_the_limit_set_overflow_and_stay_bounded() {
    let aggs = [AggSpec { func: AggFunc::Count, input: AggInput::Rows, name: "count".into() }];
    let mut syms = Symbols::default();
    let mut g = Groups::with_limit(3);
    for i in 0..10 {
        let id = syms.intern(&i.to_string());
        g.entry(&[id], &aggs)[0].add_row();
    }
    assert!(g.overflow);
    assert_eq!(g.len(), 3);
    // Existing groups still count.
    g.entry(&[syms.intern("0")], &aggs)[0].add_row();
    let mut other_syms = Symbols::default();
    let mut other = Groups::with_limit(3);
    other.entry(&[other_syms.intern("new")], &aggs);
    let mut fresh = Groups::with_limit(3);
    for k in ["a", "b", "c"] {
        fresh.entry(&[syms.intern(k)], &aggs);
    }
    fresh.merge(other, &mut Translation::new(&other_syms), &mut syms, &aggs);
    assert!(fresh.overflow && fresh.len() == 3);
}

/// Rows of `g`'s groups whose first key part is not "b", as (key texts, count).
fn kept_counts(g: Groups, syms: &Symbols, aggs: &[AggSpec]) -> Vec<(String, String, String)> {
    let by = ["k".to_string(), "j".to_string()];
    let rows = g.finish_where(syms, &by, aggs, |key| key[0] != "b").expect("finishes");
    let text = |r: &Record, f: &str| r.value(f).items().join(",");
    rows.iter().map(|r| (text(r, "k"), text(r, "j"), text(r, "count"))).collect()
}

#[test]
fn finishing_filters_and_orders_by_text_in_memory_and_from_disk() {
    let aggs = [AggSpec { func: AggFunc::Count, input: AggInput::Rows, name: "count".into() }];
    let mut syms = Symbols::default();
    // Interned out of text order, so id order is not text order.
    let [c, b, a, e] = ["c", "b", "a", ""].map(|t| syms.intern(t));
    let keys = [[c, a], [b, a], [a, c], [a, e], [e, b], [c, e]];
    let want: Vec<(String, String, String)> = [("", "b", "1"), ("a", "", "1"), ("a", "c", "1"), ("c", "", "1"), ("c", "a", "1")]
        .map(|(k, j, n)| (k.into(), j.into(), n.into()))
        .into();
    let mut g = Groups::default();
    keys.iter().for_each(|k| g.entry(k, &aggs)[0].add_row());
    assert_eq!(kept_counts(g, &syms, &aggs), want);
    // Half the groups on disk, half in memory, and one in both: counts add up.
    let file = SpillFile::new().expect("temporary file");
    let mut g = Groups::default();
    keys[..3].iter().for_each(|k| g.entry(k, &aggs)[0].add_row());
    g.spill(&syms, &file).expect("spills");
    keys[3..].iter().chain(&[[c, a]]).for_each(|k| g.entry(k, &aggs)[0].add_row());
    let mut want = want;
    want[4].2 = "2".into();
    assert_eq!(kept_counts(g, &syms, &aggs), want);
    // The same, spilled in the order of ranks shared by every table of a scan state.
    let mut g = Groups::default();
    keys[..3].iter().for_each(|k| g.entry(k, &aggs)[0].add_row());
    g.spill_ranked(&syms, &crate::store::symbols::text_ranks(&syms), &file).expect("spills");
    keys[3..].iter().chain(&[[c, a]]).for_each(|k| g.entry(k, &aggs)[0].add_row());
    assert_eq!(kept_counts(g, &syms, &aggs), want);
}

#[test]
fn a_group_costs_its_share_of_the_arenas_not_allocations_of_its_own() {
    let aggs = [AggSpec { func: AggFunc::Count, input: AggInput::Rows, name: "count".into() }];
    let mut g = Groups::default();
    let n = 3000u32;
    for i in 0..n {
        g.entry(&[i, i % 5], &aggs)[0].add_row();
        g.entry(&[i / 2, i % 5], &aggs)[0].add_row();
    }
    let groups = g.len();
    // Each group: a table slot, two ids and a state in the arenas, which grow by doubling.
    // Two allocations of its own per group (and their headers) counted more than this.
    // (A slot: the group's number and half its hash, and hashbrown's control byte.)
    let share = 9 + 2 * 4 + std::mem::size_of::<AggState>();
    assert!(g.bytes() <= 2 * groups * share, "{} bytes for {groups} groups", g.bytes());
    assert!(g.bytes() >= groups * (2 * 4 + std::mem::size_of::<AggState>()), "the budget counts them");
    let counts: u64 = (0..n).map(|i| if let AggState::Count(c) = g.entry(&[i, i % 5], &aggs)[0] { c } else { 0 }).sum();
    assert!(counts >= u64::from(n), "groups are found again");
}
