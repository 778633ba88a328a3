//! Regular expressions checked at plan time and compiled at first use.
//!
//! All ESCU plans ~70 distinct patterns and SigmaHQ ~115 `|re` values; compiling them (NFAs,
//! prefilters) cost ~23 M and ~63 M instructions of a hunt's start-up that waiting saves,
//! though most belong to detections whose events an input may not hold. A pattern is parsed at
//! plan time (so a bad one is refused there, with the `regex` crate's own message) and compiled
//! when first matched. Compiling can then fail
//! only on the size limit: a pattern not bounded within it is compiled at once.

use crate::regex_existence::existence_form;
use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};
use std::sync::{Arc, OnceLock};

/// A pattern (in the `regex` crate's syntax) and, once something matched with it, its
/// program. Clones share both, as clones of a [`Regex`] share its program.
#[derive(Clone, Debug)]
pub struct LazyRegex {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: String,
    /// What is compiled instead of `source`, when only whether a text matches is asked
    /// ([`LazyRegex::for_existence`]).
    compiled_source: Option<String>,
    /// The names of the capture groups, in group order ([`Regex::capture_names`], flattened).
    names: Vec<String>,
    compiled: OnceLock<Regex>,
    flags: Flags,
    /// Compiles the pattern with `flags` (under the caller's size limit).
    build: Build,
}

/// Flags on the whole pattern, as [`regex::RegexBuilder`] sets them (Sigma's `|re|i`, `|re|m`,
/// `|re|s`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub case_insensitive: bool,
    pub multi_line: bool,
    pub dot_matches_new_line: bool,
}

impl Flags {
    /// A builder for `pattern` with these flags set.
    pub fn builder(self, pattern: &str) -> regex::RegexBuilder {
        let mut b = regex::RegexBuilder::new(pattern);
        b.case_insensitive(self.case_insensitive).multi_line(self.multi_line).dot_matches_new_line(self.dot_matches_new_line);
        b
    }
}

/// Parses `source` as the `regex` crate does with `flags` (its defaults, Unicode and nesting
/// 250, are the parser's); `None` if the parser refuses it.
fn parse(source: &str, flags: Flags) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .case_insensitive(flags.case_insensitive)
        .multi_line(flags.multi_line)
        .dot_matches_new_line(flags.dot_matches_new_line)
        .build()
        .parse(source)
        .ok()
}

/// What compiles a pattern in the `regex` crate's syntax with the given flags, under [`SIZE_LIMIT`].
pub type Build = fn(&str, Flags) -> Result<Regex, regex::Error>;

/// The NFA size limit every [`Build`] applies (`RegexBuilder::size_limit`): a pattern whose
/// [`nfa_bytes_bound`] is within it cannot be refused later, so its compiling waits; any other
/// is compiled at plan time, where the limit can refuse it with a message.
pub const SIZE_LIMIT: usize = 10 << 20;

impl LazyRegex {
    /// Checks `source` (already in the `regex` crate's syntax) as [`Regex::new`] would;
    /// `build` compiles it, and gives the error of a pattern the parser refuses.
    pub fn new(source: String, build: Build) -> Result<LazyRegex, regex::Error> {
        LazyRegex::with_flags(source, Flags::default(), build)
    }

    /// [`LazyRegex::new`] with `flags` on the whole pattern.
    pub fn with_flags(source: String, flags: Flags, build: Build) -> Result<LazyRegex, regex::Error> {
        LazyRegex::checked(source, flags, build, false)
    }

    /// [`LazyRegex::with_flags`] for a pattern only asked whether a text matches it
    /// ([`Regex::is_match`]): what is compiled is its [`existence_form`], which may match at
    /// other places (so not for `find` or captures) but matches the same texts.
    pub fn for_existence(source: String, flags: Flags, build: Build) -> Result<LazyRegex, regex::Error> {
        LazyRegex::checked(source, flags, build, true)
    }

