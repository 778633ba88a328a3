//! Fields of an EVTX record straight from its rendering: [`crate::evtx::binxml`] reports each
//! element, attribute and text it writes, and this state machine extracts what
//! [`crate::xml::parse_event_xml_full`] (the definition) would extract from the written XML,
//! step for step: the same sections, captures, System attribute table and field order.
//!
//! Values arrive as written (XML-escaped) and are unescaped here; element text is line-end
//! normalised per text run between tags, as quick-xml's `xml10_content` does.

use vigil_model::Event;

use crate::fields::Spare;
use crate::timefmt;
use crate::winevent::{system_text_aliases, system_text_captured};
use crate::xml::Section;

/// The extraction state of one record (reused between records).
pub(crate) struct Extract {
    depth: usize,
    section: Section,
    saw_root: bool,
    closed: bool,
    /// The element being captured: its depth (0: none), field name and text so far.
    cap_depth: usize,
    cap_name: String,
    cap_val: String,
    /// Where the current text run starts in `cap_val` (line ends are normalised per run), and
    /// whether it holds a CR.
    cap_run: usize,
    cap_cr: bool,
    /// The start tag being read: whether it starts a capture, and which.
    pending: Pending,
    /// The `Name` of the `<Data>` element just started, if it has one.
    data_name: String,
    data_named: bool,
    /// An unescaped attribute value.
    scratch: String,
    channel: String,
    computer: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pending {
    None,
    /// A System element: its name is captured when it is one of the captured names.
    System,
    Data,
    Binary,
    UserData,
    Message,
}

impl Default for Extract {
    fn default() -> Self {
        Extract {
            depth: 0,
            section: Section::Other,
            saw_root: false,
            closed: false,
            cap_depth: 0,
            cap_name: String::new(),
            cap_val: String::new(),
            cap_run: 0,
            cap_cr: false,
            pending: Pending::None,
            data_name: String::new(),
            data_named: false,
            scratch: String::new(),
            channel: String::new(),
            computer: String::new(),
        }
    }
}

/// Appends `s` (XML as the renderer writes it) unescaped. The renderer writes only the five
/// predefined entities; anything else is kept as it is, as quick-xml's unescape would fail on it.
pub(crate) fn unescape_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let (c, n) = if rest.starts_with("&amp;") {
            ('&', 5)
        } else if rest.starts_with("&lt;") {
            ('<', 4)
        } else if rest.starts_with("&gt;") {
            ('>', 4)
        } else if rest.starts_with("&quot;") {
            ('"', 6)
        } else if rest.starts_with("&apos;") {
            ('\'', 6)
        } else {
            ('&', 1)
        };
        out.push(c);
        rest = &rest[n..];
    }
    out.push_str(rest);
}

/// XML 1.0 line-end normalisation of `s[from..]` in place: CR LF and lone CR become LF.
pub(crate) fn normalise_line_ends(s: &mut String, from: usize) {
    let Some(tail) = s.get(from..) else { return };
    if !tail.contains('\r') {
        return;
    }
    let normalised = tail.replace("\r\n", "\n").replace('\r', "\n");
    s.truncate(from);
    s.push_str(&normalised);
}

/// Where fields go: `ev.fields` from index `n` on, overwriting the strings of an earlier
/// event left there (see [`Fields::reuse`]), then spare ones.
pub(crate) struct Fields<'a> {
    pub(crate) ev: &'a mut Event,
    spare: &'a mut Spare,
    n: usize,
}

impl<'a> Fields<'a> {
    /// Fields appended to those of `ev`.
    pub(crate) fn append(ev: &'a mut Event, spare: &'a mut Spare) -> Self {
        let n = ev.fields.len();
        Fields { ev, spare, n }
    }

    /// Fields written over those `ev` holds (the previous event's), which [`Self::done`]
    /// then cuts to what was written.
    pub(crate) fn reuse(ev: &'a mut Event, spare: &'a mut Spare) -> Self {
        Fields { ev, spare, n: 0 }
    }

    fn push(&mut self, name: &str, value: &str) {
        if let Some((k, v)) = self.ev.fields.get_mut(self.n) {
            k.clear();
            k.push_str(name);
            v.clear();
            v.push_str(value);
        } else {
            let (mut k, mut v) = self.spare.pop().unwrap_or_default();
            k.clear();
            k.push_str(name);
            v.clear();
            v.push_str(value);
            self.ev.fields.push((k, v));
        }
        self.n += 1;
    }

    /// Recycles the fields past those written.
    pub(crate) fn done(self) {
        if self.ev.fields.len() > self.n {
            let mut rest = self.ev.fields.split_off(self.n);
            crate::fields::recycle(&mut rest, self.spare);
        }
    }
}

