//! `rex` (field extraction / sed) and `regex` (filter) with the linear-time `regex` crate.

use crate::error::PlanError;
use crate::eval::first_line;
use regex::Regex;
use vigil_model::{Record, Value};
use vigil_spl::ast::{RegexCmd, Rex, Span};

/// Compiles a Splunk (PCRE) pattern. Features the linear-time engine lacks (look-around,
/// backreferences) are reported as unsupported rather than silently approximated.
pub(crate) fn compile_regex(pattern: &str, span: Span) -> Result<Regex, PlanError> {
    build_regex(pattern).map_err(|e| {
        if let regex::Error::CompiledTooBig(limit) = e {
            return PlanError::invalid(
                format!("regular expression too large: compiled it would exceed the {} MB limit (use smaller repetition counts or fewer alternatives)", limit >> 20),
                span,
            );
        }
        let msg = first_line(&e.to_string());
        let pcre_only = ["(?=", "(?!", "(?<=", "(?<!", "(?>", "\\1", "\\2", "(?|"]
            .iter()
            .any(|f| pattern.contains(f));
        if pcre_only {
            PlanError::Unsupported {
                message: format!("regular expression uses a PCRE feature Vigil's linear-time engine lacks (look-around or backreference): {msg}"),
                span,
            }
        } else {
            PlanError::invalid(format!("bad regular expression: {msg}"), span)
        }
    })
}

/// Size limit for one compiled regular expression (the `regex` crate's default is 10 MiB too;
/// set explicitly so a hostile `\w{1000}{1000}` fails with a clear message, not memory use).
pub(crate) const REGEX_SIZE_LIMIT: usize = 10 << 20;

/// Compiles a PCRE-style pattern with the `regex` crate under [`REGEX_SIZE_LIMIT`].
pub(crate) fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(&pcre_to_rust(pattern)).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_SIZE_LIMIT).build()
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

#[derive(Debug)]
pub(crate) struct RexOp {
    pub(crate) field: String,
    pub(crate) re: Regex,
    max_match: usize,
    /// For `mode=sed`: replacement and whether to replace all (`g`).
    pub(crate) sed: Option<(String, bool)>,
}

impl RexOp {
    pub fn plan(r: &Rex, span: Span) -> Result<RexOp, PlanError> {
        if r.sed {
            let (pat, rep, global) = parse_sed(&r.pattern)
                .ok_or_else(|| PlanError::invalid("rex mode=sed expects s/regex/replacement/[g]", span))?;
            return Ok(RexOp {
                field: r.field.clone(),
                re: compile_regex(&pat, span)?,
                max_match: 1,
                sed: Some((rep, global)),
            });
        }
        Ok(RexOp { field: r.field.clone(), re: compile_regex(&r.pattern, span)?, max_match: r.max_match as usize, sed: None })
    }

    pub fn apply(&self, mut rows: Vec<Record>) -> Vec<Record> {
        let names: Vec<&str> = self.re.capture_names().flatten().collect();
        for row in &mut rows {
            let items: Vec<String> = row.value(&self.field).items().into_iter().map(|s| s.into_owned()).collect();
            if let Some((rep, global)) = &self.sed {
                let rep = sed_replacement(rep);
                let out: Vec<String> = items
                    .iter()
                    .map(|s| {
                        if *global {
                            self.re.replace_all(s, rep.as_str()).into_owned()
                        } else {
                            self.re.replace(s, rep.as_str()).into_owned()
                        }
                    })
                    .collect();
                if !out.is_empty() {
                    row.set(self.field.clone(), Value::from_items(out));
                }
                continue;
            }
            let limit = if self.max_match == 0 { usize::MAX } else { self.max_match };
            let mut found: Vec<Vec<String>> = vec![Vec::new(); names.len()];
            let mut count = 0;
            'outer: for s in &items {
                for caps in self.re.captures_iter(s) {
                    for (i, n) in names.iter().enumerate() {
                        if let Some(m) = caps.name(n) {
                            found[i].push(m.as_str().to_string());
                        }
                    }
                    count += 1;
                    if count >= limit {
                        break 'outer;
                    }
                }
            }
            for (name, vals) in names.iter().zip(found) {
                if !vals.is_empty() {
                    row.set(name.to_string(), Value::from_items(vals));
                }
            }
        }
        rows
    }
}

/// `s/regex/replacement/flags` with any delimiter after `s`.
fn parse_sed(expr: &str) -> Option<(String, String, bool)> {
    let mut chars = expr.trim().chars();
    if chars.next()? != 's' {
        return None;
    }
    let delim = chars.next()?;
    let rest: String = chars.collect();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in rest.chars() {
        if escaped {
            if c != delim {
                cur.push('\\');
            }
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == delim {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    if parts.len() < 2 {
        return None;
    }
    let flags = parts.get(2).cloned().unwrap_or_default();
    Some((parts[0].clone(), parts[1].clone(), flags.contains('g')))
}

fn sed_replacement(rep: &str) -> String {
    let mut out = String::new();
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let d = chars.next().unwrap_or('0');
                out.push_str(&format!("${{{d}}}"));
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug)]
pub(crate) struct RegexOp {
    pub(crate) field: String,
    negate: bool,
    re: Regex,
}

impl RegexOp {
    pub fn plan(r: &RegexCmd, span: Span) -> Result<RegexOp, PlanError> {
        Ok(RegexOp { field: r.field.clone(), negate: r.negate, re: compile_regex(&r.pattern, span)? })
    }

    pub fn apply(&self, rows: Vec<Record>) -> Vec<Record> {
        rows.into_iter()
            .filter(|row| {
                let hit = row.value(&self.field).items().iter().any(|s| self.re.is_match(s));
                hit != self.negate
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sed_parsing() {
        assert_eq!(parse_sed("s/a\\/b/c/g"), Some(("a/b".into(), "c".into(), true)));
        assert_eq!(parse_sed("s/(\\d+)/x\\1/"), Some(("(\\d+)".into(), "x\\1".into(), false)));
    }

    #[test]
    fn pcre_literal_braces() {
        assert_eq!(pcre_to_rust(r"a{2}b{1,}c{1,3}"), r"a{2}b{1,}c{1,3}");
        assert_eq!(pcre_to_rust(r"%{SID}"), r"%\{SID\}");
        assert_eq!(pcre_to_rust(r"\x{202E}[{}]"), r"\x{202E}[{}]");
        assert!(compile_regex(r"S-1-5-{x}", Span::default()).is_ok());
    }

    #[test]
    fn lookaround_is_unsupported() {
        let e = compile_regex("a(?=b)", Span::default()).unwrap_err();
        assert!(e.is_unsupported(), "{e}");
        let e = compile_regex("a(b", Span::default()).unwrap_err();
        assert!(!e.is_unsupported());
    }

    #[test]
    fn rex_named_groups() {
        let op = RexOp::plan(
            &Rex { field: "_raw".into(), pattern: "user=(?<user>\\w+)".into(), sed: false, max_match: 1 },
            Span::default(),
        )
        .unwrap();
        let r: Record = [("_raw".to_string(), Value::str("x user=bob y"))].into_iter().collect();
        assert_eq!(op.apply(vec![r])[0].value("user"), &Value::str("bob"));
    }
}
