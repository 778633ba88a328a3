//! Field extraction from one Windows `<Event>` XML document, as Splunk's Windows add-on does for
//! `sourcetype=XmlWinEventLog`. Shared by the XML-lines reader and the EVTX reader (which
//! renders each binary record to XML first), so both give identical fields.
//!
//! Fields, in document order:
//! - `System`: `Name` and `ProviderName` (Provider/@Name), `Guid`, `EventSourceName`,
//!   `EventCode` and `EventID` (EventID text), `Qualifiers`, `Version`, `Level`, `Task`,
//!   `Opcode`, `Keywords`, `SystemTime` (TimeCreated/@SystemTime), `EventRecordID` and
//!   `RecordNumber`, `ActivityID`, `RelatedActivityID`, `ProcessID`, `ThreadID`, `Channel`,
//!   `Computer`, `UserID` (Security/@UserID).
//! - `EventData`: each `<Data Name='X'>v</Data>` as field `X`; unnamed `<Data>` as `Data`;
//!   `<Binary>` as `Binary`. Repeated names become repeated entries (multivalue).
//! - `UserData`: every leaf element as a field named by its local name.
//! - `RenderingInfo/Message` as `Message`.
//!
//! Empty values are not emitted (Splunk creates no field for an empty extraction). Entities
//! (`&amp;`, `&#x41;`, ...) are decoded in values; `raw` keeps the original text.

use quick_xml::events::Event as X;
use quick_xml::Reader;
use vigil_model::Event;

pub(crate) mod fast;

use crate::timefmt;

/// The sourcetype Splunk's Windows add-on gives XML-rendered event log events.
pub use crate::winevent::XML_SOURCETYPE;

/// The part of an `<Event>` a depth-2 element starts (shared with [`crate::evtx::extract`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Other,
    System,
    EventData,
    UserData,
    Rendering,
}

impl Section {
    pub(crate) fn of(name: &str) -> Section {
        match name {
            "System" => Section::System,
            "EventData" => Section::EventData,
            "UserData" => Section::UserData,
            "RenderingInfo" => Section::Rendering,
            _ => Section::Other,
        }
    }
}

/// Parses one `<Event>` document into `ev.fields`, and sets `ev.time`, `ev.source`,
/// `ev.sourcetype` and `ev.host`. Does not touch `raw` or `origin`. On error, `ev.fields` may
/// hold a partial extraction; the caller discards the event.
///
/// Common documents go through a fast extractor ([`crate::xml::fast`]); the rest, and
/// anything it does not accept, through [`parse_event_xml_full`]. Both give the same result.
pub fn parse_event_xml(xml: &str, ev: &mut Event) -> Result<(), String> {
    parse_event_xml_pooled(xml, ev, &mut Vec::new())
}

/// [`parse_event_xml`] with field strings recycled from `spare` (see [`crate::xml::fast`]).
pub(crate) fn parse_event_xml_pooled(xml: &str, ev: &mut Event, spare: &mut crate::fields::Spare) -> Result<(), String> {
    if crate::xml::fast::parse(xml, ev, spare) {
        return Ok(());
    }
    crate::fields::recycle(&mut ev.fields, spare);
    ev.time = None;
    parse_event_xml_full(xml, ev)
}

