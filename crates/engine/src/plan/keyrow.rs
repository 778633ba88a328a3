//! A key filter's row read in place: the texts of a new group key under the names the
//! filter's leading renames gave them, so that the filters it runs first (`search`, `regex`)
//! decide without a row being built and the key's texts copied into it (see `keyfilter`).
//! Most keys a key filter sees are refused by such a filter: file names without a right-to-left
//! override, command lines that are not `cmd.exe` spawned by an Office program.
//!
//! Such a filter that reads one by-field also says something of the scan's rows: every row
//! that makes a key it keeps has an item it keeps in that field. Put into the scan's own
//! predicate ([`row_condition`]), that condition drops the other rows before their keys are
//! built, and its texts reach the prefilter, which skips the scan for most rows at once.

use crate::expr::field::{FieldAccess, FieldRef};
use crate::expr::pattern::Pattern;
use crate::expr::predicate::Pred;
use crate::ops::Op;

/// The fields of a key row: `layout` pairs each name with the position of the by-field whose
/// text is its value (`text`). It answers as the row built from them does (a `Record` with
/// each name once, its value the text as a string, even an empty one).
pub(crate) struct KeyFields<'k, F> {
    pub layout: &'k [(String, usize)],
    pub text: F,
}

impl<'t, F: Fn(usize) -> &'t str> KeyFields<'_, F> {
    fn get(&self, name: &str) -> Option<&'t str> {
        self.layout.iter().find(|(n, _)| n == name).map(|(_, i)| (self.text)(*i))
    }
}

impl<'k, 't: 'k, F: Fn(usize) -> &'t str> FieldAccess for KeyFields<'k, F> {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            FieldRef::Name(n) => self.any_named(n, f),
            FieldRef::Time => self.any_named("_time", f),
            _ => false,
        }
    }

    fn raw(&self) -> Option<&str> {
        self.get("_raw")
    }

    fn any_named(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.get(name).is_some_and(f)
    }
}

/// Whether `op` is a filter [`keeps`] decides on a key row read in place.
pub(crate) fn reads_in_place(op: &Op) -> bool {
    matches!(op, Op::Search(_) | Op::Regex(_))
}

/// Whether filter `op` keeps the row `key`: what running it on that row as a record yields
/// (neither filter fails). `None` for operators that need a record ([`reads_in_place`]).
pub(crate) fn keeps(op: &Op, key: &dyn FieldAccess) -> Option<bool> {
    match op {
        Op::Search(p) => Some(p.eval(key)),
        Op::Regex(r) => Some(r.keeps(key)),
        _ => None,
    }
}

/// A condition every row of a tstats scan (by-fields `by`, null ones grouped as `fillnull`)
/// meets if it makes a key that in-place filter `op` keeps, on the key row `layout`: `op`
/// itself on the by-field it reads when it is a `search` that only asks for some item to
/// match; a `regex` as the text every match holds ([`RegexOp::required_text`]). `None` when
/// there is none (the filter reads several fields, or not a column; a negation; a null field's
/// `fillnull` text the filter keeps, which a row without items cannot show).
///
/// A row's predicate holds when some item of the field matches; a key has one of the items
/// (or `fillnull`), so a key the filter keeps makes its row meet it.
///
/// [`RegexOp::required_text`]: crate::ops::rex::RegexOp::required_text
pub(crate) fn row_condition(op: &Op, layout: &[(String, usize)], by: &[(String, FieldRef)], fillnull: Option<&str>) -> Option<Pred> {
    let (name, on_key) = match op {
        Op::Regex(r) => {
            // `*` is a glob's wildcard: such a text is not looked for as written.
            let text = r.required_text().filter(|t| !t.contains('*'))?;
            (r.field.as_str(), Pred::Eq(FieldRef::Name(r.field.clone()), Pattern::new(&format!("*{text}*"))))
        }
        Op::Search(p) => (first_field(p)?, p.clone()),
        _ => return None,
    };
    let &(_, position) = layout.iter().find(|(n, _)| n == name)?;
    let (_, column @ FieldRef::Column(_)) = by.get(position)? else { return None };
    if let Some(text) = fillnull {
        let alone = [(name.to_string(), 0)];
        if keeps(op, &KeyFields { layout: &alone, text: |_| text }) != Some(false) {
            return None;
        }
    }
    on_column(&on_key, name, column)
}

/// The first field a predicate reads by name.
fn first_field(p: &Pred) -> Option<&str> {
    match p {
        Pred::And(items) | Pred::Or(items) => items.first().and_then(first_field),
        Pred::Eq(FieldRef::Name(n), _) | Pred::Present(FieldRef::Name(n)) => Some(n),
        Pred::Order(FieldRef::Name(n), _, _) | Pred::AnyOf(FieldRef::Name(n), _) => Some(n),
        _ => None,
    }
}

