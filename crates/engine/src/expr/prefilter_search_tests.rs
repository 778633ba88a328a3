//! Tests of [`super`]: which searcher a field gets, the DFA size bound, and the lazily built
//! DFA against the library's own search.

use super::*;
use crate::expr::prefilter_windows::WindowIndex;

#[test]
fn literals_get_a_lazy_dfa_unless_one_is_empty() {
    let few: Vec<String> = ["-enc", "http://"].iter().map(|s| s.to_string()).collect();
    let many: Vec<String> = (0..3_000u128).map(|i| format!("{i:05}-{:040x}", i * 0x9e37_79b9_7f4a_7c15)).collect();
    assert!(matches!(literal_searcher(&few), Ok(Searcher::Lazy(_))));
    assert!(matches!(literal_searcher(&many), Ok(Searcher::Lazy(_))));
    let with_empty: Vec<String> = few.iter().cloned().chain([String::new()]).collect();
    let built = literal_searcher(&with_empty);
    assert!(matches!(&built, Ok(Searcher::Built(_))), "an empty literal is the library's");
    // The library's automaton matches lowercased literals in lowercased values.
    let mut found = Vec::new();
    built.expect("builds").find("x -enc http://", &mut LazyDfa::default(), &mut found);
    found.sort_unstable();
    found.dedup();
    assert_eq!(found, [0, 1, 2]);
}

/// A small deterministic generator of test texts.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    /// A text of up to `max` pieces drawn from `alphabet`.
    fn text(&mut self, alphabet: &[&str], max: usize) -> String {
        (0..self.below(max + 1)).map(|_| alphabet[self.below(alphabet.len())]).collect()
    }
}

/// The literals (ids, sorted, each once) the library's overlapping search finds in the
/// ASCII-lowercased `text`: what the lazy DFA must find in `text` as it is.
fn reference(literals: &[String], text: &str) -> Vec<u32> {
    let automaton = AhoCorasick::new(literals).expect("builds");
    let mut found: Vec<u32> = automaton.find_overlapping_iter(&text.to_ascii_lowercase()).map(|m| m.pattern().as_u32()).collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn lazy(nfa: &LiteralNfa, dfa: &mut LazyDfa, text: &str) -> Vec<u32> {
    let mut found = Vec::new();
    nfa.find(dfa, text.as_bytes(), &mut found);
    let mut sorted = found.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), found.len(), "each literal once: {found:?}");
    sorted
}