/// The full extractor (quick-xml): the definition of the fields of an XML event. Same contract
/// as [`parse_event_xml`], which is faster on the common shapes.
pub fn parse_event_xml_full(xml: &str, ev: &mut Event) -> Result<(), String> {
    let mut r = Reader::from_str(xml);
    r.config_mut().allow_dangling_amp = true;
    let mut depth: usize = 0;
    let mut section = Section::Other;
    // Field being captured: (name, depth of its element, value so far).
    let mut capture: Option<(String, usize, String)> = None;
    let mut saw_root = false;
    let mut closed = false;
    let mut channel = String::new();
    let mut computer = String::new();
    loop {
        let event = r.read_event().map_err(|e| format!("XML error at byte {}: {e}", r.error_position()))?;
        match event {
            X::Start(e) | X::Empty(e) if closed => {
                let _ = e;
                return Err("content after </Event>".into());
            }
            X::Start(ref e) | X::Empty(ref e) => {
                let empty = matches!(event, X::Empty(_));
                let local = e.local_name();
                let name: &str = local.as_ref();
                depth += 1;
                if depth == 1 {
                    if name != "Event" {
                        return Err(format!("root element is <{name}>, not <Event>"));
                    }
                    saw_root = true;
                } else if depth == 2 {
                    section = Section::of(name);
                } else {
                    let attrs = || {
                        e.attributes().flatten().map(|a| {
                            let key = a.key.local_name().as_ref().to_string();
                            let val = unescape(&a.value);
                            (key, val)
                        })
                    };
                    // A new child element means the parent was not a leaf.
                    if section == Section::UserData {
                        capture = None;
                    }
                    match (section, depth, name) {
                        (Section::System, 3, _) => {
                            for (k, v) in attrs() {
                                system_attr(ev, name, &k, v);
                            }
                            if crate::winevent::system_text_captured(name) {
                                capture = Some((name.to_string(), depth, String::new()));
                            }
                        }
                        (Section::EventData, 3, "Data") => {
                            let field = attrs()
                                .find(|(k, _)| k == "Name")
                                .map(|(_, v)| v)
                                .filter(|v| !v.is_empty())
                                .unwrap_or_else(|| "Data".to_string());
                            capture = Some((field, depth, String::new()));
                        }
                        (Section::EventData, 3, "Binary") => {
                            capture = Some(("Binary".to_string(), depth, String::new()));
                        }
                        (Section::UserData, _, _) => {
                            capture = Some((name.to_string(), depth, String::new()));
                        }
                        (Section::Rendering, 3, "Message") => {
                            capture = Some(("Message".to_string(), depth, String::new()));
                        }
                        _ => {}
                    }
                }
                if empty {
                    // Same as Start immediately followed by End.
                    end_element(ev, &mut capture, depth, &mut channel, &mut computer);
                    depth -= 1;
                    if depth == 0 {
                        closed = true;
                    }
                }
            }
            X::End(_) => {
                end_element(ev, &mut capture, depth, &mut channel, &mut computer);
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    section = Section::Other;
                }
                if depth == 0 {
                    closed = true;
                }
            }
            X::Text(t) => {
                if let Some((_, _, v)) = capture.as_mut() {
                    v.push_str(&t.xml10_content());
                }
            }
            X::CData(t) => {
                if let Some((_, _, v)) = capture.as_mut() {
                    v.push_str(&t.into_inner());
                }
            }
            X::GeneralRef(r) => {
                if let Some((_, _, v)) = capture.as_mut() {
                    let name = r.xml10_content();
                    let ent = format!("&{name};");
                    v.push_str(&unescape(&ent));
                }
            }
            X::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err("no <Event> element".into());
    }
    if !closed {
        return Err("truncated XML event (no </Event>)".into());
    }
    crate::winevent::set_source(ev, &channel, &computer);
    Ok(())
}

/// Decodes XML entities, keeping the text as is when an entity is unknown or broken.
fn unescape(s: &str) -> String {
    match quick_xml::escape::unescape(s) {
        Ok(v) => v.into_owned(),
        Err(_) => s.to_string(),
    }
}

fn system_attr(ev: &mut Event, element: &str, key: &str, value: String) {
    let Some(field) = crate::winevent::system_attr_field(element, key) else { return };
    match field {
        "Name" => ev.push("ProviderName", value.clone()),
        "SystemTime" => ev.time = timefmt::parse_iso(&value),
        _ => {}
    }
    if !value.is_empty() {
        ev.push(field, value);
    }
}

