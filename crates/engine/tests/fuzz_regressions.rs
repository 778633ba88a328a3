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
    let mut ev = Event::default();
    ev.time = Some(1_700_000_000_000_000);
    ev.fields.push(("n".into(), "42".into()));
    engine.on_event(&mut state, &ev);
    let ctx = EvalContext { now: 1_700_000_000_000_000, tz: vigil_time::Tz::utc() };
    let mut out = engine.finish(state, &ctx);
    out.remove(0).result.expect("execution")
}

/// fuzz/artifacts/eval_expr/crash-5c09427e: `tonumber("x1F", 116)` panicked in
/// `i64::from_str_radix` (radix must be 2..=36).
#[test]
fn tonumber_with_base_out_of_range_is_null() {
    let rows = run(r#"search * | eval a=tonumber("x1F", 116), b=tonumber("11", 0), c=tonumber("11", -3), d=tonumber("z", 36), e=tonumber("11", 1)"#);
    let r = &rows[0];
    assert!(r.value("a").is_null());
    assert!(r.value("b").is_null());
    assert!(r.value("c").is_null());
    assert_eq!(r.value("d").as_num(), Some(35.0));
    assert!(r.value("e").is_null());
}
