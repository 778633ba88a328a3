//! `--explain`: the plan of the seed detection and of an ad-hoc search, pinned as goldens
//! (the format is stable so that changes to planning show up here).

mod common;
use common::*;

#[test]
fn seed_detection_plan_golden() {
    let o = vigil(&["hunt", "--explain", "--detection", "Windows MSIExec Remote Download"]);
    assert!(o.status.success(), "{}", stderr(&o));
    golden("explain_seed.txt", &stdout(&o));
}

#[test]
fn search_plan_golden() {
    let o = vigil(&[
        "search",
        "--explain",
        "index=main EventCode=1 Image=\"*\\\\cmd.exe\" | rex field=CommandLine \"(?<flag>/c)\" | stats count by host flag | where count > 1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    golden("explain_search.txt", &stdout(&o));
}

#[test]
fn join_plans_say_when_the_semi_join_runs_first() {
    let o = vigil(&[
        "search",
        "--explain",
        "| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.process_guid | rename Processes.* as * \
         | join process_guid [| tstats count from datamodel=Endpoint.Registry by Registry.process_guid | rename Registry.* as *]",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("  stage 0: scan 1 | rename Registry.* as *\n"), "{out}");
    assert!(out.contains("physical: semi-join-first (an inner join filters the root's tstats scan: scan 0 logs its rows; when it kept more rows than scan 1 of the subsearch has groups, only the rows the subsearch has keys of become groups; otherwise all do, and the join builds the subsearch's groups for their keys)"), "{out}");
}
