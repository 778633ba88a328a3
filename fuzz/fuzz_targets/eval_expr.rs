//! eval expressions: parse, then plan `search * | eval x=<expr> | where <expr>` and run it on
//! one event with typical fields, so every function is executed on hostile arguments.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::{Catalog, Event};

fuzz_target!(|text: &str| {
    if vigil_spl::parse_eval_expr(text).is_err() {
        return;
    }
    if text.contains('|') || text.contains('`') || text.contains('[') {
        return; // would change the pipeline around the expression
    }
    let catalog = Catalog::default();
    let content = ContentSet::empty();
    let mut planner = Planner::new(&catalog, &content);
    let search = format!("search * | eval x=({text}) | eval y=mvjoin(x, \",\") | where isnull(x) OR isnotnull(x)");
    let Ok(query) = planner.plan("fuzz", &search) else { return };
    let engine = Engine::new(vec![query], &catalog);
    let mut state = engine.new_state();
    let mut ev = Event::default();
    ev.time = Some(1_700_000_000_000_000);
    ev.raw = "<Event><System><EventID>1</EventID></System></Event>".into();
    ev.sourcetype = "XmlWinEventLog".into();
    for (k, v) in [
        ("Image", "C:\\Windows\\System32\\msiexec.exe"),
        ("CommandLine", "msiexec /i http://x/y.msi /q"),
        ("EventCode", "1"),
        ("n", "42"),
        ("f", "-3.5e2"),
        ("multi", "a"),
        ("multi", "b"),
        ("empty", ""),
    ] {
        ev.fields.push((k.into(), v.into()));
    }
    engine.on_event(&mut state, &ev);
    let ctx = EvalContext { now: 1_700_000_000_000_000, tz: vigil_time::Tz::utc() };
    let _ = engine.finish(state, &ctx);
});
