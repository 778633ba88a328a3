//! The events of a partition's fetched records: each record is a HEC event envelope
//! (`{"event": ..., "sourcetype": ...}`, unwrapped) or anything the readers read in a file.
//! The records a poll returned are read together (`vigil_read::RecordsReader`: one reader pass
//! over the one-line records instead of a reader set up per record), and each record gets
//! exactly the events it gives read alone, named `kafka:<topic>/<partition>@<offset>`.

use crate::partial::header_text;
use rdkafka::message::{BorrowedMessage, Message};
use std::borrow::Cow;
use vigil_model::{Event, Micros};
use vigil_read::{ReadOptions, RecordsReader};
use vigil_serve::ingest::envelope::{Envelope, Field};

/// One record of the events topic, as the worker reads it.
pub struct Record<'a> {
    pub offset: i64,
    /// The broker timestamp (`_indextime`), in microseconds.
    pub arrival: Micros,
    /// The event text (an envelope's `event`, or the whole value).
    text: Cow<'a, [u8]>,
    /// What fills in a sourcetype or host the readers leave empty (the envelope's, else the
    /// record's header, else the configured sourcetype).
    sourcetype: Option<String>,
    host: Option<String>,
}

impl<'a> Record<'a> {
    /// `now` stamps a record without a broker timestamp; `sourcetype` is the configured one.
    pub fn of(m: &'a BorrowedMessage<'_>, sourcetype: Option<&str>, now: Micros) -> Record<'a> {
        let arrival = m.timestamp().to_millis().map_or(now, |ms| ms.saturating_mul(1000));
        let host = header_text(m.headers(), "host");
        let sourcetype = header_text(m.headers(), "sourcetype").or_else(|| sourcetype.map(str::to_string));
        Record::new(m.offset(), arrival, m.payload().unwrap_or_default(), sourcetype, host)
    }

    /// A record whose value is `value`, with the sourcetype and host given beside it.
    pub fn new(offset: i64, arrival: Micros, value: &'a [u8], sourcetype: Option<String>, host: Option<String>) -> Record<'a> {
        let mut r = Record { offset, arrival, text: Cow::Borrowed(value), sourcetype, host };
        // A HEC envelope (`{"event": ...}`), read as serve's HEC endpoint reads one: strings
        // borrowed from the record, no `serde_json::Value` unless the event is an object.
        if value.first() == Some(&b'{') {
            if let Ok(Envelope { event: Some(event), host, sourcetype, .. }) = serde_json::from_slice::<Envelope>(value) {
                let text_of = |f: Option<Field>| match f {
                    Some(Field::Str(s)) => Some(s.into_owned()),
                    _ => None,
                };
                r.sourcetype = text_of(sourcetype).or(r.sourcetype);
                r.host = text_of(host).or(r.host);
                r.text = match event {
                    Field::Str(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
                    Field::Str(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
                    Field::Json(other) => Cow::Owned(other.to_string().into_bytes()),
                };
            }
        }
        r
    }
}

/// Reads `records` (of `partition` of `topic`) with `reader` and hands each event to `sink`
/// with its record's index, in record order. The readers' own knowledge of the format wins
/// over the record's sourcetype and host, as on one node.
pub fn read_events(
    topic: &str,
    partition: i32,
    records: &[Record],
    opts: &ReadOptions,
    reader: &mut RecordsReader,
    sink: &mut dyn FnMut(usize, &mut Event),
) {
    let texts: Vec<&[u8]> = records.iter().map(|r| &r.text[..]).collect();
    let name = |i: usize| format!("kafka:{topic}/{partition}@{}", records.get(i).map_or(-1, |r| r.offset));
    reader.read(&texts, &name, opts, &mut |i, ev| {
        let Some(r) = records.get(i) else { return };
        if let (true, Some(st)) = (ev.sourcetype.is_empty(), &r.sourcetype) {
            ev.sourcetype.push_str(st);
        }
        if let (true, Some(host)) = (ev.host.is_empty(), &r.host) {
            ev.host.push_str(host);
        }
        sink(i, ev);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><EventID>1</EventID><TimeCreated SystemTime='2026-11-20T10:05:00.000Z'/></System><EventData><Data Name='Image'>C:\\x.exe</Data></EventData></Event>";

    #[test]
    fn envelopes_and_headers_fill_what_the_readers_leave_empty() {
        let envelope = serde_json::json!({"event": LINE, "sourcetype": "st-env", "host": "h-env"}).to_string();
        let object = serde_json::json!({"event": {"a": 1}, "time": 5}).to_string();
        let records = [
            Record::new(7, 1, LINE.as_bytes(), Some("st-header".into()), Some("h-header".into())),
            Record::new(8, 1, envelope.as_bytes(), Some("st-header".into()), None),
            Record::new(9, 1, object.as_bytes(), None, Some("h-header".into())),
            Record::new(10, 1, b"", None, None),
            // No event: not an envelope, the record is read as it is.
            Record::new(11, 1, br#"{"event": null, "host": "h-env"}"#, None, None),
        ];
        let mut events: Vec<Vec<Event>> = records.iter().map(|_| Vec::new()).collect();
        read_events("t", 2, &records, &ReadOptions::default(), &mut RecordsReader::default(), &mut |i, ev| events[i].push(ev.clone()));
        let view: Vec<Vec<(&str, &str, &str)>> =
            events.iter().map(|evs| evs.iter().map(|e| (e.sourcetype.as_str(), e.host.as_str(), &*e.origin.file)).collect()).collect();
        // No <Computer> or <Channel>: the XML reader names the sourcetype, not the host.
        assert_eq!(
            view,
            vec![
                vec![("XmlWinEventLog", "h-header", "kafka:t/2@7")],
                vec![("XmlWinEventLog", "h-env", "kafka:t/2@8")],
                vec![("_json", "h-header", "kafka:t/2@9")],
                vec![],
                vec![("_json", "", "kafka:t/2@11")],
            ]
        );
        assert_eq!(events[2][0].get("a"), Some("1"));
        assert_eq!(events[4][0].get("host"), Some("h-env"));
    }
}
