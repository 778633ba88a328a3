//! Sigma string values: `*` and `?` wildcards with the spec's backslash escaping, matched
//! case-insensitively unless `|cased`.

use memchr::memmem;

/// One element of a Sigma string after escape processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Char(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters.
    Star,
}

/// Parses a Sigma string: `\*`, `\?` and `\\` are the plain characters; a backslash before
/// anything else is a plain backslash; unescaped `*` and `?` are wildcards.
pub fn parse_sigma_string(s: &str) -> Vec<Tok> {
    let mut out = Vec::with_capacity(s.len());
    push_sigma_string(&mut out, s);
    out
}

/// [`parse_sigma_string`] onto the end of `out`.
pub fn push_sigma_string(out: &mut Vec<Tok>, s: &str) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    out.push(Tok::Char(n));
                }
                _ => out.push(Tok::Char('\\')),
            },
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::One),
            c => out.push(Tok::Char(c)),
        }
    }
}

/// Plain text as tokens (no wildcards).
pub fn plain(s: &str) -> Vec<Tok> {
    s.chars().map(Tok::Char).collect()
}

/// Whether a token list has wildcards.
pub fn has_wildcards(toks: &[Tok]) -> bool {
    toks.iter().any(|t| !matches!(t, Tok::Char(_)))
}

/// The plain text of a token list (wildcards written as `*`/`?`).
pub fn to_text(toks: &[Tok]) -> String {
    // Sized once: a token is at least a byte.
    let mut text = String::with_capacity(toks.len());
    for t in toks {
        text.push(match t {
            Tok::Char(c) => *c,
            Tok::One => '?',
            Tok::Star => '*',
        });
    }
    text
}

/// A run of characters and `?` between two `*`.
#[derive(Clone, Debug)]
struct Segment {
    /// The text with `?` as `None`.
    elems: Vec<Option<char>>,
    /// The text when the segment has no `?` (searched with memmem).
    literal: Option<String>,
}

impl Segment {
    fn new(elems: Vec<Option<char>>) -> Segment {
        let literal = elems.iter().all(Option::is_some).then(|| {
            let mut text = String::with_capacity(elems.len());
            text.extend(elems.iter().flatten());
            text
        });
        Segment { elems, literal }
    }

    /// Whether the segment matches at the start of `s`; the byte length matched.
    fn match_at(&self, s: &str) -> Option<usize> {
        if let Some(l) = &self.literal {
            return s.starts_with(l.as_str()).then_some(l.len());
        }
        let mut it = s.char_indices();
        for e in &self.elems {
            let (_, c) = it.next()?;
            if e.is_some_and(|want| want != c) {
                return None;
            }
        }
        Some(it.next().map(|(i, _)| i).unwrap_or(s.len()))
    }

    /// Leftmost match in `s`: (start, end) byte offsets.
    fn find(&self, s: &str) -> Option<(usize, usize)> {
        if let Some(l) = &self.literal {
            return memmem::find(s.as_bytes(), l.as_bytes()).map(|i| (i, i + l.len()));
        }
        let mut starts: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
        starts.push(s.len());
        starts.into_iter().find_map(|i| self.match_at(&s[i..]).map(|n| (i, i + n)))
    }

    /// Whether the segment matches the end of `s`; the start offset.
    fn match_end(&self, s: &str) -> Option<usize> {
        let n = self.elems.len();
        let start = if n == 0 { s.len() } else { s.char_indices().rev().nth(n - 1)?.0 };
        self.match_at(&s[start..]).filter(|&len| start + len == s.len()).map(|_| start)
    }
}

/// A compiled Sigma wildcard value.
#[derive(Clone, Debug)]
pub struct Glob {
    /// The tokens, and their segments between stars once first needed: the engine plans
    /// most values from `text` alone and never matches with them, and building segments
    /// for SigmaHQ's ~26,000 values (windash variants included) cost ~60 M instructions of
    /// its load. Shared: rules are planned from clones of their compiled values.
    lazy: std::sync::Arc<LazySegments>,
    /// Whether the pattern does not begin with a star.
    anchored_start: bool,
    pub cased: bool,
    /// The value as written (for display and the second-opinion script).
    pub text: String,
    /// Whether `text` means the same as an SPL pattern: case-insensitive, `*` the only
    /// wildcard and no plain `*` or `?` (so the engine's own matcher and prefilter can take it).
    pub spl_compatible: bool,
}

#[derive(Debug)]
struct LazySegments {
    toks: Vec<Tok>,
    /// Segments between stars (the last is empty when the pattern ends with a star),
    /// lowercased unless cased; built by the first caller, once.
    segments: std::sync::OnceLock<Box<[Segment]>>,
}

impl Glob {
    pub fn new(toks: Vec<Tok>, cased: bool) -> Glob {
        let plain_wildcard_char = toks.iter().any(|t| matches!(t, Tok::Char('*' | '?') | Tok::One));
        Glob {
            spl_compatible: !cased && !plain_wildcard_char,
            anchored_start: !matches!(toks.first(), Some(Tok::Star)),
            cased,
            text: to_text(&toks),
            lazy: std::sync::Arc::new(LazySegments { toks, segments: std::sync::OnceLock::new() }),
        }
    }

    fn segments(&self) -> &[Segment] {
        self.lazy.segments.get_or_init(|| segments(&self.lazy.toks, self.cased))
    }

