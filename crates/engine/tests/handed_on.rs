//! Finished outputs handed on as they are made: with one finishing worker every query's rows
//! go straight to the output, in query order, and none is written to a temporary file however
//! small the memory budget; with several workers the outputs keep their order. (A file of its
//! own: it reads the process-wide count of temporary bytes, which other tests would move.)

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_normalize::Normalizer;
use vigil_time::Tz;

mod common;
use common::process;

/// Every query's rows, in the order `finish_each` hands them on (a query's chunks joined: where
/// they split depends on where its rows waited), finished by `threads` workers under `budget`
/// bytes.
fn finish(threads: usize, budget: usize) -> Vec<(String, usize, String)> {
    let normalizer = Normalizer::builtin().expect("mappings");
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    // Each query keeps a few hundred whole events: far more than a sixty-fourth of the budget.
    let queries = (0..13)
        .map(|k| {
            let spl = format!("search EventCode=1 Image=\"*\\\\tool{k}.exe\" | eval k={k}");
            planner.plan(&format!("q{k}"), &spl).unwrap_or_else(|e| panic!("{}", e.render(&spl)))
        })
        .collect();
    let mut engine = Engine::new(queries, normalizer.catalog());
    engine.set_memory_budget(budget);
    let mut state = engine.new_state();
    let mut rows = Vec::new();
    for e in (0..4000).map(process) {
        engine.on_event(&mut state, &e);
        rows.clear();
        normalizer.normalize(&e, &mut rows);
        rows.iter().for_each(|r| engine.on_row(&mut state, r));
    }
    let ctx = EvalContext { now: 1_700_000_100_000_000, tz: Tz::utc() };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    let mut out: Vec<(String, usize, String)> = Vec::new();
    pool.install(|| {
        engine.finish_each(state, &ctx, &mut |o| {
            let rows = o.result.expect("runs");
            if out.last().is_none_or(|(name, _, _)| *name != o.name) {
                out.push((o.name, 0, String::new()));
            }
            if let Some((_, n, text)) = out.last_mut() {
                *n += rows.len();
                rows.iter().for_each(|r| text.push_str(&format!("{r:?}\n")));
            }
        })
    });
    out
}

#[test]
fn one_worker_hands_every_output_on_without_temporary_files() {
    let whole = finish(1, usize::MAX);
    let order: Vec<usize> = whole.iter().filter_map(|(n, _, _)| n.strip_prefix('q')?.parse().ok()).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "query order: {order:?}");
    assert_eq!(order.first().zip(order.last()), Some((&0, &12)), "{order:?}");
    assert_eq!(whole.iter().map(|(_, n, _)| n).sum::<usize>(), 4000, "every event kept once");
    let before = vigil_engine::temp_bytes_written().1;
    let small = finish(1, 256 << 10);
    assert_eq!(vigil_engine::temp_bytes_written().1, before, "rows written to temporary files");
    assert_eq!(small, whole);
    // Several workers take queries out of order and store some outputs; the order holds.
    assert_eq!(finish(3, 256 << 10), whole);
}
