//! JSON records: classification by content, flattening, and the streaming array reader.
//!
//! One JSON object is one event. Nested objects are flattened with dots (`a.b.c`); arrays
//! become repeated fields (multivalue); `null` and empty strings make no field (as with XML).
//! Numbers and booleans keep their JSON text. `raw` is the JSON text as read.
//!
//! | content | sourcetype | source | `_time` | host |
//! |---|---|---|---|---|
//! | has `event_simpleName` (CrowdStrike FDR) | `crowdstrike:events:sensor` | `crowdstrike` | `timestamp` (epoch ms), else `ProcessStartTime` (s) | `aid_computer_name` / `ComputerName` |
//! | `fv` starts with `nvzFlow`, or has `pn` with `pid`/`ppath` (Cisco NVM) | `cisco:nvm:flowdata` | the file | `fsms` (ms), else `fss`, `fes` (s), `fems` (ms) | none |
//! | Windows event log as JSON (`EventID`/`EventCode`, `winlog.event_id`, `Event.System.EventID`) | `XmlWinEventLog` | `XmlWinEventLog:<Channel>` | `@timestamp`, `TimeCreated`, `EventTime`, `SystemTime`, `UtcTime`, ... | `Computer` |
//! | anything else | `_json` | the file | `@timestamp`, `timestamp`, `time` (ISO) | none |
//!
//! Windows JSON (OTRF/Mordor, NXLog, Winlogbeat, evtx_dump) is presented like an XML event:
//! the fields Splunk's Windows add-on would extract are added under their XML names when the
//! JSON lacks them: `EventCode`/`EventID` from `EventID`, `EventCode`, `winlog.event_id`,
//! `Event.System.EventID`; `Computer` from `Hostname`, `ComputerName`, `host.name`,
//! `winlog.computer_name`; `Name` from `SourceName`, `ProviderName`, `winlog.provider_name`;
//! `Guid` from `ProviderGuid`; `EventRecordID` from `RecordNumber`, `winlog.record_id`;
//! and every `winlog.event_data.X`, `event_data.X`, `Event.EventData.X`, `Event.System.X`,
//! `Event.UserData.<Element>.X` as `X`.

use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::rc::Rc;
use std::sync::Arc;

pub(crate) mod fast;

use crate::fields::Spare;
use crate::winevent::XML_SOURCETYPE;
use crate::{at_line, timefmt, Ctx};

pub const CROWDSTRIKE_SOURCETYPE: &str = "crowdstrike:events:sensor";
pub const NVM_SOURCETYPE: &str = "cisco:nvm:flowdata";
pub const JSON_SOURCETYPE: &str = "_json";

pub use fast::JsonKind;

/// Classifies a JSON object by its keys.
pub fn classify(map: &Map<String, Value>) -> JsonKind {
    if map.contains_key("event_simpleName") {
        return JsonKind::CrowdStrike;
    }
    let fv_nvz = map.get("fv").and_then(Value::as_str).is_some_and(|s| s.starts_with("nvzFlow"));
    if fv_nvz || (map.contains_key("pn") && (map.contains_key("pid") || map.contains_key("ppath"))) {
        return JsonKind::Nvm;
    }
    let winlog = map.get("winlog").and_then(Value::as_object).is_some_and(|w| w.contains_key("event_id"));
    let evtx_json = map.get("Event").and_then(|e| e.get("System")).is_some_and(|s| s.get("EventID").is_some());
    if map.contains_key("EventID") || map.contains_key("EventCode") || winlog || evtx_json {
        return JsonKind::Windows;
    }
    JsonKind::Other
}

/// Flattens a JSON value into `out` under `prefix`.
pub fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Null => {}
        Value::String(s) => {
            if !s.is_empty() {
                out.push((prefix.to_string(), s.clone()));
            }
        }
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
        Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        Value::Array(items) => {
            for item in items {
                flatten(prefix, item, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                if prefix.is_empty() {
                    flatten(k, item, out);
                } else {
                    flatten(&format!("{prefix}.{k}"), item, out);
                }
            }
        }
    }
}