/// Literal sets with literals inside, before and after one another, and texts of their
/// pieces in either case with bytes of no literal (and non-ASCII ones) between: the lazy DFA
/// finds what the library finds in the lowercased text, through one table reused from text
/// to text, a fresh one, and tables too small to hold every state.
#[test]
fn lazy_dfa_finds_what_the_library_finds() {
    let pieces = ["a", "b", "ab", "ba", "abc", "c:\\", "\\windows\\", "cmd", ".exe", "-enc", "é", "ü", "x"];
    let alphabet =
        ["a", "B", "b", "A", "C", "c", ":", "\\", "Windows", "cmd", "CMD.EXE", ".exe", "-", "enc", " ", "é", "Ü", "ü", "q", "\u{212A}"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..60 {
        let mut literals: Vec<String> = (0..1 + rng.below(12)).map(|_| rng.text(&pieces, 3)).filter(|l| !l.is_empty()).collect();
        literals.dedup();
        if literals.is_empty() {
            continue;
        }
        let Some(Ok(nfa)) = LiteralNfa::new(&literals) else { panic!("builds {literals:?}") };
        let mut tables = [LazyDfa::default(), LazyDfa::with_max_bytes(0), LazyDfa::with_max_bytes(64 * (nfa.representatives.len() * 4))];
        for _ in 0..40 {
            let text = rng.text(&alphabet, 12);
            let want = reference(&literals, &text);
            for (t, table) in tables.iter_mut().enumerate() {
                assert_eq!(lazy(&nfa, table, &text), want, "round {round}, table {t}: {literals:?} in {text:?}");
            }
            assert_eq!(lazy(&nfa, &mut LazyDfa::default(), &text), want, "fresh table: {literals:?} in {text:?}");
        }
        let stride = nfa.representatives.len();
        assert_eq!(tables[1].transitions.len(), stride, "only the start row");
        assert!(tables[2].transitions.len() * 4 <= 64 * stride * 4);
    }
}

/// Upper-case ASCII letters in a value match the literals' lower-case ones; upper-case
/// letters of non-ASCII text do not (the caller lowercases such text first).
#[test]
fn lazy_dfa_folds_ascii_case_only() {
    let literals: Vec<String> = ["powershell", "é.exe", "\\temp\\"].iter().map(|s| s.to_string()).collect();
    let Some(Ok(nfa)) = LiteralNfa::new(&literals) else { panic!("builds") };
    let mut dfa = LazyDfa::default();
    assert_eq!(lazy(&nfa, &mut dfa, "C:\\TEMP\\POWERSHELL.EXE"), [0, 2]);
    assert_eq!(lazy(&nfa, &mut dfa, "x\\É.EXE"), Vec::<u32>::new());
    assert_eq!(lazy(&nfa, &mut dfa, "x\\é.EXE"), [1]);
    assert_eq!(lazy(&nfa, &mut dfa, ""), Vec::<u32>::new());
}

/// A table full before a text's states are in it still finds every literal: the search walks
/// the NFA until it is back in a state the table holds.
#[test]
fn a_full_table_walks_the_nfa() {
    let literals: Vec<String> = (0..50).map(|i| format!("lit{i:02}x")).collect();
    let Some(Ok(nfa)) = LiteralNfa::new(&literals) else { panic!("builds") };
    let text: String = (0..50).rev().map(|i| format!("-LIT{i:02}X")).collect();
    let want: Vec<u32> = (0..50).collect();
    let mut small = LazyDfa::with_max_bytes(3 * nfa.representatives.len() * 4);
    for _ in 0..3 {
        assert_eq!(lazy(&nfa, &mut small, &text), want);
    }
    assert_eq!(small.states.len(), 3);
    let mut large = LazyDfa::default();
    assert_eq!(lazy(&nfa, &mut large, &text), want);
    assert!(large.states.len() > 3);
}

/// A field with more than [`WINDOWED_BYTES`] of literals: its literals of 4 bytes or more are
/// searched by their windows, shorter ones by a lazy DFA, and together they find what the library finds
/// in the lowercased text, each literal once, with the field's own ids.
#[test]
fn many_literals_are_split_between_windows_and_an_automaton() {
    let mut literals: Vec<String> = (0..600u128).map(|i| format!("sha256={:040x}", i * 0x9e37_79b9_7f4a_7c15)).collect();
    for (at, short) in [(0, "-enc"), (17, "cmd"), (300, "http://"), (599, "é.exe"), (20, "/c"), (21, "c:\\w")] {
        literals.insert(at, short.to_string());
    }
    assert!(literals.iter().map(String::len).sum::<usize>() > WINDOWED_BYTES);
    let searcher = FieldSearcher::new(&literals).expect("builds");
    assert!(searcher.narrow.is_some() && searcher.wide.is_some() && searcher.automaton.is_some() && searcher.folds_case());
    let mut pieces: Vec<String> = ["-ENC ", "CMD", "http://", "é.EXE", "sha256=", ",", "SHA256=00", "x", "/C", "C:\\W", "c:\\"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    pieces.extend([5usize, 99, 400].iter().map(|&i| literals[i].to_ascii_uppercase()));
    pieces.push(literals[250][..30].to_string());
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut dfa = LazyDfa::default();
    for _ in 0..300 {
        let text = rng.text(&pieces, 8);
        let mut found = Vec::new();
        searcher.find(&text, &mut dfa, &mut found);
        let mut sorted = found.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), found.len(), "each literal once: {found:?}");
        assert_eq!(sorted, reference(&literals, &text), "{text:?}");
    }
}

/// Window indexes of either width find what a plain search finds, on texts made of few bytes
/// so that literals share windows and values hold windows of literals they do not hold.
#[test]
fn window_indexes_match_a_plain_search() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let alphabet = ["a", "b", "=", "\\", "."];
    let literals: Vec<String> = (0..60).map(|_| (0..4 + rng.below(10)).map(|_| alphabet[rng.below(alphabet.len())]).collect()).collect();
    let refs: Vec<(u32, &str)> = literals.iter().enumerate().map(|(i, l)| (i as u32, l.as_str())).collect();
    let (wide, narrow) = (WindowIndex::<8>::new(&refs), WindowIndex::<4>::new(&refs));
    for _ in 0..2_000 {
        let text = rng.text(&alphabet, 40);
        let want = |min: usize| -> Vec<u32> {
            (0..literals.len()).filter(|&i| literals[i].len() >= min && text.contains(&literals[i])).map(|i| i as u32).collect()
        };
        let (mut in_wide, mut in_narrow) = (Vec::new(), Vec::new());
        wide.find(text.as_bytes(), &mut in_wide);
        narrow.find(text.as_bytes(), &mut in_narrow);
        in_wide.sort_unstable();
        in_narrow.sort_unstable();
        assert_eq!(in_wide, want(8), "{text:?}");
        assert_eq!(in_narrow, want(4), "{text:?}");
    }
}
