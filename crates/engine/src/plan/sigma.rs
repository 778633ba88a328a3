//! Sigma rules as queries: each compiled rule becomes a raw-event scan like an SPL search's,
//! its predicate the log source conditions (indexable by the prefilter: `Channel`,
//! `EventID`) and the detection, so Sigma and SPL detections share one pass. A correlation
//! rule adds a scan per rule it names and the correlation operator after them.

use super::sigma_evals::{describe_command, describe_evals, risk_commands, risk_evals};
use super::{EventScan, Planner, Query, QueryError, Scan, Source, Stage, Tables};
use crate::error::PlanError;
use crate::expr::field::{FieldAccess, FieldRef};
use crate::expr::pattern::Pattern;
use crate::expr::predicate::{ExternalPred, Pred};
use crate::expr::regex_literals::required_texts;
use crate::ops::sigma_correlation::{CorrelationInput, CorrelationOp};
use crate::ops::Op;
use std::sync::Arc;
use vigil_model::LazyRegex;
use vigil_sigma::{CompiledCorrelation, CompiledRule, Expr, Fields, InputSource, Test};
use vigil_spl::ast::Command;

#[derive(Debug)]
struct Detection(Expr);

struct RowFields<'a>(&'a dyn FieldAccess);

impl Fields for RowFields<'_> {
    fn any_value(&self, field: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0.any_named(field, f)
    }

    fn any_field_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        let mut hit = false;
        // The event's own fields: derived add-on fields exist only for what other loaded
        // searches read, and a keyword match must not depend on them.
        self.0.for_each_own_named(&mut |_, v| {
            if !hit {
                hit = f(v);
            }
        });
        hit
    }
}

impl ExternalPred for Detection {
    fn eval(&self, row: &dyn FieldAccess) -> bool {
        self.0.eval(&RowFields(row))
    }

    fn fields(&self, out: &mut Vec<String>) -> Option<()> {
        self.0.fields(out)
    }

    fn describe(&self) -> String {
        match &self.0 {
            Expr::Leaf { field, test } => {
                let field = field.as_deref().unwrap_or("*any field*");
                let what = match test {
                    Test::Glob(g) if g.cased => format!("cased \"{}\"", g.text),
                    Test::Glob(g) => format!("\"{}\"", g.text),
                    Test::Regex(r) => format!("re \"{}\"", r.as_str()),
                    Test::Cidr { net, bits } => format!("cidr {net}/{bits}"),
                    Test::Num(op, n) => format!("{op:?} {n}"),
                    Test::DatePart { part, op, want } => format!("{part:?} {} {want}", op.map_or("Eq".to_string(), |o| format!("{o:?}"))),
                    Test::Exists(b) => format!("exists {b}"),
                    Test::Null => "null".into(),
                    Test::FieldRef { other, shape, .. } => format!("fieldref {shape:?} {other}"),
                };
                format!("sigma({field} {what})")
            }
            other => format!("sigma({other:?})"),
        }
    }
}

