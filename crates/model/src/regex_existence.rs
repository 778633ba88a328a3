//! A smaller pattern that matches somewhere in a text exactly when a given one does: what a
//! regular expression used only to ask whether a text matches (Sigma's `|re`) needs compiled.
//!
//! For an unanchored search, a part at either end of a pattern that can match the empty text
//! without an assertion adds nothing: wherever the rest matches, it matches there too. And an
//! end part repeated `{n,m}` matches wherever its first (or last) `n` copies do. SigmaHQ's
//! `-k\s\w{1,64}(?:\s?(?:-p|-s))?` is `-k\s\w` for that question: 64 copies of Unicode `\w`
//! took ~115 M instructions to compile (an NFA of 3.2 MB), the simpler one almost nothing.

use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};

/// `hir` with its ends reduced: a pattern that matches somewhere in any text exactly when
/// `hir` does (not necessarily at the same places).
pub fn existence_form(hir: &Hir) -> Hir {
    trim(&trim(hir, End::Start), End::Finish)
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    Start,
    Finish,
}

/// Whether `hir` can match the empty text whatever surrounds it (no assertion inside).
fn always_empty(hir: &Hir) -> bool {
    hir.properties().minimum_len() == Some(0) && hir.properties().look_set().is_empty()
}

/// `hir` reduced at one end: parts there that always match the empty text dropped, and a
/// repetition there cut to its minimum.
fn trim(hir: &Hir, end: End) -> Hir {
    match hir.kind() {
        _ if always_empty(hir) => Hir::empty(),
        // Which text a group captures does not change whether the pattern matches.
        HirKind::Capture(Capture { sub, .. }) => trim(sub, end),
        HirKind::Repetition(r) if r.min == 1 => trim(&r.sub, end),
        HirKind::Repetition(r) if r.max != Some(r.min) => {
            Hir::repetition(Repetition { min: r.min, max: Some(r.min), greedy: r.greedy, sub: r.sub.clone() })
        }
        HirKind::Alternation(branches) => Hir::alternation(branches.iter().map(|b| trim(b, end)).collect()),
        HirKind::Concat(parts) => {
            // Not every part always matches the empty text: the whole would have.
            let (mut from, mut to) = (0, parts.len());
            match end {
                End::Start => {
                    while from < to && always_empty(&parts[from]) {
                        from += 1;
                    }
                }
                End::Finish => {
                    while to > from && always_empty(&parts[to - 1]) {
                        to -= 1;
                    }
                }
            }
            let mut kept = parts[from..to].to_vec();
            let edge = if end == End::Start { kept.first_mut() } else { kept.last_mut() };
            if let Some(edge) = edge {
                *edge = trim(edge, end);
            }
            Hir::concat(kept)
        }
        _ => hir.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn form(pattern: &str) -> String {
        let hir = regex_syntax::Parser::new().parse(pattern).expect("parses");
        existence_form(&hir).to_string()
    }

    #[test]
    fn ends_that_add_nothing_are_dropped() {
        assert_eq!(form(r"-k\sx{1,64}(?:\s?(?:-p|-s))?"), form(r"-k\sx"));
        assert_eq!(form(r".*abc.*"), form("abc"));
        assert_eq!(form(r"(a{2,5})b(c+)"), form("a{2}bc"));
        assert_eq!(form(r"x*"), form(""));
        // Assertions stay, and so does what precedes or follows them.
        assert_eq!(form(r"^a+$"), form(r"^a+$"));
        assert_eq!(form(r"a+\b"), form(r"a+\b"));
        assert_eq!(form(r"(?:a|bc{2,})d?"), form("a|bc{2}"));
    }

    /// Each pattern and its existence form agree on whether a text matches, on every short
    /// text over a small alphabet.
    #[test]
    fn matches_exactly_where_the_pattern_does() {
        let patterns = [
            r"-k\s\w{1,64}(?:\s?(?:-p|-s))?",
            r"a{2,4}b?",
            r"(?i)A+b*",
            r"^a{1,3}",
            r"b{2,}$",
            r"(?m)^ab?$",
            r"\ba{2,}",
            r"a{2,}\b",
            r"(a|b{2,3})c*(d|e?)",
            r"(?:ab)*a",
            r".*b.{0,2}$",
            r"(?s).+a",
            r"(?:a?|b)c",
            r"((a)|(b+))+c?",
            r"\Ba{1,2}\B",
            r"a*",
            r"c{3}|a{1,}b{0,}",
        ];
        // Every text of up to 5 characters over a small alphabet.
        let alphabet = ['a', 'b', 'c', 'd', ' ', '\n', '-', 'k', 'A'];
        let mut texts = vec![String::new()];
        for len in 1..=5 {
            let shorter: Vec<String> = texts.iter().filter(|t| t.chars().count() == len - 1).cloned().collect();
            texts.extend(shorter.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))));
        }
        for pattern in patterns {
            let original = Regex::new(pattern).expect("compiles");
            let hir = regex_syntax::Parser::new().parse(pattern).expect("parses");
            let reduced = Regex::new(&existence_form(&hir).to_string()).expect("compiles");
            for text in &texts {
                assert_eq!(reduced.is_match(text), original.is_match(text), "{pattern} on {text:?}");
            }
        }
    }
}