    /// The longest literal a matching value must contain (lowercased unless cased), for
    /// prefilters.
    pub fn required_literal(&self) -> Option<&str> {
        self.segments().iter().filter_map(|s| s.literal.as_deref()).max_by_key(|l| l.len()).filter(|l| !l.is_empty())
    }

    /// Whether the whole value matches (`value` already lowercased when `folded`).
    pub fn matches(&self, value: &str) -> bool {
        if self.cased {
            return self.match_folded(value);
        }
        let lower = fold(value);
        self.match_folded(&lower)
    }

    fn match_folded(&self, s: &str) -> bool {
        let segs = self.segments();
        if segs.len() == 1 {
            // No star: the whole value.
            return segs[0].match_at(s) == Some(s.len());
        }
        let mut rest = s;
        let (first, last) = (&segs[0], &segs[segs.len() - 1]);
        if self.anchored_start || !first.elems.is_empty() {
            let Some(n) = first.match_at(rest) else {
                return false;
            };
            rest = &rest[n..];
        }
        let tail_start = match last.match_end(rest) {
            Some(i) => i,
            None => return false,
        };
        let mut middle = &rest[..tail_start];
        for seg in &segs[1..segs.len() - 1] {
            match seg.find(middle) {
                Some((_, end)) => middle = &middle[end..],
                None => return false,
            }
        }
        // The tail must not overlap what the head and middles used: `rest` excluded the head,
        // and middles were searched before the tail's start.
        true
    }
}

/// The runs of `toks` between stars, lowercased per character unless `cased`.
fn segments(toks: &[Tok], cased: bool) -> Box<[Segment]> {
    toks.split(|t| *t == Tok::Star)
        .map(|piece| {
            // Sized up front (a character lowercases to one, bar a few Unicode ones): the
            // vectors' growth was a third of SigmaHQ's glob building.
            let mut elems = Vec::with_capacity(piece.len());
            for t in piece {
                match t {
                    Tok::Char(c) if cased => elems.push(Some(*c)),
                    Tok::Char(c) if c.is_ascii() => elems.push(Some(c.to_ascii_lowercase())),
                    Tok::Char(c) => elems.extend(c.to_lowercase().map(Some)),
                    Tok::One => elems.push(None),
                    Tok::Star => {} // split at
                }
            }
            Segment::new(elems)
        })
        .collect()
}

/// Lowercases text for case-insensitive comparison (ASCII fast path).
pub fn fold(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(s.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(s)
        }
    } else {
        std::borrow::Cow::Owned(s.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Case-insensitive values are lowercased per character, a character lowercasing to two
    /// (`İ` to `i̇`) included; `|cased` values keep each character as written.
    #[test]
    fn folding_per_character() {
        let folded = Glob::new(parse_sigma_string("*İx?Y"), false);
        assert!(folded.matches("a\u{130}XzY") && folded.matches("i\u{307}xzy"));
        assert_eq!(Glob::new(parse_sigma_string("*İX*"), false).required_literal(), Some("i\u{307}x"));
        let cased = Glob::new(parse_sigma_string("*İx?Y"), true);
        assert!(cased.matches("a\u{130}xzY") && !cased.matches("i\u{307}xzy") && !cased.matches("a\u{130}XzY"));
    }

    /// Segments wait for the first match or literal, and clones share them once built.
    #[test]
    fn segments_built_at_first_use() {
        let glob = Glob::new(parse_sigma_string(r"*\Cmd.exe"), false);
        assert_eq!(glob.text, r"*\Cmd.exe");
        assert!(glob.lazy.segments.get().is_none());
        let clone = glob.clone();
        assert!(clone.matches(r"C:\WINDOWS\cmd.EXE"));
        assert_eq!(glob.lazy.segments.get().map(|s| s.len()), Some(2));
        assert_eq!(glob.required_literal(), Some(r"\cmd.exe"));
    }

    fn m(pat: &str, s: &str) -> bool {
        Glob::new(parse_sigma_string(pat), false).matches(s)
    }

    #[test]
    fn escapes_follow_the_spec() {
        assert_eq!(parse_sigma_string(r"a\*b"), plain("a*b"));
        assert_eq!(parse_sigma_string(r"a\?"), plain("a?"));
        assert_eq!(parse_sigma_string(r"C:\Windows"), plain(r"C:\Windows"));
        assert_eq!(parse_sigma_string(r"C:\\Windows"), plain(r"C:\Windows"));
        assert_eq!(parse_sigma_string(r"a\\*"), vec![Tok::Char('a'), Tok::Char('\\'), Tok::Star]);
        assert_eq!(parse_sigma_string(r"a\\\*"), plain(r"a\*"));
        assert_eq!(parse_sigma_string(r"\\\\"), plain(r"\\"));
    }

    #[test]
    fn wildcards_and_case() {
        assert!(m("*\\cmd.exe", r"C:\Windows\System32\CMD.EXE"));
        assert!(!m("*\\cmd.exe", r"C:\Windows\System32\xcmd.exe"));
        assert!(m("c?d.exe", "cmd.exe"));
        assert!(!m("c?d.exe", "cd.exe"));
        assert!(m("*a*b*", "xxAyyBzz"));
        assert!(!m("*a*b*", "xxbyya"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("ab*ba", "abba"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("*", ""));
        assert!(m("*é*", "CAFÉ"));
        assert!(!Glob::new(plain("CMD"), true).matches("cmd"));
        assert!(m(r"a\*", "a*"));
        assert!(!m(r"a\*", "ab"));
        assert!(m("*?", "x"));
        assert!(!m("*?", ""));
    }
}
