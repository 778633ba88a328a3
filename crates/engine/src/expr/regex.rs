//! Regular expressions: Splunk's PCRE patterns compiled with the linear-time `regex` crate.

use crate::error::PlanError;
use crate::expr::regex_literals::required_texts;
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use vigil_model::LazyRegex;
use vigil_spl::ast::Span;

/// Compiles a Splunk (PCRE) pattern. Features the linear-time engine lacks (look-around,
/// backreferences) are reported as unsupported rather than silently approximated. Checked
/// now, compiled at first use ([`LazyRegex`]).
pub(crate) fn compile_regex(pattern: &str, span: Span) -> Result<LazyRegex, PlanError> {
    if let Some(re) = compiled().lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = LazyRegex::new(pcre_to_rust(pattern), |p, _| build_regex_rust(p)).map_err(|e| regex_error(pattern, e, span))?;
    if let Ok(mut cache) = compiled().lock() {
        if cache.len() >= COMPILED_MAX {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

/// Patterns compiled at plan time, by text: detections share `rex` and `match` patterns (the
/// same macro expanded in many), and a compile costs ~0.2 M instructions; a clone of a
/// `LazyRegex` shares its program. Bounded: cleared when full (a server planning ad-hoc searches).
fn compiled() -> &'static Mutex<HashMap<String, LazyRegex>> {
    static COMPILED: OnceLock<Mutex<HashMap<String, LazyRegex>>> = OnceLock::new();
    COMPILED.get_or_init(Mutex::default)
}

const COMPILED_MAX: usize = 4096;

fn regex_error(pattern: &str, e: regex::Error, span: Span) -> PlanError {
    if let regex::Error::CompiledTooBig(limit) = e {
        return PlanError::invalid(
            format!("regular expression too large: compiled it would exceed the {} MB limit (use smaller repetition counts or fewer alternatives)", limit >> 20),
            span,
        );
    }
    let msg = first_line(&e.to_string());
    let pcre_only = ["(?=", "(?!", "(?<=", "(?<!", "(?>", "\\1", "\\2", "(?|"].iter().any(|f| pattern.contains(f));
    if pcre_only {
        PlanError::Unsupported {
            message: format!(
                "regular expression uses a PCRE feature Vigil's linear-time engine lacks (look-around or backreference): {msg}"
            ),
            span,
        }
    } else {
        PlanError::invalid(format!("bad regular expression: {msg}"), span)
    }
}

/// Size limit for one compiled regular expression (the `regex` crate's default is 10 MiB too;
/// set explicitly so a hostile `\w{1000}{1000}` fails with a clear message, not memory use).
pub(crate) const REGEX_SIZE_LIMIT: usize = vigil_model::lazy_regex::SIZE_LIMIT;

/// Compiles a PCRE-style pattern with the `regex` crate under [`REGEX_SIZE_LIMIT`].
pub(crate) fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    build_regex_rust(&pcre_to_rust(pattern))
}

/// Compiles a pattern already in the `regex` crate's syntax under [`REGEX_SIZE_LIMIT`].
pub(crate) fn build_regex_rust(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_SIZE_LIMIT).build()
}

