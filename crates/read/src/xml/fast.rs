//! Fast path for the common shape of a Windows `<Event>` document: `<System>` with leaf
//! children, then `<EventData>` with `<Data Name='X'>value</Data>` elements; no entities, no
//! carriage returns, no comments, CDATA, namespace prefixes, `UserData` or `RenderingInfo`.
//! That is what XmlWinEventLog lines and rendered EVTX records almost always are.
//!
//! It extracts exactly the fields [`crate::xml::parse_event_xml`] (the full quick-xml
//! extractor) would, in the same order, with `memchr` scans over the borrowed text and field
//! strings recycled from earlier events (no allocation per field in steady state). Anything
//! outside that shape makes it give up (`false`), and the caller runs the full extractor on the
//! same document: the full extractor stays the definition of the output and of what is an
//! error (a differential test checks both agree on every real and generated file).

use memchr::memchr;
use vigil_model::Event;

use crate::fields::Spare;
use crate::timefmt;
use crate::winevent::{self, set_source, system_text_aliases, system_text_captured};

/// Where extracted fields go: the event, the spare strings, and whether the document holds a
/// CR at all (so values need no CR scan in the common case).
struct Sink<'e> {
    ev: &'e mut Event,
    spare: &'e mut Spare,
    cr: bool,
}

impl Sink<'_> {
    /// Appends a field, reusing a spare pair of strings when there is one.
    fn push(&mut self, name: &str, value: &str) {
        let (mut k, mut v) = self.spare.pop().unwrap_or_default();
        k.clear();
        k.push_str(name);
        v.clear();
        if self.cr && memchr(b'\r', value.as_bytes()).is_some() {
            // Element text is line-end normalised (XML 1.0: CR LF and lone CR become LF), as
            // quick-xml's `xml10_content` does; attribute values never contain CR here.
            let mut rest = value;
            while let Some(i) = rest.find('\r') {
                v.push_str(&rest[..i]);
                v.push('\n');
                rest = &rest[i + 1..];
                if let Some(r) = rest.strip_prefix('\n') {
                    rest = r;
                }
            }
            v.push_str(rest);
        } else {
            v.push_str(value);
        }
        self.ev.fields.push((k, v));
    }
}

/// Bytes of element and attribute names the fast path accepts (`[A-Za-z0-9_.-]`; no `:`).
static NAME: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.';
        c += 1;
    }
    t
};

fn name_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| NAME[c as usize]) {
        i += 1;
    }
    i
}

/// A tag, borrowed from the document.
struct Tag<'a> {
    name: &'a str,
    end: bool,
    empty: bool,
    /// The attribute text between the name and `>` / `/>` (validated by [`attrs`]).
    attrs: &'a str,
}

struct Cursor<'a> {
    s: &'a str,
    p: usize,
}

impl<'a> Cursor<'a> {
    /// Text up to the next `<` (which must exist).
    fn text(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        let i = memchr(b'<', b.get(self.p..)?)?;
        let t = self.s.get(self.p..self.p + i)?;
        self.p += i;
        Some(t)
    }

    /// The tag at the cursor (the cursor is on `<`). `None` for anything unusual.
    fn tag(&mut self) -> Option<Tag<'a>> {
        let b = self.s.as_bytes();
        if b.get(self.p) != Some(&b'<') {
            return None;
        }
        let start = self.p + 1;
        let end = matches!(b.get(start), Some(b'/'));
        let name_at = if end { start + 1 } else { start };
        let mut i = name_end(b, name_at);
        if i == name_at {
            return None;
        }
        // The name must end where quick-xml ends it: whitespace, `>` or `/`.
        if !matches!(b.get(i)?, b' ' | b'\t' | b'\n' | b'\r' | b'>' | b'/') {
            return None;
        }
        let name = self.s.get(name_at..i)?;
        if end {
            if b.get(i) != Some(&b'>') {
                return None;
            }
            self.p = i + 1;
            return Some(Tag { name, end: true, empty: false, attrs: "" });
        }
        // Attributes: quoted values may hold `>` or `/`, so jump from quote to quote. (A stray
        // `<` is rejected by [`attrs`].)
        let attrs_at = i;
        loop {
            // Attribute areas are short: a plain loop beats a SIMD search's setup.
            while !matches!(b.get(i)?, b'>' | b'\'' | b'"') {
                i += 1;
            }
            match b.get(i)? {
                b'>' if b.get(i.wrapping_sub(1)) == Some(&b'/') && i > attrs_at => {
                    self.p = i + 1;
                    return Some(Tag { name, end: false, empty: true, attrs: self.s.get(attrs_at..i - 1)? });
                }
                b'>' => {
                    self.p = i + 1;
                    return Some(Tag { name, end: false, empty: false, attrs: self.s.get(attrs_at..i)? });
                }
                q => {
                    let close = memchr(*q, b.get(i + 1..)?)?;
                    i += close + 2;
                }
            }
        }
    }

    /// Skips text (ignored by the extractor) and returns the next tag.
    fn next_tag(&mut self) -> Option<Tag<'a>> {
        self.text()?;
        self.tag()
    }

    /// After a start tag: its text content and the matching end tag. `None` when the element
    /// has child elements or the end tag does not match.
    fn leaf(&mut self, name: &str) -> Option<&'a str> {
        let text = self.text()?;
        // `</name>`, compared literally.
        let rest = self.s.as_bytes().get(self.p..)?;
        let n = name.len();
        if rest.starts_with(b"</") && rest.get(2..2 + n) == Some(name.as_bytes()) && rest.get(2 + n) == Some(&b'>') {
            self.p += n + 3;
            return Some(text);
        }
        None
    }
}

