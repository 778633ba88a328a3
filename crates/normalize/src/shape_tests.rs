use super::*;
use crate::{EventReader, BUILTIN_FILES};

const SYSMON: &str = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational";

fn ev(source: &str, fields: &[(&str, &str)]) -> Event {
    let mut e = Event { source: source.into(), sourcetype: "XmlWinEventLog".into(), host: "h".into(), time: Some(7), ..Event::default() };
    fields.iter().for_each(|(k, v)| e.push(*k, *v));
    e
}

/// Events of several shapes, some sharing one, some differing only by a condition's value.
fn events() -> Vec<Event> {
    vec![
        ev(
            SYSMON,
            &[("EventCode", "1"), ("Computer", "PC"), ("Image", "C:\\a\\B.exe"), ("CommandLine", "b /x"), ("ParentImage", "C:\\p.exe")],
        ),
        ev(
            SYSMON,
            &[("EventCode", "1"), ("Computer", "PC2"), ("Image", "C:\\c\\D.exe"), ("CommandLine", "d"), ("ParentImage", "C:\\q.exe")],
        ),
        ev(
            SYSMON,
            &[("EventCode", "5"), ("Computer", "PC"), ("Image", "C:\\a\\B.exe"), ("CommandLine", "b /x"), ("ParentImage", "C:\\p.exe")],
        ),
        ev(
            SYSMON,
            &[("EventCode", "3"), ("Computer", "me"), ("DestinationIp", "10.0.0.1"), ("DestinationHostname", "-"), ("Protocol", "TCP")],
        ),
        ev(SYSMON, &[("EventCode", "10"), ("Computer", "PC04"), ("SourceImage", "C:\\t\\m.exe"), ("TargetImage", "C:\\w\\lsass.exe")]),
        // A raw field the knowledge would set, a repeated field, an empty value.
        ev(SYSMON, &[("EventCode", "1"), ("Image", "C:\\a\\b.exe"), ("process_name", "raw.exe"), ("Image", "C:\\x.exe"), ("User", "")]),
        // A path whose base name is empty: that field is not derived (and stays free).
        ev(SYSMON, &[("EventCode", "1"), ("Computer", "PC"), ("Image", "\\"), ("ParentImage", "/"), ("TargetImage", "\\")]),
        // Two EventCodes: the first is the one conditions read.
        ev(SYSMON, &[("EventCode", "3"), ("EventCode", "1"), ("Computer", "PC")]),
        ev(
            "XmlWinEventLog:Security",
            &[("EventCode", "4688"), ("Computer", "DC"), ("NewProcessName", "C:\\w\\cmd.exe"), ("NewProcessId", "0x1f")],
        ),
        ev("XmlWinEventLog:System", &[("EventCode", "7045"), ("Computer", "H"), ("ServiceName", "x")]),
        ev("other", &[("EventCode", "1"), ("Image", "C:\\a\\b.exe")]),
        Event { sourcetype: "unknown".into(), ..Event::default() },
    ]
}

/// What `f` sees through the plain path (enrichment, then rows) and through the shaped one,
/// for every event twice (the second time from the memo), with one set of buffers each.
fn assert_paths_agree(n: &Normalizer, events: &[Event], bufs: &mut EnrichBuffers) {
    let wanted = |d: usize| d % 5 != 4;
    let (mut plain_bufs, mut plain_rows, mut rows) = (EnrichBuffers::default(), Rows::default(), Rows::default());
    for e in events.iter().chain(events) {
        let mut own = e.clone();
        let plain = n.with_enriched(&mut own, &mut plain_bufs, |ev| {
            n.normalize_into(ev, &wanted, &mut plain_rows);
            (format!("{ev:?}"), plain_rows.as_slice().to_vec())
        });
        let shaped = n.with_enriched_rows(&mut own, bufs, &wanted, &mut rows, |ev, rows| (format!("{ev:?}"), rows.to_vec()));
        assert_eq!(shaped, plain, "{e:?}");
        assert_eq!(format!("{own:?}"), format!("{e:?}"), "given back as it was");
    }
}

