//! Event renderers shared by `benchgen` (corpus files) and `hecload` (HEC request bodies).

use crate::events::{system_time, WinEvent};

/// Escapes element text as the Windows event log renderer does: `&`, `<` and `>` only (quotes
/// stay literal in command lines).
fn xml_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
}

pub fn render_xml(ev: &WinEvent, o: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(
        o,
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='{}' Guid='{}'/><EventID>{}</EventID><Version>{}</Version><Level>{}</Level><Task>{}</Task><Opcode>0</Opcode><Keywords>{}</Keywords><TimeCreated SystemTime='{}'/><EventRecordID>{}</EventRecordID><Correlation/><Execution ProcessID='{}' ThreadID='{}'/><Channel>{}</Channel><Computer>{}</Computer>",
        ev.provider, ev.provider_guid, ev.event_id, ev.version, ev.level, ev.task, ev.keywords,
        system_time(ev.time), ev.record_id, ev.exec_pid, ev.exec_tid, ev.channel, ev.computer
    );
    match ev.user_id {
        Some(u) => {
            let _ = write!(o, "<Security UserID='{u}'/>");
        }
        None => o.push_str("<Security/>"),
    }
    o.push_str("</System><EventData>");
    for (k, v) in &ev.data {
        let _ = write!(o, "<Data Name='{k}'>");
        xml_escape(v, o);
        o.push_str("</Data>");
    }
    o.push_str("</EventData></Event>");
}

pub fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Flat Windows JSON as NXLog / OTRF write it: System fields and EventData side by side.
pub fn render_json(ev: &WinEvent, o: &mut String) {
    use std::fmt::Write as _;
    let t = system_time(ev.time);
    let iso = format!("{}Z", &t[..23]);
    o.push('{');
    let mut kv = |k: &str, v: &str| {
        if o.len() > 1 {
            o.push(',');
        }
        json_str(k, o);
        o.push(':');
        json_str(v, o);
    };
    kv("@timestamp", &iso);
    kv("EventTime", &iso);
    kv("Hostname", &ev.computer);
    kv("Keywords", ev.keywords);
    kv("EventType", "INFO");
    kv("SeverityValue", "2");
    kv("Severity", "INFO");
    kv("SourceName", ev.provider);
    kv("ProviderGuid", ev.provider_guid);
    kv("Version", &ev.version.to_string());
    kv("Task", &ev.task.to_string());
    kv("OpcodeValue", "0");
    kv("RecordNumber", &ev.record_id.to_string());
    kv("ProcessID", &ev.exec_pid.to_string());
    kv("ThreadID", &ev.exec_tid.to_string());
    kv("Channel", ev.channel);
    if let Some(u) = ev.user_id {
        kv("UserID", u);
    }
    kv("Level", &ev.level.to_string());
    for (k, v) in &ev.data {
        kv(k, v);
    }
    kv("EventReceivedTime", &iso);
    kv("SourceModuleName", "eventlog");
    kv("SourceModuleType", "im_msvistalog");
    let _ = write!(o, ",\"EventID\":{}}}", ev.event_id);
}
