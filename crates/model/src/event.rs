use crate::Micros;
use std::path::Path;
use std::sync::Arc;

/// Where an event came from, for error messages and provenance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The file (or archive member, as `archive.zip:member.json`) the event was read from.
    pub file: Arc<str>,
    /// 1-based line for text formats; 0 when not applicable.
    pub line: u64,
    /// Byte offset (record offset for EVTX) within the file.
    pub offset: u64,
}

impl Origin {
    pub fn new(file: &Path, line: u64, offset: u64) -> Origin {
        Origin { file: Arc::from(file.to_string_lossy().as_ref()), line, offset }
    }

    /// The event's record number in its file: the 1-based line for text formats, else the
    /// offset, which EVTX readers set to the EventRecordID and the JSON array reader to the
    /// 1-based element index.
    pub fn record(&self) -> u64 {
        if self.line > 0 {
            self.line
        } else {
            self.offset
        }
    }
}

/// A raw event as a reader produced it, before normalization.
///
/// `fields` carries the search-time field extractions that Splunk's add-ons would make
/// (`EventCode`, `Computer`, `Image`, `CommandLine`, ...), in event order; a name may repeat,
/// which makes that field multivalue. `raw` is the event text (`_raw`) when the format has one.
#[derive(Clone, Debug, Default)]
pub struct Event {
    /// `_time`, when the reader could find it.
    pub time: Option<Micros>,
    pub source: String,
    pub sourcetype: String,
    pub host: String,
    /// The index the event is searched in (`index=`); empty means `main`, Splunk's default.
    pub index: String,
    pub fields: Vec<(String, String)>,
    /// Where the fields the add-on knowledge derived (aliases, calculated fields, eventtypes)
    /// start in `fields`; `None` when there are none. They exist only for the names some
    /// loaded search reads, so matchers over "every field" (Sigma keywords) read only the
    /// event's own fields, [`Event::own_fields`], and do not depend on what else is loaded.
    pub derived_from: Option<usize>,
    pub raw: String,
    pub origin: Origin,
}

impl Event {
    /// The fields the reader extracted, without the derived ones (see [`Event::derived_from`]).
    pub fn own_fields(&self) -> &[(String, String)] {
        &self.fields[..self.derived_from.unwrap_or(self.fields.len()).min(self.fields.len())]
    }

    /// First value of a field. Names are case-sensitive, as in Splunk.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The event's index: [`Event::index`], or `main` when unset.
    pub fn index_name(&self) -> &str {
        if self.index.is_empty() {
            "main"
        } else {
            &self.index
        }
    }

    /// Every value of a field, in event order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields.push((name.into(), value.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_the_line_else_the_offset() {
        assert_eq!(Origin::new(Path::new("a.log"), 7, 512).record(), 7);
        // EVTX (EventRecordID) and JSON array elements (index) have no line.
        assert_eq!(Origin::new(Path::new("a.evtx"), 0, 4242).record(), 4242);
    }
}
