//! Rows that carry only the columns the engine reads (`Engine::columns_read`, the rest left
//! null by the normalizer) give every query the results rows of every column give: filters,
//! by-fields, aggregates, child datasets, `nodename`, time buckets and join subsearches.

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::{Event, Record};
use vigil_normalize::{Normalizer, RowNeeds, Rows};
use vigil_time::Tz;

mod common;
use common::process;

/// A Security logon (4624) or failed logon (4625).
fn logon(i: usize) -> Event {
    let mut e = Event {
        time: Some(1_700_000_000_000_000 + i as i64 * 7_000_000),
        source: "XmlWinEventLog:Security".into(),
        sourcetype: "XmlWinEventLog".into(),
        host: format!("dc{}", i % 3),
        ..Default::default()
    };
    let code = if i.is_multiple_of(4) { "4625" } else { "4624" };
    for (k, v) in [
        ("EventCode", code.to_string()),
        ("Computer", format!("dc{}", i % 3)),
        ("TargetUserName", format!("user{}", i % 5)),
        ("IpAddress", format!("::ffff:10.0.0.{}", i % 9)),
        ("LogonType", ["2", "3", "10"][i % 3].to_string()),
        ("AuthenticationPackageName", "NTLM".to_string()),
    ] {
        e.push(k, v);
    }
    e
}

/// A Sysmon file creation (EID 11).
fn file(i: usize) -> Event {
    let mut e = process(i);
    e.fields.clear();
    e.push("EventCode", "11");
    e.push("Image", format!("C:\\Tools\\t{}.exe", i % 4));
    e.push("TargetFilename", format!("C:\\Users\\u\\f{}.txt", i % 6));
    e.push("Computer", format!("pc{}", i % 2));
    e
}

/// Every query's results over `events`, its rows made as `needs` says (of the engine's own
/// reads when `pruned`, of every column otherwise).
fn run(spls: &[&str], events: &[Event], pruned: bool) -> Vec<Vec<Record>> {
    let normalizer = Normalizer::builtin().expect("mappings");
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let queries = spls.iter().map(|spl| planner.plan("t", spl).unwrap_or_else(|e| panic!("{}", e.render(spl)))).collect();
    let engine = Engine::new(queries, normalizer.catalog());
    let needs: RowNeeds = match pruned {
        true => normalizer.row_needs(&|d| engine.wants_dataset(d), &|d| engine.columns_read(d).map(<[bool]>::to_vec)),
        false => normalizer.all_rows(),
    };
    let mut state = engine.new_state();
    let mut rows = Rows::default();
    for e in events {
        normalizer.normalize_needed(e, &needs, &mut rows);
        for r in rows.as_slice() {
            engine.on_row(&mut state, r);
        }
    }
    let ctx = EvalContext { now: 1_700_000_100_000_000, tz: Tz::utc() };
    engine.finish(state, &ctx).into_iter().map(|o| o.result.expect("runs")).collect()
}

#[test]
fn rows_of_the_columns_read_give_the_results_of_whole_rows() {
    let sub = "| tstats values(Processes.process_name) as name from datamodel=Endpoint.Processes by Processes.process_guid";
    let join = format!(
        "| tstats count from datamodel=Endpoint.Processes by Processes.process_guid Processes.dest | rename Processes.* as * \
         | join process_guid [{sub} | rename Processes.* as *]"
    );
    let searches = [
        "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes where Processes.process_name=tool1.exe \
         by Processes.dest Processes.user Processes.process",
        "| tstats count from datamodel=Endpoint.Processes where Processes.process_integrity_level=* OR Processes.process=\"*job 3*\" \
         by Processes.parent_process_name _time span=1h",
        "| tstats values(Processes.process) as cmds dc(Processes.process_guid) as n from datamodel=Endpoint.Processes by Processes.user",
        "| tstats count from datamodel=Authentication.Failed_Authentication by Authentication.user Authentication.src",
        "| tstats count from datamodel=Authentication where nodename=Authentication.Successful_Authentication by Authentication.dest Authentication.app",
        "| tstats count from datamodel=Endpoint.Filesystem by Filesystem.file_name Filesystem.dest",
        &join,
    ];
    let events: Vec<Event> = (0..300).flat_map(|i| [process(i), logon(i), file(i)]).collect();
    let whole = run(&searches, &events, false);
    assert!(whole.iter().all(|r| !r.is_empty()), "every query finds something: {whole:?}");
    assert_eq!(run(&searches, &events, true), whole);
}

#[test]
fn the_columns_read_are_those_the_queries_name() {
    let normalizer = Normalizer::builtin().expect("mappings");
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let spl = "| tstats count from datamodel=Endpoint.Processes where Processes.process_name=x by Processes.dest";
    let engine = Engine::new(vec![planner.plan("t", spl).expect("plans")], normalizer.catalog());
    let catalog = normalizer.catalog();
    let processes = catalog.find("Endpoint.Processes").expect("dataset");
    let fields = &catalog.get(processes).fields;
    let read: Vec<&str> =
        engine.columns_read(processes).expect("told").iter().zip(fields).filter(|(r, _)| **r).map(|(_, f)| f.as_str()).collect();
    assert_eq!(read, ["dest", "process_name"]);
    let others = catalog.find("Endpoint.Registry").expect("dataset");
    assert!(!engine.wants_dataset(others));
    assert!(engine.columns_read(others).expect("told").iter().all(|r| !r));
}
