//! Splunk search semantics, each rule checked end to end through macro expansion, parsing,
//! planning and execution, against what Splunk documents (see DESIGN.md "Semantics that
//! matter"). Events are built in the test; tstats rows come from the real Sysmon mapping.

use vigil_content::ContentSet;
use vigil_engine::{Engine, EvalContext, Planner};
use vigil_model::{Event, Record, Value};
use vigil_normalize::Normalizer;
use vigil_time::Tz;

fn event(fields: &[(&str, &str)]) -> Event {
    let mut e = Event {
        time: Some(1_700_000_000_000_000),
        source: "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational".into(),
        sourcetype: "XmlWinEventLog".into(),
        host: "WIN10".into(),
        raw: String::new(),
        ..Default::default()
    };
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e.raw = fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    e
}

/// Runs `spl` over `events` (raw events, plus their normalized rows for tstats).
fn run(spl: &str, events: &[Event]) -> Vec<Record> {
    let normalizer = Normalizer::builtin().expect("mappings");
    let content = ContentSet::builtin();
    let mut planner = Planner::new(normalizer.catalog(), &content);
    let query = planner.plan("t", spl).unwrap_or_else(|e| panic!("{}", e.render("t")));
    let engine = Engine::new(vec![query], normalizer.catalog());
    let mut state = engine.new_state();
    let mut rows = Vec::new();
    for e in events {
        engine.on_event(&mut state, e);
        rows.clear();
        normalizer.normalize(e, &mut rows);
        for r in &rows {
            engine.on_row(&mut state, r);
        }
    }
    let ctx = EvalContext { now: 1_700_000_100_000_000, tz: Tz::utc() };
    let mut out = engine.finish(state, &ctx);
    out.remove(0).result.expect("runs")
}

fn count(spl: &str, events: &[Event]) -> usize {
    run(spl, events).len()
}

fn abc() -> Vec<Event> {
    vec![event(&[("a", "1"), ("c", "3")]), event(&[("b", "2")]), event(&[("b", "2"), ("c", "3")]), event(&[("a", "1"), ("b", "9")])]
}

#[test]
fn or_binds_tighter_than_and() {
    // `a=1 OR b=2 c=3` is `(a=1 OR b=2) AND c=3`.
    assert_eq!(count("search a=1 OR b=2 c=3", &abc()), 2);
    assert_eq!(count("search c=3 a=1 OR b=2", &abc()), 2);
    // Parentheses change it.
    assert_eq!(count("search a=1 OR (b=2 c=3)", &abc()), 3);
}

#[test]
fn not_applies_to_the_next_term_and_matches_missing_fields() {
    // NOT a=1 matches events without a; a!=1 needs a.
    assert_eq!(count("search NOT a=1", &abc()), 2);
    assert_eq!(count("search b!=2", &abc()), 1);
    assert_eq!(count("search NOT a=1 OR c=3", &abc()), 3);
}

#[test]
fn values_case_insensitive_field_names_case_sensitive() {
    let ev = vec![event(&[("Image", "C:\\Windows\\System32\\MSIEXEC.EXE")])];
    assert_eq!(count("search Image=*msiexec.exe", &ev), 1);
    assert_eq!(count("search image=*msiexec.exe", &ev), 0);
}

