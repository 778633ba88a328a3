//! `lookup` and `inputlookup` over CSV lookups from content (`lookups/*.yml` + `.csv`).

use crate::error::PlanError;
use crate::expr::pattern::Pattern;
use hashbrown::HashMap;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use vigil_content::{ContentSet, LookupTable};
use vigil_model::{Record, Value};
use vigil_spl::ast::{Lookup, Span};

/// Row positions by (lowercased, when case-insensitive) cell text.
type ExactIndex = HashMap<String, Vec<usize>>;

/// A loaded lookup with its matching rules.
#[derive(Debug)]
pub(crate) struct LookupData {
    pub name: String,
    pub table: LookupTable,
    case_sensitive: bool,
    min_matches: usize,
    default_match: Option<String>,
    /// Per column: whether its cells match by wildcard (`match_type`).
    wildcard: Vec<bool>,
    /// Per row and column: the cell compiled as a wildcard pattern (wildcard columns with `*`),
    /// built when a value is first looked up: planning reads no cell (see [`LookupData::pattern`]).
    patterns: OnceLock<Vec<Vec<Option<Pattern>>>>,
    /// Per column: no cell is a pattern, so its exact index finds every match (decided once
    /// here, not per value looked up).
    exact: Vec<bool>,
    /// Per column: exact-match index, built on first use. Keys are lowercased when matching
    /// is case-insensitive. A `OnceLock` per column: no lock or count to touch per value.
    exact_index: Vec<OnceLock<ExactIndex>>,
    /// Per column: literal index on a wildcard input column's pattern cells, built on first
    /// use: rows whose pattern's required literal occurs in the value (plus patterns without
    /// one) are the only pattern candidates. Its plain cells are found by the exact index.
    wild_index: Vec<OnceLock<Option<WildIndex>>>,
}

#[derive(Debug)]
struct WildIndex {
    automaton: aho_corasick::AhoCorasick,
    /// Literal id -> rows.
    owners: Vec<Vec<usize>>,
    /// Pattern rows to check whatever the value (patterns without a literal, such as `*`).
    always: Vec<usize>,
}

/// `s` lowercased as `str::to_lowercase` does (the index keys and patterns were built so),
/// borrowed when that changes nothing, as for most values.
fn lowercase(s: &str) -> Cow<'_, str> {
    if !s.is_ascii() {
        Cow::Owned(s.to_lowercase())
    } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

impl LookupData {
    pub fn load(content: &ContentSet, name: &str, span: Span) -> Result<LookupData, PlanError> {
        let def = content
            .lookup_def(name)
            .or_else(|| content.lookup_def(name.trim_end_matches(".csv")))
            .ok_or_else(|| PlanError::invalid(format!("lookup `{name}` is not defined in the loaded content"), span))?;
        if def.collection.is_some() && def.filename.is_none() {
            return Err(PlanError::Unsupported {
                message: format!("lookup `{name}` is a KV store collection, which exists only inside Splunk"),
                span,
            });
        }
        let path = def.csv_path().ok_or_else(|| PlanError::invalid(format!("lookup `{name}` names no CSV file"), span))?;
        if !path.exists() && def.filename.as_deref().is_some_and(|f| f.ends_with(".mlmodel")) {
            return Err(PlanError::Unsupported { message: format!("lookup `{name}` is an MLTK model"), span });
        }
        let table = LookupTable::load(&path).map_err(|e| PlanError::invalid(e.to_string(), span))?;
        Ok(LookupData::new(name, table, &def.wildcard_fields(), def.case_sensitive(), def.min_matches(), def.default_match()))
    }

    /// A lookup over `table` whose columns named in `wild` match by wildcard.
    fn new(
        name: &str,
        table: LookupTable,
        wild: &[String],
        case_sensitive: bool,
        min_matches: usize,
        default_match: Option<String>,
    ) -> Self {
        let wildcard: Vec<bool> = table.columns.iter().map(|c| wild.contains(c)).collect();
        let exact = (0..table.columns.len())
            .map(|c| !wildcard[c] || table.rows.iter().all(|row| row.get(c).is_none_or(|cell| !cell.contains('*'))))
            .collect();
        LookupData {
            wildcard,
            patterns: OnceLock::new(),
            name: name.to_string(),
            case_sensitive,
            min_matches,
            default_match,
            exact,
            exact_index: table.columns.iter().map(|_| OnceLock::new()).collect(),
            wild_index: table.columns.iter().map(|_| OnceLock::new()).collect(),
            table,
        }
    }