impl Extract {
    pub(crate) fn reset(&mut self) {
        self.depth = 0;
        self.section = Section::Other;
        self.saw_root = false;
        self.closed = false;
        self.cap_depth = 0;
        self.pending = Pending::None;
        self.channel.clear();
        self.computer.clear();
    }

    /// A tag while a capture runs ends the current text run.
    fn tag(&mut self) {
        if self.cap_cr {
            normalise_line_ends(&mut self.cap_val, self.cap_run);
            self.cap_cr = false;
        }
        self.cap_run = self.cap_val.len();
    }

    /// Whether element text is captured now ([`Self::text`] does nothing otherwise).
    pub(crate) fn capturing(&self) -> bool {
        self.cap_depth != 0
    }

    /// Whether the attributes of the element just started are read ([`Self::attr`]).
    pub(crate) fn wants_attrs(&self) -> bool {
        matches!(self.pending, Pending::System | Pending::Data)
    }

    /// `<name`. `None`: the definition would reject the document (the caller falls back).
    pub(crate) fn start(&mut self, name: &str) -> Option<()> {
        if self.closed {
            return None;
        }
        self.tag();
        self.depth += 1;
        self.pending = Pending::None;
        match self.depth {
            1 => {
                if name != "Event" {
                    return None;
                }
                self.saw_root = true;
            }
            2 => {
                self.section = Section::of(name);
            }
            depth => {
                if self.section == Section::UserData {
                    self.cap_depth = 0;
                }
                self.pending = match (self.section, depth, name) {
                    (Section::System, 3, _) => Pending::System,
                    (Section::EventData, 3, "Data") => {
                        self.data_named = false;
                        Pending::Data
                    }
                    (Section::EventData, 3, "Binary") => Pending::Binary,
                    (Section::UserData, _, _) => Pending::UserData,
                    (Section::Rendering, 3, "Message") => Pending::Message,
                    _ => Pending::None,
                };
            }
        }
        Some(())
    }

    /// An attribute of the element just started, `value` as written.
    pub(crate) fn attr(&mut self, ev: &mut Event, spare: &mut Spare, element: &str, key: &str, value: &str) {
        match self.pending {
            Pending::System => {
                let Some(field) = crate::winevent::system_attr_field(element, key) else { return };
                system_attr(&mut Fields::append(ev, spare), &mut self.scratch, field, value);
            }
            Pending::Data if key == "Name" && !self.data_named => {
                self.data_name.clear();
                unescape_into(&mut self.data_name, value);
                self.data_named = true;
            }
            _ => {}
        }
    }

    /// The end of the start tag: starts the element's capture, if any.
    pub(crate) fn start_done(&mut self, name: &str) {
        let field = match self.pending {
            Pending::None => return,
            Pending::System => {
                if !system_text_captured(name) {
                    return;
                }
                name
            }
            Pending::Data if self.data_named && !self.data_name.is_empty() => &self.data_name,
            Pending::Data => "Data",
            Pending::Binary => "Binary",
            Pending::UserData => name,
            Pending::Message => "Message",
        };
        self.cap_name.clear();
        self.cap_name.push_str(field);
        self.cap_val.clear();
        self.cap_run = 0;
        self.cap_cr = false;
        self.cap_depth = self.depth;
    }

    /// Element text, as written.
    pub(crate) fn text(&mut self, text: &str) {
        if self.cap_depth != 0 {
            if memchr::memchr2(b'&', b'\r', text.as_bytes()).is_none() {
                self.cap_val.push_str(text);
            } else {
                self.cap_cr |= text.contains('\r');
                unescape_into(&mut self.cap_val, text);
            }
        }
    }

    /// `</name>` (or the end of `<name/>`).
    pub(crate) fn end(&mut self, ev: &mut Event, spare: &mut Spare) {
        self.tag();
        if self.cap_depth == self.depth && self.cap_depth != 0 {
            self.cap_depth = 0;
            capture(&mut Fields::append(ev, spare), &self.cap_name, &self.cap_val, &mut self.channel, &mut self.computer);
        }
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 1 {
            self.section = Section::Other;
        }
        if self.depth == 0 {
            self.closed = true;
        }
    }

    /// Sets the event's source, sourcetype and host once the document is complete; `None` if
    /// it is not (the definition would reject it).
    pub(crate) fn finish(&mut self, ev: &mut Event) -> Option<()> {
        if !self.saw_root || !self.closed {
            return None;
        }
        finish(ev, &self.channel, &self.computer);
        Some(())
    }
}