/// [`flatten`] consuming the value: strings are moved into the fields, not copied.
fn flatten_owned(prefix: &str, v: Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Null => {}
        Value::String(s) => {
            if !s.is_empty() {
                out.push((prefix.to_string(), s));
            }
        }
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
        Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        Value::Array(items) => {
            for item in items {
                flatten_owned(prefix, item, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                if prefix.is_empty() {
                    flatten_owned(&k, item, out);
                } else {
                    flatten_owned(&format!("{prefix}.{k}"), item, out);
                }
            }
        }
    }
}

fn first<'a>(fields: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
}

fn first_time(fields: &[(String, String)], names: &[(&str, i64)]) -> Option<i64> {
    for (n, per_sec) in names {
        if let Some(v) = first(fields, &[n]) {
            let t = if *per_sec == 0 { timefmt::parse_iso(v) } else { timefmt::parse_epoch(v, *per_sec) };
            if t.is_some() {
                return t;
            }
        }
    }
    None
}

/// Turns one parsed JSON value into an event in `ctx.ev` (already reset) and emits it.
pub(crate) fn emit_value(v: Value, raw: &str, ctx: &mut Ctx) {
    let Value::Object(map) = v else {
        let loc = at_line(&ctx.ev.origin.file, ctx.ev.origin.line);
        ctx.report.skip("not a JSON object", loc, "top-level JSON value is not an object");
        return;
    };
    let kind = classify(&map);
    let mut fields = std::mem::take(&mut ctx.ev.fields);
    fields.clear();
    flatten_owned("", Value::Object(map), &mut fields);
    ctx.ev.fields = fields;
    finish(kind, raw, ctx);
}

/// Reads one JSON line (starting with `{`) into `ctx.ev` (already reset) and emits it: the
/// fast scanner ([`crate::json::fast`]) when it accepts the line, else serde_json. Returns
/// serde_json's error when the line is not a complete JSON document.
pub(crate) fn emit_line(line: &str, ctx: &mut Ctx) -> Result<(), serde_json::Error> {
    if let Some(kind) = crate::json::fast::parse_line(line, &mut ctx.ev, &mut ctx.spare, &mut ctx.json) {
        finish(kind, line, ctx);
        return Ok(());
    }
    crate::fields::recycle(&mut ctx.ev.fields, &mut ctx.spare);
    let v = serde_json::from_str::<Value>(line)?;
    emit_value(v, line, ctx);
    Ok(())
}

/// The full path alone on one line, as the reader would emit it from file `file` (for the
/// differential tests): `None` when it is not a JSON object.
#[doc(hidden)]
pub fn line_full(file: &str, line: &str) -> Option<vigil_model::Event> {
    one_line(file, line, |line, ctx| {
        let v = serde_json::from_str::<Value>(line).ok()?;
        emit_value(v, line, ctx);
        Some(())
    })
}

/// The fast path alone on one line (for the differential tests): `None` when it gives up.
#[doc(hidden)]
pub fn line_fast(file: &str, line: &str) -> Option<vigil_model::Event> {
    one_line(file, line, |line, ctx| {
        let kind = crate::json::fast::parse_line(line, &mut ctx.ev, &mut ctx.spare, &mut ctx.json)?;
        finish(kind, line, ctx);
        Some(())
    })
}

fn one_line(file: &str, line: &str, f: impl FnOnce(&str, &mut Ctx) -> Option<()>) -> Option<vigil_model::Event> {
    let opts = crate::ReadOptions::default();
    let mut out = None;
    let mut sink = |ev: &vigil_model::Event| out = Some(ev.clone());
    let mut ctx = Ctx::new(&opts, crate::Sink::Shared(&mut sink));
    ctx.reset(&Arc::from(file), 1, 0);
    f(line, &mut ctx)?;
    drop(ctx);
    out
}