    /// Table row `r`'s cell in `col` as a wildcard pattern, when it is one. The patterns are
    /// compiled together on first use; a table without wildcard columns has none.
    fn pattern(&self, r: usize, col: usize) -> Option<&Pattern> {
        let patterns = self.patterns.get_or_init(|| {
            if !self.wildcard.contains(&true) {
                return Vec::new();
            }
            let wild = |c: usize, cell: &str| (self.wildcard[c] && cell.contains('*')).then(|| Pattern::new(cell));
            self.table.rows.iter().map(|row| row.iter().enumerate().map(|(c, cell)| wild(c, cell)).collect()).collect()
        });
        patterns.get(r)?.get(col)?.as_ref()
    }

    /// Whether table row `r`'s cell in `col` matches `value` (`lower` is `value` lowercased,
    /// for case-insensitive tables).
    fn cell_matches(&self, r: usize, col: usize, value: &str, lower: &str) -> bool {
        let cell = &self.table.rows[r][col];
        match self.pattern(r, col) {
            Some(_) if self.case_sensitive => crate::ops::fields::wild_capture(cell, value).is_some(),
            Some(p) => p.matches_maybe_folded(lower, true),
            None if self.case_sensitive => cell == value,
            None => cell.eq_ignore_ascii_case(value) || (!cell.is_ascii() && cell.to_lowercase() == lower),
        }
    }

    /// Adds to `out` (in table order per call, each row once) the rows whose input columns
    /// match the given values; `lowered` holds the values lowercased ([`lowercase`]).
    fn matching_rows(&self, inputs: &[(usize, &str)], lowered: &[Cow<str>], out: &mut Vec<usize>) {
        let mut add = |r: usize| {
            if inputs.iter().zip(lowered).all(|(&(c, v), l)| self.cell_matches(r, c, v, l)) && !out.contains(&r) {
                out.push(r);
            }
        };
        if let (Some(&(col, value)), Some(lower)) = (inputs.first(), lowered.first()) {
            // An exact first column (no wildcard cells) lets us use a hash index.
            if self.exact.get(col).copied().unwrap_or(false) {
                let key = if self.case_sensitive { value } else { lower };
                self.exact_index(col).get(key).into_iter().flatten().for_each(|&r| add(r));
                return;
            }
            if let Some(idx) = self.wild_index(col) {
                // A plain cell matches only a value equal to it (up to case), as the exact
                // index finds; a pattern cell only a value holding its required literal.
                let key = if self.case_sensitive { value } else { lower };
                let mut cands: Vec<usize> = self.exact_index(col).get(key).cloned().unwrap_or_default();
                cands.extend_from_slice(&idx.always);
                for m in idx.automaton.find_overlapping_iter(lower.as_ref()) {
                    cands.extend_from_slice(&idx.owners[m.pattern().as_usize()]);
                }
                cands.sort_unstable();
                cands.dedup();
                cands.into_iter().for_each(&mut add);
                return;
            }
        }
        (0..self.table.rows.len()).for_each(add);
    }

    fn wild_index(&self, col: usize) -> Option<&WildIndex> {
        self.wild_index.get(col)?.get_or_init(|| self.build_wild_index(col)).as_ref()
    }

