//! Texts every match of a regular expression holds, for the prefilter: a value that holds
//! none of them (compared case-insensitively) cannot match, so the pattern is not tried on it.
//!
//! Letters a pattern takes in either case (as `(?i)` does) count as their lowercase. Letters
//! whose Unicode case folding adds others (`k`: the Kelvin sign, `s`: `ſ`) end a text: `ſ`
//! does not lowercase to `s`, so a lowercase `s` would not stand for it.

use regex_syntax::hir::{Class, Hir, HirKind};
use vigil_model::LazyRegex;

/// The most bytes a text may have (longer ones are cut short only by ending a run).
const MAX_TEXT: usize = 256;

/// Alternative texts one of which every match of `re` holds (up to ASCII case), at most
/// `max_alts` of them, the best set the pattern shows (longest shortest text, then fewest);
/// `None` when it shows none whose texts all have at least one byte.
///
/// A concatenation's parts that match few texts each (`\.exe`, `[/-]c`, `(cmd|pwsh)`) make
/// texts together; any such run, or any part's own set, is a set every match holds. An
/// alternation holds one of its branches' sets.
pub(crate) fn required_texts(re: &LazyRegex, max_alts: usize) -> Option<Vec<String>> {
    required(&re.hir()?, max_alts)
}

fn required(hir: &Hir, max: usize) -> Option<Vec<String>> {
    match hir.kind() {
        HirKind::Capture(c) => required(&c.sub, max),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub, max),
        HirKind::Concat(parts) => {
            let mut best: Option<Vec<String>> = None;
            let mut run = vec![String::new()];
            for part in parts {
                let texts = whole(part, max);
                match texts.as_ref().and_then(|t| cross(&run, t, max)) {
                    Some(longer) => run = longer,
                    None => {
                        best = better(best, std::mem::replace(&mut run, vec![String::new()]));
                        match texts {
                            // Too many together: the part starts the next run.
                            Some(t) => run = t,
                            None => best = required(part, max).into_iter().fold(best, better),
                        }
                    }
                }
            }
            better(best, run)
        }
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for b in branches {
                union(&mut all, required(b, max)?);
            }
            (all.len() <= max).then_some(all)
        }
        _ => whole(hir, max).filter(|t| shortest(t) > 0),
    }
}

/// The texts `hir` matches (lowercase for letters taken in either case), if at most `max`.
fn whole(hir: &Hir, max: usize) -> Option<Vec<String>> {
    match hir.kind() {
        // An assertion (`^`, `\b`) matches where it is, taking no text.
        HirKind::Empty | HirKind::Look(_) => Some(vec![String::new()]),
        HirKind::Literal(lit) => String::from_utf8(lit.0.to_vec()).ok().map(|t| vec![t]),
        HirKind::Class(Class::Unicode(c)) => class_texts(c.ranges().iter().map(|r| (r.start(), r.end())), max),
        HirKind::Class(Class::Bytes(c)) => class_texts(c.ranges().iter().map(|r| (char::from(r.start()), char::from(r.end()))), max),
        HirKind::Capture(c) => whole(&c.sub, max),
        HirKind::Repetition(r) if r.max == Some(r.min) && r.min <= 4 => {
            let sub = whole(&r.sub, max)?;
            (0..r.min).try_fold(vec![String::new()], |acc, _| cross(&acc, &sub, max))
        }
        HirKind::Concat(parts) => parts.iter().try_fold(vec![String::new()], |acc, p| cross(&acc, &whole(p, max)?, max)),
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for b in branches {
                union(&mut all, whole(b, max)?);
            }
            (all.len() <= max).then_some(all)
        }
        _ => None,
    }
}

/// A class's characters as texts, lowercase (the texts are compared case-insensitively, so
/// `[Aa]` is one text); `None` if it holds a non-ASCII character (`(?i)k` holds the Kelvin
/// sign) or more than `max` texts.
fn class_texts(ranges: impl Iterator<Item = (char, char)>, max: usize) -> Option<Vec<String>> {
    let mut chars: Vec<char> = Vec::new();
    for (start, end) in ranges {
        if !end.is_ascii() || (end as u32 - start as u32) as usize >= max {
            return None;
        }
        chars.extend(start..=end);
        if chars.len() > 2 * max {
            return None;
        }
    }
    let mut texts: Vec<String> = Vec::new();
    for c in chars {
        union(&mut texts, vec![c.to_ascii_lowercase().to_string()]);
    }
    (texts.len() <= max).then_some(texts)
}