/// Rewrites PCRE syntax that means the same thing but that the `regex` crate spells
/// differently: a `{` that does not start a quantifier (`{n}`, `{n,}`, `{n,m}`) is a literal
/// brace in PCRE and must be escaped for `regex`.
pub(crate) fn pcre_to_rust(pattern: &str) -> String {
    let b = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            // Copy an escape as is (and `\x{...}` with its braces).
            let end = if b.get(i + 1) == Some(&b'x') && b.get(i + 2) == Some(&b'{') {
                pattern[i..].find('}').map(|e| i + e + 1).unwrap_or(b.len())
            } else {
                // PCRE reads `\é` as a literal `é`; `regex` rejects the escape: drop it.
                match pattern[i + 1..].chars().next() {
                    Some(c) if !c.is_ascii() => {
                        out.push(c);
                        i += 1 + c.len_utf8();
                        continue;
                    }
                    _ => (i + 2).min(b.len()),
                }
            };
            out.push_str(&pattern[i..end]);
            i = end;
            continue;
        }
        if c == b'[' && !in_class {
            in_class = true;
        } else if c == b']' && in_class {
            in_class = false;
        } else if c == b'{' && !in_class {
            if is_quantifier(&b[i..]) {
                // Copy the whole quantifier so its `}` is not taken for a literal one.
                let end = i + b[i..].iter().position(|&c| c == b'}').unwrap_or(0) + 1;
                out.push_str(&pattern[i..end]);
                i = end;
            } else {
                out.push_str("\\{");
                i += 1;
            }
            continue;
        } else if c == b'}' && !in_class {
            out.push_str("\\}");
            i += 1;
            continue;
        }
        let ch_len = pattern[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        out.push_str(&pattern[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// `{n}`, `{n,}` or `{n,m}` at the start of `s`.
fn is_quantifier(s: &[u8]) -> bool {
    let Some(end) = s.iter().position(|&c| c == b'}') else { return false };
    let inner = &s[1..end];
    let mut parts = inner.splitn(2, |&c| c == b',');
    let first = parts.next().unwrap_or(&[]);
    let second = parts.next();
    !first.is_empty() && first.iter().all(u8::is_ascii_digit) && second.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
}

/// The longest text every match of `re` holds, up to the case of ASCII letters (see
/// [`required_texts`]): a value without it, compared case-insensitively, cannot match. `None`
/// unless the pattern shows one of at least two bytes.
pub(crate) fn required_literal(re: &LazyRegex) -> Option<String> {
    let [text] = <[String; 1]>::try_from(required_texts(re, 1)?).ok()?;
    (text.len() >= 2).then_some(text)
}

/// The last non-empty line of an error message (the regex crate puts the reason last).
fn first_line(s: &str) -> String {
    s.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(s).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pattern compiled again comes from the cache as the same program; other patterns, and
    /// a bad one every time, are compiled (or refused) as they are.
    #[test]
    fn compiled_patterns_are_reused_by_text() {
        for p in ["cache_a+", r"cache_S-1-5-{x}", "cache_b+", "cache_a+", "cache_(", "cache_(", "cache_a+"] {
            match compile_regex(p, Span::default()) {
                Ok(re) => assert_eq!(re.as_str(), pcre_to_rust(p), "{p}"),
                Err(e) => assert!(p == "cache_(" && e.to_string().contains("bad regular expression"), "{p}: {e}"),
            }
        }
        let a = compile_regex("cache_a+", Span::default()).expect("compiles");
        let b = compile_regex("cache_a+", Span::default()).expect("compiles");
        assert!(a.is_match("cache_aa") && b.is_match("cache_aa") && !b.is_match("cache_b"));
        assert!(compiled().lock().is_ok_and(|c| c.contains_key("cache_a+") && !c.contains_key("cache_(")));
    }

    #[test]
    fn pcre_literal_braces() {
        assert_eq!(pcre_to_rust(r"a{2}b{1,}c{1,3}"), r"a{2}b{1,}c{1,3}");
        assert_eq!(pcre_to_rust(r"%{SID}"), r"%\{SID\}");
        assert_eq!(pcre_to_rust(r"\x{202E}[{}]"), r"\x{202E}[{}]");
        assert!(compile_regex(r"S-1-5-{x}", Span::default()).is_ok());
    }

    #[test]
    fn required_literals_are_texts_every_match_holds() {
        let lit = |p: &str| required_literal(&compile_regex(p, Span::default()).expect("compiles"));
        assert_eq!(lit(r"\x{202E}").as_deref(), Some("\u{202E}"));
        assert_eq!(lit(r"(?<a>.+)(?<b>\x{202E})(?<c>.+)").as_deref(), Some("\u{202E}"));
        // The longest of the pieces a concatenation goes through; repeated at least once.
        assert_eq!(lit(r"^cmd\.exe\s+/c\s+(echo)+x").as_deref(), Some("cmd.exe"));
        assert_eq!(lit(r"a\d(hello world)?bc").as_deref(), Some("bc"));
        // Case-insensitive letters count as lowercase, but not those Unicode folds further.
        assert_eq!(lit(r"(?i)searchprotocolhost\.exe").as_deref(), Some("earchprotocolho"));
        assert_eq!(lit(r"(?i)ab[Cc]").as_deref(), Some("abc"));
        // Nothing every match must hold: alternatives, optional parts, classes.
        for p in [r"net view|net use", r"(abc)?", r"(abc)*", r"[a-z]+", r"a", r"\w+\.\w+"] {
            assert_eq!(lit(p), None, "{p}");
        }
    }

    #[test]
    fn lookaround_is_unsupported() {
        let e = compile_regex("a(?=b)", Span::default()).unwrap_err();
        assert!(e.is_unsupported(), "{e}");
        let e = compile_regex("a(b", Span::default()).unwrap_err();
        assert!(!e.is_unsupported());
    }
}