    fn build_wild_index(&self, col: usize) -> Option<WildIndex> {
        let mut literals: Vec<String> = Vec::new();
        // Literal -> its id: tables have hundreds of rows, too many to search the list per cell.
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for r in 0..self.table.rows.len() {
            // Plain cells are left to the exact index: tables such as remote_access_software
            // have hundreds, whose literals would make the automaton several times larger
            // (slower to build, and to run on each value) for what one hash probe finds.
            let Some(p) = self.pattern(r, col) else { continue };
            match p.required_literals() {
                None => always.push(r),
                Some(lits) => {
                    for l in lits {
                        match ids.get(&l) {
                            Some(&i) => owners[i].push(r),
                            None => {
                                ids.insert(l.clone(), literals.len());
                                literals.push(l);
                                owners.push(vec![r]);
                            }
                        }
                    }
                }
            }
        }
        // A contiguous NFA whatever the number of literals: a DFA (the default under 100) costs
        // several times more to build than the few thousand values a lookup runs on take to
        // search. No prefilter: the values are short names, paths and command lines made of the
        // literals' own bytes (`:` and `\\` in every path), so its skips rarely skip anything.
        let automaton = aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .prefilter(false)
            .build(&literals)
            .ok()?;
        Some(WildIndex { automaton, owners, always })
    }

    fn exact_index(&self, col: usize) -> &ExactIndex {
        static EMPTY: OnceLock<ExactIndex> = OnceLock::new();
        let Some(slot) = self.exact_index.get(col) else { return EMPTY.get_or_init(HashMap::new) };
        slot.get_or_init(|| {
            let mut m: ExactIndex = HashMap::new();
            for (i, row) in self.table.rows.iter().enumerate() {
                let cell = &row[col];
                let key = if self.case_sensitive { cell.clone() } else { cell.to_lowercase() };
                m.entry(key).or_default().push(i);
            }
            m
        })
    }

    /// The table as records, for `inputlookup`.
    pub fn records(&self) -> Vec<Record> {
        self.table
            .rows
            .iter()
            .map(|row| {
                self.table.columns.iter().zip(row).filter(|(_, v)| !v.is_empty()).map(|(c, v)| (c.clone(), Value::Str(v.clone()))).collect()
            })
            .collect()
    }
}

#[derive(Debug)]
pub(crate) struct LookupOp {
    data: Arc<LookupData>,
    /// (lookup column, event field)
    pub(crate) inputs: Vec<(usize, String)>,
    /// (lookup column, event field)
    pub(crate) outputs: Vec<(usize, String)>,
    pub(crate) overwrite: bool,
}

impl LookupOp {
    /// Plans a lookup; `data` is its table (loaded once per planner).
    pub fn plan(l: &Lookup, span: Span, data: Arc<LookupData>) -> Result<LookupOp, PlanError> {
        let col = |name: &str| {
            data.table.column(name).ok_or_else(|| PlanError::invalid(format!("lookup `{}` has no column `{name}`", data.name), span))
        };
        let inputs = l.inputs.iter().map(|(c, f)| Ok((col(c)?, f.clone()))).collect::<Result<Vec<_>, PlanError>>()?;
        let outputs = if l.outputs.is_empty() {
            (0..data.table.columns.len())
                .filter(|i| !inputs.iter().any(|(c, _)| c == i))
                .map(|i| (i, data.table.columns[i].clone()))
                .collect()
        } else {
            l.outputs.iter().map(|(c, f)| Ok((col(c)?, f.clone()))).collect::<Result<Vec<_>, PlanError>>()?
        };
        Ok(LookupOp { data: data.clone(), inputs, outputs, overwrite: l.overwrite })
    }

    /// The lookup's name.
    pub fn table_name(&self) -> &str {
        &self.data.name
    }

    pub fn apply(&self, mut rows: Vec<Record>) -> Vec<Record> {
        let mut matched: Vec<usize> = Vec::new();
        for row in &mut rows {
            matched.clear();
            self.match_row(row, &mut matched);
            self.write_outputs(row, &matched);
        }
        rows
    }

