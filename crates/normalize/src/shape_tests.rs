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
/// for every event twice (the second time from the memo), with one set of buffers each;
/// rows of every column, then of some; the events as copies (which leave out the shaped
/// path's `names_shape`).
fn assert_paths_agree(n: &Normalizer, events: &[Event], bufs: &mut EnrichBuffers) {
    let wanted = |d: usize| d % 5 != 4;
    let every_third_unread = |_: usize| Some((0..64).map(|c| c % 3 != 1).collect());
    for needs in [n.row_needs(&wanted, &|_| None), n.row_needs(&wanted, &every_third_unread)] {
        let (mut plain_bufs, mut plain_rows, mut rows) = (EnrichBuffers::default(), Rows::default(), Rows::default());
        for e in events.iter().chain(events) {
            let mut own = e.clone();
            let plain = n.with_enriched(&mut own, &mut plain_bufs, |ev| {
                n.normalize_needed(ev, &needs, &mut plain_rows);
                (format!("{:?}", ev.clone()), plain_rows.as_slice().to_vec())
            });
            let shaped = n.with_enriched_rows(&mut own, bufs, &needs, &mut rows, |ev, rows| (format!("{:?}", ev.clone()), rows.to_vec()));
            assert_eq!(shaped, plain, "{e:?}");
            assert_eq!(format!("{own:?}"), format!("{e:?}"), "given back as it was");
        }
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
    // What an event gets depends on a field that is no condition (Image, compared whole: a
    // key field): events of one shape differ, each is asked for.
    let image = [vec![("Image".to_string(), "c:\\a\\b.exe".to_string(), true)]];
    let creation = [vec![("EventCode".to_string(), "1".to_string(), true)]];
    let reads_dest = |f: &str| f == "dest";
    n.restrict_knowledge_by_reader(&[
        EventReader { clauses: &image, reads: &reads_name },
        EventReader { clauses: &creation, reads: &reads_dest },
    ]);
    let mut fresh = EnrichBuffers::default();
    assert_paths_agree(&n, &events(), &mut fresh);
    let (mut first, mut second) = (events().remove(0), events().remove(1));
    let mut rows = Rows::default();
    let got = |e: &Event| (e.get("process_name").map(str::to_string), e.get("dest").map(str::to_string));
    let first = n.with_enriched_rows(&mut first, &mut fresh, &n.all_rows(), &mut rows, |e, _| got(e));
    assert_eq!(first, (Some("B.exe".into()), Some("PC".into())));
    let second = n.with_enriched_rows(&mut second, &mut fresh, &n.all_rows(), &mut rows, |e, _| got(e));
    assert_eq!(second, (None, Some("PC2".into())));
    // A key field's long value (a whole script) is asked for each time, not kept.
    let long = |image: &str| {
        let mut e = events().remove(0);
        e.fields.iter_mut().filter(|(k, _)| k == "Image").for_each(|(_, v)| *v = format!("C:\\{}\\{image}", "d".repeat(2000)));
        e
    };
    assert_paths_agree(&n, &[long("b.exe"), events().remove(1), long("c.exe"), long("b.exe")], &mut fresh);
    assert!(fresh.shapes.kinds.iter().all(|k| k.held() <= 1024));
    // No knowledge left: the rows alone take the plain path, no shape is worked out.
    n.restrict_knowledge(&|_| false);
    let mut fresh = EnrichBuffers::default();
    assert_paths_agree(&n, &events(), &mut fresh);
    assert!(fresh.shapes.shapes.is_empty());
}

/// Events the shaped path hands on carry a names shape: the same id again for the same
/// event, and for events of one id the same own names in the same order (for the length of
/// those); none once handed back.
#[test]
fn events_of_one_shape_share_a_names_shape() {
    let n = Normalizer::builtin().unwrap();
    let (mut bufs, mut rows, needs) = (EnrichBuffers::default(), Rows::default(), n.row_needs(&|_| true, &|_| None));
    let mut shaped = |e: &Event, bufs: &mut EnrichBuffers| {
        let mut own = e.clone();
        let got = n.with_enriched_rows(&mut own, bufs, &needs, &mut rows, |ev, _| ev.names_shape);
        assert_eq!(own.names_shape, None, "handed back without it");
        got
    };
    let first: Vec<_> = events().iter().map(|e| shaped(e, &mut bufs)).collect();
    let again: Vec<_> = events().iter().map(|e| shaped(e, &mut bufs)).collect();
    assert_eq!(first, again);
    let ids: std::collections::HashSet<u64> = first.iter().flatten().map(|s| s.id).collect();
    assert!(ids.len() > 1 && ids.len() < events().len(), "{first:?}");
    let names = |e: &Event| e.fields.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    for (a, sa) in events().iter().zip(&first) {
        let Some(sa) = sa else { continue };
        assert_eq!(sa.len, a.fields.len());
        for (b, sb) in events().iter().zip(&first) {
            if sb.is_some_and(|sb| sb.id == sa.id) {
                assert_eq!(names(a), names(b));
            }
        }
    }
    // Another memo's shapes are others, even for the same events.
    let mut other = EnrichBuffers::default();
    let id = shaped(&events()[0], &mut other).map(|s| s.id);
    assert!(id.is_some() && !ids.contains(&id.unwrap_or_default()));
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
    let got = n.with_enriched_rows(&mut e, &mut bufs, &n.row_needs(&|d| d == ab, &|_| None), &mut rows, |_, rows| rows.to_vec());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].values[..2], [vigil_model::Value::str("p.exe"), vigil_model::Value::str("C:\\a\\B.exe")]);
}

#[test]
fn a_full_memo_sends_new_shapes_the_plain_way() {
    let n = Normalizer::builtin().unwrap();
    let mut bufs = EnrichBuffers::default();
    let mut rows = Rows::default();
    let needs = n.all_rows();
    for i in 0..MAX_SHAPES + 3 {
        let mut e = ev(SYSMON, &[("EventCode", "1"), (&format!("F{i}"), "v"), ("Image", "C:\\a\\b.exe")]);
        let got =
            n.with_enriched_rows(&mut e, &mut bufs, &needs, &mut rows, |ev, rows| (ev.get("process_name").map(str::to_string), rows.len()));
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
}

#[test]
fn conditions_are_told_by_name() {
    let long = "L".repeat(70);
    let names = Names::with_conditions(&["EventCode", &long]);
    assert!(names.is_condition("EventCode") && names.is_condition(&long));
    assert!(!names.is_condition("EventCodf") && !names.is_condition(&"M".repeat(70)) && !names.is_condition("Image"));
}
