//! `foreach`: a template of eval commands run once per matching field.

use crate::error::PlanError;
use crate::expr::eval::CExpr;
use crate::expr::value::{EvalContext, Scope};
use crate::ops::fields::wild_capture;
use std::collections::HashMap;
use std::sync::Mutex;
use vigil_model::Record;
use vigil_spl::ast::{CommandKind, Foreach, Span};

#[derive(Debug)]
pub(crate) struct ForeachOp {
    patterns: Vec<String>,
    template: String,
    /// Compiled template per (field, match) substitution: the same fields recur in every row.
    compiled: Mutex<HashMap<String, Vec<(String, CExpr)>>>,
    span: Span,
}

/// Substitutes the placeholders and compiles the template's eval assignments.
fn compile(template: &str, field: &str, matched: &str, span: Span) -> Result<Vec<(String, CExpr)>, PlanError> {
    let text = template.replace("<<FIELD>>", field).replace("<<MATCHSTR>>", matched).replace("<<MATCHSEG1>>", matched);
    let pipeline = vigil_spl::parse(&format!("| {}", text.trim()))
        .map_err(|e| PlanError::Invalid { message: format!("foreach template for `{field}`: {}", e.message), span })?;
    let mut out = Vec::new();
    for cmd in &pipeline.commands {
        let CommandKind::Eval(assignments) = &cmd.kind else {
            return Err(PlanError::Unsupported {
                message: format!("foreach templates with `{}` (only eval is supported)", cmd.name),
                span,
            });
        };
        for (name, e) in assignments {
            out.push((name.clone(), CExpr::compile(e)?));
        }
    }
    Ok(out)
}

impl ForeachOp {
    pub fn plan(f: &Foreach) -> Result<ForeachOp, PlanError> {
        // Check the template once with a stand-in field, so errors show at plan time.
        compile(&f.template, "field", "field", f.template_span)?;
        Ok(ForeachOp {
            patterns: f.fields.clone(),
            template: f.template.clone(),
            compiled: Mutex::new(HashMap::new()),
            span: f.template_span,
        })
    }

    /// Fields the template assigns that do not depend on the iterated field's name.
    pub fn targets(&self) -> Vec<String> {
        // Compiled for two stand-in names, the targets both have are the fixed ones.
        let targets = |stand_in: &str| -> Vec<String> {
            compile(&self.template, stand_in, stand_in, self.span).map(|a| a.into_iter().map(|(t, _)| t).collect()).unwrap_or_default()
        };
        let other = targets("stand_in_b");
        targets("stand_in_a").into_iter().filter(|t| other.contains(t)).collect()
    }

    pub fn apply(&self, mut rows: Vec<Record>, ctx: &EvalContext) -> Vec<Record> {
        for row in &mut rows {
            // Fields in name order, as Splunk iterates them.
            let mut names: Vec<(String, String)> = row
                .names()
                .filter_map(|n| {
                    self.patterns
                        .iter()
                        .find_map(|p| wild_capture(p, n).map(|c| (n.to_string(), c.first().copied().unwrap_or(n).to_string())))
                })
                .collect();
            names.sort();
            for (name, matched) in names {
                let assignments = {
                    let mut cache = match self.compiled.lock() {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                    if !cache.contains_key(&name) {
                        // Checked at plan time; a field name that breaks the template is skipped.
                        let Ok(c) = compile(&self.template, &name, &matched, self.span) else { continue };
                        cache.insert(name.clone(), c);
                    }
                    cache.get(&name).cloned().unwrap_or_default()
                };
                for (target, expr) in &assignments {
                    let v = expr.eval(&Scope { row, bound: None, ctx }).into_value();
                    row.set(target.clone(), v);
                }
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::Value;

    #[test]
    fn appends_each_matching_field_in_name_order() {
        let fe =
            Foreach { fields: vec!["a*".into()], template: "eval args=mvappend(args, '<<FIELD>>')".into(), template_span: Span::default() };
        let op = ForeachOp::plan(&fe).unwrap();
        assert_eq!(op.targets(), ["args"]);
        let row: Record = [("a1", "-la"), ("a0", "ls"), ("b", "x")].iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect();
        let ctx = EvalContext { now: 0, tz: vigil_time::Tz::utc() };
        let out = op.apply(vec![row], &ctx);
        assert_eq!(out[0].value("args"), &Value::Multi(vec!["ls".into(), "-la".into()]));
    }

    #[test]
    fn non_eval_template_is_unsupported() {
        let fe = Foreach { fields: vec!["a".into()], template: "stats count".into(), template_span: Span::default() };
        assert!(ForeachOp::plan(&fe).unwrap_err().is_unsupported());
    }
}
