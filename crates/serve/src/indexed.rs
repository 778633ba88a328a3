//! What an event is indexed with: `_time`, host, source, sourcetype, index, decided once when
//! it arrives and kept in the store's metadata, which wins over the readers when the store is
//! read (`vigil_read::sidecar`).
//!
//! Decisions (Splunk's HEC documentation: "timestamps in the event's JSON envelope take
//! priority over the extracted timestamp"):
//! - `_time`: the envelope's `time` (or the `time` query parameter) when given; otherwise the
//!   time the readers find in the event text; otherwise the arrival time. Splunk's `/event`
//!   endpoint uses the arrival time unless `auto_extract_timestamp=true`; Vigil always
//!   extracts, since a detection window over arrival times would misplace every event that
//!   was sent late (documented in README, `vigil serve`).
//! - host, source, sourcetype: what the sender gave (envelope, query parameters, the token's
//!   or the tailed directory's configured sourcetype); otherwise what the readers derive
//!   from the text (`XmlWinEventLog:<Channel>` and `<Computer>` for Windows events, as the
//!   Windows add-on does); otherwise the input's defaults (`http:<token>`, `httpevent`).
//! - `_indextime` is the arrival time (the server's clock).

use crate::store::StoredEvent;
use vigil_model::{Event, Micros};

/// The name the readers are given for an event's text: a derived `source` equal to it is
/// the readers' file-name fallback, not knowledge about the event.
const STREAM: &str = "\u{1}vigil-indexed";

/// What the readers derive from an event's text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    pub time: Option<Micros>,
    pub host: String,
    pub source: String,
    pub sourcetype: String,
}

impl Derived {
    /// Reads `text` as a one-line log (XML event, JSON object) and keeps what the reader
    /// found; nothing when it is not an event the readers know.
    pub fn from_text(text: &str) -> Derived {
        let mut out = None;
        let opts = vigil_read::ReadOptions::default();
        vigil_read::read_bytes(STREAM, text.as_bytes(), &opts, &mut |ev| {
            if out.is_none() {
                out = Some(Derived::from_event(ev, STREAM));
            }
        });
        out.unwrap_or_default()
    }

    /// What the readers derive from each of `texts` (a request's events), read in one pass
    /// over them as the store's lines: one reader set-up per request instead of one per
    /// event. An event is taken from the pass only when its line and the next gave an event
    /// of their own (a record that did not end on its line may have taken the next one in);
    /// any other is read alone, as [`Derived::from_text`] does.
    pub fn from_texts(texts: &[&str]) -> Vec<Derived> {
        let mut lines = Vec::with_capacity(texts.iter().map(|t| t.len() + 1).sum());
        for t in texts {
            crate::store::push_line(&mut lines, t);
        }
        let mut found: Vec<Option<Derived>> = vec![None; texts.len()];
        vigil_read::read_bytes(STREAM, &lines[..], &vigil_read::ReadOptions::default(), &mut |ev| {
            if let Some(slot @ None) = (ev.origin.line as usize).checked_sub(1).and_then(|i| found.get_mut(i)) {
                *slot = Some(Derived::from_event(ev, STREAM));
            }
        });
        let alone: Vec<bool> = (0..texts.len()).map(|i| found[i].is_some() && found.get(i + 1).is_none_or(Option::is_some)).collect();
        texts
            .iter()
            .zip(found)
            .zip(alone)
            .map(|((text, d), alone)| match (alone, d) {
                (true, Some(d)) => d,
                _ => Derived::from_text(text),
            })
            .collect()
    }

    /// What the readers derive for each event (`texts[i]`, `given[i]`) whose sender did not
    /// give all of its metadata (one pass over those, as [`Derived::from_texts`]); nothing
    /// for the others, for which [`resolve`] would not use it (a sender that gives `time`,
    /// `host`, `source` and `sourcetype` pays no reader).
    pub fn for_missing(texts: &[&str], given: &[Given]) -> Vec<Derived> {
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| given.get(i).is_none_or(|g| !g.is_complete())).collect();
        let mut derived = Derived::from_texts(&missing.iter().map(|&i| texts[i]).collect::<Vec<_>>()).into_iter();
        let mut out = vec![Derived::default(); texts.len()];
        for i in missing {
            out[i] = derived.next().unwrap_or_default();
        }
        out
    }

    /// What a reader gave `ev`, read from a stream or file named `name`.
    pub fn from_event(ev: &Event, name: &str) -> Derived {
        let source = if ev.source == name || ev.source == *ev.origin.file { String::new() } else { ev.source.clone() };
        Derived { time: ev.time, host: ev.host.clone(), source, sourcetype: ev.sourcetype.clone() }
    }
}

/// What the sender or the input's config gave; empty strings were not given.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub time: Option<f64>,
    pub host: String,
    pub source: String,
    pub sourcetype: String,
    /// Always set: the index the event goes to (checked against the token's).
    pub index: String,
}

impl Given {
    /// Whether every value [`resolve`] could take from the readers was given (a usable
    /// `time`, `host`, `source`, `sourcetype`).
    pub fn is_complete(&self) -> bool {
        self.time.and_then(vigil_time::micros_from_secs).is_some()
            && !self.host.is_empty()
            && !self.source.is_empty()
            && !self.sourcetype.is_empty()
    }
}

/// The values used when neither the sender nor the readers give one.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub host: String,
    pub source: String,
    pub sourcetype: String,
}

