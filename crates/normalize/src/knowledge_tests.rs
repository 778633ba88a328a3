use super::*;

fn ev(source: &str, fields: &[(&str, &str)]) -> Event {
    let mut e = Event { source: source.into(), sourcetype: "XmlWinEventLog".into(), ..Event::default() };
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e
}

const SYSMON: &str = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational";

#[test]
fn builtin_loads_and_enriches_sysmon_process_access() {
    let k = Knowledge::builtin().unwrap();
    let e = ev(
        SYSMON,
        &[
            ("EventCode", "10"),
            ("Computer", "PC04"),
            ("SourceImage", "C:\\t\\mimikatz.exe"),
            ("TargetImage", "C:\\Windows\\system32\\lsass.exe"),
            ("GrantedAccess", "0x1010"),
            ("SourceProcessId", "3576"),
        ],
    );
    let mut out = Event::default();
    assert!(k.enrich(&e, &mut out));
    assert_eq!(out.get("dest"), Some("PC04"));
    assert_eq!(out.get("parent_process_name"), Some("mimikatz.exe"));
    assert_eq!(out.get("parent_process_id"), Some("3576"));
    assert_eq!(out.get("process_name"), Some("lsass.exe"));
    assert_eq!(out.get("granted_access"), Some("0x1010"));
    assert_eq!(out.get("signature"), Some("Process accessed"));
    assert_eq!(out.get("signature_id"), Some("10"));
    // The raw fields are all still there, first and in order.
    assert_eq!(&out.fields[..e.fields.len()], &e.fields[..]);
}

#[test]
fn eventtypes_and_tags_are_multivalue_and_restricted() {
    let mut k = Knowledge::builtin().unwrap();
    let e = ev("XmlWinEventLog:System", &[("EventCode", "7045"), ("Computer", "H"), ("ServiceName", "x")]);
    let mut out = Event::default();
    assert!(k.enrich(&e, &mut out));
    assert_eq!(out.get_all("eventtype").collect::<Vec<_>>(), ["wineventlog_system"]);
    assert_eq!(out.get_all("tag").collect::<Vec<_>>(), ["os", "windows"]);
    assert_eq!(out.get("Service_Name"), Some("x"));
    k.restrict(&|f| f == "dest");
    let mut out = Event::default();
    assert!(k.enrich(&e, &mut out));
    assert_eq!(out.get("dest"), Some("H"));
    assert!(out.get("eventtype").is_none() && out.get("Service_Name").is_none());
    k.restrict(&|_| false);
    assert!(k.is_empty());
    assert!(!k.enrich(&e, &mut out), "nothing wanted, nothing copied");
}

#[test]
fn raw_fields_are_never_replaced_and_unknown_sources_are_left_alone() {
    let k = Knowledge::builtin().unwrap();
    let e = ev(SYSMON, &[("EventCode", "1"), ("Image", "C:\\a\\b.exe"), ("process_name", "raw.exe")]);
    let mut out = Event::default();
    assert!(k.enrich(&e, &mut out));
    assert_eq!(out.get_all("process_name").collect::<Vec<_>>(), ["raw.exe"]);
    assert!(!k.enrich(&ev("other", &[("EventCode", "1")]), &mut out));
}

#[test]
fn specific_blocks_win_over_general_ones() {
    let k = Knowledge::builtin().unwrap();
    let e = ev(SYSMON, &[("EventCode", "3"), ("Computer", "me"), ("DestinationIp", "10.0.0.1"), ("DestinationHostname", "-")]);
    let mut out = Event::default();
    k.enrich(&e, &mut out);
    assert_eq!(out.get("dest"), Some("10.0.0.1"));
}

