//! Tests of [`super`]: deferred scans give the results of scans that build their groups
//! during the scan, through merges, bytes and spilling.

use super::*;
use crate::plan::Planner;
use crate::scan::{Engine, ScanAcc, ScanState};
use vigil_content::ContentSet;
use vigil_model::{Catalog, DatasetRow, Record, Value};
use vigil_time::Tz;

const SUB: &str = "[| tstats count as n from datamodel=Endpoint.Processes where Processes.process_name=marker.exe by Processes.process_guid | rename Processes.* as *]";

/// Two deferred scans (a row named `ab...` passes both), one with a multivalue by-field
/// (`user`) and `fillnull_value`, both joined on the process GUIDs of `marker.exe` rows.
fn searches() -> Vec<String> {
    vec![
        format!(
            "| tstats count min(_time) as firstTime values(Processes.process) as cmds from datamodel=Endpoint.Processes \
             where Processes.process_name=a* by _time span=1h Processes.dest Processes.process_guid Processes.user \
             | rename Processes.* as * | join process_guid {SUB}"
        ),
        format!(
            "| tstats fillnull_value=none count max(_time) as lastTime first(Processes.process) as first_cmd from datamodel=Endpoint.Processes \
             where Processes.process_name=ab* by Processes.process_guid Processes.user Processes.parent_process_name \
             | rename Processes.* as * | join process_guid {SUB}"
        ),
    ]
}

fn catalog() -> Catalog {
    vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone()
}

fn engine(catalog: &Catalog) -> Engine {
    let content = ContentSet::default();
    let mut planner = Planner::new(catalog, &content);
    let queries = searches().iter().map(|s| planner.plan("q", s).expect("plans")).collect();
    Engine::new(queries, catalog)
}

/// The same engine deferring nothing: every scan builds its groups during the scan.
fn eager(catalog: &Catalog) -> Engine {
    let mut e = engine(catalog);
    e.deferred = DeferredScans { by_query: vec![None; e.queries.len()], ..DeferredScans::default() };
    e
}

fn rows(catalog: &Catalog) -> Vec<DatasetRow> {
    let id = catalog.find("Endpoint.Processes").expect("dataset");
    let schema = catalog.get(id);
    let col = |name: &str| schema.field_index(name).unwrap_or_else(|| panic!("no column {name} in {:?}", schema.fields));
    let mut out = Vec::new();
    for i in 0..60i64 {
        let mut values = vec![Value::Null; schema.fields.len()];
        let name = match i % 5 {
            0 => "marker.exe",
            1 => "abc.exe",
            2 => "axe.exe",
            3 => "ab.exe",
            _ => "other.exe",
        };
        values[col("process_name")] = Value::str(name);
        values[col("process_guid")] = Value::str(format!("G{}", i % 7));
        values[col("process")] = Value::str(format!("{name} /arg {}", i % 4));
        values[col("dest")] = Value::str(format!("h{}", i % 2));
        values[col("user")] = match i % 6 {
            0 => Value::Multi(vec!["u1".into(), "u2".into()]),
            1 => Value::Null,
            _ => Value::str(format!("u{}", i % 3)),
        };
        if i % 4 != 0 {
            values[col("parent_process_name")] = Value::Num((i % 3) as f64);
        }
        out.push(DatasetRow { dataset: id, time: 1_700_000_000_000_000 + i * 600_000_000, values });
    }
    out
}

fn results(engine: &Engine, state: ScanState) -> Vec<Vec<Record>> {
    let ctx = EvalContext { now: 1_800_000_000_000_000, tz: Tz::utc() };
    engine.finish(state, &ctx).into_iter().map(|o| o.result.expect("runs")).collect()
}

fn scanned(engine: &Engine, rows: &[DatasetRow], position: u64) -> ScanState {
    let mut state = engine.new_state_at(position);
    rows.iter().for_each(|r| engine.on_row(&mut state, r));
    state
}