/// Sets sourcetype, source, time and host of `ctx.ev` (fields filled) by kind, adds the
/// Windows fields, and emits it.
fn finish(kind: JsonKind, raw: &str, ctx: &mut Ctx) {
    let ev = &mut ctx.ev;
    match kind {
        JsonKind::CrowdStrike => {
            ev.sourcetype.push_str(CROWDSTRIKE_SOURCETYPE);
            ev.source.push_str("crowdstrike");
            ev.time = first_time(&ev.fields, &[("timestamp", 1000), ("ProcessStartTime", 1)]);
            ev.host.push_str(first(&ev.fields, &["aid_computer_name", "ComputerName"]).unwrap_or(""));
        }
        JsonKind::Nvm => {
            ev.sourcetype.push_str(NVM_SOURCETYPE);
            ev.source.push_str(&ev.origin.file);
            ev.time = first_time(&ev.fields, &[("fsms", 1000), ("fss", 1), ("fes", 1), ("fems", 1000)]);
        }
        JsonKind::Windows => {
            windows_fields(&mut ev.fields, &mut ctx.spare, &mut ctx.json.extra);
            ev.sourcetype.push_str(XML_SOURCETYPE);
            ev.source.push_str("XmlWinEventLog:");
            ev.source.push_str(first(&ev.fields, &["Channel"]).unwrap_or(""));
            ev.host.push_str(first(&ev.fields, &["Computer"]).unwrap_or(""));
            ev.time = first_time(
                &ev.fields,
                &[
                    ("@timestamp", 0),
                    ("SystemTime", 0),
                    ("TimeCreated", 0),
                    ("EventTime", 0),
                    ("event.created", 0),
                    ("UtcTime", 0),
                    ("timestamp", 0),
                ],
            );
        }
        JsonKind::Other => {
            ev.sourcetype.push_str(JSON_SOURCETYPE);
            ev.source.push_str(&ev.origin.file);
            ev.time = first_time(&ev.fields, &[("@timestamp", 0), ("timestamp", 0), ("time", 0)]);
        }
    }
    ev.raw.push_str(raw);
    ctx.emit();
}

/// Names looked up by [`windows_fields`]: the alias targets and sources, and `SystemTime`'s.
const WIN_NAMES: [&str; 27] = [
    "EventCode",
    "EventID",
    "winlog.event_id",
    "Event.System.EventID", // 0-3
    "Channel",
    "winlog.channel",
    "Event.System.Channel", // 4-6
    "Computer",
    "Hostname",
    "ComputerName",
    "winlog.computer_name",
    "host.name",
    "Event.System.Computer", // 7-12
    "Name",
    "SourceName",
    "ProviderName",
    "winlog.provider_name",
    "Event.System.Provider.Name", // 13-17
    "Guid",
    "ProviderGuid",
    "winlog.provider_guid",
    "Event.System.Provider.Guid", // 18-21
    "EventRecordID",
    "RecordNumber",
    "winlog.record_id",
    "Event.System.EventRecordID", // 22-25
    "SystemTime",                 // 26
];

/// For each first byte, the lengths (bits) of the names [`windows_fields`] looks up: a
/// field whose (first byte, length) is not in it is none of them.
static WIN_FIRST_LEN: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < WIN_NAMES.len() + 2 {
        let n = if i < WIN_NAMES.len() {
            WIN_NAMES[i].as_bytes()
        } else if i == WIN_NAMES.len() {
            b"Event.System.TimeCreated.SystemTime".as_slice()
        } else {
            b"Event.System.TimeCreated.#attributes.SystemTime".as_slice()
        };
        t[n[0] as usize] |= 1 << n.len();
        i += 1;
    }
    t
};

