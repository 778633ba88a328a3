//! `rex` (field extraction / sed) and `regex` (filter) with the linear-time `regex` crate.

use crate::error::PlanError;
use crate::expr::field::FieldAccess;
use crate::expr::regex::{compile_regex, required_literal};
use vigil_model::LazyRegex;
use vigil_model::{Record, Value};
use vigil_spl::ast::{RegexCmd, Rex, Span};

#[derive(Debug)]
pub(crate) struct RexOp {
    pub(crate) field: String,
    pub(crate) re: LazyRegex,
    max_match: usize,
    /// For `mode=sed`: replacement and whether to replace all (`g`).
    pub(crate) sed: Option<(String, bool)>,
}

impl RexOp {
    pub fn plan(r: &Rex, span: Span) -> Result<RexOp, PlanError> {
        if r.sed {
            let (pat, rep, global) =
                parse_sed(&r.pattern).ok_or_else(|| PlanError::invalid("rex mode=sed expects s/regex/replacement/[g]", span))?;
            return Ok(RexOp { field: r.field.clone(), re: compile_regex(&pat, span)?, max_match: 1, sed: Some((rep, global)) });
        }
        Ok(RexOp { field: r.field.clone(), re: compile_regex(&r.pattern, span)?, max_match: r.max_match as usize, sed: None })
    }

    pub fn apply(&self, mut rows: Vec<Record>) -> Vec<Record> {
        let names: Vec<&str> = self.re.names().collect();
        for row in &mut rows {
            // Borrowed: what is written back is copied out of them first.
            let items = row.value(&self.field).items();
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
                    row.set(self.field.as_str(), Value::from_items(out));
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
                    row.set(*name, Value::from_items(vals));
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
    re: LazyRegex,
}

impl RegexOp {
    pub fn plan(r: &RegexCmd, span: Span) -> Result<RegexOp, PlanError> {
        Ok(RegexOp { field: r.field.clone(), negate: r.negate, re: compile_regex(&r.pattern, span)? })
    }

    pub fn apply(&self, rows: Vec<Record>) -> Vec<Record> {
        rows.into_iter().filter(|row| self.keeps(row)).collect()
    }

    /// Whether the filter keeps a row: some item of its field matches (none, negated).
    pub fn keeps(&self, row: &dyn FieldAccess) -> bool {
        let hit = row.any_named(&self.field, &mut |s| self.re.is_match(s));
        hit != self.negate
    }

    /// A text some item of the field holds (up to ASCII case) in every row the filter keeps,
    /// when its pattern shows one ([`required_literal`]); none when negated.
    pub fn required_text(&self) -> Option<String> {
        if self.negate {
            return None;
        }
        required_literal(&self.re)
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
    fn rex_named_groups() {
        let op =
            RexOp::plan(&Rex { field: "_raw".into(), pattern: "user=(?<user>\\w+)".into(), sed: false, max_match: 1 }, Span::default())
                .unwrap();
        let r: Record = [("_raw".to_string(), Value::str("x user=bob y"))].into_iter().collect();
        assert_eq!(op.apply(vec![r])[0].value("user"), &Value::str("bob"));
    }
}