    /// The table rows that `row`'s input values match, in the order found.
    fn match_row(&self, row: &Record, matched: &mut Vec<usize>) {
        if let [(col, field)] = self.inputs.as_slice() {
            // One input field (the usual lookup): its items are looked up as they are, with
            // no combinations to build and no copies.
            let mut one = |value: &str| self.data.matching_rows(&[(*col, value)], &[lowercase(value)], matched);
            match row.value(field) {
                Value::Null => {}
                Value::Str(s) => one(s),
                Value::Num(n) => one(&vigil_model::value::format_num(*n)),
                Value::Multi(items) => items.iter().take(MAX_COMBINATIONS).for_each(|s| one(s)),
            }
            return;
        }
        // Each combination of input items is looked up; results accumulate as multivalue.
        let input_items: Option<Vec<Vec<String>>> = self
            .inputs
            .iter()
            .map(|(_, f)| {
                let items: Vec<String> = row.value(f).items().into_iter().map(|s| s.into_owned()).collect();
                (!items.is_empty()).then_some(items)
            })
            .collect();
        for combo in input_items.as_deref().map(combinations).unwrap_or_default() {
            let inputs: Vec<(usize, &str)> = self.inputs.iter().zip(&combo).map(|((c, _), v)| (*c, v.as_str())).collect();
            let lowered: Vec<Cow<str>> = combo.iter().map(|v| lowercase(v)).collect();
            self.data.matching_rows(&inputs, &lowered, matched);
        }
    }

    /// Writes the output fields of the `matched` table rows to `row`.
    fn write_outputs(&self, row: &mut Record, matched: &[usize]) {
        for (col, field) in &self.outputs {
            if !self.overwrite && row.get(field).is_some() {
                continue;
            }
            let mut vals: Vec<String> = Vec::new();
            for &r in matched {
                let v = &self.data.table.rows[r][*col];
                if !v.is_empty() && !vals.contains(v) {
                    vals.push(v.clone());
                }
            }
            if matched.len() < self.data.min_matches.max(1) {
                if let Some(d) = &self.data.default_match {
                    vals = vec![d.clone()];
                }
            }
            if vals.is_empty() && !self.overwrite {
                continue;
            }
            row.set(field.as_str(), Value::from_items(vals));
        }
    }
}

/// At most this many combinations of input items are looked up per row.
const MAX_COMBINATIONS: usize = 10_000;

