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
#[derive(Debug, Default)]
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
    /// Set by whoever works out events' shapes (the normalizer, while it hands the event on):
    /// every event given the same [`NamesShape::id`] has the same first [`NamesShape::len`]
    /// field names in the same order, so work that depends only on them (which conditions a
    /// field's name has) can be done once per shape. `None` when nothing is known; copies
    /// (`clone_from`) never carry it, as they may be changed.
    pub names_shape: Option<NamesShape>,
}

/// A proof that events share their first field names (see [`Event::names_shape`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NamesShape {
    /// Unique in the process to one list of names.
    pub id: u64,
    /// How many of the event's fields the list covers.
    pub len: usize,
}

impl Clone for Event {
    fn clone(&self) -> Event {
        let mut out = Event::default();
        out.clone_from(self);
        out
    }

    /// `*self = src.clone()`, reusing `self`'s string buffers: an event copied into a
    /// reused one allocates nothing once the buffers are large enough (readers hand out a
    /// reused `&Event`; whoever keeps events copies them into events of its own).
    fn clone_from(&mut self, src: &Event) {
        // Every field named: a field added to `Event` must be copied here.
        let Event { time, source, sourcetype, host, index, fields, derived_from, raw, origin, names_shape: _ } = src;
        self.time = *time;
        self.source.clone_from(source);
        self.sourcetype.clone_from(sourcetype);
        self.host.clone_from(host);
        self.index.clone_from(index);
        self.fields.truncate(fields.len());
        let kept = self.fields.len();
        for ((dk, dv), (k, v)) in self.fields.iter_mut().zip(fields) {
            dk.clone_from(k);
            dv.clone_from(v);
        }
        self.fields.extend(fields[kept..].iter().cloned());
        self.derived_from = *derived_from;
        self.raw.clone_from(raw);
        self.origin.clone_from(origin);
        self.names_shape = None;
    }
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

    fn event(n: usize, tag: &str) -> Event {
        Event {
            time: Some(n as Micros),
            source: format!("src-{tag}"),
            sourcetype: format!("st-{tag}"),
            host: format!("h-{tag}"),
            index: tag.to_string(),
            fields: (0..n).map(|i| (format!("k{i}"), format!("{tag}{i}"))).collect(),
            derived_from: n.checked_sub(1),
            raw: format!("raw {tag}"),
            origin: Origin::new(Path::new(tag), n as u64, 3),
            names_shape: None,
        }
    }

    /// `Event` has no `PartialEq`: its Debug text shows every field.
    fn same(a: &Event, b: &Event) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn clone_from_copies_every_field_into_fewer_more_or_as_many_fields() {
        for (have, want) in [(0, 3), (5, 2), (3, 3), (4, 0)] {
            let src = event(want, "new");
            let mut dst = event(have, "old");
            dst.clone_from(&src);
            assert!(same(&dst, &src), "{have} -> {want}: {dst:?}");
            assert!(same(&src.clone(), &src));
        }
        let mut dst = event(2, "old");
        dst.clone_from(&Event::default());
        assert!(same(&dst, &Event::default()));
    }

    /// A copy may be changed, so it carries no proof about its names, and a reused event
    /// loses the one it had.
    #[test]
    fn copies_carry_no_names_shape() {
        let mut src = event(3, "new");
        src.names_shape = Some(NamesShape { id: 7, len: 3 });
        let mut dst = event(2, "old");
        dst.names_shape = Some(NamesShape { id: 8, len: 2 });
        dst.clone_from(&src);
        assert_eq!((dst.names_shape, src.clone().names_shape), (None, None));
        src.names_shape = None;
        assert!(same(&dst, &src));
    }
}