/// `p` reading `column` where it reads field `name`, if it reads no other and holds whenever
/// some item it is given matches: built of item tests (`=`, `IN`, `=*`, `<`...), `AND` and
/// `OR`, without negations (which hold for a row when one of its items fails).
fn on_column(p: &Pred, name: &str, column: &FieldRef) -> Option<Pred> {
    let field = |f: &FieldRef| matches!(f, FieldRef::Name(n) if n == name).then(|| column.clone());
    Some(match p {
        Pred::True => Pred::True,
        Pred::And(items) => Pred::And(items.iter().map(|q| on_column(q, name, column)).collect::<Option<_>>()?),
        Pred::Or(items) => Pred::Or(items.iter().map(|q| on_column(q, name, column)).collect::<Option<_>>()?),
        Pred::Eq(f, pattern) => Pred::Eq(field(f)?, pattern.clone()),
        Pred::Present(f) => Pred::Present(field(f)?),
        Pred::Order(f, op, v) => Pred::Order(field(f)?, *op, v.clone()),
        Pred::AnyOf(f, patterns) => Pred::AnyOf(field(f)?, patterns.clone()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::value::EvalContext;
    use crate::ops::RowEnv;
    use crate::plan::Planner;
    use vigil_content::ContentSet;
    use vigil_model::{Record, Value};

    /// Each filter of `filters` run on the key row (`dest`, `process`, `_raw` as laid out)
    /// both ways: in place, and as an operator over the record a key filter would build.
    fn both_ways(filters: &str, texts: [&str; 3]) -> Vec<(bool, bool)> {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let text = format!("| tstats count from datamodel=Endpoint.Processes by Processes.dest {filters}");
        let q = Planner::new(&catalog, &content).plan("t", &text).expect("plans");
        let layout: Vec<(String, usize)> = [("dest", 0), ("process", 1), ("_raw", 2)].map(|(n, i)| (n.to_string(), i)).to_vec();
        let key = KeyFields { layout: &layout, text: |i: usize| texts[i] };
        let ctx = EvalContext { now: 0, tz: vigil_time::Tz::utc() };
        q.root
            .ops
            .iter()
            .filter(|op| reads_in_place(op))
            .map(|op| {
                let row: Record = layout.iter().map(|(n, i)| (n.clone(), Value::Str(texts[*i].to_string()))).collect();
                let kept = crate::ops::apply(op, vec![row], &mut RowEnv { ctx: &ctx }).expect("runs");
                (keeps(op, &key).expect("in place"), !kept.is_empty())
            })
            .collect()
    }

    #[test]
    fn filters_in_place_decide_as_on_the_record() {
        let filters = "| search dest=host | search process=\"*\\\\temp\\\\*\" | search NOT dest=x | search user=* \
                       | search process!=*a* | search dest IN (a, HOST) | search _time>5 | search secret \
                       | regex process=\"\\x{202E}\" | regex process!=\"^c\" | regex user=\".\" | regex user!=\".\" \
                       | search dest=\"\" | search process=*";
        let cases = [["host", "C:\\Temp\\a.exe", "a secret"], ["x", "cmd \u{202E}exe", ""], ["", "", "none"], ["HOST", "b", "SECRET"]];
        for texts in cases {
            let results = both_ways(filters, texts);
            assert_eq!(results.len(), 14, "every filter runs");
            for (i, (in_place, on_record)) in results.into_iter().enumerate() {
                assert_eq!(in_place, on_record, "filter {i} on {texts:?}");
            }
        }
    }

    /// What each in-place filter of `filters` asks of the rows of a scan by `dest` (column 3),
    /// `process` (column 5) and `_time`, null fields grouped as `fillnull`: its description.
    fn conditions(filters: &str, fillnull: Option<&str>) -> Vec<Option<String>> {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let text = format!("| tstats count from datamodel=Endpoint.Processes by Processes.dest {filters}");
        let q = Planner::new(&catalog, &content).plan("t", &text).expect("plans");
        let layout: Vec<(String, usize)> = [("dest", 0), ("process", 1), ("_time", 2)].map(|(n, i)| (n.to_string(), i)).to_vec();
        let by = [("d", FieldRef::Column(3)), ("p", FieldRef::Column(5)), ("_time", FieldRef::Time)].map(|(n, f)| (n.to_string(), f));
        let name = |f: &FieldRef| format!("{f:?}");
        let ops = q.root.ops.iter().filter(|op| reads_in_place(op));
        ops.map(|op| row_condition(op, &layout, &by, fillnull).map(|p| p.describe(&name))).collect()
    }

    #[test]
    fn filters_on_one_column_ask_it_of_the_rows() {
        let filters = "| regex process=\"\\x{202E}\" | regex dest=\"^(?i)dev\\d+\" | search dest=a* OR dest IN (b, c) \
                       | search process>5 dest=*";
        let got = conditions(filters, None);
        assert_eq!(got[0].as_deref(), Some("Column(5)=\"*\u{202E}*\""));
        assert_eq!(got[1].as_deref(), Some("Column(3)=\"*dev*\""));
        assert!(got[2].as_deref().is_some_and(|d| d.contains("Column(3)") && !d.contains("dest")), "{got:?}");
        // Reading two fields, a negation, a field not in the key, `_time`, no text: nothing.
        let none = "| search process>5 dest=* | regex process!=\"x\" | search NOT dest=a | search dest!=a \
                    | search user=x | search _time>5 | regex process=\"\\d+\" | search *";
        assert_eq!(conditions(none, None), vec![None; 8]);
    }

    #[test]
    fn a_null_field_keeps_its_fillnull_text_out_of_the_condition() {
        let filters = "| regex dest=\"unk\" | search dest=*own | regex dest=\"host\" | search dest=host*";
        let got = conditions(filters, Some("unknown"));
        // A row without `dest` makes the key `unknown`, which the first two keep: a row
        // condition would drop keys they keep.
        assert_eq!(got[..2], [None, None]);
        assert!(got[2..].iter().all(Option::is_some), "{got:?}");
    }

    #[test]
    fn in_place_filters_see_each_field_of_the_layout() {
        let results = both_ways("| search dest=host process=cmd | regex _raw=\"^a\"", ["host", "cmd", "abc"]);
        assert_eq!(results, [(true, true), (true, true)]);
        let results = both_ways("| search dest=host process=cmd | regex _raw=\"^a\"", ["host", "cmd2", "cba"]);
        assert_eq!(results, [(false, false), (false, false)]);
    }
}
