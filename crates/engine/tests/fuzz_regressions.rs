//! Inputs found by `fuzz/` (cargo-fuzz) that crashed the engine, kept as regression tests.
//! Each runs a search over one event through the public planner and executor.

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::{Catalog, Event, Record};

fn run(search: &str) -> Vec<Record> {
    let catalog = Catalog::default();
    let content = ContentSet::empty();
    let query = Planner::new(&catalog, &content).plan("t", search).unwrap_or_else(|e| panic!("{}", e.render("t")));
    let engine = Engine::new(vec![query], &catalog);
    let mut state = engine.new_state();
    let ev = Event { time: Some(1_700_000_000_000_000), fields: vec![("n".into(), "42".into())], ..Default::default() };
    engine.on_event(&mut state, &ev);
    let ctx = EvalContext { now: 1_700_000_000_000_000, tz: vigil_time::Tz::utc() };
    let mut out = engine.finish(state, &ctx);
    out.remove(0).result.expect("execution")
}

/// fuzz/artifacts/eval_expr/crash-5c09427e: `tonumber("x1F", 116)` panicked in
/// `i64::from_str_radix` (radix must be 2..=36).
#[test]
fn tonumber_with_base_out_of_range_is_null() {
    let rows = run(
        r#"search * | eval a=tonumber("x1F", 116), b=tonumber("11", 0), c=tonumber("11", -3), d=tonumber("z", 36), e=tonumber("11", 1)"#,
    );
    let r = &rows[0];
    assert!(r.value("a").is_null());
    assert!(r.value("b").is_null());
    assert!(r.value("c").is_null());
    assert_eq!(r.value("d").as_num(), Some(35.0));
    assert!(r.value("e").is_null());
}

fn plan_error(search: &str) -> String {
    let catalog = Catalog::default();
    let content = ContentSet::empty();
    match Planner::new(&catalog, &content).plan("t", search) {
        Ok(_) => panic!("expected a planning error for {search}"),
        Err(e) => e.render("t"),
    }
}

/// A backslash before a multi-byte character sliced the pattern inside the character.
#[test]
fn escaped_non_ascii_character_in_regex() {
    let rows = run(r#"search * | eval a=if(match("é", "^\é$"), 1, 0) | rex field=n "(?<d>\d)\é?""#);
    assert_eq!(rows[0].value("a").as_num(), Some(1.0));
    assert_eq!(rows[0].value("d").as_text().as_deref(), Some("4"));
}

/// Regular expressions are compiled under a size limit with a clear message.
#[test]
fn huge_regex_is_a_clear_error() {
    for search in [
        r#"search * | where match(n, "\w{1000}{1000}")"#,
        r#"search * | rex field=n "(?<x>(\w{100}){1000})""#,
        r#"search * | regex n="[a-z]{1000}{1000}""#,
    ] {
        let msg = plan_error(search);
        assert!(msg.contains("regular expression too large") && msg.contains("10 MB"), "{msg}");
        assert!(msg.contains('^'), "caret under the command: {msg}");
    }
    // A dynamic pattern over the limit does not match (and does not take the memory).
    let rows = run(r#"search * | eval p="\w{1000}{1000}", a=if(match(n, p), 1, 0)"#);
    assert_eq!(rows[0].value("a").as_num(), Some(0.0));
}