    fn checked(source: String, flags: Flags, build: Build, existence: bool) -> Result<LazyRegex, regex::Error> {
        let hir = match parse(&source, flags) {
            Some(hir) => hir,
            None => {
                let re = build(&source, flags)?;
                return Ok(LazyRegex::compiled(re, flags, build));
            }
        };
        let mut groups = Vec::new();
        capture_groups(&hir, &mut groups);
        groups.sort_unstable_by_key(|(index, _)| *index);
        let names = groups.into_iter().filter_map(|(_, name)| name).collect();
        // The reduced pattern is printed from its syntax tree, which holds the flags' effects.
        let reduced = existence.then(|| existence_form(&hir)).filter(|r| *r != hir);
        let compiled_source = reduced.as_ref().map(Hir::to_string);
        let compiled = OnceLock::new();
        if nfa_bytes_bound(reduced.as_ref().unwrap_or(&hir)) > SIZE_LIMIT as u64 {
            let _ = compiled.set(build(compiled_source.as_deref().unwrap_or(&source), flags)?);
        }
        Ok(LazyRegex { inner: Arc::new(Inner { source, compiled_source, names, compiled, flags, build }) })
    }

    /// An expression already compiled (by `build`, with `flags`).
    fn compiled(re: Regex, flags: Flags, build: Build) -> LazyRegex {
        let names = re.capture_names().flatten().map(str::to_string).collect();
        let source = re.as_str().to_string();
        LazyRegex { inner: Arc::new(Inner { source, compiled_source: None, names, compiled: OnceLock::from(re), flags, build }) }
    }

    /// The pattern, as [`Regex::as_str`] gives it (without the flags).
    pub fn as_str(&self) -> &str {
        &self.inner.source
    }

    /// The pattern parsed as it is matched (with its flags); `None` if the parser refuses
    /// it (the `regex` crate compiled it regardless).
    pub fn hir(&self) -> Option<Hir> {
        parse(&self.inner.source, self.inner.flags)
    }

    /// The named capture groups, in group order, without compiling.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.names.iter().map(String::as_str)
    }

    /// The program, compiled by the first caller (other threads wait for it).
    pub fn get(&self) -> &Regex {
        self.inner.compiled.get_or_init(|| {
            // Parsed at plan time and bounded within the size limit, so this builds;
            // were it ever refused, a pattern that matches nothing stands in rather than a panic.
            let source = self.inner.compiled_source.as_deref().unwrap_or(&self.inner.source);
            (self.inner.build)(source, self.inner.flags).unwrap_or_else(|_| never())
        })
    }

    /// Whether the program has been compiled (for tests).
    #[cfg(test)]
    fn is_compiled(&self) -> bool {
        self.inner.compiled.get().is_some()
    }
}

impl std::ops::Deref for LazyRegex {
    type Target = Regex;

    fn deref(&self) -> &Regex {
        self.get()
    }
}

/// A pattern that matches no text.
fn never() -> Regex {
    static NEVER: OnceLock<Regex> = OnceLock::new();
    NEVER.get_or_init(|| Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("a valid pattern"))).clone()
}

/// Every capture group under `hir`: its index and name.
fn capture_groups(hir: &Hir, out: &mut Vec<(u32, Option<String>)>) {
    match hir.kind() {
        HirKind::Capture(c) => {
            out.push((c.index, c.name.as_deref().map(str::to_string)));
            capture_groups(&c.sub, out);
        }
        HirKind::Repetition(r) => capture_groups(&r.sub, out),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => parts.iter().for_each(|p| capture_groups(p, out)),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => {}
    }
}

