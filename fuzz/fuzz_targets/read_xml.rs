//! XmlWinEventLog lines: the whole reader (`read_stream`, sniffing, bounded lines) and the
//! single-document extractor `parse_event_xml`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_model::Event;
use vigil_read::{read_stream, ReadOptions};

fuzz_target!(|data: &[u8]| {
    // Small record limit so the "record too long" path is reached too.
    let opts = ReadOptions { max_record_bytes: 4096, max_buffer_bytes: 1 << 20, ..ReadOptions::default() };
    let mut events = 0u64;
    let report = read_stream("fuzz.log", data, &opts, &mut |_ev| events += 1);
    assert_eq!(report.events, events);
    if let Ok(text) = std::str::from_utf8(data) {
        let mut ev = Event::default();
        let _ = vigil_read::xml::parse_event_xml(text, &mut ev);
    }
});