#[test]
fn wildcards_anywhere_and_in_lists() {
    let ev = vec![event(&[("CommandLine", "msiexec /i http://x/y.msi /qn")])];
    assert_eq!(count("search CommandLine=*http*msi*", &ev), 1);
    assert_eq!(count(r#"search CommandLine IN ("*ftp://*", "*HTTP://*")"#, &ev), 1);
    assert_eq!(count("search CommandLine IN (*ftp://*, *smb*)", &ev), 0);
    assert_eq!(count("search CommandLine=msiexec", &ev), 0, "no implicit wildcard");
}

#[test]
fn xml_entities_in_values_match_decoded_text() {
    let ev = vec![event(&[("CommandLine", "cmd /c whoami > out.txt & exit")])];
    assert_eq!(count("search CommandLine=\"*&gt; out.txt*\"", &ev), 1);
    assert_eq!(count("search CommandLine=\"*&amp; exit\"", &ev), 1);
}

#[test]
fn where_is_case_sensitive_and_eval_precedence() {
    let ev = vec![event(&[("u", "Admin"), ("n", "10")])];
    assert_eq!(count(r#"search * | where u="admin""#, &ev), 0);
    assert_eq!(count(r#"search * | where lower(u)="admin""#, &ev), 1);
    // AND binds tighter than OR in where/eval.
    assert_eq!(count(r#"search * | where u="x" AND n=1 OR n=10"#, &ev), 1);
    assert_eq!(count(r#"search * | where u="x" AND (n=1 OR n=10)"#, &ev), 0);
    // Numbers compare numerically when both sides are numbers.
    assert_eq!(count("search * | where n > 9", &ev), 1);
}

#[test]
fn null_handling_in_eval() {
    let ev = vec![event(&[("a", "1")])];
    let r =
        run(r#"search * | eval s=a+missing, t=a."x", n=if(isnull(missing), "null", "set"), c=coalesce(missing, a) | table s t n c"#, &ev);
    assert_eq!(r[0].get("s"), None, "arithmetic with null is null");
    assert_eq!(r[0].value("t"), &Value::str("1x"));
    assert_eq!(r[0].value("n"), &Value::str("null"));
    assert_eq!(r[0].value("c"), &Value::str("1"));
}

#[test]
fn multivalue_behaviour() {
    let ev = vec![event(&[("p", "a.exe"), ("p", "b.exe"), ("q", "x")])];
    // A repeated field is multivalue; a search matches when any value does.
    assert_eq!(count("search p=b.exe", &ev), 1);
    let r = run("search * | eval n=mvcount(p), f=mvindex(p, -1), j=mvjoin(p, \";\") | table n f j", &ev);
    assert_eq!(r[0].value("n"), &Value::Num(2.0));
    assert_eq!(r[0].value("f"), &Value::str("b.exe"));
    assert_eq!(r[0].value("j"), &Value::str("a.exe;b.exe"));
    // stats by a multivalue field puts the event in one group per value.
    assert_eq!(count("search * | stats count by p", &ev), 2);
}

fn sysmon1(image: &str, cmd: &str, user: Option<&str>) -> Event {
    let mut f = vec![
        ("EventCode", "1"),
        ("Computer", "WIN10"),
        ("Image", image),
        ("CommandLine", cmd),
        ("ParentImage", "C:\\Windows\\explorer.exe"),
        ("ProcessId", "100"),
    ];
    if let Some(u) = user {
        f.push(("User", u));
    }
    event(&f)
}

#[test]
fn tstats_fillnull_value_keeps_rows_with_null_by_fields() {
    let ev = vec![sysmon1("C:\\Windows\\System32\\msiexec.exe", "msiexec /i http://x", None)];
    // process_guid is null for this event: without fillnull_value the row is dropped.
    let spl = "| tstats count from datamodel=Endpoint.Processes by Processes.process_guid";
    assert_eq!(count(spl, &ev), 0);
    let filled = run("| tstats fillnull_value=null count from datamodel=Endpoint.Processes by Processes.process_guid", &ev);
    assert_eq!(filled[0].value("Processes.process_guid"), &Value::str("null"));
    // The data model fills user with "unknown" when the source has none.
    let u = run("| tstats count from datamodel=Endpoint.Processes by Processes.user", &ev);
    assert_eq!(u[0].value("Processes.user"), &Value::str("unknown"));
}

#[test]
fn seed_search_exactly_as_written() {
    let content = ContentSet::builtin();
    let seed = content.detection("Windows MSIExec Remote Download").expect("seed").search.clone();
    let ev = vec![
        sysmon1("C:\\Windows\\System32\\msiexec.exe", "msiexec.exe /q /i \"HTTPS://example.test/a.msi\"", Some("CORP\\bob")),
        sysmon1("C:\\Windows\\System32\\msiexec.exe", "msiexec.exe /i C:\\temp\\a.msi", Some("CORP\\bob")),
        sysmon1("C:\\Windows\\System32\\curl.exe", "curl http://example.test/a.msi", Some("CORP\\bob")),
    ];
    let r = run(&seed, &ev);
    assert_eq!(r.len(), 1);
    let row = &r[0];
    assert_eq!(row.value("user"), &Value::str("CORP\\bob"));
    assert_eq!(row.value("dest"), &Value::str("WIN10"));
    assert_eq!(row.value("process_name"), &Value::str("msiexec.exe"));
    assert_eq!(row.value("parent_process_name"), &Value::str("explorer.exe"));
    assert_eq!(row.value("firstTime"), &Value::str("2023-11-14T22:13:20"));
    assert_eq!(row.value("count"), &Value::Num(1.0));
}

#[test]
fn subsearch_results_become_or_of_ands() {
    // A subsearch reading events (dynamic): resolved after the scan, as Splunk runs it first.
    let ev = vec![
        sysmon1("C:\\Windows\\System32\\cmd.exe", "cmd /c reg query", Some("CORP\\bob")),
        sysmon1("C:\\Windows\\System32\\notepad.exe", "notepad", Some("CORP\\eve")),
    ];
    let spl = "| tstats count from datamodel=Endpoint.Processes by Processes.user Processes.process_name \
               | `drop_dm_object_name(Processes)` \
               | search [| tstats count from datamodel=Endpoint.Processes where Processes.process_name=cmd.exe by Processes.user \
                         | `drop_dm_object_name(Processes)` | table user]";
    let r = run(spl, &ev);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].value("user"), &Value::str("CORP\\bob"));
    // A subsearch with no results matches nothing.
    let none = spl.replace("cmd.exe", "absent.exe");
    assert_eq!(count(&none, &ev), 0);
}

#[test]
fn transaction_groups_start_end_pairs_like_splunk() {
    // windows_ad_short_lived_server_object: server objects created (5137) then deleted (5141).
    let at = |secs: i64, fields: &[(&str, &str)]| {
        let mut e = event(fields);
        e.time = Some((1_700_000_000 + secs) * 1_000_000);
        e
    };
    let events = [
        at(0, &[("EventCode", "5137"), ("ObjectDN", "CN=A"), ("Computer", "dc1")]),
        at(5, &[("EventCode", "5137"), ("ObjectDN", "CN=B"), ("Computer", "dc1")]),
        at(20, &[("EventCode", "5141"), ("ObjectDN", "CN=A"), ("Computer", "dc2")]),
        at(600, &[("EventCode", "5141"), ("ObjectDN", "CN=B"), ("Computer", "dc1")]),
        at(700, &[("EventCode", "5137"), ("ObjectDN", "CN=C"), ("Computer", "dc1")]),
    ];
    let rows = run(
        "search EventCode=5137 OR EventCode=5141 | transaction ObjectDN startswith=(EventCode=5137) endswith=(EventCode=5141) \
         | eval short_lived=case((duration<30),\"TRUE\")",
        &events,
    );
    // Newest transaction first; CN=C never ends and is evicted.
    let got: Vec<(String, f64, f64, String)> = rows
        .iter()
        .map(|r| {
            (
                r.value("ObjectDN").to_string(),
                r.value("duration").as_num().unwrap(),
                r.value("eventcount").as_num().unwrap(),
                r.value("short_lived").to_string(),
            )
        })
        .collect();
    assert_eq!(got, [("CN=B".into(), 595.0, 2.0, String::new()), ("CN=A".into(), 20.0, 2.0, "TRUE".into())]);
    let a = &rows[1];
    assert_eq!(a.value("_time").as_num(), Some(1_700_000_000.0));
    assert_eq!(a.value("Computer"), &Value::Multi(vec!["dc1".into(), "dc2".into()]));
    assert_eq!(a.value("EventCode"), &Value::Multi(vec!["5137".into(), "5141".into()]));
    assert_eq!(a.value("_raw").to_string(), "EventCode=5137 ObjectDN=CN=A Computer=dc1\nEventCode=5141 ObjectDN=CN=A Computer=dc2");

    // detect_new_local_admin_account: per user within 3h, connected=false.
    let events = [
        at(0, &[("EventCode", "4720"), ("src_user", "eve"), ("dest", "h1")]),
        at(60, &[("EventCode", "4732"), ("src_user", "eve"), ("dest", "h1")]),
        at(20_000, &[("EventCode", "4732"), ("src_user", "eve"), ("dest", "h1")]),
        at(30, &[("EventCode", "4720"), ("src_user", "bob"), ("dest", "h2")]),
    ];
    let rows = run(
        "search EventCode=4720 OR EventCode=4732 | transaction src_user connected=false maxspan=180m | table src_user eventcount",
        &events,
    );
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.value("src_user").to_string(), r.value("eventcount").to_string())).collect();
    assert_eq!(got, [("eve".into(), "1".into()), ("bob".into(), "1".into()), ("eve".into(), "2".into())]);
}