/// An upper bound on what `regex_automata`'s Thompson compiler counts against the size limit
/// for `hir`'s forward NFA and for its reverse one (each is checked alone): builder states of
/// at most [`STATE`] bytes, 8 per transition of a sparse state and 4 per alternative of a union.
/// A Unicode class costs its UTF-8 byte ranges (forward, ranges sharing a prefix with the
/// previous sequence are one state; reverse, every range at most); a repetition, each copy the
/// compiler makes. Tested against the compiler in this module's tests.
fn nfa_bytes_bound(hir: &Hir) -> u64 {
    // Every node: one extra state and two patches into unions, beyond its own.
    const SLACK: u64 = STATE + 2 * ALT;
    fn bound(hir: &Hir) -> u64 {
        let own = match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => STATE,
            HirKind::Literal(l) => l.0.len().max(1) as u64 * STATE,
            HirKind::Class(Class::Unicode(c)) if !c.is_ascii() => unicode_class_bound(c),
            HirKind::Class(Class::Unicode(c)) => 2 * STATE + TRANSITION * c.ranges().len() as u64,
            HirKind::Class(Class::Bytes(c)) => 2 * STATE + TRANSITION * c.ranges().len() as u64,
            HirKind::Repetition(r) => {
                let copies = u64::from(r.max.unwrap_or(r.min).max(r.min)) + 1;
                bound(&r.sub).saturating_add(SLACK).saturating_mul(copies).saturating_add(3 * STATE)
            }
            HirKind::Capture(c) => bound(&c.sub).saturating_add(2 * STATE),
            HirKind::Concat(parts) => parts.iter().map(bound).fold(STATE, u64::saturating_add),
            // Alternatives that are all literals compile to a trie: a sparse state and a union
            // per byte at most.
            HirKind::Alternation(parts) => parts
                .iter()
                .map(|p| match p.kind() {
                    HirKind::Literal(l) => (l.0.len() as u64 + 1) * (2 * STATE + TRANSITION + ALT),
                    _ => bound(p),
                })
                .fold(2 * STATE, u64::saturating_add),
        };
        own.saturating_add(SLACK)
    }
    // The unanchored prefix `(?s-u:.)*?`, the implicit group 0 and the match state.
    bound(hir).saturating_add(16 * STATE)
}

/// Bytes a builder state takes at most (`regex_automata`'s is an enum whose largest variant
/// holds a `Vec`), a sparse transition, and a union's alternative.
const STATE: u64 = 32;
const TRANSITION: u64 = 8;
const ALT: u64 = 4;