/// An event as stored: metadata resolved (see the module notes), `now` its arrival.
pub fn resolve(
    text: String,
    given: Given,
    derived: Derived,
    fallback: &Fallback,
    fields: serde_json::Map<String, serde_json::Value>,
    now: Micros,
) -> StoredEvent {
    let pick = |given: String, derived: String, fallback: &str| {
        if !given.is_empty() {
            given
        } else if !derived.is_empty() {
            derived
        } else {
            fallback.to_string()
        }
    };
    let time = given.time.and_then(vigil_time::micros_from_secs).or(derived.time).unwrap_or(now);
    StoredEvent {
        time,
        indextime: now as f64 / 1e6,
        time_given: given.time,
        host: pick(given.host, derived.host, &fallback.host),
        source: pick(given.source, derived.source, &fallback.source),
        sourcetype: pick(given.sourcetype, derived.sourcetype, &fallback.sourcetype),
        index: given.index,
        fields,
        tail: None,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSMON: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2026-11-20T10:05:00.000Z'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>ws1.corp</Computer></System><EventData><Data Name='Image'>C:\\x.exe</Data></EventData></Event>";

    fn fallback() -> Fallback {
        Fallback { host: "vigil".into(), source: "http:t".into(), sourcetype: "httpevent".into() }
    }

    #[test]
    fn one_pass_over_a_request_derives_what_each_event_read_alone_derives() {
        let other = SYSMON.replace("2026-11-20T10:05:00.000Z", "2026-11-20T11:30:00.000Z").replace("ws1.corp", "ws2.corp");
        let texts = [
            SYSMON,
            // An event cut in two: read on together, the two halves would make one event.
            "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Computer>half.corp</Computer>",
            "</System></Event>",
            "plain words",
            "{\"a\":1}",
            // Broken records: an XML event that does not end, a JSON object cut short; each
            // would take the next line in if read on together.
            "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>",
            &other,
            "{\"b\":\"cut",
            "{\"time\":\"2026-11-20T12:00:00Z\",\"c\":2}",
            // A line break inside an event: stored (and read) as a space.
            "{\"d\":\n3}",
            &other,
        ];
        let alone: Vec<Derived> = texts.iter().map(|t| Derived::from_text(t)).collect();
        assert_eq!(Derived::from_texts(&texts), alone);
        assert_eq!(alone[1], Derived::default());
        assert_eq!(alone[6].host, "ws2.corp");
        assert!(alone[6].time.is_some() && alone[6].time == alone[10].time && alone[0].time != alone[6].time);
        assert_eq!(alone[9].sourcetype, "_json");
        assert!(Derived::from_texts(&[]).is_empty());
    }

    #[test]
    fn events_whose_sender_gave_everything_are_not_read_and_resolve_alike() {
        let full = Given { time: Some(1000.5), host: "h".into(), source: "s".into(), sourcetype: "st".into(), index: "main".into() };
        let given = [
            full.clone(),
            Given { host: String::new(), ..full.clone() },
            Given { time: None, ..full.clone() },
            Given { time: Some(f64::NAN), ..full.clone() },
            Given { sourcetype: String::new(), ..full.clone() },
            full,
        ];
        let texts = [SYSMON; 6];
        let partial = Derived::for_missing(&texts, &given);
        let every = Derived::from_texts(&texts);
        assert_eq!(partial[0], Derived::default());
        assert_eq!(partial[5], Derived::default());
        assert_eq!(&partial[1..5], &every[1..5]);
        for ((g, p), e) in given.into_iter().zip(partial).zip(every) {
            let a = resolve(SYSMON.into(), g.clone(), p, &fallback(), Default::default(), 9);
            let b = resolve(SYSMON.into(), g, e, &fallback(), Default::default(), 9);
            assert_eq!((a.time, a.host, a.source, a.sourcetype), (b.time, b.host, b.source, b.sourcetype));
        }
    }

    #[test]
    fn the_envelope_wins_then_the_reader_then_the_defaults() {
        let derived = Derived::from_text(SYSMON);
        assert_eq!(derived.sourcetype, "XmlWinEventLog");
        assert_eq!(derived.source, "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational");
        assert_eq!(derived.host, "ws1.corp");
        let t = vigil_time::parse_iso8601_utc("2026-11-20T10:05:00Z").unwrap();
        assert_eq!(derived.time, Some(t));
        // Nothing given: the reader's values.
        let given = Given { index: "main".into(), ..Given::default() };
        let e = resolve(SYSMON.into(), given.clone(), derived.clone(), &fallback(), Default::default(), 99);
        assert_eq!((e.time, e.host.as_str(), e.sourcetype.as_str()), (t, "ws1.corp", "XmlWinEventLog"));
        assert_eq!(e.indextime, 99e-6);
        // Given: the envelope's.
        let given = Given { time: Some(1000.5), host: "h".into(), sourcetype: "st".into(), ..given };
        let e = resolve(SYSMON.into(), given, derived, &fallback(), Default::default(), 99);
        assert_eq!((e.time, e.host.as_str(), e.sourcetype.as_str()), (1_000_500_000, "h", "st"));
        assert_eq!(e.source, "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational");
        // Not an event the readers know: the defaults and the arrival time.
        let text = "plain words";
        let e = resolve(text.into(), Given::default(), Derived::from_text(text), &fallback(), Default::default(), 42);
        assert_eq!((e.time, e.host.as_str(), e.source.as_str(), e.sourcetype.as_str()), (42, "vigil", "http:t", "httpevent"));
        // A JSON object: the reader's sourcetype, but its source would be a file name.
        let e = resolve("{\"a\":1}".into(), Given::default(), Derived::from_text("{\"a\":1}"), &fallback(), Default::default(), 42);
        assert_eq!((e.source.as_str(), e.sourcetype.as_str()), ("http:t", "_json"));
    }
}
