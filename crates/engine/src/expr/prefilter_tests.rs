//! Tests of [`super`]: anchors and literals taken from predicates, candidates for rows and events, the automata.

use super::*;
use crate::expr::pattern::Pattern;
use vigil_model::{DatasetRow, Event, Value};

fn eq(c: usize, v: &str) -> Pred {
    Pred::Eq(FieldRef::Column(c), Pattern::new(v))
}

fn name_eq(n: &str, v: &str) -> Pred {
    Pred::Eq(FieldRef::Name(n.into()), Pattern::new(v))
}

#[test]
fn anchors_of_macro_shapes() {
    let p = Pred::And(vec![
        Pred::Or(vec![eq(0, "MSIEXEC.exe"), eq(1, "msiexec.exe")]),
        Pred::AnyOf(FieldRef::Column(2), vec![Pattern::new("*http://*")].into()),
    ]);
    assert_eq!(anchors(&p), Some(vec![(FieldRef::Column(0), "msiexec.exe".into()), (FieldRef::Column(1), "msiexec.exe".into())]));
    assert_eq!(anchors(&Pred::Or(vec![eq(0, "a"), eq(1, "b*")])), None);
    assert_eq!(anchors(&Pred::Not(Box::new(eq(0, "a")))), None);
}

/// A one-column row of dataset 0.
fn row(v: &str) -> DatasetRow {
    DatasetRow { dataset: 0, time: 0, values: vec![Value::str(v)] }
}

#[test]
fn candidates_for_rows() {
    let preds = [eq(0, "msiexec.exe"), Pred::True, eq(0, "cmd.exe")];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    idx.candidates(&row("MsiExec.EXE"), &mut s);
    assert_eq!(s.candidates, [0, 1]);
    idx.candidates(&row("notepad.exe"), &mut s);
    assert_eq!(s.candidates, [1]);
}

/// One scratch serves indexes of different sizes in turn (raw events', each dataset's): its
/// vectors keep the largest size, and each index finds what a fresh scratch would.
#[test]
fn one_scratch_serves_indexes_of_different_sizes() {
    let large = [eq(0, "a.exe"), eq(0, "b.exe"), Pred::And(vec![eq(0, "c.exe"), Pred::Eq(FieldRef::Column(0), Pattern::new("*c*"))])];
    let small = [eq(0, "b.exe")];
    let (large, small) = (ScanIndex::new(large.iter()), ScanIndex::new(small.iter()));
    let mut shared = Scratch::default();
    for (idx, value) in [(&large, "C.EXE"), (&small, "b.exe"), (&large, "b.exe"), (&small, "x"), (&large, "c.exe"), (&large, "a.exe")] {
        let mut fresh = Scratch::default();
        idx.candidates(&row(value), &mut fresh);
        idx.candidates(&row(value), &mut shared);
        assert_eq!(shared.candidates, fresh.candidates, "{value}");
    }
}

#[test]
fn literal_prefilter_for_wildcard_predicates() {
    let http = Pred::AnyOf(FieldRef::Column(0), vec![Pattern::new("*http://*"), Pattern::new("*https://*")].into());
    let enc = Pred::Eq(FieldRef::Column(0), Pattern::new("*-EncodedCommand*"));
    let star = Pred::Eq(FieldRef::Column(0), Pattern::new("*"));
    let preds = [http, enc, star];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    idx.candidates(&row("msiexec /i HTTPS://x"), &mut s);
    assert_eq!(s.candidates, [0, 2]);
    idx.candidates(&row("powershell -encodedcommand AAA"), &mut s);
    assert_eq!(s.candidates, [1, 2]);
    idx.candidates(&row("notepad"), &mut s);
    assert_eq!(s.candidates, [2]);
}