impl Planner<'_> {
    /// Plans a compiled Sigma rule: one raw-event scan over the events of its sources; result
    /// rows are the matching events with the rule's title, id, level and tags.
    pub fn plan_sigma(&mut self, rule: &CompiledRule) -> Result<Query, QueryError> {
        let m = &rule.meta;
        let text = || format!("{}{}", describe_evals(m), risk_evals(&rule.result_fields));
        let mut tables = Tables::default();
        // After the scan, not in it: matches are held until the scan ends, and the rule's
        // title, tags and risk fields would be copied into every one of them.
        let risk = risk_commands(&rule.result_fields).map_err(|e| QueryError { text: text(), error: e.into() })?;
        let commands: Vec<Command> = std::iter::once(describe_command(m)).chain(risk).collect();
        let ops = self.eval_ops(&commands, text, &mut tables)?;
        // Rows carry the event's fields, not its text (`_raw` would double what they take).
        let scan = EventScan { pred: rule_pred(rule), prefix: Vec::new(), stats: None, needs_raw: false, projection: None };
        Ok(Query {
            name: m.title.clone(),
            text: format!("Sigma rule {}:{}", m.file, m.line),
            root: Stage { source: Source::Scan(0), ops },
            scans: vec![Scan::Events(scan)],
            stages: Vec::new(),
        })
    }

    /// Plans a Sigma correlation: a scan per rule it names (only the fields the correlation
    /// reads), chained correlations as stages, and the correlation operator over them, in the
    /// same pass as every other query; result rows are its hits.
    pub fn plan_sigma_correlation(&mut self, c: &CompiledCorrelation) -> Result<Query, QueryError> {
        let mut tables = Tables::default();
        let mut root = self.correlation_stage(c, &mut tables)?;
        let m = &c.spec.meta;
        root.ops.extend(self.eval_ops(&[describe_command(m)], || describe_evals(m), &mut tables)?);
        Ok(Query {
            name: m.title.clone(),
            text: format!("Sigma correlation {}:{}", m.file, m.line),
            root,
            scans: tables.scans,
            stages: tables.stages,
        })
    }

    fn correlation_stage(&mut self, c: &CompiledCorrelation, tables: &mut Tables) -> Result<Stage, QueryError> {
        let mut first = None;
        let mut inputs = Vec::new();
        for input in &c.inputs {
            let stage = match &input.source {
                InputSource::Rule(rule) => {
                    let mut read: Vec<String> = input.group.iter().chain(&input.value).flatten().cloned().collect();
                    read.extend(rule.result_fields.iter().flat_map(|(_, from)| from.iter().cloned()));
                    read.push("_time".into());
                    read.sort();
                    read.dedup();
                    let text = || risk_evals(&rule.result_fields);
                    let risk = risk_commands(&rule.result_fields).map_err(|e| QueryError { text: text(), error: e.into() })?;
                    let prefix = self.eval_ops(&risk, text, tables)?;
                    let scan = EventScan { pred: rule_pred(rule), prefix, stats: None, needs_raw: false, projection: Some(read) };
                    tables.scans.push(Scan::Events(scan));
                    Stage { source: Source::Scan(tables.scans.len() - 1), ops: Vec::new() }
                }
                InputSource::Correlation(inner) => self.correlation_stage(inner, tables)?,
            };
            let stage_id = match first {
                None => {
                    first = Some(stage);
                    None
                }
                Some(_) => Some(tables.add_stage(stage)),
            };
            inputs.push(CorrelationInput {
                stage: stage_id,
                name: input.reference.clone(),
                group: input.group.clone(),
                value: input.value.clone(),
            });
        }
        let mut stage = first.ok_or_else(|| QueryError {
            text: c.spec.meta.title.clone(),
            error: PlanError::invalid("a correlation names no rule", Default::default()),
        })?;
        stage.ops.push(Op::SigmaCorrelation(Box::new(CorrelationOp { spec: c.spec.clone(), inputs })));
        Ok(stage)
    }

    /// The operators of `eval` commands; `text` says what they are in an error.
    fn eval_ops(&mut self, commands: &[Command], text: impl Fn() -> String, tables: &mut Tables) -> Result<Vec<Op>, QueryError> {
        commands.iter().map(|cmd| self.plan_op(cmd, tables).map_err(|error| QueryError { text: text(), error })).collect()
    }
}

/// The rule's own predicate: per source, its log source conditions and its detection.
fn rule_pred(rule: &CompiledRule) -> Pred {
    let variants: Vec<Pred> = rule
        .variants
        .iter()
        .map(|v| {
            let mut items: Vec<Pred> = v
                .when
                .iter()
                .map(|(field, values)| {
                    let f = FieldRef::Name(field.clone());
                    match values.as_slice() {
                        [one] => Pred::Eq(f, Pattern::new(one)),
                        many => Pred::AnyOf(f, many.iter().map(|s| Pattern::new(s)).collect()),
                    }
                })
                .collect();
            // EventID first: the prefilter anchors on the first of equally small sets, and
            // an event id splits a channel's rules finer than the channel does.
            items.sort_by_key(|p| !matches!(p, Pred::Eq(FieldRef::Name(n), _) | Pred::AnyOf(FieldRef::Name(n), _) if n == "EventID"));
            items.push(to_pred(&v.expr));
            Pred::And(items)
        })
        .collect();
    match <[Pred; 1]>::try_from(variants) {
        Ok([one]) => one,
        Err(variants) => Pred::Or(variants),
    }
}

/// The detection as engine predicates: boolean structure and plain wildcard values become
/// the engine's own (so the prefilter indexes their exact values and literals); everything
/// else (regular expressions, CIDR, numbers, null, fieldref, `?`, `|cased` ...) is a Sigma
/// leaf evaluated by vigil-sigma.
fn to_pred(e: &Expr) -> Pred {
    match e {
        Expr::And(items) => Pred::And(items.iter().map(to_pred).collect()),
        Expr::Or(items) => {
            let items: Vec<Pred> = items.iter().map(to_pred).collect();
            match items.first() {
                // `f=a OR f=b OR ...` as `f IN (...)`, as the SPL planner does.
                Some(Pred::Eq(f, _)) if items.len() > 1 && items.iter().all(|p| matches!(p, Pred::Eq(g, _) if g == f)) => {
                    let f = f.clone();
                    Pred::AnyOf(f, items.into_iter().filter_map(|p| if let Pred::Eq(_, pat) = p { Some(pat) } else { None }).collect())
                }
                _ => Pred::Or(items),
            }
        }
        Expr::Not(inner) => Pred::Not(Box::new(to_pred(inner))),
        Expr::Leaf { field: Some(f), test: Test::Glob(g) } if g.spl_compatible && !g.text.is_empty() && !g.text.contains('&') => {
            Pred::Eq(FieldRef::Name(f.clone()), Pattern::new(&g.text))
        }
        // A value the engine's patterns do not express (`&`, which they also match as an XML
        // entity; `|cased`; a wildcard character): the field must still contain a literal
        // of it, a condition the prefilter indexes, so the leaf is not tried on every event
        // its log source has. Necessary for the leaf, so the conjunction means the leaf.
        Expr::Leaf { field: Some(f), test: Test::Glob(g) } => {
            let literal = g.required_literal().and_then(value_literal);
            leaf_with(literal.map(|lit| Pred::Eq(FieldRef::Name(f.clone()), Pattern::new(&format!("*{lit}*")))), e)
        }
        // A regular expression: likewise, the field must hold one of the texts every match
        // holds (`\$env:ComSpec\[` of `\$env:ComSpec\[(?:\s*\d{1,3}\s*,){2}`).
        Expr::Leaf { field: Some(f), test: Test::Regex(re) } => leaf_with(regex_condition(f, re), e),
        // A keyword: the event's text must contain a literal of it, which the prefilter
        // indexes, so the keyword is not tried against every field of every event.
        Expr::Leaf { field: None, test: Test::Glob(g) } => match g.required_literal().and_then(text_literal) {
            Some(lit) => Pred::And(vec![Pred::Raw(Pattern::new(&format!("*{lit}*"))), Pred::External(Arc::new(Detection(e.clone())))]),
            None => Pred::External(Arc::new(Detection(e.clone()))),
        },
        leaf => Pred::External(Arc::new(Detection(leaf.clone()))),
    }
}

