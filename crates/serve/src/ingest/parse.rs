//! HEC request bodies -> events (no I/O).
//!
//! `/services/collector/event`: one or more JSON objects, concatenated (not an array), each
//! with `event` (a string, or an object kept as compact JSON text) and optionally `time`
//! (epoch seconds, fractions allowed, number or numeric string), `host`, `source`,
//! `sourcetype`, `index` and `fields` (indexed fields: strings, numbers or arrays of them).
//! `/services/collector/raw`: the body is line-broken, one event per non-blank line, metadata
//! from the query string.

use super::envelope::{Envelope, Field};
use crate::ingest::HecError;
use serde_json::{Map, Value};

/// Metadata that applies when an envelope does not give its own (empty: none given).
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub host: String,
    pub source: String,
    pub sourcetype: String,
    pub index: String,
    pub time: Option<f64>,
}

/// An event as received; empty host, source or sourcetype: not given.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub text: String,
    pub time: Option<f64>,
    pub host: String,
    pub source: String,
    pub sourcetype: String,
    pub index: String,
    pub fields: Map<String, Value>,
}

/// Parses an `/event` body. Errors carry the 0-based number of the offending event.
pub fn parse_event_body(body: &[u8], defaults: &Defaults, max_event_bytes: usize) -> Result<Vec<Incoming>, HecError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HecError::NoData);
    }
    let mut out = Vec::new();
    for (n, item) in serde_json::Deserializer::from_slice(body).into_iter::<Envelope>().enumerate() {
        let bad = || HecError::InvalidFormat(n);
        let env = item.map_err(|_| bad())?;
        let text = match env.event {
            None => return Err(HecError::EventRequired(n)),
            Some(Field::Str(s)) if s.trim().is_empty() => return Err(HecError::EventBlank(n)),
            Some(Field::Str(s)) => s.into_owned(),
            Some(Field::Json(Value::Object(o))) if o.is_empty() => return Err(HecError::EventBlank(n)),
            Some(Field::Json(v)) => v.to_string(),
        };
        if text.len() > max_event_bytes {
            return Err(HecError::EventTooLarge(n));
        }
        let time = match env.time {
            None => defaults.time,
            Some(Field::Json(Value::Number(x))) => Some(x.as_f64().ok_or_else(bad)?),
            Some(Field::Str(s)) => Some(s.trim().parse::<f64>().map_err(|_| bad())?),
            Some(_) => return Err(bad()),
        };
        let fields = match env.fields {
            None => Map::new(),
            Some(Field::Json(Value::Object(f))) if f.values().all(indexed_value_ok) => f,
            Some(_) => return Err(HecError::IndexedFields(n)),
        };
        let meta = |given: Option<Field>, default: &str| -> Result<String, HecError> {
            match given {
                None => Ok(default.to_string()),
                Some(Field::Str(s)) if !s.is_empty() => Ok(s.into_owned()),
                Some(Field::Str(_)) => Ok(default.to_string()),
                Some(Field::Json(_)) => Err(HecError::InvalidFormat(n)),
            }
        };
        out.push(Incoming {
            host: meta(env.host, &defaults.host)?,
            source: meta(env.source, &defaults.source)?,
            sourcetype: meta(env.sourcetype, &defaults.sourcetype)?,
            index: meta(env.index, &defaults.index)?,
            text,
            time,
            fields,
        });
    }
    Ok(out)
}

/// Indexed field values HEC accepts: strings, numbers, or arrays of those.
fn indexed_value_ok(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::Number(_) => true,
        Value::Array(items) => items.iter().all(|i| matches!(i, Value::String(_) | Value::Number(_))),
        _ => false,
    }
}