fn end_element(ev: &mut Event, capture: &mut Option<(String, usize, String)>, depth: usize, channel: &mut String, computer: &mut String) {
    let Some((_, d, _)) = capture.as_ref() else { return };
    if *d != depth {
        return;
    }
    let Some((name, _, value)) = capture.take() else { return };
    if value.is_empty() {
        return;
    }
    if let Some([first, second]) = crate::winevent::system_text_aliases(&name) {
        ev.push(first, value.clone());
        ev.push(second, value);
        return;
    }
    match name.as_str() {
        "Channel" => {
            channel.clone_from(&value);
            ev.push("Channel", value);
        }
        "Computer" => {
            computer.clone_from(&value);
            ev.push("Computer", value);
        }
        _ => ev.push(name, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSMON: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/><EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime='2026-08-14T16:03:29.7579260Z'/><EventRecordID>12812</EventRecordID><Correlation/><Execution ProcessID='3376' ThreadID='4340'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>EC2AMAZ-FKEOM7G</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='RuleName'>-</Data><Data Name='Empty'></Data><Data Name='CommandLine'>a &amp; b &lt;c&gt; &#x41;&#66; &quot;q&quot;</Data><Data>one</Data><Data>two</Data></EventData></Event>";

    #[test]
    fn system_and_event_data() {
        let mut ev = Event::default();
        parse_event_xml(SYSMON, &mut ev).unwrap();
        assert_eq!(ev.get("EventCode"), Some("1"));
        assert_eq!(ev.get("EventID"), Some("1"));
        assert_eq!(ev.get("Name"), Some("Microsoft-Windows-Sysmon"));
        assert_eq!(ev.get("Guid"), Some("{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"));
        assert_eq!(ev.get("EventRecordID"), Some("12812"));
        assert_eq!(ev.get("RecordNumber"), Some("12812"));
        assert_eq!(ev.get("ProcessID"), Some("3376"));
        assert_eq!(ev.get("ThreadID"), Some("4340"));
        assert_eq!(ev.get("UserID"), Some("S-1-5-18"));
        assert_eq!(ev.get("Keywords"), Some("0x8000000000000000"));
        assert_eq!(ev.get("SystemTime"), Some("2026-08-14T16:03:29.7579260Z"));
        assert_eq!(ev.get("RuleName"), Some("-"));
        assert_eq!(ev.get("Empty"), None);
        assert_eq!(ev.get("CommandLine"), Some("a & b <c> AB \"q\""));
        assert_eq!(ev.get_all("Data").collect::<Vec<_>>(), ["one", "two"]);
        assert_eq!(ev.time, Some(1_786_723_409_757_926));
        assert_eq!(ev.source, "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational");
        assert_eq!(ev.sourcetype, "XmlWinEventLog");
        assert_eq!(ev.host, "EC2AMAZ-FKEOM7G");
    }

    #[test]
    fn user_data_leaves() {
        let x = "<Event><System><EventID>1102</EventID><Channel>Security</Channel></System><UserData><LogFileCleared xmlns='x'><SubjectUserName>bob</SubjectUserName><SubjectDomainName>D</SubjectDomainName></LogFileCleared></UserData></Event>";
        let mut ev = Event::default();
        parse_event_xml(x, &mut ev).unwrap();
        assert_eq!(ev.get("SubjectUserName"), Some("bob"));
        assert_eq!(ev.get("SubjectDomainName"), Some("D"));
        assert_eq!(ev.get("LogFileCleared"), None);
    }

    #[test]
    fn errors_not_panics() {
        for bad in [
            "",
            "<Event>",
            "<Event><System></Event>",
            "<NotEvent/>",
            "<Event/><Event/>",
            "<Event><System><EventID>1</EventID></System>",
            "<Event \u{0}>",
            "<<<>>>",
        ] {
            let mut ev = Event::default();
            assert!(parse_event_xml(bad, &mut ev).is_err(), "{bad:?}");
        }
        let mut ev = Event::default();
        assert!(parse_event_xml("<Event/>", &mut ev).is_ok());
    }
}
