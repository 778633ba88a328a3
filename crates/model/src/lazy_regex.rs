//! Regular expressions checked at plan time and compiled at first use.
//!
//! All ESCU plans ~70 distinct patterns and SigmaHQ ~115 `|re` values; compiling them (NFAs,
//! prefilters) cost ~23 M and ~63 M instructions of a hunt's start-up that waiting saves,
//! though most belong to detections whose events an input may not hold. A pattern is parsed at
//! plan time (so a bad one is refused there, with the `regex` crate's own message) and compiled
//! when first matched. Compiling can then fail
//! only on the size limit: a pattern that could come near it is compiled at once.

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

/// What compiles a pattern in the `regex` crate's syntax with the given flags.
pub type Build = fn(&str, Flags) -> Result<Regex, regex::Error>;

/// Above this estimate of its compiled size, a pattern is compiled at plan time: only there
/// can the size limit refuse it with a span. The
/// estimate is at least the NFA's size, and a tenth of the limit (one NFA of `\w{128}`,
/// ~2.2 MB, still compiles).
const DEFER_MAX_BYTES: u64 = 1 << 20;

impl LazyRegex {
    /// Checks `source` (already in the `regex` crate's syntax) as [`Regex::new`] would;
    /// `build` compiles it, and gives the error of a pattern the parser refuses.
    pub fn new(source: String, build: Build) -> Result<LazyRegex, regex::Error> {
        LazyRegex::with_flags(source, Flags::default(), build)
    }

    /// [`LazyRegex::new`] with `flags` on the whole pattern.
    pub fn with_flags(source: String, flags: Flags, build: Build) -> Result<LazyRegex, regex::Error> {
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
        let compiled = OnceLock::new();
        if estimated_bytes(&hir) > DEFER_MAX_BYTES {
            let _ = compiled.set(build(&source, flags)?);
        }
        Ok(LazyRegex { inner: Arc::new(Inner { source, names, compiled, flags, build }) })
    }

    /// An expression already compiled (by `build`, with `flags`).
    fn compiled(re: Regex, flags: Flags, build: Build) -> LazyRegex {
        let names = re.capture_names().flatten().map(str::to_string).collect();
        let source = re.as_str().to_string();
        LazyRegex { inner: Arc::new(Inner { source, names, compiled: OnceLock::from(re), flags, build }) }
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
            // Parsed at plan time and estimated well under the size limit, so this builds;
            // were it ever refused, a pattern that matches nothing stands in rather than a panic.
            (self.inner.build)(&self.inner.source, self.inner.flags).unwrap_or_else(|_| never())
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

/// An upper estimate of the bytes of `hir`'s NFA: 16 a unit of weight (a byte of literal, a
/// byte range, four per Unicode range for its UTF-8 sequences; measured NFAs take at most ~12),
/// a repeated part counted once per copy the compiler makes.
fn estimated_bytes(hir: &Hir) -> u64 {
    fn weight(hir: &Hir) -> u64 {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => 1,
            HirKind::Literal(l) => l.0.len() as u64,
            HirKind::Class(Class::Unicode(c)) => 4 * c.ranges().len() as u64,
            HirKind::Class(Class::Bytes(c)) => c.ranges().len() as u64,
            HirKind::Repetition(r) => weight(&r.sub).saturating_mul(u64::from(r.max.unwrap_or(r.min).max(r.min)) + 1),
            HirKind::Capture(c) => weight(&c.sub).saturating_add(1),
            HirKind::Concat(parts) | HirKind::Alternation(parts) => parts.iter().map(weight).fold(1, u64::saturating_add),
        }
    }
    weight(hir).saturating_mul(16).saturating_add(1024)
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
        let big = lazy(r"\w{40}").expect("under the limit");
        assert!(big.is_compiled(), "near the limit: compiled at plan time");
        assert!(!lazy(r"\w{2,8}\d+").expect("small").is_compiled());
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
