//! Differential: the fast XML extractor (`parse_event_xml`, which falls back to the full one
//! when it declines) against the full quick-xml extractor that defines the fields. Whatever
//! the fast path accepts must give exactly the full extractor's result.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_model::Event;
use vigil_read::xml::{parse_event_xml, parse_event_xml_full};

fuzz_target!(|text: &str| {
    let mut fast = Event::default();
    let mut full = Event::default();
    let r_fast = parse_event_xml(text, &mut fast);
    let r_full = parse_event_xml_full(text, &mut full);
    match (r_fast, r_full) {
        (Ok(()), Ok(())) => {
            assert_eq!(fast.fields, full.fields, "fields differ for {text:?}");
            if full.time.is_some() {
                assert_eq!(fast.time, full.time, "time differs for {text:?}");
            }
            assert_eq!((&fast.source, &fast.sourcetype, &fast.host), (&full.source, &full.sourcetype, &full.host), "{text:?}");
        }
        (Ok(()), Err(e)) => panic!("fast path accepts a document the full extractor rejects ({e}): {text:?}"),
        (Err(e), Ok(())) => panic!("rejected ({e}) although the full extractor accepts: {text:?}"),
        (Err(_), Err(_)) => {}
    }
});
