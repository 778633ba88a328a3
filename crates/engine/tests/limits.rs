//! Memory limits of stats and join: exceeding one is an execution error, not an OOM.

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::{Catalog, Event, Record};

fn run(search: &str) -> Result<Vec<Record>, String> {
    let catalog = Catalog::default();
    let content = ContentSet::empty();
    let query = Planner::new(&catalog, &content).plan("t", search).unwrap_or_else(|e| panic!("{}", e.render("t")));
    let engine = Engine::new(vec![query], &catalog);
    let mut state = engine.new_state();
    let ev = Event { time: Some(1_700_000_000_000_000), fields: vec![("host".into(), "h".into())], ..Default::default() };
    engine.on_event(&mut state, &ev);
    let ctx = EvalContext { now: 1_700_000_000_000_000, tz: vigil_time::Tz::utc() };
    engine.finish(state, &ctx).remove(0).result.map_err(|e| e.0)
}

fn items(n: usize) -> String {
    (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

#[test]
fn stats_over_exploding_multivalue_by_fields_is_an_error() {
    // 3000 x 3000 = 9 million group keys from one row.
    let list = items(3000);
    let err = run(&format!(r#"search * | eval a=split("{list}", ","), b=a | stats count by a, b"#)).unwrap_err();
    assert!(err.contains("more than 5000000 groups by a, b"), "{err}");
    let err = run(&format!(r#"search * | eval a=split("{list}", ","), b=a | eventstats count by a, b"#)).unwrap_err();
    assert!(err.contains("groups"), "{err}");
    // Under the limit it works: 3000 groups.
    let rows = run(&format!(r#"search * | eval a=split("{list}", ",") | stats count by a"#)).unwrap();
    assert_eq!(rows.len(), 3000);
}

#[test]
fn join_multiplying_rows_is_an_error() {
    let list = items(3000);
    let side = format!(r#"search * | eval k=split("{list}", ",") | mvexpand k | eval j=1"#);
    let err = run(&format!("{side} | join max=0 j [{side} | rename k AS k2]")).unwrap_err();
    assert!(err.contains("9000000 result rows is over the limit of 5000000"), "{err}");
    // Splunk's default max=1 keeps one match per row.
    let rows = run(&format!("{side} | join j [{side} | rename k AS k2]")).unwrap();
    assert_eq!(rows.len(), 3000);
}