#[test]
fn deferred_scans_give_the_groups_built_during_the_scan() {
    let catalog = catalog();
    let rows = rows(&catalog);
    let expected = results(&eager(&catalog), scanned(&eager(&catalog), &rows, 0));
    assert!(expected.iter().all(|r| !r.is_empty()), "{expected:?}");
    let engine = engine(&catalog);
    assert!(engine.queries.iter().enumerate().all(|(qi, _)| engine.deferred.is_deferred(qi, 0)));
    let state = scanned(&engine, &rows, 0);
    // Rows passing both filters (`ab...`) are logged once, with both bits.
    let log = state.logs.iter().find(|l| l.rows() > 0).expect("a log");
    let ab = rows.iter().filter(|r| r.values.iter().any(|v| matches!(v, Value::Str(s) if s.starts_with("ab")))).count();
    let a = rows.iter().filter(|r| r.values.iter().any(|v| matches!(v, Value::Str(s) if s == "axe.exe"))).count();
    assert_eq!(log.rows(), (ab + a) as u64);
    // The deferred scans built no groups (the subsearches' scans did).
    assert!(state.accs.iter().all(|accs| matches!(&accs[0], ScanAcc::Groups(g) if g.total() == 0)));
    assert_eq!(results(&engine, state), expected);
}

#[test]
fn logs_merge_in_position_order_whichever_state_merges_first() {
    let catalog = catalog();
    let rows = rows(&catalog);
    let engine = engine(&catalog);
    let expected = results(&engine, scanned(&engine, &rows, 0));
    for first in [0usize, 1] {
        let mut parts: Vec<ScanState> = vec![scanned(&engine, &rows[..25], 0), scanned(&engine, &rows[25..], 1)];
        let other = parts.remove(1 - first);
        let mut into = parts.remove(0);
        engine.merge(&mut into, other);
        assert_eq!(results(&engine, into), expected, "merged into part {first}");
    }
}

#[test]
fn a_state_with_a_log_travels_as_bytes() {
    let catalog = catalog();
    let rows = rows(&catalog);
    let engine = engine(&catalog);
    let expected = results(&engine, scanned(&engine, &rows, 0));
    let bytes = engine.encode_state(&scanned(&engine, &rows, 0)).expect("encodes");
    let back = engine.decode_state(&bytes).expect("decodes");
    assert_eq!(engine.encode_state(&back).expect("encodes"), bytes);
    assert_eq!(results(&engine, back), expected);
}

#[test]
fn a_log_spilled_under_a_tiny_budget_gives_the_same_results() {
    let catalog = catalog();
    let rows = rows(&catalog);
    let engine = engine(&catalog);
    let expected = results(&engine, scanned(&engine, &rows, 0));
    let mut tight = self::engine(&catalog);
    tight.set_memory_budget(1);
    let mut state = tight.new_state();
    for r in &rows {
        tight.on_row(&mut state, r);
        // Check (and so spill) after every row.
        state.since_check = crate::scan::state::BUDGET_CHECK_EVERY;
    }
    assert!(state.logs.iter().any(|l| l.spilled_rows() > 0), "the log was spilled");
    // Spilled rows travel as bytes too.
    let bytes = tight.encode_state(&state).expect("encodes");
    assert_eq!(results(&tight, tight.decode_state(&bytes).expect("decodes")), expected);
    assert_eq!(results(&tight, state), expected);
}

#[test]
fn admission_tested_on_the_join_column_first_builds_the_same_groups() {
    let catalog = catalog();
    let rows = rows(&catalog);
    let engine = engine(&catalog);
    let state = scanned(&engine, &rows, 0);
    for (qi, q) in engine.queries.iter().enumerate() {
        let logged = engine.logged_scan(qi, &state.logs, &state.symbols).expect("deferred");
        let Some(crate::plan::Scan::Tstats(t)) = q.scans.first() else { panic!("a tstats scan") };
        let names: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
        let guid = names.iter().position(|n| n.ends_with("process_guid")).expect("a GUID by-field");
        let test = |key: &[&str]| matches!(key.get(guid), Some(&"G1" | &"G4"));
        let build = |reads| {
            let built = logged.build(t, &q.root.ops, Admit { test: &test, reads }).expect("builds");
            (built.keys, built.groups.finish(&built.symbols, &names, &t.aggs).expect("finishes"))
        };
        let (first, all) = (build(Some(&[guid][..])), build(None));
        assert!(!first.1.is_empty(), "query {qi}");
        assert_eq!(first, all, "query {qi}");
        // A cell's count is how many texts it has, without reading them.
        logged
            .log
            .for_each_row(&state.symbols, |row| {
                for slot in 0..logged.columns.len() {
                    let mut texts = Vec::new();
                    row.texts(slot, &mut texts);
                    assert_eq!(row.count(slot), texts.len());
                }
                Ok(())
            })
            .expect("reads");
        // Every key counts toward the bound, admitted or not.
        assert_eq!(first.0, logged.build(t, &q.root.ops, Admit::ALL).expect("builds").keys);
    }
}
