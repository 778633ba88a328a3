//! Table operators: the commands after a search's leading scan.

pub(crate) mod env;
pub(crate) mod fields;
pub(crate) mod foreach;
pub(crate) mod join;
pub(crate) mod join_keys;
pub(crate) mod lookup;
pub(crate) mod rex;
pub(crate) mod sigma_correlation;
pub(crate) mod spath;
pub(crate) mod stats;
pub(crate) mod subsearch;
pub(crate) mod timechart;
pub(crate) mod top;
pub(crate) mod transaction;
pub(crate) mod transform;
pub(crate) mod xmlkv;

pub(crate) use env::{Env, RowEnv, StageId};

use crate::error::ExecError;
use crate::expr::eval::CExpr;
use crate::expr::predicate::Pred;
use crate::expr::value::{EvalContext, Scope};
use vigil_model::Record;

/// One planned table operator.
#[derive(Debug)]
pub(crate) enum Op {
    Search(Pred),
    Where(CExpr),
    Eval(Vec<(String, CExpr)>),
    Stats(stats::StatsOp),
    Eventstats(stats::StatsOp),
    Rename(Vec<(String, String)>),
    Table(Vec<String>),
    Fields {
        remove: bool,
        fields: Vec<String>,
    },
    Dedup(vigil_spl::ast::Dedup),
    Sort(vigil_spl::ast::Sort),
    Head(u64),
    Convert(vigil_spl::ast::Convert),
    Join(join::JoinOp),
    Lookup(lookup::LookupOp),
    Rex(rex::RexOp),
    Regex(rex::RegexOp),
    Fillnull(vigil_spl::ast::Fillnull),
    Bin(transform::BinOp),
    Mvexpand {
        field: String,
        limit: Option<u64>,
    },
    Makemv {
        delim: String,
        field: String,
    },
    DynamicSearch(subsearch::DynamicSearch),
    Xmlkv(Option<String>),
    Spath {
        input: Option<String>,
        output: Option<String>,
        path: Option<String>,
    },
    Replace {
        pairs: Vec<(String, String)>,
        fields: Vec<String>,
    },
    Foreach(foreach::ForeachOp),
    // Boxed: the largest operators (120-430 bytes), rare, would size every `Op` (one per
    // planned command, ~10,000 with all ESCU and SigmaHQ) at theirs.
    Transaction(Box<transaction::TransactionOp>),
    TopRare(Box<top::TopRareOp>),
    Timechart(Box<timechart::TimechartOp>),
    /// A Sigma correlation rule over the matches of the rules it names (not SPL).
    SigmaCorrelation(Box<sigma_correlation::CorrelationOp>),
}