#[test]
fn errors_name_file_and_line() {
    let bad = |t: &str| Knowledge::from_sources(vec![("k.toml".into(), t.into())]).unwrap_err().to_string();
    assert!(bad("[[fields]]\nname = \"x\"\nwhen = { EventCode = [\"1\"] }\nset = {}\n").starts_with("k.toml:1: when.source is required"));
    assert!(bad("[[fields]]\nname = \"x\"\nwhen = { source = \"s\" }\n[fields.set]\na = { from = \"f\", op = [\"nope\"] }\n")
        .starts_with("k.toml:5: field a: unknown op"));
    let et = "[[eventtype]]\nname = \"e\"\nsearch = \"s\"\nwhen = { source = \"s\" }\n";
    assert!(bad(&format!("{et}{et}")).starts_with("k.toml:5: eventtype \"e\" defined twice"));
}

#[test]
fn an_event_gets_only_what_the_searches_that_can_read_it_name() {
    let mut k = Knowledge::builtin().unwrap();
    let access = [vec![("EventCode".to_string(), "10".to_string(), true)]];
    let reads_name = |n: &str| n == "process_name";
    let reads_dest = |n: &str| n == "dest";
    let readers = [EventReader { clauses: &access, reads: &reads_name }];
    k.restrict(&|n| n == "process_name" || n == "dest");
    k.restrict_by_reader(&readers);
    let mut out = Event::default();
    let access_ev = ev(SYSMON, &[("EventCode", "10"), ("Computer", "PC04"), ("TargetImage", "C:\\w\\lsass.exe")]);
    assert!(k.enrich(&access_ev, &mut out));
    assert_eq!(out.get("process_name"), Some("lsass.exe"));
    assert_eq!(out.get("dest"), None, "only the other search names dest");
    // No search can read a network connection: the event is used as it is.
    assert!(!k.enrich(&ev(SYSMON, &[("EventCode", "3"), ("Computer", "PC04")]), &mut out));
    // A search over every event: dest everywhere.
    let readers = [EventReader { clauses: &access, reads: &reads_name }, EventReader { clauses: &[], reads: &reads_dest }];
    k.restrict_by_reader(&readers);
    assert!(k.enrich(&access_ev, &mut out));
    assert_eq!((out.get("process_name"), out.get("dest")), (Some("lsass.exe"), Some("PC04")));
}

#[test]
fn in_place_enrichment_matches_the_copy_and_gives_the_event_back() {
    let k = Knowledge::builtin().unwrap();
    let events = [
        ev(SYSMON, &[("EventCode", "10"), ("Computer", "PC04"), ("SourceImage", "C:\\t\\m.exe"), ("TargetImage", "C:\\w\\lsass.exe")]),
        ev(SYSMON, &[("EventCode", "3"), ("Computer", "me"), ("DestinationIp", "10.0.0.1"), ("Protocol", "TCP")]),
        ev("XmlWinEventLog:System", &[("EventCode", "7045"), ("Computer", "H"), ("ServiceName", "x")]),
        ev("other", &[("EventCode", "1")]),
    ];
    // One set of buffers over every event, twice: strings left from one event never show in
    // the next.
    let mut bufs = DeriveBuffers::default();
    for e in events.iter().chain(&events) {
        let mut copy = Event::default();
        let expected = if k.enrich(e, &mut copy) { format!("{copy:?}") } else { format!("{e:?}") };
        let mut own = e.clone();
        let seen = k.with_enriched(&mut own, &mut bufs, |enriched| format!("{enriched:?}"));
        assert_eq!(seen, expected);
        assert_eq!(format!("{own:?}"), format!("{e:?}"), "given back as it was");
    }
    assert!(!bufs.spare.is_empty(), "derived fields' strings are kept");
}

#[test]
fn long_derived_strings_are_not_kept() {
    let k = Knowledge::builtin().unwrap();
    let long = "x".repeat(SPARE_MAX_CAP + 1);
    let mut e = ev(SYSMON, &[("EventCode", "1"), ("Computer", "PC"), ("CommandLine", &long)]);
    let mut bufs = DeriveBuffers::default();
    k.with_enriched(&mut e, &mut bufs, |enriched| assert_eq!(enriched.get("process"), Some(long.as_str())));
    assert!(!bufs.spare.is_empty(), "the short ones are kept");
    assert!(bufs.spare.iter().all(|(k, v)| k.capacity() <= SPARE_MAX_CAP && v.capacity() <= SPARE_MAX_CAP));
}