/// Parses a `/raw` body: one event per non-blank line (CRLF or LF).
pub fn parse_raw_body(body: &[u8], defaults: &Defaults, max_event_bytes: usize) -> Result<Vec<Incoming>, HecError> {
    let text = std::str::from_utf8(body).map_err(|_| HecError::InvalidFormat(0))?;
    let mut out = Vec::new();
    for line in text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty()) {
        if line.len() > max_event_bytes {
            return Err(HecError::EventTooLarge(out.len()));
        }
        out.push(Incoming {
            text: line.to_string(),
            time: defaults.time,
            host: defaults.host.clone(),
            source: defaults.source.clone(),
            sourcetype: defaults.sourcetype.clone(),
            index: defaults.index.clone(),
            fields: Map::new(),
        });
    }
    if out.is_empty() {
        return Err(HecError::NoData);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> Defaults {
        Defaults { host: "h0".into(), source: "http:t".into(), sourcetype: "st0".into(), index: "main".into(), time: None }
    }

    #[test]
    fn concatenated_envelopes_with_string_and_object_events() {
        let body = br#"{"event":"<Event>x</Event>","time":1700000000.25,"sourcetype":"XmlWinEventLog"}
            {"event":{"a":1,"b":"c"},"time":"1700000001","host":"web1","index":"sec","fields":{"env":"prod","n":[1,"2"]}}"#;
        let evs = parse_event_body(body, &d(), 1 << 20).unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].text, "<Event>x</Event>");
        assert_eq!(evs[0].time, Some(1700000000.25));
        assert_eq!((evs[0].sourcetype.as_str(), evs[0].host.as_str(), evs[0].index.as_str()), ("XmlWinEventLog", "h0", "main"));
        assert_eq!(evs[1].text, r#"{"a":1,"b":"c"}"#);
        assert_eq!(evs[1].time, Some(1700000001.0));
        assert_eq!((evs[1].sourcetype.as_str(), evs[1].host.as_str(), evs[1].index.as_str()), ("st0", "web1", "sec"));
        assert_eq!(evs[1].fields.len(), 2);
    }

    #[test]
    fn errors_name_the_bad_event() {
        let limit = 1 << 20;
        assert_eq!(parse_event_body(b"  \n", &d(), limit), Err(HecError::NoData));
        assert_eq!(parse_event_body(br#"{"event":"a"}{"event":"b""#, &d(), limit), Err(HecError::InvalidFormat(1)));
        assert_eq!(parse_event_body(br#"{"event":"a"}{"time":5}"#, &d(), limit), Err(HecError::EventRequired(1)));
        assert_eq!(parse_event_body(br#"{"event":""}"#, &d(), limit), Err(HecError::EventBlank(0)));
        assert_eq!(parse_event_body(br#"[{"event":"a"}]"#, &d(), limit), Err(HecError::InvalidFormat(0)));
        assert_eq!(parse_event_body(br#"{"event":"a","time":"soon"}"#, &d(), limit), Err(HecError::InvalidFormat(0)));
        assert_eq!(parse_event_body(br#"{"event":"a","fields":{"x":{"y":1}}}"#, &d(), limit), Err(HecError::IndexedFields(0)));
        assert_eq!(parse_event_body(br#"{"event":"a"}{"event":"bbbb"}"#, &d(), 3), Err(HecError::EventTooLarge(1)));
    }

    #[test]
    fn non_string_events_keep_their_json_and_metadata_must_be_strings() {
        let body = br#"{"event":12}{"event":[1,"a"],"host":null,"source":""}{"event":"x\ty","time":"5"}"#;
        let evs = parse_event_body(body, &d(), 100).unwrap();
        assert_eq!(evs.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["12", r#"[1,"a"]"#, "x\ty"]);
        assert_eq!((evs[1].host.as_str(), evs[1].source.as_str()), ("h0", "http:t"));
        assert_eq!(evs[2].time, Some(5.0));
        assert_eq!(parse_event_body(br#"{"event":"a","host":5}"#, &d(), 100), Err(HecError::InvalidFormat(0)));
        assert_eq!(parse_event_body(br#"{"event":"a","time":true}"#, &d(), 100), Err(HecError::InvalidFormat(0)));
        assert_eq!(parse_event_body(br#"{"event":{}}"#, &d(), 100), Err(HecError::EventBlank(0)));
        assert_eq!(parse_event_body(br#"{"event":"a","event":null}"#, &d(), 100), Err(HecError::EventRequired(0)));
    }

    #[test]
    fn raw_bodies_are_line_broken() {
        let evs = parse_raw_body(b"line one\r\n\n  \nline two\n", &d(), 100).unwrap();
        assert_eq!(evs.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["line one", "line two"]);
        assert_eq!(evs[1].sourcetype, "st0");
        assert_eq!(parse_raw_body(b"\n\n", &d(), 100), Err(HecError::NoData));
    }
}
