//! Splunk's search-time value matching: case-insensitive, `*` wildcard anywhere.

use hashbrown::HashMap;
use memchr::memmem;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock, Weak};

/// A compiled search value such as `*http://*` or `msiexec.exe`.
///
/// Matching lowercases the candidate (ASCII fast path, Unicode when needed) and compares it to
/// the lowercased pattern segments. A pattern written with XML entities (`&gt;`) also matches
/// the decoded text, because Splunk matches the raw XML while Vigil holds decoded values.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// Shared by every pattern of the same text (see [`Pattern::new`]): SigmaHQ and ESCU
    /// repeat many values, and each glob holds substring searchers.
    alternatives: Arc<[Glob]>,
}

#[derive(Clone)]
struct Glob {
    /// Literal pieces between `*`s, lowercased.
    pieces: Vec<Vec<u8>>,
    /// Substring searchers for the inner pieces, built once, at the first match that needs
    /// them: one per match costs more than the search on short values, and building them at
    /// plan time cost ~25 M instructions of a start-up with SigmaHQ, though the prefilter keeps
    /// most patterns from ever being tried.
    finders: OnceLock<Box<[memmem::Finder<'static>]>>,
    /// True when the pattern does not begin / end with `*`.
    anchored_start: bool,
    anchored_end: bool,
}

/// What the glob matches, without its searchers (built from the pieces, and long to print):
/// equal texts are equal globs, which is what comparing scans by their text needs.
impl std::fmt::Debug for Glob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pieces: Vec<std::borrow::Cow<str>> = self.pieces.iter().map(|p| String::from_utf8_lossy(p)).collect();
        f.debug_struct("Glob")
            .field("pieces", &pieces)
            .field("anchored_start", &self.anchored_start)
            .field("anchored_end", &self.anchored_end)
            .finish()
    }
}

/// Equal texts are equal globs (as their Debug text says); the searchers follow the pieces.
impl PartialEq for Glob {
    fn eq(&self, other: &Glob) -> bool {
        self.pieces == other.pieces && self.anchored_start == other.anchored_start && self.anchored_end == other.anchored_end
    }
}

/// What the pattern matches: patterns of one text share their globs, so most comparisons end
/// at the pointer.
impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        Arc::ptr_eq(&self.alternatives, &other.alternatives) || self.alternatives[..] == other.alternatives[..]
    }
}

thread_local! {
    static LOWER: RefCell<String> = const { RefCell::new(String::new()) };
    /// Compiled globs by pattern text, while some pattern still uses them.
    static COMPILED: RefCell<Compiled> = RefCell::new(Compiled::default());
}

/// The cache behind [`Pattern::new`]: entries whose patterns are all dropped are pruned
/// whenever the table has doubled since the last pruning, so reloading content does not grow it.
#[derive(Default)]
struct Compiled {
    by_text: HashMap<String, Weak<[Glob]>>,
    prune_at: usize,
}