impl Op {
    /// The SPL command the operator comes from.
    pub(crate) fn command_name(&self) -> &'static str {
        match self {
            Op::Search(_) | Op::DynamicSearch(_) => "search",
            Op::Where(_) => "where",
            Op::Eval(_) => "eval",
            Op::Stats(_) => "stats",
            Op::Eventstats(_) => "eventstats",
            Op::Rename(_) => "rename",
            Op::Table(_) => "table",
            Op::Fields { .. } => "fields",
            Op::Dedup(_) => "dedup",
            Op::Sort(_) => "sort",
            Op::Head(_) => "head",
            Op::Convert(_) => "convert",
            Op::Join(_) => "join",
            Op::Lookup(_) => "lookup",
            Op::Rex(_) => "rex",
            Op::Regex(_) => "regex",
            Op::Fillnull(_) => "fillnull",
            Op::Bin(_) => "bin",
            Op::Mvexpand { .. } => "mvexpand",
            Op::Makemv { .. } => "makemv",
            Op::Xmlkv(_) => "xmlkv",
            Op::Spath { .. } => "spath",
            Op::Replace { .. } => "replace",
            Op::Foreach(_) => "foreach",
            Op::Transaction(_) => "transaction",
            Op::TopRare(t) => {
                if t.0.rare {
                    "rare"
                } else {
                    "top"
                }
            }
            Op::Timechart(_) => "timechart",
            Op::SigmaCorrelation(_) => "sigma correlation",
        }
    }

    /// Whether the operator works on each row alone, in any order, without the clock or the
    /// time zone: such operators can run during the scan.
    pub(crate) fn is_streaming(&self) -> bool {
        match self {
            Op::Search(_) | Op::Rename(_) | Op::Table(_) | Op::Fields { .. } | Op::Lookup(_) | Op::Rex(_) => true,
            Op::Regex(_) | Op::Mvexpand { .. } | Op::Makemv { .. } | Op::Xmlkv(_) | Op::Spath { .. } => true,
            Op::Replace { .. } => true,
            Op::Where(e) => e.is_pure(),
            Op::Eval(assignments) => assignments.iter().all(|(_, e)| e.is_pure()),
            Op::Fillnull(f) => !f.fields.is_empty(),
            Op::Bin(b) => b.has_span(),
            // Group, order, count or combine rows across the whole input, or use the time zone.
            Op::Transaction(_) | Op::Stats(_) | Op::Eventstats(_) | Op::Dedup(_) | Op::Sort(_) | Op::Head(_) => false,
            Op::Convert(_) | Op::Join(_) | Op::DynamicSearch(_) | Op::Foreach(_) => false,
            Op::TopRare(_) | Op::Timechart(_) | Op::SigmaCorrelation(_) => false,
        }
    }

    /// Whether the operator works on each row alone (its result for a row does not depend on
    /// the other rows), given the execution context: rows can then pass through it in chunks.
    pub(crate) fn is_row_wise(&self) -> bool {
        self.is_streaming() || matches!(self, Op::Convert(_) | Op::Where(_) | Op::Eval(_))
    }

    /// The fields a row-by-row operator reads, or `None` when it may read any (wildcards,
    /// commands whose inputs depend on the data). Used to copy only those fields of a
    /// matching raw event.
    pub(crate) fn fields_read(&self) -> Option<Vec<String>> {
        let expr_fields = |e: &CExpr, out: &mut Vec<String>| e.fields(out);
        let mut out = Vec::new();
        match self {
            Op::Search(p) => p.fields(&mut out)?,
            Op::Where(e) => expr_fields(e, &mut out),
            Op::Eval(assignments) => assignments.iter().for_each(|(_, e)| expr_fields(e, &mut out)),
            Op::Rex(r) => out.push(r.field.clone()),
            Op::Regex(r) => out.push(r.field.clone()),
            Op::Xmlkv(field) => out.push(field.clone().unwrap_or_else(|| "_raw".into())),
            Op::Spath { input, .. } => out.push(input.clone().unwrap_or_else(|| "_raw".into())),
            Op::Lookup(l) => {
                out.extend(l.inputs.iter().map(|(_, f)| f.clone()));
                if !l.overwrite {
                    // OUTPUTNEW looks at whether the outputs exist already.
                    out.extend(l.outputs.iter().map(|(_, f)| f.clone()));
                }
            }
            Op::Fillnull(f) if !f.fields.is_empty() => out.extend(f.fields.iter().cloned()),
            Op::Fillnull(_) => return None,
            Op::Bin(b) => out.push(b.field.clone()),
            Op::Mvexpand { field, .. } | Op::Makemv { field, .. } => out.push(field.clone()),
            Op::TopRare(t) => out.extend(t.fields_read()),
            Op::Timechart(t) => out.extend(t.fields_read()?),
            Op::Rename(pairs) if pairs.iter().all(|(from, _)| !from.contains('*')) => {
                // The target's own value stays when the source is absent, so it is read too.
                for (from, to) in pairs {
                    out.push(from.clone());
                    out.push(to.clone());
                }
            }
            Op::Rename(_) => return None,
            Op::Replace { fields, .. } if !fields.is_empty() && fields.iter().all(|f| !f.contains('*')) => {
                out.extend(fields.iter().cloned())
            }
            Op::Replace { .. } | Op::Table(_) | Op::Fields { .. } | Op::Foreach(_) | Op::Transaction(_) => return None,
            Op::Stats(_) | Op::Eventstats(_) | Op::Dedup(_) | Op::Sort(_) | Op::Head(_) => return None,
            Op::Convert(_) | Op::Join(_) | Op::DynamicSearch(_) | Op::SigmaCorrelation(_) => return None,
        }
        Some(out)
    }

    /// Whether the operator may read `_raw` (conservative: true when unsure).
    pub(crate) fn reads_raw(&self) -> bool {
        let expr_reads = |e: &CExpr| {
            let mut f = Vec::new();
            e.fields(&mut f);
            f.iter().any(|n| n == "_raw")
        };
        match self {
            Op::Search(p) => p.reads_raw(),
            Op::Where(e) => expr_reads(e),
            Op::Eval(assignments) => assignments.iter().any(|(_, e)| expr_reads(e)),
            Op::Rex(r) => r.field == "_raw",
            Op::Regex(r) => r.field == "_raw",
            Op::Xmlkv(field) => field.as_deref().is_none_or(|f| f == "_raw"),
            Op::Spath { input, .. } => input.as_deref().is_none_or(|f| f == "_raw"),
            Op::Rename(pairs) => pairs.iter().any(|(from, _)| from.contains('*') || from == "_raw"),
            Op::Lookup(_) | Op::Table(_) | Op::Fields { .. } | Op::Replace { .. } | Op::Foreach(_) => true,
            Op::Fillnull(_) | Op::Bin(_) | Op::Mvexpand { .. } | Op::Makemv { .. } => false,
            Op::TopRare(t) => t.fields_read().iter().any(|f| f == "_raw"),
            Op::Timechart(t) => t.fields_read().is_none_or(|f| f.iter().any(|f| f == "_raw")),
            // Joins the events' `_raw`; filters may match it.
            Op::Transaction(_) => true,
            Op::Stats(_) | Op::Eventstats(_) | Op::Dedup(_) | Op::Sort(_) | Op::Head(_) => true,
            Op::Convert(_) | Op::Join(_) | Op::DynamicSearch(_) => true,
            // Reads the fields its inputs name, never the text.
            Op::SigmaCorrelation(_) => false,
        }
    }
}