/// Parses `key='value' key2="value2"` strictly, calling `f` for each in order; `false` on
/// anything the full parser might read differently (prefixed keys, missing separators, CR in a
/// value, duplicates, more than 8 attributes): the fast path then gives up.
fn attrs<'a>(s: &'a str, mut f: impl FnMut(&'a str, &'a str)) -> bool {
    let mut seen: [&str; 8] = [""; 8];
    let mut n = 0;
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let before = i;
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if i >= b.len() {
            return true;
        }
        if i == before || n == seen.len() {
            return false;
        }
        let k0 = i;
        i = name_end(b, i);
        if i == k0 || b.get(i) != Some(&b'=') || b[k0..i].contains(&b'.') {
            return false;
        }
        let (Some(key), Some(&q)) = (s.get(k0..i), b.get(i + 1)) else { return false };
        if q != b'\'' && q != b'"' {
            return false;
        }
        let Some(close) = b.get(i + 2..).and_then(|rest| memchr(q, rest)) else { return false };
        let Some(val) = s.get(i + 2..i + 2 + close) else { return false };
        if memchr::memchr2(b'\r', b'<', val.as_bytes()).is_some() || seen[..n].contains(&key) {
            return false;
        }
        seen[n] = key;
        n += 1;
        f(key, val);
        i += close + 3;
    }
}