pub(crate) use crate::winevent::set_source as finish;

/// The fields of a System attribute (`field`, from [`crate::winevent::system_attr_field`]) whose
/// value is `value` as written; `scratch` holds its unescaped text when it needs unescaping.
pub(crate) fn system_attr(f: &mut Fields, scratch: &mut String, field: &str, value: &str) {
    let v = if memchr::memchr(b'&', value.as_bytes()).is_some() {
        scratch.clear();
        unescape_into(scratch, value);
        scratch.as_str()
    } else {
        value
    };
    match field {
        "Name" => f.push("ProviderName", v),
        "SystemTime" => f.ev.time = timefmt::parse_iso(v),
        _ => {}
    }
    if !v.is_empty() {
        f.push(field, v);
    }
}

/// The fields of a captured element `name` whose text is `value` (unescaped, line ends
/// normalised): none when empty; `EventID` and `EventRecordID` add their aliases, `Channel`
/// and `Computer` also set the source and host.
pub(crate) fn capture(f: &mut Fields, name: &str, value: &str, channel: &mut String, computer: &mut String) {
    if value.is_empty() {
        return;
    }
    if let Some(names) = system_text_aliases(name) {
        for alias in names {
            f.push(alias, value);
        }
        return;
    }
    match name {
        "Channel" => {
            channel.clear();
            channel.push_str(value);
            f.push("Channel", value);
        }
        "Computer" => {
            computer.clear();
            computer.push_str(value);
            f.push("Computer", value);
        }
        _ => f.push(name, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_the_predefined_entities() {
        let mut s = String::new();
        unescape_into(&mut s, "a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &x; &");
        assert_eq!(s, "a & b <c> \"d\" 'e' &x; &");
    }

    #[test]
    fn line_ends_per_run() {
        let mut s = String::from("x\r\ny\rz\r");
        normalise_line_ends(&mut s, 1);
        assert_eq!(s, "x\ny\nz\n");
    }

    /// The same document through the definition and through these events.
    #[test]
    fn agrees_with_the_full_extractor() {
        let xml = "<Event xmlns=\"x\"><System><Provider Name=\"P &amp; Q\" Guid=\"{g}\"></Provider><EventID Qualifiers=\"\">4624</EventID><TimeCreated SystemTime=\"2020-01-02T03:04:05.1234567Z\"></TimeCreated><Channel>Security</Channel><Computer>host\r\n1</Computer></System><EventData><Data Name=\"A\">a\r\nb</Data><Data>x</Data><Data Name=\"EventID\">7</Data></EventData></Event>";
        let mut want = Event::default();
        crate::xml::parse_event_xml_full(xml, &mut want).unwrap();

        let (mut ev, mut spare, mut x) = (Event::default(), Spare::new(), Extract::default());
        x.reset();
        let el = |x: &mut Extract, ev: &mut Event, spare: &mut Spare, name: &str, attrs: &[(&str, &str)], text: &str| {
            x.start(name).unwrap();
            for (k, v) in attrs {
                x.attr(ev, spare, name, k, v);
            }
            x.start_done(name);
            x.text(text);
            x.end(ev, spare);
        };
        x.start("Event").unwrap();
        x.attr(&mut ev, &mut spare, "Event", "xmlns", "x");
        x.start_done("Event");
        x.start("System").unwrap();
        x.start_done("System");
        el(&mut x, &mut ev, &mut spare, "Provider", &[("Name", "P &amp; Q"), ("Guid", "{g}")], "");
        el(&mut x, &mut ev, &mut spare, "EventID", &[], "4624");
        el(&mut x, &mut ev, &mut spare, "TimeCreated", &[("SystemTime", "2020-01-02T03:04:05.1234567Z")], "");
        el(&mut x, &mut ev, &mut spare, "Channel", &[], "Security");
        el(&mut x, &mut ev, &mut spare, "Computer", &[], "host\r\n1");
        x.end(&mut ev, &mut spare);
        x.start("EventData").unwrap();
        x.start_done("EventData");
        el(&mut x, &mut ev, &mut spare, "Data", &[("Name", "A")], "a\r\nb");
        el(&mut x, &mut ev, &mut spare, "Data", &[], "x");
        el(&mut x, &mut ev, &mut spare, "Data", &[("Name", "EventID")], "7");
        x.end(&mut ev, &mut spare);
        x.end(&mut ev, &mut spare);
        x.finish(&mut ev).unwrap();
        assert_eq!(ev.fields, want.fields);
        assert_eq!((ev.time, &ev.source, &ev.sourcetype, &ev.host), (want.time, &want.source, &want.sourcetype, &want.host));
    }
}
