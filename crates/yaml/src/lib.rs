//! A fast parser for the block-style YAML that content files are written in.
//!
//! Reading ~900 ESCU detections through libyaml (serde_norway) cost about 200 instructions a
//! byte, 60 % of a hunt's start-up. Content files use a small part of YAML: block mappings and
//! sequences, plain, quoted and block scalars, one-line flow sequences, comments. This parser
//! reads that part straight into a [`Value`] and gives up (`None`) on anything else (anchors,
//! tags, `|+`, indentation indicators, several documents, tabs, duplicate keys, anything odd or
//! invalid), so that [`from_str`] falls back to serde_norway, which also gives the errors.
//! Scalars resolve as serde_norway resolves them: text that could be a null, a boolean or a
//! number is handed to serde_norway itself. Tests compare both on every file of ../shared/escu
//! and ../shared/sigma.

use serde::de::DeserializeOwned;
use serde_norway::{Mapping, Value};

/// A document as a [`Value`]: through the fast parser when it reads it, else serde_norway.
pub fn value_from_str(text: &str) -> Result<Value, serde_norway::Error> {
    match parse(text) {
        Some(value) => Ok(value),
        None => serde_norway::from_str(text),
    }
}

/// Deserializes `text` through the fast parser when it reads it, else through serde_norway.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_norway::Error> {
    if let Some(value) = parse(text) {
        if let Ok(parsed) = serde_norway::from_value(value) {
            return Ok(parsed);
        }
    }
    // Whatever the fast path could not take, including errors, with their line and column.
    serde_norway::from_str(text)
}

/// The document in `text` as serde_norway would read it, or `None` where this parser is not
/// sure of that.
pub fn parse(text: &str) -> Option<Value> {
    // Tabs (indentation or separation) and byte order marks are serde_norway's; a carriage
    // return only as part of a CRLF line end, which `lines` drops.
    // One byte each with the memchr crate (vectorized; core's memchr is a word at a time).
    let bytes = text.as_bytes();
    if memchr::memchr(b'\t', bytes).is_some()
        || memchr::memmem::find(bytes, "\u{feff}".as_bytes()).is_some()
        || memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n'))
    {
        return None;
    }
    let mut lines: Vec<Line> = lines(text).map(Line::new).collect();
    let mut p = Parser { lines: &mut lines, pos: 0, depth: 0 };
    p.skip_blank();
    if p.peek().is_some_and(|l| l.text.starts_with("---")) {
        let rest = p.lines[p.pos].text[3..].trim_start();
        if !(rest.is_empty() || rest.starts_with('#')) || p.lines[p.pos].indent != 0 {
            return None;
        }
        p.pos += 1;
        p.skip_blank();
    }
    let value = match p.peek() {
        None => Value::Null,
        Some(l) if l.indent == 0 => p.block(0)?,
        Some(_) => return None,
    };
    p.skip_blank();
    // Anything after the root node (a second document, a stray line) is serde_norway's.
    p.peek().is_none().then_some(value)
}

/// One line: the raw text, its indentation and the text after it; blank and comment-only
/// lines are `blank`. A node starting after `- ` is given its own line at that column, so
/// `indent` is always where `text` starts in `raw`.
#[derive(Clone, Copy)]
struct Line<'a> {
    raw: &'a str,
    indent: usize,
    text: &'a str,
    blank: bool,
}

impl<'a> Line<'a> {
    fn new(raw: &'a str) -> Line<'a> {
        Line::at(raw, raw.len() - raw.trim_start_matches(' ').len())
    }

    fn at(raw: &'a str, indent: usize) -> Line<'a> {
        let text = &raw[indent..];
        Line { raw, indent, text, blank: text.trim_end().is_empty() || text.starts_with('#') }
    }

    fn empty(&self) -> bool {
        self.text.trim_end().is_empty()
    }
}

struct Parser<'t, 'a> {
    lines: &'t mut Vec<Line<'a>>,
    pos: usize,
    /// Blocks open around the current line: deeper than [`MAX_DEPTH`] is serde_norway's
    /// (which refuses it) rather than this parser's stack.
    depth: usize,
}

/// serde_norway's own recursion limit.
const MAX_DEPTH: usize = 128;

impl<'a> Parser<'_, 'a> {
    fn skip_blank(&mut self) {
        while self.lines.get(self.pos).is_some_and(|l| l.blank) {
            self.pos += 1;
        }
    }

    /// The next line that is not blank (without moving past it).
    fn peek(&mut self) -> Option<Line<'a>> {
        self.skip_blank();
        self.lines.get(self.pos).copied()
    }

    /// The block node whose first line is the current one, at `indent`.
    fn block(&mut self, indent: usize) -> Option<Value> {
        let line = self.peek()?;
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let block = if is_entry(line.text) {
            self.sequence(indent)
        } else if key_end(line.text).is_some() {
            self.mapping(indent)
        } else {
            None
        };
        self.depth -= 1;
        block
    }