/// Extracts `doc` into `ev` like [`crate::xml::parse_event_xml`]. Returns `false` when the
/// document is outside the fast path's shape; `ev.fields` then holds a partial extraction
/// and `ev.time` may be set: the caller must clear both and use the full extractor.
pub(crate) fn parse(doc: &str, ev: &mut Event, spare: &mut Spare) -> bool {
    let b = doc.as_bytes();
    // Entities need decoding; comments, CDATA, doctypes and PIs need the full parser. A CR in
    // an attribute value (kept as is by the full parser, normalised by `push`) is left to it.
    if memchr(b'&', b).is_some() || memchr::memchr2_iter(b'!', b'?', b).any(|i| i > 0 && b[i - 1] == b'<') {
        return false;
    }
    let mut c = Cursor { s: doc, p: 0 };
    let mut out = Sink { ev, spare, cr: memchr(b'\r', b).is_some() };
    let Some(root) = c.tag() else { return false };
    if root.end || root.empty || root.name != "Event" || !attrs(root.attrs, |_, _| {}) {
        return false;
    }
    let mut channel: &str = "";
    let mut computer: &str = "";
    loop {
        let Some(t) = c.next_tag() else { return false };
        match (t.end, t.name) {
            (true, "Event") => break,
            (false, "System") if !t.empty && attrs(t.attrs, |_, _| {}) => {
                if !system(&mut c, &mut out, &mut channel, &mut computer) {
                    return false;
                }
            }
            (false, "EventData") if !t.empty && attrs(t.attrs, |_, _| {}) => {
                if !event_data(&mut c, &mut out) {
                    return false;
                }
            }
            (false, "System" | "EventData") => {
                if !attrs(t.attrs, |_, _| {}) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    if b.get(c.p..).is_some_and(|rest| rest.iter().any(|x| !x.is_ascii_whitespace())) {
        return false;
    }
    set_source(ev, channel, computer);
    true
}

fn system<'a>(c: &mut Cursor<'a>, out: &mut Sink, channel: &mut &'a str, computer: &mut &'a str) -> bool {
    loop {
        let Some(t) = c.next_tag() else { return false };
        if t.end {
            return t.name == "System";
        }
        if !attrs(t.attrs, |k, v| system_attr(out, t.name, k, v)) {
            return false;
        }
        if t.empty {
            continue;
        }
        let Some(value) = c.leaf(t.name) else { return false };
        if value.is_empty() {
            continue;
        }
        if out.cr && matches!(t.name, "Channel" | "Computer") && memchr(b'\r', value.as_bytes()).is_some() {
            // Source and host would need the line-end normalised text: leave it to the full path.
            return false;
        }
        if let Some(names) = system_text_aliases(t.name) {
            for name in names {
                out.push(name, value);
            }
            continue;
        }
        match t.name {
            "Channel" => {
                *channel = value;
                out.push("Channel", value);
            }
            "Computer" => {
                *computer = value;
                out.push("Computer", value);
            }
            name if system_text_captured(name) => out.push(name, value),
            _ => {}
        }
    }
}

/// Same mapping as the full extractor's `system_attr` (the table is shared).
fn system_attr(out: &mut Sink, element: &str, key: &str, value: &str) {
    let Some(field) = winevent::system_attr_field(element, key) else { return };
    match field {
        "Name" => out.push("ProviderName", value),
        "SystemTime" => out.ev.time = timefmt::parse_iso(value),
        _ => {}
    }
    if !value.is_empty() {
        out.push(field, value);
    }
}

/// Names the full extractor gives extra meaning wherever they appear, also as a `Data` name
/// (`EventID` adds `EventCode`, `Channel`/`Computer` set source/host): left to the full path.
/// Found by fuzz/xml_diff (`<Data Name='EventID'>`).
fn aliased(name: &str) -> bool {
    system_text_aliases(name).is_some() || matches!(name, "Channel" | "Computer")
}

/// `<Data Name='X'>value</Data>` (either quote), the bulk of every event, matched literally;
/// `None` (cursor unchanged) for any other form, which the general path then reads.
fn data_element<'a>(c: &mut Cursor<'a>) -> Option<(&'a str, &'a str)> {
    let b = c.s.as_bytes();
    let at = c.p;
    let rest = b.get(at..)?;
    if !rest.starts_with(b"<Data Name=") {
        return None;
    }
    let q = *rest.get(11)?;
    if q != b'\'' && q != b'"' {
        return None;
    }
    let name_len = memchr(q, rest.get(12..)?)?;
    let name = c.s.get(at + 12..at + 12 + name_len)?;
    let gt = at + 12 + name_len + 1;
    if b.get(gt) != Some(&b'>') || name.is_empty() || memchr::memchr2(b'\r', b'<', name.as_bytes()).is_some() {
        return None;
    }
    let text_at = gt + 1;
    let lt = memchr(b'<', b.get(text_at..)?)?;
    let close = text_at + lt;
    if !b.get(close..)?.starts_with(b"</Data>") {
        return None;
    }
    let value = c.s.get(text_at..close)?;
    c.p = close + 7;
    Some((name, value))
}

fn event_data(c: &mut Cursor, out: &mut Sink) -> bool {
    loop {
        if c.text().is_none() {
            return false;
        }
        if let Some((name, value)) = data_element(c) {
            if aliased(name) {
                return false;
            }
            if !value.is_empty() {
                out.push(name, value);
            }
            continue;
        }
        let Some(t) = c.tag() else { return false };
        if t.end {
            return t.name == "EventData";
        }
        // The first `Name` attribute names the field; empty or absent means `Data`.
        let mut name: Option<&str> = None;
        if !attrs(t.attrs, |k, v| {
            if k == "Name" && name.is_none() {
                name = Some(v);
            }
        }) {
            return false;
        }
        let field = match t.name {
            "Data" => name.filter(|v| !v.is_empty()).unwrap_or("Data"),
            "Binary" => "Binary",
            _ => return false,
        };
        if aliased(field) {
            return false;
        }
        if t.empty {
            continue;
        }
        let Some(value) = c.leaf(t.name) else { return false };
        if !value.is_empty() {
            out.push(field, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(doc: &str) -> (Option<Event>, Result<Event, String>) {
        let mut fast = Event::default();
        let mut spare = Spare::new();
        let f = parse(doc, &mut fast, &mut spare).then_some(fast);
        let mut slow = Event::default();
        let s = crate::xml::parse_event_xml_full(doc, &mut slow).map(|_| slow);
        (f, s)
    }

    fn same(a: &Event, b: &Event) -> bool {
        a.fields == b.fields && a.time == b.time && a.source == b.source && a.sourcetype == b.sourcetype && a.host == b.host
    }

    #[test]
    fn agrees_or_gives_up() {
        let base = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/><EventID Qualifiers=''>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime='2026-08-14T16:03:29.7579260Z'/><EventRecordID>12812</EventRecordID><Correlation/><Execution ProcessID='3376' ThreadID='4340'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>EC2AMAZ-FKEOM7G</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='RuleName'>-</Data><Data Name='Empty'></Data><Data Name=''>x</Data><Data Name='E2'/><Data Name='CommandLine'>\"C:\\a b\\c.exe\" /x > y</Data><Data>one</Data><Data>two</Data><Binary>00AA</Binary></EventData></Event>";
        let (f, s) = both(base);
        let (f, s) = (f.expect("fast path taken"), s.expect("valid"));
        assert!(same(&f, &s), "{:?}\n{:?}", f.fields, s.fields);
        // Shapes the fast path must leave to the full parser, or agree on.
        let variants = [
            base.replace("<Data Name='RuleName'>-</Data>", "<Data Name='RuleName'>a &amp; b</Data>"),
            base.replace("</EventData>", "</EventData><RenderingInfo Culture='en-US'><Message>m</Message></RenderingInfo>"),
            base.replace("<EventData>", "<EventData><!-- c -->"),
            base.replace("-</Data>", "<![CDATA[x]]></Data>"),
            base.replace("</Event>", "</Event>junk"),
            base.replace("</Event>", "</Event><Event/>"),
            base.replace("</Data><Data>two", "</Dat><Data>two"),
            base.replace("<Version>5</Version>", "<Version>5<x/></Version>"),
            base.replace("Name='Image'", "Name=\"Image\""),
            base.replace("<Event ", "<e:Event "),
            base.replace("</System>", "</System >"),
            base.replace("ThreadID='4340'", "ThreadID='4340'ProcessID='1'"),
            base.replace("ThreadID='4340'", "ThreadID='4340' ThreadID='1'"),
            base.replace("-</Data>", "a\r\nb\rc\r\r\nd\r</Data>"),
            base.replace("ThreadID='4340'", "ThreadID='43\r\n40'"),
            base.replace("<EventData>", "<EventData> \n "),
            base.replace("<System>", "<System/><System>"),
            base.replace("Guid='{5770385f", "Guid='{a>b/"),
            base.replace("Guid='{5770385f", "Guid='{a<b"),
            base.replace("<Correlation/>", "<Correlation />"),
            base.replace("<Correlation/>", "<Correlation / >"),
            base.replace("<Correlation/>", "<Correlation/ >"),
            base.replace("<Correlation/>", "<Correlation ActivityID='{x}'/>"),
            base[..base.len() - 3].to_string(),
            base.replace("<EventData>", "<UserData><X><Y>v</Y></X></UserData><EventData>"),
        ];
        // Line ends in element text are normalised by the fast path itself.
        let cr = base.replace("-</Data>", "a\r\nb\rc\r\r\nd\r</Data>");
        let (f, s) = both(&cr);
        let (f, s) = (f.expect("fast path taken for CR text"), s.expect("valid"));
        assert!(same(&f, &s), "{:?}\n{:?}", f.fields, s.fields);
        assert_eq!(f.get("RuleName"), Some("a\nb\nc\n\nd\n"));
        // Random mutations (deterministic): wherever the fast path accepts, it must agree.
        let alphabet: &[&str] =
            &["<", ">", "/", "'", "\"", "=", " ", "\r", "\n", "Data", "Name", "System", "</Data>", "<Data Name='x'>", "é", "x"];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut doc = base.to_string();
            for _ in 0..1 + rnd(3) {
                let mut at = rnd(doc.len());
                while !doc.is_char_boundary(at) {
                    at -= 1;
                }
                match rnd(3) {
                    0 => doc.insert_str(at, alphabet[rnd(alphabet.len())]),
                    1 => {
                        let mut end = (at + 1 + rnd(8)).min(doc.len());
                        while !doc.is_char_boundary(end) {
                            end -= 1;
                        }
                        doc.replace_range(at..end, "");
                    }
                    _ => doc.replace_range(at..at, alphabet[rnd(alphabet.len())]),
                }
            }
            let (f, s) = both(&doc);
            if let Some(f) = f {
                accepted += 1;
                let s = s.unwrap_or_else(|e| panic!("fast path accepted an invalid document ({e}): {doc}"));
                assert!(same(&f, &s), "{doc}\n{:?}\n{:?}", f.fields, s.fields);
            }
        }
        assert!(accepted > 1000, "{accepted}");
        for v in &variants {
            let (f, s) = both(v);
            if let Some(f) = f {
                let s = s.unwrap_or_else(|e| panic!("fast path accepted an invalid document ({e}): {v}"));
                assert!(same(&f, &s), "{v}\n{:?}\n{:?}", f.fields, s.fields);
            }
        }
    }
}
