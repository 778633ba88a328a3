//! `lookup` and `inputlookup` over CSV lookups from content (`lookups/*.yml` + `.csv`).

use crate::error::PlanError;
use crate::expr::pattern::Pattern;
use hashbrown::HashMap;
use std::sync::Arc;
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
    /// Per column: wildcard matching.
    wildcard: Vec<bool>,
    case_sensitive: bool,
    min_matches: usize,
    default_match: Option<String>,
    /// Per row and column: the cell compiled as a wildcard pattern (wildcard columns with `*`).
    patterns: Vec<Vec<Option<Pattern>>>,
    /// Exact-match index on the first input column, built lazily per column set. Keys are
    /// lowercased when matching is case-insensitive.
    exact_index: std::sync::Mutex<HashMap<usize, Arc<ExactIndex>>>,
    /// Literal index on a wildcard input column, built lazily: rows whose cell's required
    /// literal occurs in the value (plus rows without one) are the only candidates.
    wild_index: std::sync::Mutex<HashMap<usize, Arc<WildIndex>>>,
}

#[derive(Debug)]
struct WildIndex {
    automaton: aho_corasick::AhoCorasick,
    /// Literal id -> rows.
    owners: Vec<Vec<usize>>,
    /// Rows to check whatever the value (cells that are only `*`, or empty).
    always: Vec<usize>,
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
        let wild = def.wildcard_fields();
        let wildcard: Vec<bool> = table.columns.iter().map(|c| wild.contains(c)).collect();
        let patterns = table
            .rows
            .iter()
            .map(|row| row.iter().enumerate().map(|(c, cell)| (wildcard[c] && cell.contains('*')).then(|| Pattern::new(cell))).collect())
            .collect();
        Ok(LookupData {
            patterns,
            name: name.to_string(),
            wildcard,
            case_sensitive: def.case_sensitive(),
            min_matches: def.min_matches(),
            default_match: def.default_match(),
            table,
            exact_index: Default::default(),
            wild_index: Default::default(),
        })
    }

    /// Whether table row `r`'s cell in `col` matches `value` (`lower` is `value` lowercased,
    /// for case-insensitive tables).
    fn cell_matches(&self, r: usize, col: usize, value: &str, lower: &str) -> bool {
        let cell = &self.table.rows[r][col];
        match &self.patterns[r][col] {
            Some(_) if self.case_sensitive => crate::ops::fields::wild_capture(cell, value).is_some(),
            Some(p) => p.matches_maybe_folded(lower, true),
            None if self.case_sensitive => cell == value,
            None => cell.eq_ignore_ascii_case(value) || (!cell.is_ascii() && cell.to_lowercase() == lower),
        }
    }

    fn key(&self, value: &str) -> String {
        if self.case_sensitive {
            value.to_string()
        } else {
            value.to_lowercase()
        }
    }

    /// Rows whose input columns match the given values.
    fn matching_rows(&self, inputs: &[(usize, String)]) -> Vec<usize> {
        let lowered: Vec<String> = inputs.iter().map(|(_, v)| v.to_lowercase()).collect();
        let all_match = |r: usize| inputs.iter().zip(&lowered).all(|((c, v), l)| self.cell_matches(r, *c, v, l));
        // An exact first column (no wildcard cells) lets us use a hash index.
        if let Some((col, val)) = inputs.first() {
            let exact = !self.wildcard[*col] || self.patterns.iter().all(|row| row[*col].is_none());
            if exact {
                let idx = self.index_for(*col);
                let Some(cands) = idx.get(&self.key(val)) else { return Vec::new() };
                return cands.iter().copied().filter(|&r| all_match(r)).collect();
            }
        }
        if let (Some((col, _)), Some(lower)) = (inputs.first(), lowered.first()) {
            if let Some(idx) = self.wild_index_for(*col) {
                let mut cands = idx.always.clone();
                for m in idx.automaton.find_overlapping_iter(lower.as_str()) {
                    cands.extend_from_slice(&idx.owners[m.pattern().as_usize()]);
                }
                cands.sort_unstable();
                cands.dedup();
                return cands.into_iter().filter(|&r| all_match(r)).collect();
            }
        }
        (0..self.table.rows.len()).filter(|&r| all_match(r)).collect()
    }

    fn wild_index_for(&self, col: usize) -> Option<Arc<WildIndex>> {
        let mut guard = match self.wild_index.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(idx) = guard.get(&col) {
            return Some(idx.clone());
        }
        let mut literals: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (r, row) in self.table.rows.iter().enumerate() {
            let lits = match &self.patterns[r][col] {
                Some(p) => p.required_literals(),
                None => Some(vec![row[col].to_lowercase()]).filter(|l| !l[0].is_empty()),
            };
            match lits {
                None => always.push(r),
                Some(lits) => {
                    for l in lits {
                        match literals.iter().position(|x| *x == l) {
                            Some(i) => owners[i].push(r),
                            None => {
                                literals.push(l);
                                owners.push(vec![r]);
                            }
                        }
                    }
                }
            }
        }
        let automaton = aho_corasick::AhoCorasick::new(&literals).ok()?;
        let idx = Arc::new(WildIndex { automaton, owners, always });
        guard.insert(col, idx.clone());
        Some(idx)
    }

    fn index_for(&self, col: usize) -> Arc<HashMap<String, Vec<usize>>> {
        let mut guard = match self.exact_index.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard
            .entry(col)
            .or_insert_with(|| {
                let mut m: HashMap<String, Vec<usize>> = HashMap::new();
                for (i, row) in self.table.rows.iter().enumerate() {
                    m.entry(self.key(&row[col])).or_default().push(i);
                }
                Arc::new(m)
            })
            .clone()
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
        for row in &mut rows {
            // Each combination of input items is looked up; results accumulate as multivalue.
            let input_items: Option<Vec<Vec<String>>> = self
                .inputs
                .iter()
                .map(|(_, f)| {
                    let items: Vec<String> = row.value(f).items().into_iter().map(|s| s.into_owned()).collect();
                    (!items.is_empty()).then_some(items)
                })
                .collect();
            let mut matched: Vec<usize> = Vec::new();
            if let Some(items) = input_items {
                for combo in combinations(&items) {
                    let inputs: Vec<(usize, String)> = self.inputs.iter().zip(combo).map(|((c, _), v)| (*c, v)).collect();
                    for r in self.data.matching_rows(&inputs) {
                        if !matched.contains(&r) {
                            matched.push(r);
                        }
                    }
                }
            }
            for (col, field) in &self.outputs {
                if !self.overwrite && row.get(field).is_some() {
                    continue;
                }
                let mut vals: Vec<String> = Vec::new();
                for &r in &matched {
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
                row.set(field.clone(), Value::from_items(vals));
            }
        }
        rows
    }
}

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
            .take(10_000)
            .collect();
    }
    out
}