impl Compiled {
    fn get(&mut self, text: &str) -> Arc<[Glob]> {
        if let Some(live) = self.by_text.get(text).and_then(Weak::upgrade) {
            return live;
        }
        let mut alternatives = vec![Glob::new(text)];
        if text.contains('&') {
            let decoded = decode_xml_entities(text);
            if decoded != text {
                alternatives.push(Glob::new(&decoded));
            }
        }
        let alternatives: Arc<[Glob]> = alternatives.into();
        if self.by_text.len() >= self.prune_at {
            self.by_text.retain(|_, w| w.strong_count() > 0);
            self.prune_at = (self.by_text.len() * 2).max(1024);
        }
        self.by_text.insert(text.to_string(), Arc::downgrade(&alternatives));
        alternatives
    }
}

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern { alternatives: COMPILED.with(|c| c.borrow_mut().get(text)) }
    }

    /// The pattern as written, lowercased (for EXPLAIN).
    pub(crate) fn text(&self) -> String {
        let pieces = &self.alternatives[0].pieces;
        pieces.iter().map(|p| String::from_utf8_lossy(p)).collect::<Vec<_>>().join("*")
    }

    /// True when the pattern is only `*` (matches any present value).
    pub fn is_match_all(&self) -> bool {
        let g = &self.alternatives[0];
        !g.anchored_start && !g.anchored_end && g.pieces.iter().all(|p| p.is_empty())
    }

    /// When the pattern has no wildcard, the lowercased texts it matches exactly (the written
    /// form and, for XML entities, the decoded one). Used to index predicates by value.
    pub fn exact_values(&self) -> Option<Vec<String>> {
        self.alternatives
            .iter()
            .map(|g| match g.pieces.as_slice() {
                [only] => String::from_utf8(only.clone()).ok(),
                _ => None,
            })
            .collect()
    }

    /// For each alternative, its longest literal piece (lowercased): a value can only match
    /// if it contains one of them. `None` when some alternative has no literal (`*`).
    pub fn required_literals(&self) -> Option<Vec<String>> {
        self.alternatives
            .iter()
            .map(|g| {
                let longest = g.pieces.iter().max_by_key(|p| p.len())?;
                if longest.is_empty() {
                    return None;
                }
                String::from_utf8(longest.clone()).ok()
            })
            .collect()
    }

    /// Matches a value that is lowercased already when `folded` is true.
    /// Each alternative's literal pieces between `*`s (lowercased), for indexes over many
    /// patterns.
    pub(crate) fn alternative_pieces(&self) -> impl Iterator<Item = &[Vec<u8>]> {
        self.alternatives.iter().map(|g| g.pieces.as_slice())
    }

    /// Runs `f` on the lowercased bytes of `value` (as `matches` compares them).
    pub(crate) fn with_folded<R>(value: &str, folded: bool, f: impl FnOnce(&[u8]) -> R) -> R {
        if folded || (value.is_ascii() && value.bytes().all(|b| !b.is_ascii_uppercase())) {
            return f(value.as_bytes());
        }
        LOWER.with(|buf| {
            let mut buf = buf.borrow_mut();
            super::field::fold_into(&mut buf, value);
            f(buf.as_bytes())
        })
    }

    /// Whether an alternative matches already-lowercased bytes.
    pub(crate) fn matches_folded_bytes(&self, value: &[u8]) -> bool {
        self.alternatives.iter().any(|g| g.matches(value))
    }

    pub fn matches_maybe_folded(&self, value: &str, folded: bool) -> bool {
        if folded {
            self.alternatives.iter().any(|g| g.matches(value.as_bytes()))
        } else {
            self.matches(value)
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        Pattern::with_folded(value, false, |v| self.matches_folded_bytes(v))
    }
}

impl Glob {
    fn new(text: &str) -> Glob {
        // Per character, exactly as `matches` lowers values: `str::to_lowercase` maps a final
        // `Σ` to `ς`, so "éΣ" did not match itself.
        // ASCII (nearly every pattern) lowers the same in one pass, into a string sized once.
        let lower = if text.is_ascii() {
            text.to_ascii_lowercase()
        } else {
            let mut lower = String::with_capacity(text.len());
            lower.extend(text.chars().flat_map(char::to_lowercase));
            lower
        };
        let pieces: Vec<Vec<u8>> = lower.split('*').map(|p| p.as_bytes().to_vec()).collect();
        Glob { anchored_start: !lower.starts_with('*'), anchored_end: !lower.ends_with('*'), pieces, finders: OnceLock::new() }
    }

    /// The searchers of the pieces between the first and the last.
    fn finders(&self) -> &[memmem::Finder<'static>] {
        self.finders.get_or_init(|| match self.pieces.len() {
            0..=2 => Box::default(),
            n => self.pieces[1..n - 1].iter().map(|p| memmem::Finder::new(p).into_owned()).collect(),
        })
    }