#[test]
fn exact_and_literal_conditions_both_apply() {
    let image_load = Pred::And(vec![
        name_eq("EventCode", "7"),
        Pred::AnyOf(FieldRef::Name("ImageLoaded".into()), vec![Pattern::new("*\\wbemprox.dll")].into()),
    ]);
    let any_load = name_eq("EventCode", "7");
    let preds = [image_load, any_load];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    let ev = |code: &str, loaded: &str| {
        let mut ev = Event::default();
        ev.push("EventCode", code);
        ev.push("ImageLoaded", loaded);
        ev
    };
    idx.candidates(&ev("7", "C:\\Windows\\System32\\ntdll.dll"), &mut s);
    assert_eq!(s.candidates, [1]);
    idx.candidates(&ev("7", "C:\\Windows\\System32\\WBEMPROX.DLL"), &mut s);
    assert_eq!(s.candidates, [0, 1]);
    idx.candidates(&ev("1", "C:\\x\\wbemprox.dll"), &mut s);
    assert!(s.candidates.is_empty());
}

/// A row that records the columns read.
struct Logged<'a> {
    row: &'a DatasetRow,
    read: std::cell::RefCell<Vec<FieldRef>>,
}

impl FieldAccess for Logged<'_> {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.read.borrow_mut().push(field.clone());
        self.row.any_item(field, f)
    }
}

/// Rows are read field by field, exact values first: a literal field whose predicates all
/// need an exact value none of them met is not searched (nor read) at all.
#[test]
fn rows_search_a_gated_literal_field_only_when_an_exact_value_holds() {
    let cmd = |name: &str, lit: &str| Pred::And(vec![eq(0, name), Pred::Eq(FieldRef::Column(1), Pattern::new(&format!("*{lit}*")))]);
    let preds = [cmd("net.exe", " user "), cmd("cmd.exe", "/c")];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    let mut candidates = |name: &str, process: &str| {
        let row = DatasetRow { dataset: 0, time: 0, values: vec![Value::str(name), Value::str(process)] };
        let logged = Logged { row: &row, read: Default::default() };
        idx.candidates(&logged, &mut s);
        (s.candidates.clone(), logged.read.into_inner())
    };
    let (found, read) = candidates("notepad.exe", "notepad /c x");
    assert!(found.is_empty());
    assert_eq!(read, [FieldRef::Column(0)], "the literal field is left unread");
    let (found, read) = candidates("CMD.exe", "cmd /c whoami");
    assert_eq!(found, [1]);
    assert_eq!(read, [FieldRef::Column(0), FieldRef::Column(1)]);
    assert_eq!(candidates("net.exe", "net group").0, Vec::<usize>::new());
    assert_eq!(candidates("net.exe", "net user x").0, [0]);
}

#[test]
fn literal_condition_comes_from_the_wildcard_conjunct() {
    // The anchor is EventID; the literal must not restate it, nor take the exact-valued
    // Channel (one literal, longer) over the two Image literals.
    let images = Pred::AnyOf(FieldRef::Name("Image".into()), vec![Pattern::new("*\\whoami.exe"), Pattern::new("*\\net.exe")].into());
    let flat = Pred::And(vec![name_eq("EventID", "1"), name_eq("Channel", "Microsoft-Windows-Sysmon/Operational"), images.clone()]);
    // As Sigma rules have it: the detection's conjunction nested in the log source's.
    let nested = Pred::And(vec![
        name_eq("EventID", "1"),
        name_eq("Channel", "Microsoft-Windows-Sysmon/Operational"),
        Pred::And(vec![name_eq("User", "x"), images]),
    ]);
    for p in [flat, nested] {
        literal_condition_on_image(p);
    }
}

fn literal_condition_on_image(p: Pred) {
    let idx = ScanIndex::new([p].iter());
    let mut s = Scratch::default();
    let ev = |image: &str| {
        let mut ev = Event::default();
        ev.push("EventID", "1");
        ev.push("Channel", "Microsoft-Windows-Sysmon/Operational");
        ev.push("Image", image);
        ev.push("User", "x");
        ev
    };
    idx.candidates(&ev("C:\\Windows\\notepad.exe"), &mut s);
    assert!(s.candidates.is_empty(), "no Image literal: not a candidate");
    idx.candidates(&ev("C:\\Windows\\System32\\WHOAMI.EXE"), &mut s);
    assert_eq!(s.candidates, [0]);
}

