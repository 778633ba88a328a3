//! Sigma rules as queries: each compiled rule becomes a raw-event scan like an SPL search's,
//! its predicate the log source conditions (indexable by the prefilter: `Channel`,
//! `EventID`) and the detection, so Sigma and SPL detections share one pass.

use super::{EventScan, Planner, Query, QueryError, Scan, Source, Stage, Tables};
use crate::error::PlanError;
use crate::expr::field::{FieldAccess, FieldRef};
use crate::expr::pattern::Pattern;
use crate::expr::predicate::{ExternalPred, Pred};
use std::sync::Arc;
use vigil_sigma::{CompiledRule, Expr, Fields, Test};

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
        let pred = match <[Pred; 1]>::try_from(variants) {
            Ok([one]) => one,
            Err(variants) => Pred::Or(variants),
        };
        let m = &rule.meta;
        // Log source values have no `*`, so SPL patterns match them exactly.
        let mut text = format!(
            "| eval sigma_title=\"{}\", sigma_id=\"{}\", sigma_level=\"{}\"",
            quote(&m.title),
            quote(m.id.as_deref().unwrap_or("")),
            quote(m.level.as_deref().unwrap_or(""))
        );
        for (name, from) in &rule.result_fields {
            // Windows writes "-" for an empty account or host: not a value.
            let args: Vec<String> = from
                .iter()
                .map(|f| {
                    let f = format!("'{}'", f.replace('\'', "\\'"));
                    format!("if({f}==\"-\", null(), {f})")
                })
                .collect();
            text.push_str(&format!(", {name}=coalesce({})", args.join(", ")));
        }
        if !m.tags.is_empty() {
            text.push_str(&format!(", sigma_tags=split(\"{}\", \"|\")", quote(&m.tags.join("|"))));
        }
        let fail = |error: PlanError| QueryError { text: text.clone(), error };
        let pipeline = vigil_spl::parse(&format!("search *{text}")).map_err(|e| fail(e.into()))?;
        let mut tables = Tables::default();
        let mut prefix = Vec::new();
        for cmd in pipeline.commands.iter().skip(1) {
            prefix.push(self.plan_op(cmd, &mut tables).map_err(fail)?);
        }
        // Rows carry the event's fields, not its text: matches are held until the scan ends,
        // and `_raw` would double what they take.
        let scan = EventScan { pred, prefix, stats: None, needs_raw: false, projection: None };
        Ok(Query {
            name: m.title.clone(),
            text: format!("Sigma rule {}:{}", m.file, m.line),
            root: Stage { source: Source::Scan(0), ops: Vec::new() },
            scans: vec![Scan::Events(scan)],
            stages: Vec::new(),
        })
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
        leaf => Pred::External(Arc::new(Detection(leaf.clone()))),
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
