//! Many small records (a Kafka fetch, a HEC request) read in one pass, each giving exactly the
//! events it gives read alone.
//!
//! Reading a record alone ([`crate::read_stream`]) sets up a reader per record: sniffing, a
//! line buffer, the extractors' scratch space. Here the one-line records are joined as the
//! lines of one stream and read once. A record's events are taken from that pass only when
//! the record and the record after it each gave events of their own (one that did not end on
//! its line may have taken the next line in, as the line reader gathers a record over lines);
//! every other record is read alone. Events taken from the pass get the origin they have read
//! alone (the record's name, line 1, offsets from the record's start), and a `source` the
//! readers derived from the stream's name gets the record's name.
//!
//! Events are handed out as the pass goes, in record order: a line's events are held (swapped
//! with events the reader keeps from call to call, which go back to the line reader to be
//! filled again: no event is copied, and none allocates once their buffers are large enough)
//! until the next line gives its first event or the pass ends.

use crate::{read_bytes, read_bytes_owned, sniff, Format, ReadOptions};
use std::sync::Arc;
use vigil_model::Event;

/// The name the joined stream is read under (never a real record's name).
const JOINED: &str = "\u{1}vigil-records";

/// Reads batches of records ([`RecordsReader::read`]), keeping its buffers from one batch to
/// the next.
#[derive(Default)]
pub struct RecordsReader {
    /// The one-line records, each ended by a line break.
    joined: Vec<u8>,
    /// Per line of `joined`: its record and the byte it starts at.
    lines: Vec<(usize, u64)>,
    /// The events of the line being read (the first `held` of them).
    held: Vec<Event>,
    /// What a record read alone hands out.
    alone: Event,
}

/// Where the pass is: records before `next` are handed out; `line`'s events are held.
struct Pass<'a, 'n, 's> {
    records: &'a [&'a [u8]],
    name: &'n dyn Fn(usize) -> String,
    opts: &'a ReadOptions,
    sink: &'s mut dyn FnMut(usize, &mut Event),
    alone: &'a mut Event,
    next: usize,
}

impl Pass<'_, '_, '_> {
    /// Reads the records from `next` up to `end` (excluded) alone.
    fn alone_until(&mut self, end: usize) {
        while self.next < end {
            let i = self.next;
            let (alone, sink) = (&mut *self.alone, &mut *self.sink);
            read_bytes(&(self.name)(i), self.records[i], self.opts, &mut |ev| {
                alone.clone_from(ev);
                sink(i, alone);
            });
            self.next += 1;
        }
    }

    /// Hands out `events`, record `i`'s own (it starts at byte `start` of the joined stream),
    /// after the records before it.
    fn own(&mut self, i: usize, start: u64, events: &mut [Event]) {
        self.alone_until(i);
        let name: Arc<str> = Arc::from((self.name)(i));
        for ev in events {
            as_read_alone(ev, &name, start);
            (self.sink)(i, ev);
        }
        self.next = i + 1;
    }
}

impl RecordsReader {
    /// Reads every record of `records`, in order, and hands each event to `sink` with its
    /// record's index (the event may be changed: it is the reader's). `name(i)` names record
    /// `i` (its origin, as [`crate::read_stream`]'s `name`).
    pub fn read(&mut self, records: &[&[u8]], name: &dyn Fn(usize) -> String, opts: &ReadOptions, sink: &mut dyn FnMut(usize, &mut Event)) {
        let RecordsReader { joined, lines, held, alone } = self;
        joined.clear();
        lines.clear();
        for (i, r) in records.iter().enumerate() {
            let line = r.strip_suffix(b"\n").unwrap_or(r);
            if joinable(line) && (!lines.is_empty() || starts_a_line_stream(line)) {
                lines.push((i, joined.len() as u64));
                joined.extend_from_slice(line);
                joined.push(b'\n');
            }
        }
        let mut pass = Pass { records, name, opts, sink, alone, next: 0 };
        // The line whose events are held, and how many it gave so far.
        let mut holding: Option<(usize, usize)> = None;
        if !lines.is_empty() {
            read_bytes_owned(JOINED, &joined[..], opts, &mut |ev| {
                let Some(line) = (ev.origin.line as usize).checked_sub(1).filter(|l| *l < lines.len()) else { return };
                let n = match holding {
                    Some((h, n)) if h == line => n,
                    // The line reader hands out events in line order: an earlier line is
                    // decided already (given out, or its record is read alone).
                    Some((h, _)) if line < h => return,
                    // A new line: the held one's events are its own when this is the next line.
                    Some((h, n)) => {
                        if line == h + 1 {
                            let (i, start) = lines[h];
                            pass.own(i, start, &mut held[..n]);
                        }
                        0
                    }
                    None => 0,
                };
                match held.get_mut(n) {
                    Some(slot) => {
                        // The line reader gets back an event handed out before, as
                        // `Sink::Owned` asks: what it set itself, it sets again.
                        std::mem::swap(slot, ev);
                        ev.index.clone_from(&slot.index);
                        ev.derived_from = slot.derived_from;
                    }
                    None => held.push(ev.clone()),
                }
                holding = Some((line, n + 1));
            });
        }
        // The last line's events are its own; any other line held gave none after it.
        if let Some((h, n)) = holding.filter(|(h, _)| h + 1 == lines.len()) {
            let (i, start) = lines[h];
            pass.own(i, start, &mut held[..n]);
        }
        pass.alone_until(records.len());
    }
}