#[test]
fn shaped_events_get_what_plain_ones_get() {
    let mut n = Normalizer::builtin().unwrap();
    let mut bufs = EnrichBuffers::default();
    assert_paths_agree(&n, &events(), &mut bufs);
    let shapes = bufs.shapes.shapes.len();
    assert!(shapes > 1 && shapes < events().len(), "events of one shape share it: {shapes}");
    // Restricted: shapes worked out before no longer hold.
    let access = [vec![("EventCode".to_string(), "10".to_string(), true)]];
    let reads_name = |f: &str| f == "process_name";
    n.restrict_knowledge(&|f| f == "process_name" || f == "dest" || f == "tag");
    n.restrict_knowledge_by_reader(&[EventReader { clauses: &access, reads: &reads_name }]);
    assert_paths_agree(&n, &events(), &mut bufs);
    // No knowledge left: the rows alone take the plain path, no shape is worked out.
    n.restrict_knowledge(&|_| false);
    let mut fresh = EnrichBuffers::default();
    assert_paths_agree(&n, &events(), &mut fresh);
    assert!(fresh.shapes.shapes.is_empty());
}

#[test]
fn rows_read_derived_fields_and_test_conditions_on_them() {
    let dm = "[[dataset]]\nname = \"A.B\"\nobject = \"B\"\nfields = [\"parent\", \"image\"]\n";
    let m = "[[mapping]]\nname = \"m\"\ndataset = \"A.B\"\nwhen = { sourcetype = \"XmlWinEventLog\", signature_id = [\"1\"] }\n\
             [mapping.fields]\nparent = \"parent_process_name\"\nimage = \"Image\"\n";
    let mut files: Vec<(String, String)> = BUILTIN_FILES.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect();
    files.extend([("dm.toml".to_string(), dm.to_string()), ("m.toml".to_string(), m.to_string())]);
    let n = Normalizer::from_sources(files).unwrap();
    let mut bufs = EnrichBuffers::default();
    assert_paths_agree(&n, &events(), &mut bufs);
    let mut rows = Rows::default();
    let mut e = events().remove(0);
    let ab = n.catalog().find("A.B").unwrap();
    let got = n.with_enriched_rows(&mut e, &mut bufs, &|d| d == ab, &mut rows, |_, rows| rows.to_vec());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].values[..2], [vigil_model::Value::str("p.exe"), vigil_model::Value::str("C:\\a\\B.exe")]);
}

#[test]
fn a_full_memo_sends_new_shapes_the_plain_way() {
    let n = Normalizer::builtin().unwrap();
    let mut bufs = EnrichBuffers::default();
    let mut rows = Rows::default();
    for i in 0..MAX_SHAPES + 3 {
        let mut e = ev(SYSMON, &[("EventCode", "1"), (&format!("F{i}"), "v"), ("Image", "C:\\a\\b.exe")]);
        let got = n.with_enriched_rows(&mut e, &mut bufs, &|_| true, &mut rows, |ev, rows| {
            (ev.get("process_name").map(str::to_string), rows.len())
        });
        assert_eq!(got, (Some("b.exe".to_string()), 1));
    }
    assert_eq!(bufs.shapes.shapes.len(), MAX_SHAPES);
}

#[test]
fn keys_tell_lists_of_texts_apart() {
    let key = |texts: &[&str]| {
        let mut k = Vec::new();
        texts.iter().for_each(|t| push_text(&mut k, t));
        k
    };
    assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
    assert_ne!(key(&["a", ""]), key(&["a"]));
    let long = "L".repeat(70);
    let names = Names {
        conditions: vec!["EventCode".into(), long.clone()],
        condition_lens: length_bit("EventCode") | length_bit(&long),
        ..Names::default()
    };
    assert!(names.is_condition("EventCode") && names.is_condition(&long));
    assert!(!names.is_condition("EventCodf") && !names.is_condition(&"M".repeat(70)) && !names.is_condition("Image"));
}