#[test]
fn candidates_for_events_by_eventcode_and_sourcetype() {
    let preds = [
        Pred::And(vec![Pred::Or(vec![name_eq("sourcetype", "xmlwineventlog"), name_eq("source", "x")]), name_eq("EventCode", "4104")]),
        name_eq("EventCode", "1"),
    ];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    let mut ev = Event { sourcetype: "XmlWinEventLog".into(), ..Default::default() };
    ev.push("EventCode", "1");
    idx.candidates(&ev, &mut s);
    assert_eq!(s.candidates, [1]);
}

/// A field named like an event property (or `_raw`, `_time`) stands for nothing: the
/// property's value meets the condition, the field's does not, whatever its place.
#[test]
fn fields_named_like_properties_meet_no_condition() {
    let preds = [name_eq("sourcetype", "xmlwineventlog"), name_eq("host", "dc1"), name_eq("index", "main")];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    for place in 0..3 {
        let mut ev = Event { sourcetype: "other".into(), host: "ws2".into(), index: "edr".into(), ..Default::default() };
        (0..place).for_each(|i| ev.push(format!("F{i}"), "x"));
        ev.push("sourcetype", "XmlWinEventLog");
        ev.push("host", "dc1");
        ev.push("index", "main");
        idx.candidates(&ev, &mut s);
        assert!(s.candidates.is_empty(), "{place}: {:?}", s.candidates);
        ev.sourcetype = "XmlWinEventLog".into();
        ev.index = String::new();
        idx.candidates(&ev, &mut s);
        assert_eq!(s.candidates, [0, 2], "{place}");
    }
}

#[test]
fn raw_text_literals_after_exact_values() {
    // Bare terms: with an exact-value condition (searched only when it holds) and without.
    let term = |t: &str| Pred::Raw(Pattern::new(t));
    let gated = Pred::And(vec![name_eq("EventCode", "4104"), term("*mimikatz*")]);
    let preds = [gated, term("*rubeus*")];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    let ev = |code: &str, raw: &str| {
        let mut ev = Event { raw: raw.into(), ..Default::default() };
        ev.push("EventCode", code);
        ev
    };
    idx.candidates(&ev("4104", "Invoke-Mimikatz and Rubeus"), &mut s);
    assert_eq!(s.candidates, [0, 1]);
    idx.candidates(&ev("1", "Invoke-Mimikatz and Rubeus"), &mut s);
    assert_eq!(s.candidates, [1]);
    idx.candidates(&ev("4104", "Get-Process"), &mut s);
    assert!(s.candidates.is_empty());
}

#[test]
fn raw_literals_find_every_overlapping_literal() {
    let raw = |lit: &str| Pred::Raw(Pattern::new(&format!("*{lit}*")));
    // "sekurlsa" lies inside "sekurlsa::logonpasswords": both must be met.
    let preds =
        [raw("sekurlsa::logonpasswords"), raw("sekurlsa"), raw("mimikatz"), Pred::And(vec![name_eq("EventID", "1"), raw("kerberos::")])];
    let idx = ScanIndex::new(preds.iter());
    assert_eq!(idx.raw_literals.len(), 1);
    let raw = &idx.literal_fields[idx.raw_literals[0]].searcher;
    assert!(raw.folds_case(), "a lazy DFA: {raw:?}");
    let mut s = Scratch::default();
    let ev = |id: &str, raw: &str| {
        let mut ev = Event { raw: raw.into(), ..Default::default() };
        ev.push("EventID", id);
        ev
    };
    idx.candidates(&ev("1", "<Data>SEKURLSA::LogonPasswords kerberos::list</Data>"), &mut s);
    assert_eq!(s.candidates, [0, 1, 3]);
    idx.candidates(&ev("4", "Mimikatz kerberos::list"), &mut s);
    assert_eq!(s.candidates, [2]);
    idx.candidates(&ev("1", "nothing here"), &mut s);
    assert!(s.candidates.is_empty());
}