/// Each of `a` followed by each of `b`, if at most `max` texts of at most [`MAX_TEXT`] bytes.
fn cross(a: &[String], b: &[String], max: usize) -> Option<Vec<String>> {
    if a.len() * b.len() > max {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            if x.len() + y.len() > MAX_TEXT {
                return None;
            }
            union(&mut out, vec![format!("{x}{y}")]);
        }
    }
    Some(out)
}

fn union(all: &mut Vec<String>, more: Vec<String>) {
    for t in more {
        if !all.contains(&t) {
            all.push(t);
        }
    }
}

fn shortest(texts: &[String]) -> usize {
    texts.iter().map(String::len).min().unwrap_or(0)
}

/// The better of two sets: the longer shortest text, then fewer texts; a set holding an empty
/// text (or no text) says nothing.
fn better(a: Option<Vec<String>>, b: Vec<String>) -> Option<Vec<String>> {
    let score = |t: &[String]| (shortest(t), std::cmp::Reverse(t.len()));
    match a {
        _ if shortest(&b) == 0 => a,
        Some(a) if score(&a) >= score(&b) => Some(a),
        _ => Some(b),
    }
}

#[cfg(test)]
mod tests {
    use super::required_texts;
    use vigil_model::lazy_regex::{Flags, LazyRegex};

    fn texts(p: &str, flags: Flags, max: usize) -> Option<Vec<String>> {
        let re = LazyRegex::with_flags(p.to_string(), flags, |p, f| f.builder(p).build()).expect("parses");
        required_texts(&re, max)
    }

    fn sets(p: &str) -> Option<Vec<String>> {
        texts(p, Flags::default(), 16)
    }

    #[test]
    fn alternatives_make_sets_of_texts() {
        assert_eq!(sets(r"net view|net use"), Some(vec!["net view".into(), "net use".into()]));
        assert_eq!(sets(r"\$env:ComSpec\[(?:\s*\d{1,3}\s*,){2}"), Some(vec!["$env:ComSpec[".into()]));
        assert_eq!(
            sets(r"(cmd|pwsh)\.exe [/-]c"),
            Some(vec!["cmd.exe -c".into(), "cmd.exe /c".into(), "pwsh.exe -c".into(), "pwsh.exe /c".into()])
        );
        // The run with the longest shortest text.
        assert_eq!(sets(r"\\Windows\\__1\d{9}\.\d{1,7}$"), Some(vec![r"\Windows\__1".into()]));
        // Assertions take no text, in a run or in a branch of one.
        assert_eq!(sets(r"^cmd(\.exe\b|\.com\b) /c"), Some(vec!["cmd.exe /c".into(), "cmd.com /c".into()]));
        // A branch with no text: nothing every match holds.
        assert_eq!(sets(r"abc|\d+"), None);
        assert_eq!(sets(r"(abc)?|x"), None);
    }

    #[test]
    fn too_many_alternatives_end_a_run() {
        assert_eq!(texts(r"foo(a|b)", Flags::default(), 1), Some(vec!["foo".into()]));
        assert_eq!(texts(r"foo(a|b)bar", Flags::default(), 2), Some(vec!["fooabar".into(), "foobbar".into()]));
        assert_eq!(texts(r"[a-z]{3}", Flags::default(), 16), None);
    }

    #[test]
    fn either_case_letters_count_as_lowercase() {
        let ci = Flags { case_insensitive: true, ..Flags::default() };
        // `k` and `s` end a run: Unicode folds them with the Kelvin sign and `ſ`.
        assert_eq!(texts(r"invoke-expression", ci, 16), Some(vec!["e-expre".into()]));
        assert_eq!(texts(r"PSHome\[", ci, 16), Some(vec!["home[".into()]));
        assert_eq!(texts(r"(?i)ab[Cc]", Flags::default(), 16), Some(vec!["abc".into()]));
        // Texts are compared case-insensitively: literals stay as written, classes lowercase.
        assert_eq!(texts(r"PSHome", Flags::default(), 16), Some(vec!["PSHome".into()]));
        assert_eq!(texts(r"ab[Cx]", Flags::default(), 16), Some(vec!["abc".into(), "abx".into()]));
    }
}
