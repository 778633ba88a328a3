//! Planning one command: the dispatch from each SPL command to its operator. A new SPL
//! command gets its arm here (the match is exhaustive over the parser's `CommandKind`).

use super::subsearch::resolve_static;
use super::{Planner, Tables};
use crate::error::PlanError;
use crate::expr::eval::CExpr;
use crate::expr::field::FieldRef;
use crate::expr::predicate::Pred;
use crate::ops::subsearch::has_subsearch;
use crate::ops::{foreach, join, lookup, rex, stats, subsearch, transaction, transform, Op};
use vigil_spl::ast::{Command, CommandKind};

impl Planner<'_> {
    /// Plans one command after a pipeline's first into its operator.
    pub(super) fn plan_op(&mut self, cmd: &Command, t: &mut Tables) -> Result<Op, PlanError> {
        let planner = self;
        let by_name = |n: &str| FieldRef::Name(n.to_string());
        Ok(match &cmd.kind {
            CommandKind::Search(e) if has_subsearch(e) => {
                let mut dynamic = Vec::new();
                let resolved = resolve_static(planner, e, cmd.span, t, &mut dynamic)?;
                if dynamic.is_empty() {
                    Op::Search(Pred::compile(&resolved, &by_name))
                } else {
                    Op::DynamicSearch(subsearch::DynamicSearch::new(resolved, dynamic))
                }
            }
            CommandKind::Search(e) => Op::Search(Pred::compile(e, &by_name)),
            CommandKind::Xmlkv { field } => Op::Xmlkv(field.clone()),
            CommandKind::Spath { input, output, path } => Op::Spath { input: input.clone(), output: output.clone(), path: path.clone() },
            CommandKind::Replace { pairs, fields } => Op::Replace { pairs: pairs.clone(), fields: fields.clone() },
            CommandKind::Foreach(f) => Op::Foreach(foreach::ForeachOp::plan(f)?),
            CommandKind::Transaction(t) => Op::Transaction(Box::new(transaction::TransactionOp::plan(t, cmd.span)?)),
            CommandKind::TopRare(t) => Op::TopRare(Box::new(crate::ops::top::TopRareOp(t.clone()))),
            CommandKind::Timechart(t) => Op::Timechart(Box::new(crate::ops::timechart::TimechartOp::plan(t, cmd.span)?)),
            CommandKind::Where(e) => Op::Where(CExpr::compile(e)?),
            CommandKind::Eval(assignments) => {
                Op::Eval(assignments.iter().map(|(f, e)| Ok((f.clone(), CExpr::compile(e)?))).collect::<Result<_, PlanError>>()?)
            }
            CommandKind::Stats(s) => Op::Stats(stats::StatsOp::plan(s, cmd.span)?),
            CommandKind::Eventstats(s) => Op::Eventstats(stats::StatsOp::plan(s, cmd.span)?),
            CommandKind::Rename(pairs) => Op::Rename(pairs.clone()),
            CommandKind::Table(f) => Op::Table(f.clone()),
            CommandKind::Fields { remove, fields } => Op::Fields { remove: *remove, fields: fields.clone() },
            CommandKind::Dedup(d) => Op::Dedup(d.clone()),
            CommandKind::Sort(s) => Op::Sort(s.clone()),
            CommandKind::Head(n) => Op::Head(*n),
            CommandKind::Convert(c) => {
                for conv in &c.conversions {
                    transform::check_conversion(&conv.func, cmd.span)?;
                }
                Op::Convert(c.clone())
            }
            CommandKind::Join(j) => Op::Join(join::JoinOp::plan(j, cmd.span, |sub| planner.plan_sub_stage(sub, t))?),
            CommandKind::Lookup(l) => Op::Lookup(lookup::LookupOp::plan(l, cmd.span, planner.lookup_table(&l.table, cmd.span)?)?),
            CommandKind::Rex(r) => Op::Rex(rex::RexOp::plan(r, cmd.span)?),
            CommandKind::Regex(r) => Op::Regex(rex::RegexOp::plan(r, cmd.span)?),
            CommandKind::Fillnull(f) => Op::Fillnull(f.clone()),
            CommandKind::Bin(b) => Op::Bin(transform::BinOp::plan(b, cmd.span)?),
            CommandKind::Mvexpand { field, limit } => Op::Mvexpand { field: field.clone(), limit: *limit },
            CommandKind::Makemv { delim, field } => Op::Makemv { delim: delim.clone(), field: field.clone() },
            CommandKind::Tstats(_) | CommandKind::Inputlookup(_) => {
                return Err(PlanError::Unsupported {
                    message: format!("`{}` in the middle of a search (append=true) is not supported", cmd.name),
                    span: cmd.span,
                })
            }
        })
    }
}