    fn sequence(&mut self, indent: usize) -> Option<Value> {
        let mut items = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent != indent || !is_entry(line.text) {
                break;
            }
            let rest = line.text[1..].trim_start_matches(' ');
            if rest.trim_end().is_empty() {
                self.pos += 1;
                items.push(self.nested_or_null(indent)?);
            } else if rest.starts_with('#') {
                return None;
            } else if is_entry(rest) || key_end(rest).is_some() {
                // `- key: value` or `- - item`: a node starting on the entry's line.
                let column = line.raw.len() - rest.len();
                self.lines[self.pos] = Line::at(line.raw, column);
                items.push(self.block(column)?);
            } else {
                items.push(self.value(rest, indent)?);
            }
        }
        self.after_block(indent)?;
        Some(Value::Sequence(items))
    }

    fn mapping(&mut self, indent: usize) -> Option<Value> {
        let mut map = Mapping::new();
        while let Some(line) = self.peek() {
            if line.indent != indent || is_entry(line.text) {
                break;
            }
            let end = key_end(line.text)?;
            let key = resolve_plain(&line.text[..end])?;
            let rest = line.text[end + 1..].trim_start_matches(' ');
            let value = if rest.trim_end().is_empty() || rest.starts_with('#') {
                self.pos += 1;
                match self.peek() {
                    // An indentless sequence: `key:` then `- item` lines at the key's column.
                    Some(next) if next.indent == indent && is_entry(next.text) => self.sequence(indent)?,
                    _ => self.nested_or_null(indent)?,
                }
            } else {
                self.value(rest, indent)?
            };
            if map.insert(key, value).is_some() {
                return None;
            }
        }
        self.after_block(indent)?;
        Some(Value::Mapping(map))
    }

    /// A block that ended at `indent`: the next line must not be more indented (an error).
    fn after_block(&mut self, indent: usize) -> Option<()> {
        match self.peek() {
            Some(next) if next.indent > indent => None,
            _ => Some(()),
        }
    }

    /// The node on the lines after an entry or key with nothing after it: a block more
    /// indented than `parent`, else null.
    fn nested_or_null(&mut self, parent: usize) -> Option<Value> {
        match self.peek() {
            Some(next) if next.indent > parent && (is_entry(next.text) || key_end(next.text).is_some()) => self.block(next.indent),
            // A scalar starting on the next line (`data:` then an indented URL).
            Some(next) if next.indent > parent => self.value(next.text, parent),
            _ => Some(Value::Null),
        }
    }

    /// The scalar (or one-line flow sequence) starting at `rest` on the current line, under a
    /// node at `parent`; moves past its lines.
    fn value(&mut self, rest: &'a str, parent: usize) -> Option<Value> {
        match rest.as_bytes()[0] {
            b'|' | b'>' => self.block_scalar(rest, parent),
            b'\'' => self.single_quoted(rest),
            b'"' => self.double_quoted(rest),
            b'[' => {
                let value = flow_sequence(rest)?;
                self.pos += 1;
                Some(value)
            }
            // `-`, `?` and `:` start a plain scalar when text follows them (`-3`).
            b'-' | b'?' | b':' if rest.as_bytes().get(1).is_some_and(|&b| b != b' ') => self.plain(rest, parent),
            c if is_indicator(c) => None,
            _ => self.plain(rest, parent),
        }
    }

    /// What follows a closing quote on its line must be nothing or a comment.
    fn end_of_line(&mut self, after: &str) -> Option<()> {
        if !nothing_but_comment(after) {
            return None;
        }
        self.pos += 1;
        Some(())
    }

    /// A plain scalar: its first line's text, then more indented lines folded into it.
    fn plain(&mut self, first_line: &'a str, parent: usize) -> Option<Value> {
        let first = plain_line(first_line)?;
        let commented = first.len() != first_line.trim_end().len();
        self.pos += 1;
        let mut text: Option<String> = None;
        let mut breaks = 0;
        while let Some(line) = self.lines.get(self.pos) {
            if line.empty() {
                breaks += 1;
                self.pos += 1;
                continue;
            }
            if line.indent <= parent || line.text.starts_with('#') {
                break;
            }
            // A comment ends a plain scalar; what is more indented after it is an error.
            let more = line.text.trim_end();
            // Indicators are text after the first line, but for an entry's `- ` and `? `/`: `.
            if commented || is_entry(more) || more.starts_with("? ") || more.starts_with(": ") || plain_line(more)? != more {
                return None;
            }
            let t = text.get_or_insert_with(|| first.to_string());
            fold(t, breaks);
            t.push_str(more);
            breaks = 0;
            self.pos += 1;
        }
        match text {
            Some(t) => Some(Value::String(t)),
            None => resolve_plain(first),
        }
    }

    fn single_quoted(&mut self, rest: &'a str) -> Option<Value> {
        let mut out = String::new();
        let mut segment = &rest[1..];
        loop {
            let mut from = 0;
            while let Some(i) = segment[from..].find('\'').map(|i| i + from) {
                if segment[i + 1..].starts_with('\'') {
                    out.push_str(&segment[from..=i]);
                    from = i + 2;
                    continue;
                }
                out.push_str(&segment[from..i]);
                return self.end_of_line(&segment[i + 1..]).map(|()| Value::String(out));
            }
            // The scalar goes on: trailing spaces dropped, the break folded.
            out.push_str(segment[from..].trim_end_matches(' '));
            let breaks = self.next_quoted_line()?;
            fold(&mut out, breaks);
            segment = self.lines[self.pos].text;
        }
    }

    /// A double-quoted scalar, on one line or folded over several as a single-quoted one is;
    /// a `\` ending a line joins it to the next without a space.
    fn double_quoted(&mut self, rest: &'a str) -> Option<Value> {
        let mut out = String::new();
        let mut segment = &rest[1..];
        loop {
            match double_quoted_line(segment, &mut out)? {
                Quoted::Closed(after) => return self.end_of_line(after).map(|()| Value::String(out)),
                Quoted::Joined => {
                    let breaks = self.next_quoted_line()?;
                    if breaks > 0 {
                        return None; // an escaped break before empty lines: serde_norway's
                    }
                }
                Quoted::Open { kept } => {
                    // Trailing white space is dropped, but not what escapes produced.
                    let trimmed = out.trim_end_matches(' ').len().max(kept);
                    out.truncate(trimmed);
                    let breaks = self.next_quoted_line()?;
                    fold(&mut out, breaks);
                }
            }
            segment = self.lines[self.pos].text;
        }
    }

    /// Moves to the next line holding text inside a quoted scalar; the empty lines passed.
    fn next_quoted_line(&mut self) -> Option<usize> {
        self.pos += 1;
        let mut breaks = 0;
        loop {
            let line = self.lines.get(self.pos)?;
            if !line.empty() {
                // libyaml takes the lines of a quoted scalar at any indentation, but for a
                // document marker at the line's start.
                if line.indent == 0 && (line.text.starts_with("---") || line.text.starts_with("...")) {
                    return None;
                }
                return Some(breaks);
            }
            breaks += 1;
            self.pos += 1;
        }
    }

    /// `|` or `>` with an optional chomping indicator, then the lines more indented than `parent`.
    fn block_scalar(&mut self, header: &'a str, parent: usize) -> Option<Value> {
        let literal = header.starts_with('|');
        let (chomp, after) = match header.as_bytes().get(1) {
            Some(b'-') => (Chomp::Strip, &header[2..]),
            Some(b'+') => return None, // kept trailing breaks: rare, serde_norway's
            _ => (Chomp::Clip, &header[1..]),
        };
        if !nothing_but_comment(after) {
            return None; // an indentation indicator, or text after the header
        }
        self.pos += 1;
        let mut content: Vec<&str> = Vec::new();
        let mut column: Option<usize> = None;
        while let Some(line) = self.lines.get(self.pos) {
            if line.empty() {
                // Spaces past the content's column would be content, or would set it.
                if line.indent != 0 && column.is_none_or(|c| line.indent > c) {
                    return None;
                }
                content.push("");
                self.pos += 1;
                continue;
            }
            let c = *column.get_or_insert(line.indent);
            if c <= parent {
                return None;
            }
            if line.indent < c {
                break;
            }
            if line.indent > c && !literal {
                return None; // folding keeps more indented lines apart: serde_norway's
            }
            content.push(&line.raw[c..]);
            self.pos += 1;
        }
        while content.last() == Some(&"") {
            content.pop();
        }
        let mut text = String::new();
        let mut breaks = 0;
        for line in &content {
            if line.is_empty() {
                breaks += 1;
                continue;
            }
            if !text.is_empty() || breaks > 0 {
                if literal {
                    text.extend(std::iter::repeat_n('\n', breaks + usize::from(!text.is_empty())));
                } else if text.is_empty() {
                    text.extend(std::iter::repeat_n('\n', breaks));
                } else {
                    fold(&mut text, breaks);
                }
            }
            breaks = 0;
            text.push_str(line);
        }
        if chomp == Chomp::Clip && !text.is_empty() {
            text.push('\n');
        }
        Some(Value::String(text))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Chomp {
    Clip,
    Strip,
}

mod scan;
use scan::{
    double_quoted_line, flow_sequence, fold, is_entry, is_indicator, key_end, lines, nothing_but_comment, plain_line, resolve_plain, Quoted,
};

#[cfg(test)]
mod tests;