#[test]
fn literal_values_before_the_exact_value_are_searched_after_it() {
    let images = Pred::AnyOf(FieldRef::Name("Image".into()), vec![Pattern::new("*\\whoami.exe")].into());
    let preds = [Pred::And(vec![name_eq("EventCode", "1"), images])];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    // Image comes first in the event, and repeats.
    let ev = |images: &[&str], code: &str| {
        let mut ev = Event::default();
        images.iter().for_each(|i| ev.push("Image", *i));
        ev.push("EventCode", code);
        ev
    };
    idx.candidates(&ev(&["C:\\a\\notepad.exe", "C:\\W\\WHOAMI.EXE"], "1"), &mut s);
    assert_eq!(s.candidates, [0]);
    idx.candidates(&ev(&["C:\\W\\whoami.exe"], "3"), &mut s);
    assert!(s.candidates.is_empty());
    idx.candidates(&ev(&["C:\\a\\notepad.exe"], "1"), &mut s);
    assert!(s.candidates.is_empty());
    idx.candidates(&ev(&["C:\\W\\whoami.exe"], "1"), &mut s);
    assert_eq!(s.candidates, [0]);
}

#[test]
fn only_two_non_ascii_characters_lowercase_to_ascii() {
    let found: Vec<char> =
        (0..=char::MAX as u32).filter_map(char::from_u32).filter(|c| !c.is_ascii() && c.to_lowercase().any(|l| l.is_ascii())).collect();
    assert_eq!(found, LOWERCASE_TO_ASCII);
}

#[test]
fn repeated_values_give_the_candidates_of_a_fresh_search() {
    // One scratch (so one memo) over two indexes whose field automata have the same numbers.
    let path =
        |lits: &[&str]| Pred::AnyOf(FieldRef::Column(0), lits.iter().map(|l| Pattern::new(&format!("*{l}*"))).collect::<Vec<_>>().into());
    let (a, b) = ([path(&["\\cmd.exe", "cmd"]), path(&["\\rundll32"])], [path(&["\\rundll32"]), path(&["cmd.exe"])]);
    let (a, b) = (ScanIndex::new(a.iter()), ScanIndex::new(b.iter()));
    let mut shared = Scratch::default();
    let values = ["C:\\W\\CMD.EXE", "c:\\w\\rundll32.exe", "C:\\W\\CMD.EXE", "İcmd", "C:\\W\\CMD.EXE", "notepad", "c:\\w\\rundll32.exe"];
    for v in values.iter().chain(values.iter().rev()) {
        for idx in [&a, &b] {
            let mut fresh = Scratch::default();
            idx.candidates(&row(v), &mut fresh);
            idx.candidates(&row(v), &mut shared);
            assert_eq!(shared.candidates, fresh.candidates, "{v}");
        }
    }
    a.candidates(&row("C:\\W\\CMD.EXE"), &mut shared);
    assert_eq!(shared.candidates, [0]);
    b.candidates(&row("C:\\W\\CMD.EXE"), &mut shared);
    assert_eq!(shared.candidates, [1]);
}

#[test]
fn exact_values_match_whatever_their_case() {
    let preds = [eq(0, "4104"), eq(0, "MsiExec.exe"), eq(0, "straße")];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    for (v, want) in [("4104", &[0][..]), ("msiexec.exe", &[1]), ("MSIEXEC.EXE", &[1]), ("STRASSE", &[]), ("Straße", &[2]), ("41040", &[])]
    {
        idx.candidates(&row(v), &mut s);
        assert_eq!(s.candidates, want, "{v}");
    }
}