/// A record (without its final line break) that the line reader reads as one line of text:
/// no line break inside, not binary or compressed, not a JSON array.
fn joinable(line: &[u8]) -> bool {
    !line.contains(&b'\n') && matches!(sniff(line), Format::XmlLines | Format::JsonLines | Format::Text)
}

/// Whether a stream starting with this record is read line by line as an event log (the
/// joined stream's format is sniffed from its first record: a first record of plain text
/// would have the whole stream checked for being a log at all, a `[` read as a JSON array).
fn starts_a_line_stream(record: &[u8]) -> bool {
    matches!(sniff(record), Format::XmlLines | Format::JsonLines)
}

/// Gives an event read from the joined stream the origin (and derived source) it has read
/// alone.
fn as_read_alone(ev: &mut Event, name: &Arc<str>, start: u64) {
    if ev.source == JOINED {
        ev.source.clear();
        ev.source.push_str(name);
    }
    ev.origin.file = Arc::clone(name);
    ev.origin.line = 1;
    ev.origin.offset = ev.origin.offset.saturating_sub(start);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSMON: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2026-11-20T10:05:00.000Z'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>ws1.corp</Computer></System><EventData><Data Name='Image'>C:\\x.exe</Data></EventData></Event>";

    fn name(i: usize) -> String {
        format!("kafka:t/0@{i}")
    }

    /// Everything an event carries (`Event` has no `PartialEq`).
    type View = (usize, Option<i64>, String, String, String, String, Vec<(String, String)>, Option<usize>, String, String, u64, u64);

    fn view(i: usize, ev: &Event) -> View {
        let o = &ev.origin;
        let (s, st, h, ix) = (ev.source.clone(), ev.sourcetype.clone(), ev.host.clone(), ev.index.clone());
        (i, ev.time, s, st, h, ix, ev.fields.clone(), ev.derived_from, ev.raw.clone(), o.file.to_string(), o.line, o.offset)
    }

    fn alone(records: &[&[u8]]) -> Vec<View> {
        let mut out = Vec::new();
        for (i, r) in records.iter().enumerate() {
            crate::read_stream(&name(i), *r, &ReadOptions::default(), &mut |ev| out.push(view(i, ev)));
        }
        out
    }

    fn together(records: &[&[u8]]) -> Vec<View> {
        together_by(&mut RecordsReader::default(), records)
    }

    fn together_by(reader: &mut RecordsReader, records: &[&[u8]]) -> Vec<View> {
        let mut out = Vec::new();
        reader.read(records, &name, &ReadOptions::default(), &mut |i, ev| out.push(view(i, ev)));
        out
    }

    #[test]
    fn records_read_together_give_the_events_each_gives_alone() {
        let other = SYSMON.replace("2026-11-20T10:05:00.000Z", "2026-11-20T11:30:00.000Z").replace("ws1.corp", "ws2.corp");
        let nvm = r#"{"agentVersion":"5.1","sa":"10.0.0.1","da":"10.0.0.2","vsn":"ws3","ls":1795168800}"#;
        let two = format!("{SYSMON}{other}");
        let records: Vec<&[u8]> = vec![
            SYSMON.as_bytes(),
            b"{\"time\":\"2026-11-20T12:00:00Z\",\"c\":2}",
            nvm.as_bytes(),
            // An event cut in two: read on together, the two halves would make one event.
            b"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Computer>half.corp</Computer>",
            b"</System></Event>",
            b"plain words",
            // Broken records that would take the next line in if read on together.
            b"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>",
            other.as_bytes(),
            b"{\"b\":\"cut",
            other.as_bytes(),
            // Several lines in one record, and two events on one line.
            b"{\"d\":\n3}",
            two.as_bytes(),
            b"  <Event><System><Computer>lead.corp</Computer></System></Event>\r\n",
            b"syslog: <Event><System><Computer>prefixed.corp</Computer></System></Event>",
            b"[{\"e\":1},{\"e\":2}]",
            b"",
            SYSMON.as_bytes(),
        ];
        let expected = alone(&records);
        assert_eq!(together(&records), expected);
        let per_record = |i: usize| expected.iter().filter(|v| v.0 == i).count();
        assert_eq!((per_record(0), per_record(3), per_record(4), per_record(11), per_record(14)), (1, 0, 0, 2, 2));
        assert_eq!(expected.iter().find(|v| v.0 == 1).map(|v| v.2.as_str()), Some("kafka:t/0@1"));
        assert_eq!(expected.iter().find(|v| v.0 == 12).map(|v| v.11), Some(2));
        // A first record that is not a line log: the others are still read together.
        let mut shifted = records.clone();
        shifted.rotate_left(5);
        assert_eq!(together(&shifted), alone(&shifted));
        assert!(together(&[]).is_empty());
        // One reader over batches of every size: what a batch left in its buffers (held
        // events with more fields, a longer joined stream) never shows in the next.
        let mut reader = RecordsReader::default();
        for batch in [&records[..], &shifted[..], &records[..1], &[], &records[6..9], &shifted[2..], &records[..]] {
            assert_eq!(together_by(&mut reader, batch), alone(batch));
        }
    }

    #[test]
    fn the_last_line_gives_its_events_and_a_line_before_an_empty_one_is_read_alone() {
        let first = SYSMON.replace("ws1.corp", "first.corp");
        let records: Vec<&[u8]> = vec![first.as_bytes(), b"<Event><System>", b"not an event", SYSMON.as_bytes()];
        let expected = alone(&records);
        assert_eq!(together(&records), expected);
        let hosts: Vec<&str> = expected.iter().map(|v| v.4.as_str()).collect();
        assert_eq!(hosts, vec!["first.corp", "ws1.corp"]);
    }
}