/// Adds the XML-named fields a Windows JSON record lacks (see the module docs), in front.
/// The added strings come from `spare`; `extra` is a reused buffer.
fn windows_fields(fields: &mut Vec<(String, String)>, spare: &mut Spare, extra: &mut Vec<(String, String)>) {
    const PREFIXES: [&str; 4] = ["winlog.event_data.", "event_data.", "Event.EventData.", "Event.System."];
    // (target, sources) as indexes into WIN_NAMES.
    const ALIASES: [(usize, &[usize]); 7] = [
        (0, &[0, 1, 2, 3]),
        (1, &[1, 0, 2, 3]),
        (4, &[5, 6]),
        (7, &[8, 9, 10, 11, 12]),
        (13, &[14, 15, 16, 17]),
        (18, &[19, 20, 21]),
        (22, &[23, 24, 25]),
    ];
    const SYSTEM_TIME: [&str; 2] = ["Event.System.TimeCreated.SystemTime", "Event.System.TimeCreated.#attributes.SystemTime"];
    // First position of each looked-up name, in one pass.
    let mut at = [usize::MAX; WIN_NAMES.len()];
    let mut st_at = [usize::MAX; 2];
    let mut prefixed = false;
    for (j, (k, _)) in fields.iter().enumerate() {
        let (first_byte, len) = (k.as_bytes().first().copied().unwrap_or(0), k.len());
        prefixed = prefixed
            || (matches!(first_byte, b'w' | b'e' | b'E')
                && (k.starts_with("winlog.") || k.starts_with("event_data.") || k.starts_with("Event.")));
        if len >= 64 || WIN_FIRST_LEN[first_byte as usize] & (1 << len) == 0 {
            continue;
        }
        if let Some(n) = WIN_NAMES.iter().position(|n| n == k) {
            if at[n] == usize::MAX {
                at[n] = j;
            }
        } else if let Some(n) = SYSTEM_TIME.iter().position(|n| n == k) {
            if st_at[n] == usize::MAX {
                st_at[n] = j;
            }
        }
    }
    extra.clear();
    let mut push = |extra: &mut Vec<(String, String)>, name: &str, value: &str| {
        let (mut k, mut v) = spare.pop().unwrap_or_default();
        k.clear();
        k.push_str(name);
        v.clear();
        v.push_str(value);
        extra.push((k, v));
    };
    for (name, sources) in ALIASES {
        if at[name] == usize::MAX {
            if let Some(&j) = sources.iter().map(|&s| &at[s]).find(|&&j| j != usize::MAX) {
                push(extra, WIN_NAMES[name], &fields[j].1);
            }
        }
    }
    if at[26] == usize::MAX {
        if let Some(&j) = st_at.iter().find(|&&j| j != usize::MAX) {
            push(extra, "SystemTime", &fields[j].1);
        }
    }
    if prefixed {
        let has = |name: &str| fields.iter().any(|(k, _)| k == name);
        for (k, v) in fields.iter() {
            for p in PREFIXES {
                if let Some(short) = k.strip_prefix(p) {
                    if !short.is_empty() && !has(short) && !short.contains('.') {
                        push(extra, short, v);
                    }
                }
            }
            if let Some(leaf) = userdata_leaf(k).filter(|l| !has(l)) {
                push(extra, leaf, v);
            }
        }
    }
    if !extra.is_empty() {
        fields.splice(0..0, extra.drain(..));
    }
}

/// `Event.UserData.<Element>.<X>` (the JSON form of an EVTX `UserData` leaf, which the EVTX
/// reader names `X`) as `X`.
fn userdata_leaf(k: &str) -> Option<&str> {
    let (_, leaf) = k.strip_prefix("Event.UserData.")?.split_once('.')?;
    (!leaf.is_empty() && !leaf.contains('.') && !leaf.starts_with('#')).then_some(leaf)
}

/// Bytes read from an array, and where the current element started: an element longer than
/// [`crate::ReadOptions::max_record_bytes`] fails the read instead of growing in memory.
struct ElementLimit<'r> {
    inner: &'r mut dyn BufRead,
    read: Rc<Cell<u64>>,
    element_start: Rc<Cell<u64>>,
    max: u64,
    exceeded: Rc<Cell<bool>>,
}

