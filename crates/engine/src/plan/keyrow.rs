//! A key filter's row read in place: the texts of a new group key under the names the
//! filter's leading renames gave them, so that the filters it runs first (`search`, `regex`)
//! decide without a row being built and the key's texts copied into it (see `keyfilter`).
//! Most keys a key filter sees are refused by such a filter: file names without a right-to-left
//! override, command lines that are not `cmd.exe` spawned by an Office program.

use crate::expr::field::{FieldAccess, FieldRef};
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

    #[test]
    fn in_place_filters_see_each_field_of_the_layout() {
        let results = both_ways("| search dest=host process=cmd | regex _raw=\"^a\"", ["host", "cmd", "abc"]);
        assert_eq!(results, [(true, true), (true, true)]);
        let results = both_ways("| search dest=host process=cmd | regex _raw=\"^a\"", ["host", "cmd2", "cba"]);
        assert_eq!(results, [(false, false), (false, false)]);
    }
}