    fn matches(&self, s: &[u8]) -> bool {
        let n = self.pieces.len();
        if n == 1 {
            return same(s, &self.pieces[0]);
        }
        let first = &self.pieces[0];
        let last = &self.pieces[n - 1];
        if s.len() < first.len() + last.len() || !same(&s[..first.len()], first) || !same(&s[s.len() - last.len()..], last) {
            return false;
        }
        // `anchored_*` are implied by non-empty first/last pieces; empty ones match trivially.
        let _ = (self.anchored_start, self.anchored_end);
        if n == 2 {
            return true;
        }
        let mut rest = &s[first.len()..s.len() - last.len()];
        for finder in self.finders() {
            let len = finder.needle().len();
            if len == 0 {
                continue;
            }
            match finder.find(rest) {
                Some(i) => rest = &rest[i + len..],
                None => return false,
            }
        }
        true
    }
}

/// Byte equality without a call into libc for short slices: most pieces are file names, and
/// a call to `memcmp` per comparison was a tenth of the time with all detections.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| s.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_le_bytes);
    match n {
        0 => true,
        1..=7 => a.iter().zip(b).all(|(x, y)| x == y),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Decodes the five predefined XML entities and numeric character references.
pub fn decode_xml_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let ent = &tail[1..e];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => u32::from_str_radix(&ent[2..], 16).ok().and_then(char::from_u32),
                _ if ent.starts_with('#') => ent[1..].parse::<u32>().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    /// Inner pieces' searchers wait for the first match that needs them.
    #[test]
    fn searchers_built_at_first_match() {
        let p = super::Pattern::new("*searchers*wait for*the first match");
        let glob = &p.alternatives[0];
        assert!(glob.finders.get().is_none());
        assert!(p.matches("x SEARCHERS y wait for z the first match"));
        assert_eq!(glob.finders.get().map(|f| f.len()), Some(2));
        assert!(!p.matches("wait for searchers the first match"));
        assert!(super::Pattern::new("a*b").matches("AxB"), "no inner piece");
    }

    #[test]
    fn same_is_byte_equality() {
        let text = b"c:\\windows\\system32\\rundll32.exe";
        for n in 0..text.len() {
            for m in 0..text.len() {
                let (a, b) = (&text[..n], &text[text.len() - m..]);
                assert_eq!(super::same(a, b), a == b, "{n} {m}");
                let mut c = a.to_vec();
                if let Some(last) = c.last_mut() {
                    *last ^= 1;
                }
                assert_eq!(super::same(a, &c), a == c.as_slice());
                assert!(super::same(a, a));
            }
        }
    }

    use super::*;

    #[test]
    fn case_insensitive_exact() {
        let p = Pattern::new("msiexec.exe");
        assert!(p.matches("MSIEXEC.EXE"));
        assert!(p.matches("msiexec.exe"));
        assert!(!p.matches("msiexec.exe "));
        assert!(!p.matches("xmsiexec.exe"));
    }

    #[test]
    fn wildcards_anywhere() {
        let p = Pattern::new("*http://*");
        assert!(p.matches("msiexec /i HTTP://x/y.msi"));
        assert!(!p.matches("msiexec /i c:\\x.msi"));
        assert!(Pattern::new("a*c").matches("abc"));
        assert!(Pattern::new("a*c").matches("ac"));
        assert!(!Pattern::new("a*c").matches("ab"));
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("a*b*c").matches("aXbYc"));
        assert!(!Pattern::new("a*b*c").matches("aXcYb"));
        assert!(!Pattern::new("ab*ba").matches("aba"), "pieces must not overlap");
        assert!(Pattern::new("*\\windows\\*").matches("C:\\Windows\\System32"));
    }

    #[test]
    fn unicode_lowercase() {
        assert!(Pattern::new("*ÄRGER*").matches("großer ärger"));
    }

    /// Found by the proptest against a regex reference (tests/pattern_prop.rs).
    #[test]
    fn final_sigma_matches_itself() {
        assert!(Pattern::new("éΣ").matches("éΣ"));
        assert!(Pattern::new("ΟΔΟΣ*").matches("οδοσ"));
    }

    #[test]
    fn xml_entities_match_decoded_values() {
        let p = Pattern::new("*&gt; nul*");
        assert!(p.matches("cmd /c echo x > nul"));
        assert!(p.matches("cmd /c echo x &gt; nul"));
        assert_eq!(decode_xml_entities("a &amp;&#65;&#x42; &bogus; &"), "a &AB &bogus; &");
    }
}
