//! How the `<System>` section of a Windows event becomes fields, as Splunk's Windows add-on
//! names them: one table, read by every extractor (the full and the fast XML extractor, the
//! EVTX BinXML reader and its compiled programs), so they cannot drift.

use vigil_model::Event;

/// The sourcetype of Windows events, from any format (XML lines, EVTX, JSON renderings).
pub const XML_SOURCETYPE: &str = "XmlWinEventLog";

/// `(element, attribute, field)`: the field a `<System>` element's attribute becomes.
/// `Provider/@Name` also gives `ProviderName`, and `TimeCreated/@SystemTime` is `_time`;
/// callers handle both.
pub(crate) const SYSTEM_ATTRS: [(&str, &str, &str); 10] = [
    ("Provider", "Name", "Name"),
    ("Provider", "Guid", "Guid"),
    ("Provider", "EventSourceName", "EventSourceName"),
    ("EventID", "Qualifiers", "Qualifiers"),
    ("TimeCreated", "SystemTime", "SystemTime"),
    ("Correlation", "ActivityID", "ActivityID"),
    ("Correlation", "RelatedActivityID", "RelatedActivityID"),
    ("Execution", "ProcessID", "ProcessID"),
    ("Execution", "ThreadID", "ThreadID"),
    ("Security", "UserID", "UserID"),
];

/// The field a `<System>` element attribute becomes ([`SYSTEM_ATTRS`]).
pub(crate) fn system_attr_field(element: &str, key: &str) -> Option<&'static str> {
    SYSTEM_ATTRS.iter().find(|(e, k, _)| *e == element && *k == key).map(|&(_, _, field)| field)
}

/// `<System>` children whose text is a field (under the element's name; see
/// [`system_text_aliases`] for the ones that give two).
pub(crate) const SYSTEM_TEXT: [&str; 9] =
    ["EventID", "Version", "Level", "Task", "Opcode", "Keywords", "EventRecordID", "Channel", "Computer"];

/// Whether the text of a `<System>` child is captured as a field.
pub(crate) fn system_text_captured(name: &str) -> bool {
    SYSTEM_TEXT.contains(&name)
}

/// The fields, in order, that the text of `EventID` (`EventCode` first) and `EventRecordID`
/// (`RecordNumber` after) become; `None` for a name that is its own field only. `Channel`
/// and `Computer` also set the source and host ([`set_source`]).
pub(crate) fn system_text_aliases(name: &str) -> Option<[&'static str; 2]> {
    match name {
        "EventID" => Some(["EventCode", "EventID"]),
        "EventRecordID" => Some(["EventRecordID", "RecordNumber"]),
        _ => None,
    }
}

/// Sets the event's sourcetype, source (from the channel) and host (from the computer).
pub(crate) fn set_source(ev: &mut Event, channel: &str, computer: &str) {
    ev.sourcetype.clear();
    ev.sourcetype.push_str(XML_SOURCETYPE);
    ev.source.clear();
    ev.source.push_str("XmlWinEventLog:");
    ev.source.push_str(channel);
    ev.host.clear();
    ev.host.push_str(computer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lookups() {
        assert_eq!(system_attr_field("Provider", "Name"), Some("Name"));
        assert_eq!(system_attr_field("Execution", "ThreadID"), Some("ThreadID"));
        assert_eq!(system_attr_field("Execution", "Name"), None);
        assert!(system_text_captured("Keywords") && !system_text_captured("Security"));
        assert_eq!(system_text_aliases("EventID"), Some(["EventCode", "EventID"]));
        assert_eq!(system_text_aliases("Level"), None);
    }
}