fn combinations(items: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for options in items {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                options.iter().map(move |o| {
                    let mut p = prefix.clone();
                    p.push(o.clone());
                    p
                })
            })
            .take(MAX_COMBINATIONS)
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup of `input` (column 0, field `f`; with `g`, column 1 too) writing column
    /// `out`'s cells to field `out`.
    fn lookup(rows: &[[&str; 3]], wild: &[&str], inputs: &[&str], default_match: Option<&str>) -> LookupOp {
        cased_lookup(rows, wild, inputs, default_match, false)
    }

    fn cased_lookup(rows: &[[&str; 3]], wild: &[&str], inputs: &[&str], default_match: Option<&str>, cased: bool) -> LookupOp {
        let columns: Vec<String> = ["name", "kind", "out"].map(String::from).to_vec();
        let rows = rows.iter().map(|r| r.map(String::from).to_vec()).collect();
        let wild: Vec<String> = wild.iter().map(|w| w.to_string()).collect();
        let data = LookupData::new("t", LookupTable { columns, rows }, &wild, cased, 0, default_match.map(String::from));
        let inputs = inputs.iter().enumerate().map(|(c, f)| (c, f.to_string())).collect();
        LookupOp { data: Arc::new(data), inputs, outputs: vec![(2, "out".into())], overwrite: false }
    }

    fn out(op: &LookupOp, fields: &[(&str, Value)]) -> Value {
        let row: Record = fields.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
        op.apply(vec![row]).pop().and_then(|r| r.get("out").cloned()).unwrap_or(Value::Null)
    }

    fn multi(items: &[&str]) -> Value {
        Value::Multi(items.iter().map(|s| s.to_string()).collect())
    }

    const ROWS: [[&str; 3]; 5] =
        [["cmd.exe", "shell", "a"], ["*\\temp\\*", "path", "b"], ["école.txt", "note", "c"], ["4", "num", "d"], ["CMD.EXE", "other", "e"]];

    #[test]
    fn one_input_matches_each_item_case_insensitively() {
        let exact = lookup(&ROWS, &[], &["f"], None);
        assert_eq!(out(&exact, &[("f", Value::str("Cmd.Exe"))]), multi(&["a", "e"]));
        assert_eq!(out(&exact, &[("f", Value::str("ÉCOLE.TXT"))]), Value::str("c"));
        assert_eq!(out(&exact, &[("f", Value::Num(4.0))]), Value::str("d"));
        // Every item of a multivalue, each row once, in the order found.
        assert_eq!(out(&exact, &[("f", multi(&["4", "cmd.exe", "4"]))]), multi(&["d", "a", "e"]));
        assert_eq!(out(&exact, &[("f", Value::str("x\\temp\\y"))]), Value::Null);
        assert_eq!(out(&exact, &[("g", Value::str("cmd.exe"))]), Value::Null);
        // OUTPUTNEW leaves a field that is there.
        assert_eq!(out(&exact, &[("f", Value::str("cmd.exe")), ("out", Value::str("z"))]), Value::str("z"));
    }

    #[test]
    fn wildcard_columns_match_patterns_and_defaults_fill_misses() {
        let wild = lookup(&ROWS, &["name"], &["f"], Some("none"));
        assert_eq!(out(&wild, &[("f", Value::str("C:\\TEMP\\x.exe"))]), Value::str("b"));
        assert_eq!(out(&wild, &[("f", Value::str("cmd.EXE"))]), multi(&["a", "e"]));
        assert_eq!(out(&wild, &[("f", Value::str("école.TXT"))]), Value::str("c"));
        assert_eq!(out(&wild, &[("f", Value::str("other"))]), Value::str("none"));
        assert_eq!(out(&wild, &[]), Value::str("none"));
    }

    #[test]
    fn plain_cells_of_wildcard_columns_match_their_whole_text() {
        let rows = [["Cmd.exe", "", "a"], ["*\\Temp\\*", "", "b"], ["", "", "c"], ["x*y", "", "d"], ["ÉCOLE", "", "e"]];
        let folded = lookup(&rows, &["name"], &["f"], None);
        assert_eq!(out(&folded, &[("f", Value::str("CMD.EXE"))]), Value::str("a"));
        // A plain cell inside a longer value is no match; a pattern's literal is.
        assert_eq!(out(&folded, &[("f", Value::str("cmd.exe /c"))]), Value::Null);
        assert_eq!(out(&folded, &[("f", Value::str("c:\\temp\\cmd.exe"))]), Value::str("b"));
        assert_eq!(out(&folded, &[("f", Value::str(""))]), Value::str("c"));
        assert_eq!(out(&folded, &[("f", Value::str("x-Y"))]), Value::str("d"));
        assert_eq!(out(&folded, &[("f", Value::str("école"))]), Value::str("e"));
        let cased = cased_lookup(&rows, &["name"], &["f"], None, true);
        assert_eq!(out(&cased, &[("f", Value::str("CMD.EXE"))]), Value::Null);
        assert_eq!(out(&cased, &[("f", Value::str("Cmd.exe"))]), Value::str("a"));
        assert_eq!(out(&cased, &[("f", Value::str("c:\\Temp\\cmd.exe"))]), Value::str("b"));
        assert_eq!(out(&cased, &[("f", Value::str("c:\\temp\\cmd.exe"))]), Value::Null);
    }

    #[test]
    fn several_inputs_match_every_combination() {
        let two = lookup(&ROWS, &[], &["f", "g"], None);
        let both = [("f", multi(&["cmd.exe", "4"])), ("g", multi(&["num", "other"]))];
        // (cmd.exe, other) comes before (4, num).
        assert_eq!(out(&two, &both), multi(&["e", "d"]));
        assert_eq!(out(&two, &[("f", Value::str("cmd.exe"))]), Value::Null);
    }

    #[test]
    fn lowercase_borrows_only_what_it_need_not_change() {
        assert!(matches!(lowercase("cmd.exe"), Cow::Borrowed("cmd.exe")));
        assert_eq!(lowercase("Cmd.EXE"), "cmd.exe");
        // As `str::to_lowercase`, which the index keys use: a final sigma is `ς`.
        assert_eq!(lowercase("ΑΣ"), "ας");
    }
}
