//! Semi-join reduction of a tstats scan before its rows are built.
//!
//! Many hunting detections group every process (`tstats ... by process_guid ...`) and then
//! keep only those an inner `join` with a selective subsearch matches. Building a result row
//! for every group only to drop it at the join dominated the time after the scan. When the
//! operators between the scan and the join only filter rows, rename or drop fields, or write
//! fields other than the join fields, the join keeps a group only if its join-field texts
//! occur in the subsearch's rows: so the subsearch runs first, and groups whose key is not
//! among its keys are never turned into rows. The join itself still runs unchanged (on the
//! subsearch rows computed here), so the result is the same.

use crate::expr::eval::CExpr;
use crate::ops::join::JoinOp;
use crate::ops::Op;
use crate::plan::Stage;
use vigil_model::{Record, Value};

/// How a root stage's join can filter its scan's groups.
pub(crate) struct SemiJoin<'q> {
    pub join: &'q JoinOp,
    /// For each join field, the position of the scan's by-field that feeds it.
    pub columns: Vec<usize>,
}

/// Marks a value as "the by-field at position i" while renames are traced.
fn marker(i: usize) -> String {
    format!("\u{0}by{i}")
}

/// Finds `scan | <safe ops> | join ...` (inner) at the start of `stage` and traces the join
/// fields back to the scan's by-fields (`by_names`); `agg_names` are the scan's other columns.
pub(crate) fn find<'q>(stage: &'q Stage, by_names: &[String], agg_names: &[String]) -> Option<SemiJoin<'q>> {
    let at = stage.ops.iter().position(|op| matches!(op, Op::Join(_)))?;
    let Op::Join(join) = &stage.ops[at] else { return None };
    if join.keeps_unmatched() {
        return None;
    }
    let trace = trace(&stage.ops[..at], by_names, agg_names)?;
    Some(SemiJoin { join, columns: columns(&trace, by_names.len(), &join.fields)? })
}

/// For a join subsearch `scan | <safe ops>`: the positions of the scan's by-fields that end
/// up in `fields` (the join fields), so its groups can be filtered by the outer rows' keys.
pub(crate) fn trace_subsearch(ops: &[Op], by_names: &[String], agg_names: &[String], fields: &[String]) -> Option<Vec<usize>> {
    columns(&trace(ops, by_names, agg_names)?, by_names.len(), fields)
}

/// A record whose values say where they came from, put through the renames and field
/// selections of `ops` exactly as rows are; any other write makes the field unknown. `None`
/// when an operator could change values in a way not traced (or reorder, group, expand).
fn trace(ops: &[Op], by_names: &[String], agg_names: &[String]) -> Option<Record> {
    let mut trace = Record::with_capacity(by_names.len() + agg_names.len());
    for (i, n) in by_names.iter().enumerate() {
        trace.set(n.clone(), Value::Str(marker(i)));
    }
    for n in agg_names {
        trace.set(n.clone(), Value::Str("\u{0}agg".into()));
    }
    let unknown = || Value::Str("\u{0}unknown".into());
    for op in ops {
        match op {
            Op::Rename(pairs) => {
                trace = crate::ops::fields::rename(vec![trace], pairs).pop()?;
            }
            Op::Table(f) => trace = crate::ops::fields::table(vec![trace], f).pop()?,
            Op::Fields { remove, fields } => trace = crate::ops::fields::fields(vec![trace], *remove, fields).pop()?,
            // Filters: they commute with the join's filtering.
            Op::Search(_) | Op::Where(_) | Op::Regex(_) => {}
            Op::Eval(assignments) => {
                for (name, e) in assignments {
                    // `eval join_guid = process_guid` copies the value as it is.
                    let value = match e {
                        CExpr::Field(src) => trace.get(src).cloned().unwrap_or(Value::Null),
                        _ => unknown(),
                    };
                    trace.set(name.clone(), value);
                }
            }
            Op::Convert(c) => {
                for conv in &c.conversions {
                    if conv.field.contains('*') {
                        return None;
                    }
                    trace.set(conv.alias.clone().unwrap_or_else(|| conv.field.clone()), unknown());
                }
            }
            _ => return None,
        }
    }
    Some(trace)
}

/// The by-field position whose marker each of `fields` carries in `trace`.
fn columns(trace: &Record, by_len: usize, fields: &[String]) -> Option<Vec<usize>> {
    fields
        .iter()
        .map(|f| {
            let text = trace.get(f)?.as_text()?.into_owned();
            (0..by_len).find(|&i| text == marker(i))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Planner;
    use vigil_content::ContentSet;

    fn root(text: &str) -> Stage {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let mut planner = Planner::new(&catalog, &content);
        planner.plan("t", text).expect("plans").root
    }

    const BY: [&str; 3] = ["Processes.dest", "Processes.process_guid", "Processes.process"];

    fn by() -> Vec<String> {
        BY.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn traces_join_fields_through_renames_and_filters() {
        let stage = root(
            "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes by Processes.dest Processes.process_guid Processes.process \
             | rename Processes.* as * | convert ctime(firstTime) | where isnotnull(process) | eval x=1, guid=process_guid \
             | rename guid as process_guid | join max=0 dest process_guid [| tstats count from datamodel=Endpoint.Registry by Registry.dest Registry.process_guid | rename Registry.* as *]",
        );
        let sj = find(&stage, &by(), &["count".into(), "firstTime".into()]).expect("semi-join");
        assert_eq!(sj.columns, [0, 1]);
    }

    #[test]
    fn refuses_what_could_change_the_join_keys() {
        let base = "| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.process_guid Processes.process | rename Processes.* as * ";
        let sub = "[| tstats count from datamodel=Endpoint.Registry by Registry.process_guid | rename Registry.* as *]";
        for tail in [
            format!("| eval process_guid=lower(process_guid) | join process_guid {sub}"),
            format!("| join type=outer process_guid {sub}"),
            format!("| rename process as process_guid | join process_guid {sub}"),
            format!("| join count {sub}"),
            format!("| sort dest | join process_guid {sub}"),
        ] {
            let stage = root(&format!("{base}{tail}"));
            let found = find(&stage, &by(), &["count".into()]).map(|s| s.columns);
            assert!(found.is_none() || tail.contains("rename process as"), "{tail}: {found:?}");
            if tail.contains("rename process as") {
                // The renamed command line now feeds the join field.
                assert_eq!(found, Some(vec![2]));
            }
        }
    }
}