/// Runs `ops` in order over `rows`.
pub(crate) fn apply_all(ops: &[Op], mut rows: Vec<Record>, env: &mut dyn Env) -> Result<Vec<Record>, ExecError> {
    for op in ops {
        rows = apply(op, rows, env)?;
    }
    Ok(rows)
}

/// Runs a row-by-row operator on one row in place, as [`apply`] would on a list of that row
/// alone: whether the row is kept; `None` for operators without such a form (run them through
/// [`apply`]). The scan runs the operators of each kept raw event this way, without a list
/// per event and operator.
pub(crate) fn apply_row(op: &Op, row: &mut Record, ctx: &EvalContext) -> Option<bool> {
    Some(match op {
        Op::Search(p) => p.eval(row),
        Op::Where(e) => e.eval(&Scope { row, bound: None, ctx }).truthy(),
        Op::Eval(assignments) => {
            eval_row(assignments, row, ctx);
            true
        }
        // One row: `fields::rename`'s replay of renames across rows does not apply.
        Op::Rename(pairs) => {
            fields::rename_columns(row, pairs);
            true
        }
        Op::Bin(b) => b.apply_row(row).then_some(true)?,
        _ => return None,
    })
}

fn eval_row(assignments: &[(String, CExpr)], row: &mut Record, ctx: &EvalContext) {
    for (field, expr) in assignments {
        let v = expr.eval(&Scope { row, bound: None, ctx }).into_value();
        row.set(field.as_str(), v);
    }
}

/// Runs one operator over `rows`.
pub(crate) fn apply(op: &Op, rows: Vec<Record>, env: &mut dyn Env) -> Result<Vec<Record>, ExecError> {
    let ctx = env.ctx();
    Ok(match op {
        Op::Search(p) => rows.into_iter().filter(|r| p.eval(r)).collect(),
        Op::Where(e) => rows.into_iter().filter(|r| e.eval(&Scope { row: r, bound: None, ctx }).truthy()).collect(),
        Op::Eval(assignments) => {
            let mut rows = rows;
            for row in &mut rows {
                eval_row(assignments, row, ctx);
            }
            rows
        }
        Op::Stats(s) => s.stats(rows, ctx)?,
        Op::Eventstats(s) => s.eventstats(rows, ctx)?,
        Op::Rename(pairs) => fields::rename(rows, pairs),
        Op::Table(f) => fields::table(rows, f),
        Op::Fields { remove, fields } => fields::fields(rows, *remove, fields),
        Op::Dedup(d) => transform::dedup(rows, d),
        Op::Sort(s) => transform::sort(rows, s),
        Op::Head(n) => rows.into_iter().take(*n as usize).collect(),
        Op::Convert(c) => transform::convert(rows, c, &ctx.tz),
        Op::Join(j) => j.apply(rows, env)?,
        Op::Lookup(l) => l.apply(rows),
        Op::Rex(r) => r.apply(rows),
        Op::Regex(r) => r.apply(rows),
        Op::Fillnull(f) => transform::fillnull(rows, f),
        Op::Bin(b) => b.apply(rows),
        Op::Mvexpand { field, limit } => transform::mvexpand(rows, field, *limit),
        Op::Makemv { delim, field } => transform::makemv(rows, delim, field),
        Op::DynamicSearch(d) => d.apply(rows, env)?,
        Op::Xmlkv(field) => xmlkv::apply(rows, field.as_deref()),
        Op::Spath { input, output, path } => spath::apply(rows, input.as_deref(), output.as_deref(), path.as_deref()),
        Op::Replace { pairs, fields } => spath::replace(rows, pairs, fields),
        Op::Foreach(f) => f.apply(rows, ctx),
        Op::Transaction(t) => t.apply(rows, ctx),
        Op::TopRare(t) => t.apply(rows),
        Op::Timechart(t) => t.apply(rows, ctx)?,
        Op::SigmaCorrelation(c) => c.apply(rows, env)?,
    })
}