/// Leaf `e` as an engine predicate, ANDed with `necessary`, a condition it implies.
fn leaf_with(necessary: Option<Pred>, e: &Expr) -> Pred {
    let leaf = Pred::External(Arc::new(Detection(e.clone())));
    match necessary {
        Some(condition) => Pred::And(vec![condition, leaf]),
        None => leaf,
    }
}

/// At most this many texts stand for a regular expression (an alternation of that many).
const REGEX_TEXTS_MAX: usize = 16;

/// `f` holds one of the texts (each cut to its [`value_literal`]) every match of `re` holds,
/// when it shows such texts.
fn regex_condition(f: &str, re: &LazyRegex) -> Option<Pred> {
    let texts = required_texts(re, REGEX_TEXTS_MAX)?;
    let mut patterns: Vec<Pattern> =
        texts.iter().map(|t| Some(Pattern::new(&format!("*{}*", value_literal(t)?)))).collect::<Option<_>>()?;
    let f = FieldRef::Name(f.to_string());
    Some(match patterns.len() {
        1 => Pred::Eq(f, patterns.remove(0)),
        _ => Pred::AnyOf(f, patterns.into_iter().collect()),
    })
}

/// The longest piece of `literal` that any event's text holds as written when a field value
/// holds it: characters no log format escapes (XML escapes `&<>"'`, JSON `"\` and `/`
/// optionally and non-ASCII as `\uXXXX`). Too short a piece filters nothing.
fn text_literal(literal: &str) -> Option<&str> {
    longest_piece(literal, |c| c.is_ascii_graphic() && !matches!(c, '&' | '<' | '>' | '"' | '\'' | '\\' | '/' | '*' | '?') || c == ' ')
}

/// The longest piece of `literal` that an engine pattern `*piece*` matches as a plain,
/// case-insensitive substring: ASCII without `&` (also matched as an XML entity) and the
/// wildcards. Too short a piece filters nothing.
fn value_literal(literal: &str) -> Option<&str> {
    longest_piece(literal, |c| (c.is_ascii_graphic() || c == ' ') && !matches!(c, '&' | '*' | '?'))
}

/// The longest run of `plain` characters in `literal`, if it has at least 3 besides spaces.
fn longest_piece(literal: &str, plain: impl Fn(char) -> bool) -> Option<&str> {
    literal.split(|c: char| !plain(c)).max_by_key(|p| p.len()).filter(|p| p.trim().len() >= 3)
}

#[cfg(test)]
mod tests {
    use super::{text_literal, value_literal};

    #[test]
    fn keyword_literals_avoid_what_log_formats_escape() {
        assert_eq!(text_literal("dpapi::masterkey"), Some("dpapi::masterkey"));
        assert_eq!(text_literal(r"\mimilib.dll"), Some("mimilib.dll"), "JSON doubles backslashes");
        assert_eq!(text_literal("a&b<script>"), Some("script"), "XML escapes & and <");
        assert_eq!(text_literal("x/y"), None, "too short");
        assert_eq!(text_literal("kiwi legit printer"), Some("kiwi legit printer"));
    }

    #[test]
    fn value_literals_avoid_what_engine_patterns_read_specially() {
        assert_eq!(value_literal("wevtutil cl application & fsutil usn"), Some("wevtutil cl application "));
        assert_eq!(value_literal(r"c:\windows\a?b.exe"), Some(r"c:\windows\a"));
        assert_eq!(value_literal("é&x"), None, "too short");
        assert_eq!(value_literal(r"\perfc.dat"), Some(r"\perfc.dat"));
    }
}