#[test]
fn literals_match_whatever_the_values_case() {
    // Field automata match lowercased literals exactly, so values are folded before the search:
    // ASCII text, non-ASCII text with ASCII literals, and non-ASCII literals.
    let enc = Pred::Eq(FieldRef::Column(0), Pattern::new("*-EncodedCommand*"));
    let street = Pred::Eq(FieldRef::Column(0), Pattern::new("*Straße*"));
    let preds = [enc, street];
    let idx = ScanIndex::new(preds.iter());
    let mut s = Scratch::default();
    for (v, want) in [
        ("POWERSHELL -ENCODEDCOMMAND AAA", &[0][..]),
        ("Ünïcode PowerShell -EncodedCommand AAA", &[0]),
        ("ÜNÏCODE -ENCODEDCOMMAND", &[0]),
        ("HAUPTSTRASSE", &[]),
        ("C:\\STRAßE\\x", &[1]),
        ("c:\\straße -encodedcommand", &[0, 1]),
        ("-encoded command", &[]),
    ] {
        idx.candidates(&row(v), &mut s);
        assert_eq!(s.candidates, want, "{v}");
    }
}

/// Events that carry a names shape get the candidates they get without one: their covered
/// fields through the shape's plan, the fields past them (derived, present or not) by place,
/// and literal conditions after every exact value (an `EventCode` derived last gates literals
/// on fields before it).
#[test]
fn events_with_a_names_shape_get_the_candidates_of_events_without() {
    let term =
        |f: &str, lits: &[&str]| Pred::AnyOf(FieldRef::Name(f.into()), lits.iter().map(|l| Pattern::new(l)).collect::<Vec<_>>().into());
    let preds = [
        Pred::And(vec![name_eq("EventCode", "1"), term("Image", &["*\\whoami.exe", "*\\net.exe"])]),
        Pred::And(vec![name_eq("EventCode", "1"), term("CommandLine", &["* user *"])]),
        Pred::And(vec![name_eq("sourcetype", "xmlwineventlog"), name_eq("EventCode", "13")]),
        name_eq("process_name", "cmd.exe"),
        Pred::Raw(Pattern::new("*mimikatz*")),
        Pred::And(vec![name_eq("host", "dc1"), term("TargetObject", &["*\\run\\*"])]),
        name_eq("User", "b"),
    ];
    let idx = ScanIndex::new(preds.iter());
    // (shape id, own fields, derived fields); one id stands for one list of own names.
    type Fields<'a> = &'a [(&'a str, &'a str)];
    let kinds: [(u64, Fields, Fields); 8] = [
        (
            1,
            &[("Image", "C:\\W\\WHOAMI.EXE"), ("CommandLine", "whoami /all"), ("User", "a")],
            &[("EventCode", "1"), ("process_name", "whoami.exe")],
        ),
        (
            1,
            &[("Image", "C:\\W\\cmd.exe"), ("CommandLine", "net user x"), ("User", "b")],
            &[("EventCode", "1"), ("process_name", "cmd.exe")],
        ),
        (1, &[("Image", "C:\\W\\net.exe"), ("CommandLine", "net user x"), ("User", "b")], &[("EventCode", "5")]),
        (2, &[("TargetObject", "HKLM\\Run\\x"), ("Image", "C:\\net.exe")], &[("EventCode", "13")]),
        (2, &[("TargetObject", "HKLM\\Other"), ("Image", "C:\\net.exe")], &[("EventCode", "13"), ("EventCode", "1")]),
        (3, &[("Image", "C:\\a.exe"), ("Image", "C:\\b\\whoami.exe"), ("host", "dc1")], &[("EventCode", "1")]),
        (1, &[("Image", "C:\\W\\WHOAMI.EXE"), ("CommandLine", "mimikatz"), ("User", "a")], &[]),
        (4, &[("EventCode", "1"), ("Image", "C:\\x\\net.exe"), ("User", "b")], &[]),
    ];
    let mut shared = Scratch::default();
    for round in 0..2 {
        for (k, (id, own, derived)) in kinds.iter().enumerate() {
            for host in ["dc1", "ws2"] {
                let raw = own.iter().map(|(_, v)| *v).collect::<Vec<_>>().join(" ");
                let mut ev = Event { sourcetype: "XmlWinEventLog".into(), host: host.into(), raw, ..Event::default() };
                own.iter().chain(derived.iter()).for_each(|(n, v)| ev.push(*n, *v));
                ev.derived_from = Some(own.len());
                let mut fresh = Scratch::default();
                idx.candidates(&ev, &mut fresh);
                ev.names_shape = Some(vigil_model::NamesShape { id: *id, len: own.len() });
                idx.candidates(&ev, &mut shared);
                assert_eq!(shared.candidates, fresh.candidates, "round {round}, event {k} on {host}");
            }
        }
    }
    let mut ev = Event { sourcetype: "XmlWinEventLog".into(), ..Event::default() };
    [("Image", "C:\\W\\WHOAMI.EXE"), ("CommandLine", "x"), ("User", "a"), ("EventCode", "1")].iter().for_each(|(n, v)| ev.push(*n, *v));
    ev.names_shape = Some(vigil_model::NamesShape { id: 1, len: 3 });
    idx.candidates(&ev, &mut shared);
    assert_eq!(shared.candidates, [0], "the gate after the literal opens it");
}