impl Read for ElementLimit<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read.get() - self.element_start.get() > self.max {
            self.exceeded.set(true);
            return Err(io::Error::other(format!("array element longer than {} bytes", self.max)));
        }
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Streams a top-level JSON array: each element is parsed and emitted as it is read, so memory
/// holds one element at a time (at most `max_record_bytes` of it: a longer element is reported
/// as `"record too long"`). A syntax error or an over-long element stops the array (it cannot
/// be resynchronised) and is reported with its line and column.
pub(crate) fn read_json_array(r: &mut dyn BufRead, name: &Arc<str>, ctx: &mut Ctx) {
    struct Seed<'c, 'a> {
        ctx: &'c mut Ctx<'a>,
        name: Arc<str>,
        read: Rc<Cell<u64>>,
        element_start: Rc<Cell<u64>>,
    }
    impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Seed<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut index = 0u64;
            while let Some(v) = seq.next_element::<Value>()? {
                index += 1;
                // Array elements have no line of their own; the offset is the element index.
                self.ctx.reset(&self.name, 0, index);
                let raw = v.to_string();
                emit_value(v, &raw, self.ctx);
                self.element_start.set(self.read.get());
            }
            Ok(())
        }
    }
    let read = Rc::new(Cell::new(0));
    let element_start = Rc::new(Cell::new(0));
    let exceeded = Rc::new(Cell::new(false));
    let max = ctx.opts.max_record_bytes as u64;
    let limited =
        ElementLimit { inner: r, read: Rc::clone(&read), element_start: Rc::clone(&element_start), max, exceeded: Rc::clone(&exceeded) };
    let mut de = serde_json::Deserializer::from_reader(limited);
    let seed = Seed { ctx, name: Arc::clone(name), read, element_start };
    if let Err(e) = seed.deserialize(&mut de) {
        if exceeded.get() {
            let msg = format!("array element longer than {max} bytes (max record size); rest of the array not read");
            ctx.report.skip("record too long", at_line(name, e.line() as u64), msg);
        } else {
            ctx.report.skip("malformed JSON", at_line(name, e.line() as u64), e);
        }
        return;
    }
    if let Err(e) = de.end() {
        ctx.report.skip("malformed JSON", at_line(name, e.line() as u64), e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn classifies() {
        assert_eq!(classify(&obj(json!({"event_simpleName": "ProcessRollup2"}))), JsonKind::CrowdStrike);
        assert_eq!(classify(&obj(json!({"fv": "nvzFlow_v11"}))), JsonKind::Nvm);
        assert_eq!(classify(&obj(json!({"pn": "a.exe", "pid": "1"}))), JsonKind::Nvm);
        assert_eq!(classify(&obj(json!({"EventID": 1, "Channel": "x"}))), JsonKind::Windows);
        assert_eq!(classify(&obj(json!({"winlog": {"event_id": 1}}))), JsonKind::Windows);
        assert_eq!(classify(&obj(json!({"Event": {"System": {"EventID": 1}}}))), JsonKind::Windows);
        assert_eq!(classify(&obj(json!({"a": 1}))), JsonKind::Other);
    }

    #[test]
    fn flattens_nested_and_arrays() {
        let mut out = Vec::new();
        let doc = json!({"a": {"b": 1, "c": [true, "x", null, ""]}, "d": null, "e": "", "f": 1.5});
        flatten("", &doc, &mut out);
        let mut owned = Vec::new();
        flatten_owned("", doc, &mut owned);
        assert_eq!(owned, out);
        out.pop();
        let want: Vec<(String, String)> =
            [("a.b", "1"), ("a.c", "true"), ("a.c", "x")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(out, want);
    }

    /// The Windows field additions as first written (one `Vec` and copies per event): the
    /// reference for the one-pass version.
    fn windows_fields_reference(fields: Vec<(String, String)>) -> Vec<(String, String)> {
        const PREFIXES: [&str; 4] = ["winlog.event_data.", "event_data.", "Event.EventData.", "Event.System."];
        const ALIASES: [(&str, &[&str]); 7] = [
            ("EventCode", &["EventCode", "EventID", "winlog.event_id", "Event.System.EventID"]),
            ("EventID", &["EventID", "EventCode", "winlog.event_id", "Event.System.EventID"]),
            ("Channel", &["winlog.channel", "Event.System.Channel"]),
            ("Computer", &["Hostname", "ComputerName", "winlog.computer_name", "host.name", "Event.System.Computer"]),
            ("Name", &["SourceName", "ProviderName", "winlog.provider_name", "Event.System.Provider.Name"]),
            ("Guid", &["ProviderGuid", "winlog.provider_guid", "Event.System.Provider.Guid"]),
            ("EventRecordID", &["RecordNumber", "winlog.record_id", "Event.System.EventRecordID"]),
        ];
        let has = |name: &str| fields.iter().any(|(k, _)| k == name);
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, sources) in ALIASES {
            if !has(name) {
                if let Some(v) = first(&fields, sources) {
                    out.push((name.to_string(), v.to_string()));
                }
            }
        }
        if !has("SystemTime") {
            if let Some(v) = first(&fields, &["Event.System.TimeCreated.SystemTime", "Event.System.TimeCreated.#attributes.SystemTime"]) {
                out.push(("SystemTime".to_string(), v.to_string()));
            }
        }
        for (k, v) in &fields {
            for p in PREFIXES {
                if let Some(short) = k.strip_prefix(p) {
                    if !short.is_empty() && !has(short) && !short.contains('.') {
                        out.push((short.to_string(), v.clone()));
                    }
                }
            }
            if let Some(leaf) = userdata_leaf(k).filter(|l| !has(l)) {
                out.push((leaf.to_string(), v.clone()));
            }
        }
        out.extend(fields);
        out
    }

    #[test]
    fn windows_fields_match_reference() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut docs: Vec<Value> = vec![
            json!({"EventID": 1, "winlog": {"event_id": 2, "channel": "C", "computer_name": "PC", "provider_name": "P",
                   "provider_guid": "G", "record_id": 3, "event_data": {"Image": "a", "x.y": "b", "": "c", "EventID": "d"}},
                   "host": {"name": "h"}, "event_data": {"Image": "dup", "User": "u"}}),
            json!({"Event": {"System": {"EventID": 4, "Channel": "C", "Computer": "X", "EventRecordID": 5,
                   "Provider": {"Name": "N", "Guid": "G"}, "TimeCreated": {"#attributes": {"SystemTime": "t"}}},
                   "EventData": {"A": "1", "B": ["2", "3"]}}}),
            json!({"Event": {"System": {"EventID": 4, "TimeCreated": {"SystemTime": "t1"}}}, "SystemTime": "t0"}),
            json!({"EventCode": "7", "Hostname": "H", "ComputerName": "C2", "SourceName": "S", "ProviderName": "P2",
                   "ProviderGuid": "G", "RecordNumber": 9, "Channel": "x", "Name": "n", "Computer": "c"}),
        ];
        for f in ["flat_json_msiexec.json", "crowdstrike_msiexec.json", "cisco_nvm_msiexec.json"] {
            let text = std::fs::read_to_string(root.join("../../samples").join(f)).unwrap_or_default();
            docs.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
        // The generated corpus, when present (see tests/json_fast_path.rs).
        let corpus = std::env::var("VIGIL_JSON_CORPUS").unwrap_or_else(|_| "/tmp/j".into());
        let text = std::fs::read_to_string(std::path::Path::new(&corpus).join("corpus_000.json")).unwrap_or_default();
        docs.extend(text.lines().take(2000).filter_map(|l| serde_json::from_str(l).ok()));
        for doc in docs {
            let mut f = Vec::new();
            flatten("", &doc, &mut f);
            let want = windows_fields_reference(f.clone());
            let mut spare = vec![("junk".to_string(), "junk".to_string()); 3];
            windows_fields(&mut f, &mut spare, &mut Vec::new());
            assert_eq!(f, want, "{doc}");
        }
    }

    #[test]
    fn windows_aliases() {
        let mut f = Vec::new();
        flatten(
            "",
            &json!({"EventID": 4688, "Hostname": "H", "Channel": "Security", "SourceName": "S",
                    "winlog": {"event_data": {"CommandLine": "c"}}}),
            &mut f,
        );
        let mut out = f;
        windows_fields(&mut out, &mut Vec::new(), &mut Vec::new());
        let get = |n: &str| out.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("EventCode"), Some("4688"));
        assert_eq!(get("EventID"), Some("4688"));
        assert_eq!(get("Computer"), Some("H"));
        assert_eq!(get("Name"), Some("S"));
        assert_eq!(get("CommandLine"), Some("c"));
        assert_eq!(out.iter().filter(|(k, _)| k == "Channel").count(), 1);
    }
}
