//! Inputs found by `fuzz/` (cargo-fuzz) on which the reader misbehaved, kept as tests.

use vigil_model::Event;
use vigil_read::xml::{parse_event_xml, parse_event_xml_full};

/// fuzz/artifacts/xml_diff/crash-f626dc15: a `<Data Name='EventID'>` in EventData. The full
/// extractor (the definition) adds `EventCode` for it; the fast path did not.
#[test]
fn fast_and_full_extractors_agree_on_data_named_like_system_fields() {
    let base = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2026-08-14T16:03:29.7579260Z'/><EventRecordID>12812</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>HOST1</Computer></System><EventData><Data Name='RuleName'>-</Data>DATA</EventData></Event>";
    for name in ["EventID", "EventRecordID", "Channel", "Computer", "Image"] {
        for data in [format!("<Data Name='{name}'>x y</Data>"), format!("<Data Name=\"{name}\" >x y</Data>")] {
            let doc = base.replace("DATA", &data);
            let (mut fast, mut full) = (Event::default(), Event::default());
            parse_event_xml(&doc, &mut fast).unwrap();
            parse_event_xml_full(&doc, &mut full).unwrap();
            assert_eq!(fast.fields, full.fields, "{doc}");
            assert_eq!((&fast.source, &fast.host, fast.time), (&full.source, &full.host, full.time), "{doc}");
        }
    }
}
