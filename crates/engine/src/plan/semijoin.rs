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

use crate::ops::join::JoinOp;
use crate::ops::Op;
use crate::plan::lineage::{Lineage, Origin};
use crate::plan::{Query, Scan, Source, Stage};

/// How a root stage's join can filter its scan's groups.
pub(crate) struct SemiJoin<'q> {
    pub join: &'q JoinOp,
    /// For each join field, the position of the scan's by-field that feeds it.
    pub columns: Vec<usize>,
}

/// The root stage's tstats scan that an inner join right after it can filter, with how. The
/// scan defers such a scan (`scan::deferred`) and `physical` finishes it semi-join first.
pub(crate) fn of_root(q: &Query) -> Option<(usize, SemiJoin<'_>)> {
    let Source::Scan(si) = q.root.source else { return None };
    let Scan::Tstats(t) = q.scans.get(si)? else { return None };
    let by: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
    let aggs: Vec<String> = t.aggs.iter().map(|a| a.name.clone()).collect();
    find(&q.root, &by, &aggs).map(|sj| (si, sj))
}

/// Finds `scan | <safe ops> | join ...` (inner) at the start of `stage` and traces the join
/// fields back to the scan's by-fields (`by_names`); `agg_names` are the scan's other columns.
pub(crate) fn find<'q>(stage: &'q Stage, by_names: &[String], agg_names: &[String]) -> Option<SemiJoin<'q>> {
    let at = stage.ops.iter().position(|op| matches!(op, Op::Join(_)))?;
    let Op::Join(join) = &stage.ops[at] else { return None };
    if join.keeps_unmatched() {
        return None;
    }
    Some(SemiJoin { join, columns: trace_subsearch(&stage.ops[..at], by_names, agg_names, &join.fields)? })
}

/// For `scan | <safe ops>`: the positions of the scan's by-fields that `fields` (the join
/// fields) are unchanged copies of, so its groups can be filtered by the other side's keys.
/// `None` when an operator could change values in a way the lineage does not follow (or
/// reorder, group, expand), or a join field is not such a copy.
pub(crate) fn trace_subsearch(ops: &[Op], by_names: &[String], agg_names: &[String], fields: &[String]) -> Option<Vec<usize>> {
    let mut lineage = Lineage::of_groups(by_names, agg_names);
    for op in ops {
        match op {
            // Filters commute with the join's filtering.
            Op::Search(_) | Op::Where(_) | Op::Regex(_) => {}
            Op::Rename(_) | Op::Table(_) | Op::Fields { .. } | Op::Eval(_) => lineage.apply(op, None),
            Op::Convert(c) if !c.conversions.iter().any(|conv| conv.field.contains('*')) => lineage.apply(op, None),
            // They could change values in ways not followed here, or group, order, expand.
            Op::Convert(_) | Op::Lookup(_) | Op::Rex(_) | Op::Stats(_) | Op::Eventstats(_) | Op::Dedup(_) | Op::Sort(_) => return None,
            Op::Head(_) | Op::Join(_) | Op::DynamicSearch(_) | Op::Fillnull(_) | Op::Bin(_) | Op::Mvexpand { .. } => return None,
            Op::Makemv { .. } | Op::Xmlkv(_) | Op::Spath { .. } | Op::Replace { .. } | Op::Foreach(_) | Op::Transaction(_) => return None,
            Op::TopRare(_) | Op::Timechart(_) | Op::SigmaCorrelation(_) => return None,
        }
    }
    fields
        .iter()
        .map(|f| match lineage.origin(f)? {
            Origin::By(i) => Some(i),
            Origin::Key | Origin::Other => None,
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