/// A non-ASCII Unicode class as UTF-8 automata: forward, a trie of its byte-range sequences
/// (each range not shared with the previous sequence's prefix is a state with a transition),
/// and reverse, a union of the sequences with every range at most a state.
fn unicode_class_bound(class: &regex_syntax::hir::ClassUnicode) -> u64 {
    let (mut sequences, mut ranges, mut unshared) = (0u64, 0u64, 0u64);
    let mut previous: Vec<(u8, u8)> = Vec::new();
    for range in class.iter() {
        for seq in regex_syntax::utf8::Utf8Sequences::new(range.start(), range.end()) {
            let shared = seq.as_slice().iter().zip(&previous).take_while(|(r, p)| (r.start, r.end) == **p).count();
            sequences += 1;
            ranges += seq.len() as u64;
            unshared += (seq.len() - shared) as u64;
            previous.clear();
            previous.extend(seq.as_slice().iter().map(|r| (r.start, r.end)));
        }
    }
    let forward = (unshared + 2) * (STATE + TRANSITION);
    let reverse = (ranges + 2) * STATE + sequences * ALT;
    forward.max(reverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the engine compiles (`expr::regex`), under the `regex` crate's default size limit.
    fn lazy(p: &str) -> Result<LazyRegex, regex::Error> {
        LazyRegex::new(p.to_string(), build)
    }

    fn build(p: &str, f: Flags) -> Result<Regex, regex::Error> {
        f.builder(p).size_limit(10 << 20).build()
    }

    /// Small patterns wait for their first match, and then match as the compiled `Regex` does.
    #[test]
    fn compiled_at_first_use() {
        let re = lazy(r"(?<user>\w+)@(?<host>[a-z.]+)|(x)").expect("valid");
        assert!(!re.is_compiled());
        assert_eq!(re.names().collect::<Vec<_>>(), ["user", "host"]);
        assert_eq!(re.as_str(), r"(?<user>\w+)@(?<host>[a-z.]+)|(x)");
        let clone = re.clone();
        assert!(clone.is_match("bob@example.org"));
        assert!(re.is_compiled(), "clones share the program");
        let names: Vec<&str> = re.capture_names().flatten().collect();
        assert_eq!(names, re.names().collect::<Vec<_>>());
    }

    /// The names are the groups' in group order, nested ones included.
    #[test]
    fn names_in_group_order() {
        let p = r"(?<a>(?<b>x)(y))|(?<c>z)+";
        let names: Vec<String> = Regex::new(p).expect("valid").capture_names().flatten().map(str::to_string).collect();
        assert_eq!(lazy(p).expect("valid").names().collect::<Vec<_>>(), names);
    }

    /// Errors are the `regex` crate's, at plan time: syntax, and the size limit (which a
    /// pattern near it is compiled for at once).
    #[test]
    fn errors_at_plan_time() {
        let bad = "a(b";
        let e = lazy(bad).expect_err("unclosed group");
        assert_eq!(e.to_string(), regex::RegexBuilder::new(bad).build().expect_err("same").to_string());
        assert!(matches!(lazy(r"\w{1000}{1000}"), Err(regex::Error::CompiledTooBig(_))));
        let big = lazy(r"\w{100}").expect("under the limit");
        assert!(big.is_compiled(), "bounded above the limit: compiled at plan time");
        assert!(!lazy(r"\w{2,8}\d+").expect("small").is_compiled());
        assert!(!lazy(r"-k\s\w{1,64}(?:\s?(?:-p|-s))?").expect("bounded within the limit").is_compiled());
    }

    /// The bound is at least what the compiler counts: each pattern builds with the bound as
    /// its size limit (were the bound low, a deferred pattern could be refused at first use).
    #[test]
    fn bound_holds_against_the_compiler() {
        let patterns = [
            r"-k\s\w{1,64}(?:\s?(?:-p|-s))?",
            r"\w",
            r"\W{40}",
            r".{300}",
            r"(?s:.){300}",
            r"[^a]{300}",
            r"\pL{40}",
            r"\D{100}",
            r"(ab|cd|ef){200}",
            r"(?:a|ab|abc|abcd){200}",
            r"abcdefghijklmnopqrstuvwxyz",
            r"(?:[a-z]{3}\d){50}",
            r"\b\w+\b",
            r"(?-u:\w){300}",
            r"[é-ñ]{300}",
            r"((a{10}){10}){10}",
            r"(?:|a|){100}",
            r"(?:a?){500}",
            r"(?:a*?){300}",
            r"(?:x+y*){200}",
            r"(?:(?s:.)*){100}",
            r"[\x{80}-\x{10FFFF}]{100}",
            r"(?<name>\w){20}",
        ];
        for p in patterns {
            for case_insensitive in [false, true] {
                let flags = Flags { case_insensitive, ..Flags::default() };
                let bound = nfa_bytes_bound(&parse(p, flags).expect("valid"));
                let built = flags.builder(p).size_limit(usize::try_from(bound).expect("small")).build();
                assert!(built.is_ok(), "{p} (case-insensitive: {case_insensitive}) needs more than {bound} bytes");
            }
        }
    }

    /// Flags apply to the whole pattern, as the builder's do, and stay out of its text.
    #[test]
    fn flags_as_the_builder_sets_them() {
        let flags = Flags { case_insensitive: true, multi_line: true, dot_matches_new_line: true };
        let re = LazyRegex::with_flags("^ab.c$".to_string(), flags, build).expect("valid");
        assert!(!re.is_compiled());
        assert_eq!(re.as_str(), "^ab.c$");
        assert!(re.is_match("x\nAB\nC\ny"), "case-insensitive, multi-line, dot matches a newline");
        let plain = lazy("^ab.c$").expect("valid");
        assert!(!plain.is_match("x\nAB\nC\ny"));
        assert!(plain.is_match("abxc"));
        let e = LazyRegex::with_flags("(?<".to_string(), flags, build).expect_err("bad group name");
        assert_eq!(e.to_string(), build("(?<", flags).expect_err("same").to_string());
    }
}
