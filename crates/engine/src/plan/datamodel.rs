//! Data model structure in tstats: child datasets (`from datamodel=Authentication.Failed_Authentication`,
//! `where nodename=All_Changes.Account_Management`) and lineage-prefixed field names
//! (`All_Changes.Account_Management.src_nt_domain`, `All_Risk.annotations.mitre_attack.mitre_tactic`).
//!
//! A child dataset has no rows of its own: it is its root dataset's rows filtered by the
//! constraints of the child and its ancestors, as in Splunk's data models. The constraints are
//! data (`[[dataset.child]]` in mappings/datamodels.toml); here they become a search
//! expression ANDed with the tstats `where`.

use crate::error::PlanError;
use crate::expr::field::FieldRef;
use vigil_model::{ChildDataset, DatasetSchema};
use vigil_spl::ast::{CompareOp, SearchExpr, Span};

/// The column (or `_time`) a tstats field name refers to: `Object.field`, a bare `field`, or
/// `Object.Child.field` for a field a child dataset adds.
pub(crate) fn resolve_field(schema: &DatasetSchema, name: &str) -> FieldRef {
    let bare = name.strip_prefix(schema.object.as_str()).and_then(|r| r.strip_prefix('.')).unwrap_or(name);
    if bare == "_time" {
        return FieldRef::Time;
    }
    if let Some(i) = schema.field_index(bare) {
        return FieldRef::Column(i);
    }
    // `Account_Management.src_nt_domain`: strip the longest child lineage that prefixes it.
    let in_child = schema
        .children
        .iter()
        .filter_map(|c| {
            let path = c.lineage.split_once('.').map_or(c.lineage.as_str(), |(_, p)| p);
            bare.strip_prefix(path).and_then(|r| r.strip_prefix('.')).map(|f| (path.len(), f))
        })
        .max_by_key(|(len, _)| *len);
    match in_child.and_then(|(_, f)| schema.field_index(f)) {
        Some(i) => FieldRef::Column(i),
        None => FieldRef::Missing,
    }
}

/// The tstats filter with `nodename=X` terms replaced by node X's constraints, and the
/// constraints of `child` (the dataset named in `from datamodel=`) ANDed in front.
pub(crate) fn constrain(
    schema: &DatasetSchema,
    child: Option<&ChildDataset>,
    filter: SearchExpr,
    span: Span,
) -> Result<SearchExpr, PlanError> {
    let filter = replace_nodenames(schema, filter, span)?;
    let Some(c) = child else {
        return Ok(filter);
    };
    let mut all = constraints(schema, c, span)?;
    all.push(filter);
    Ok(SearchExpr::And(all))
}

fn constraints(schema: &DatasetSchema, c: &ChildDataset, span: Span) -> Result<Vec<SearchExpr>, PlanError> {
    c.constraints
        .iter()
        .map(|text| {
            vigil_spl::parse_search_expr(text)
                .map_err(|e| PlanError::invalid(format!("data model {} node {}: bad constraint {text:?}: {e}", schema.name, c.name), span))
        })
        .collect()
}

fn replace_nodenames(schema: &DatasetSchema, e: SearchExpr, span: Span) -> Result<SearchExpr, PlanError> {
    let each = |v: Vec<SearchExpr>| v.into_iter().map(|x| replace_nodenames(schema, x, span)).collect::<Result<Vec<_>, _>>();
    Ok(match e {
        SearchExpr::And(v) => SearchExpr::And(each(v)?),
        SearchExpr::Or(v) => SearchExpr::Or(each(v)?),
        SearchExpr::Not(x) => SearchExpr::Not(Box::new(replace_nodenames(schema, *x, span)?)),
        SearchExpr::Compare { field, op: CompareOp::Eq, value } if field.eq_ignore_ascii_case("nodename") => {
            node_filter(schema, &value.text, span)?
        }
        other => other,
    })
}

/// What `nodename=<name>` selects: every row for the root object, the constraints for a child.
fn node_filter(schema: &DatasetSchema, name: &str, span: Span) -> Result<SearchExpr, PlanError> {
    if name.eq_ignore_ascii_case(&schema.object) {
        return Ok(SearchExpr::All);
    }
    match schema.child(name) {
        Some(c) => Ok(SearchExpr::And(constraints(schema, c, span)?)),
        None => {
            Err(PlanError::Unsupported { message: format!("data model {} has no dataset `{name}` that Vigil knows", schema.name), span })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> DatasetSchema {
        DatasetSchema {
            name: "Change.All_Changes".into(),
            object: "All_Changes".into(),
            fields: ["action", "result", "src_nt_domain"].map(String::from).to_vec(),
            children: vec![
                ChildDataset {
                    name: "Account_Management".into(),
                    lineage: "All_Changes.Account_Management".into(),
                    constraints: vec!["tag=account".into()],
                },
                ChildDataset {
                    name: "Accounts_Created".into(),
                    lineage: "All_Changes.Account_Management.Accounts_Created".into(),
                    constraints: vec!["tag=account".into(), "action=created".into()],
                },
            ],
        }
    }

    #[test]
    fn fields_resolve_with_any_prefix() {
        let s = schema();
        assert_eq!(resolve_field(&s, "All_Changes.result"), FieldRef::Column(1));
        assert_eq!(resolve_field(&s, "result"), FieldRef::Column(1));
        assert_eq!(resolve_field(&s, "All_Changes.Account_Management.src_nt_domain"), FieldRef::Column(2));
        assert_eq!(resolve_field(&s, "All_Changes.Account_Management.Accounts_Created.src_nt_domain"), FieldRef::Column(2));
        assert_eq!(resolve_field(&s, "All_Changes.nope"), FieldRef::Missing);
        assert_eq!(resolve_field(&s, "_time"), FieldRef::Time);
    }

    #[test]
    fn nodename_becomes_constraints() {
        let s = schema();
        let span = Span::new(0, 0);
        let f = vigil_spl::parse_search_expr("nodename=All_Changes.Account_Management.Accounts_Created result=x").unwrap();
        let got = constrain(&s, None, f, span).unwrap();
        let p = |t: &str| vigil_spl::parse_search_expr(t).unwrap();
        let want = SearchExpr::And(vec![SearchExpr::And(vec![p("tag=account"), p("action=created")]), p("result=x")]);
        assert_eq!(got, want);
        let f = vigil_spl::parse_search_expr("nodename=All_Changes").unwrap();
        assert_eq!(constrain(&s, None, f, span).unwrap(), SearchExpr::All);
        let f = vigil_spl::parse_search_expr("nodename=All_Changes.Nope").unwrap();
        assert!(constrain(&s, None, f, span).unwrap_err().is_unsupported());
        let child = s.child("Account_Management");
        let got = constrain(&s, child, SearchExpr::All, span).unwrap();
        assert_eq!(got, SearchExpr::And(vec![vigil_spl::parse_search_expr("tag=account").unwrap(), SearchExpr::All]));
    }
}