/// Predicates past the first word of the bitsets (64 to a word), an exact value standing for
/// predicates in several words, literals gated by exact values in other words, and a scratch
/// shared with a smaller index: each row gets what a fresh scratch gets, and what the
/// predicates' conditions say.
#[test]
fn candidates_span_every_word_of_the_bitsets() {
    let image = |lit: &str| Pred::Eq(FieldRef::Column(1), Pattern::new(&format!("*{lit}*")));
    let mut preds: Vec<Pred> = (0..150).map(|i| eq(0, &format!("p{}.exe", i % 7))).collect();
    preds[70] = Pred::And(vec![eq(0, "p0.exe"), image("\\temp\\")]);
    preds[140] = Pred::True;
    preds[149] = image("\\temp\\");
    let idx = ScanIndex::new(preds.iter());
    let small = ScanIndex::new([eq(0, "p1.exe")].iter());
    let mut shared = Scratch::default();
    for (name, path) in [("P0.EXE", "c:\\temp\\x"), ("p1.exe", "c:\\TEMP\\y"), ("p0.exe", "c:\\w\\z"), ("p9.exe", "d:\\temp\\")] {
        let row = DatasetRow { dataset: 0, time: 0, values: vec![Value::str(name), Value::str(path)] };
        let mut want: Vec<usize> = (0..150).filter(|&i| i % 7 == 0 && name.eq_ignore_ascii_case("p0.exe") && i != 70 && i != 140).collect();
        want.extend((0..150).filter(|&i| i % 7 == 1 && name == "p1.exe" && i != 70 && i != 140 && i != 149));
        if name.eq_ignore_ascii_case("p0.exe") && path.to_ascii_lowercase().contains("\\temp\\") {
            want.push(70);
        }
        want.push(140);
        if path.to_ascii_lowercase().contains("\\temp\\") {
            want.push(149);
        }
        want.sort_unstable();
        let mut fresh = Scratch::default();
        idx.candidates(&row, &mut fresh);
        assert_eq!(fresh.candidates, want, "{name} {path}");
        idx.candidates(&row, &mut shared);
        assert_eq!(shared.candidates, want, "{name} {path}, shared");
        small.candidates(&row, &mut shared);
        assert_eq!(shared.candidates, if name == "p1.exe" { vec![0] } else { vec![] });
    }
}
