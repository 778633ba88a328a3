//! Log sources and field names as data (mappings/sigma.toml): which events a Sigma
//! `logsource` means, and what each taxonomy field is called in each of them.

use crate::expr::Expr;
use crate::rule::{LogSource, Rule, RuleMeta};
use crate::value::Placeholders;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The mapping file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// `%name%` values for `|expand`.
    #[serde(default)]
    pub placeholders: Placeholders,
    /// Renames that apply to every source (Sigma's `Provider_Name` ...).
    #[serde(default)]
    pub common_rename: BTreeMap<String, String>,
    /// Fields every Windows event has (System header), known in every field set.
    #[serde(default)]
    pub common_fields: Vec<String>,
    #[serde(default)]
    pub logsource: Vec<LogSourceEntry>,
    /// Field sets by name: renames and the fields that exist.
    #[serde(default)]
    pub fields: HashMap<String, FieldSet>,
    /// Fields added to every result row: name -> the raw fields whose first value it takes
    /// (`dest`, `user` for alerts' risk objects).
    #[serde(default)]
    pub result_fields: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSourceEntry {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    pub sources: Vec<SourceEntry>,
}

/// One kind of event a log source means.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceEntry {
    pub name: String,
    /// Raw field -> accepted values (any of them), all required.
    pub when: BTreeMap<String, OneOrMany>,
    /// The field set (key of `[fields.*]`); none: fields are used as named, any name.
    pub fields: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSet {
    /// Sigma field -> raw field.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// The raw fields this source has (after renaming); a rule naming another field does
    /// not run on this source.
    #[serde(default)]
    pub known: Vec<String>,
}

/// A rule ready for the engine: one variant per kind of event its log source means.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    pub meta: RuleMeta,
    pub logsource: LogSource,
    pub variants: Vec<Variant>,
    /// Sources left out (fields they lack), for reports.
    pub notes: Vec<String>,
    /// Fields added to result rows (see [`Mapping::result_fields`]).
    pub result_fields: Vec<(String, Vec<String>)>,
}

#[derive(Clone, Debug)]
pub struct Variant {
    pub source: String,
    /// (raw field, accepted values): the events of this source.
    pub when: Vec<(String, Vec<String>)>,
    /// The detection with fields renamed to the source's.
    pub expr: Expr,
}

/// Why a rule cannot run: `unsupported` (valid Sigma Vigil cannot run) or `error` (the rule
/// is wrong), with where and why.
#[derive(Clone, Debug)]
pub struct CompileError {
    pub unsupported: bool,
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl Mapping {
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let m: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        for ls in &m.logsource {
            for s in &ls.sources {
                if let Some(f) = &s.fields {
                    if !m.fields.contains_key(f) {
                        return Err(format!("source `{}` names field set `{f}`, which is not defined", s.name));
                    }
                }
            }
        }
        Ok(m)
    }

    fn entry(&self, ls: &LogSource) -> Option<&LogSourceEntry> {
        let eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        };
        self.logsource
            .iter()
            .find(|e| eq(&e.category, &ls.category) && eq(&e.service, &ls.service) && (e.product.is_none() || eq(&e.product, &ls.product)))
    }

    /// Compiles a rule for every source its log source maps to.
    pub fn compile(&self, rule: &Rule) -> Result<CompiledRule, CompileError> {
        let fail = |unsupported: bool, location: String, message: String| CompileError { unsupported, location, message };
        let expr = crate::detection::compile(&rule.detection, &self.placeholders).map_err(|(at, m)| {
            let unsupported = m.contains("unsupported");
            fail(unsupported, rule.locate(&at), m.replace("unsupported: ", ""))
        })?;
        let ls = &rule.logsource;
        let entry = self.entry(ls).ok_or_else(|| {
            let show = |k: &str, v: &Option<String>| v.as_ref().map(|v| format!("{k}: {v}"));
            let desc: Vec<String> = [show("product", &ls.product), show("category", &ls.category), show("service", &ls.service)]
                .into_iter()
                .flatten()
                .collect();
            fail(true, rule.locate("logsource:"), format!("log source `{}` has no mapping in mappings/sigma.toml", desc.join(", ")))
        })?;
        let mut read = Vec::new();
        let keyword_search = expr.fields(&mut read).is_none();
        read.sort();
        read.dedup();
        let mut variants = Vec::new();
        let mut notes = Vec::new();
        for src in &entry.sources {
            let set = src.fields.as_ref().and_then(|f| self.fields.get(f));
            let rename = |f: &str| -> Option<String> { set.and_then(|s| s.rename.get(f)).or_else(|| self.common_rename.get(f)).cloned() };
            if let Some(set) = set.filter(|s| !s.known.is_empty()) {
                let missing: Vec<&String> = read
                    .iter()
                    .filter(|f| {
                        let raw = rename(f).unwrap_or_else(|| f.to_string());
                        !set.known.contains(&raw) && !self.common_fields.contains(&raw)
                    })
                    .collect();
                if !missing.is_empty() {
                    let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                    notes.push(format!("not run on {}: it has no field {}", src.name, names.join(", ")));
                    continue;
                }
            }
            let mut e = expr.clone();
            e.rename(&rename);
            let when = src.when.iter().map(|(k, v)| (k.clone(), v.values())).collect();
            variants.push(Variant { source: src.name.clone(), when, expr: e });
        }
        if variants.is_empty() {
            return Err(fail(true, rule.locate("detection:"), format!("no mapped source has the rule's fields ({})", notes.join("; "))));
        }
        if keyword_search {
            notes.push("keyword search: matched against every field's values".into());
        }
        let result_fields = self.result_fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(CompiledRule { meta: rule.meta.clone(), logsource: ls.clone(), variants, notes, result_fields })
    }

    /// The field set of one of a log source's sources.
    fn field_set(&self, ls: &LogSource, source: &str) -> Option<&FieldSet> {
        let entry = self.entry(ls)?;
        let name = entry.sources.iter().find(|s| s.name == source)?.fields.as_ref()?;
        self.fields.get(name)
    }

    /// What a Sigma field is called in a source's events (itself when not renamed).
    fn raw_name(&self, set: Option<&FieldSet>, field: &str) -> String {
        set.and_then(|s| s.rename.get(field)).or_else(|| self.common_rename.get(field)).cloned().unwrap_or_else(|| field.to_string())
    }

    /// What a Sigma field is called in the events of each of a compiled rule's sources
    /// (distinct names, first source first): the names a correlation reads its values from.
    pub fn raw_names(&self, rule: &CompiledRule, field: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for v in &rule.variants {
            let name = self.raw_name(self.field_set(&rule.logsource, &v.source), field);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Applies a Sigma filter (sigma-filters-specification) to a compiled rule: the rule then
    /// matches only when the filter's condition does not (`rule and not filter`), with the
    /// filter's fields renamed for each source like the rule's. `filter` is the filter
    /// document's `filter:` mapping (its `rules` key is ignored here).
    pub fn apply_filter(&self, rule: &mut CompiledRule, filter: &serde_norway::Mapping) -> Result<(), String> {
        let mut det = filter.clone();
        det.remove("rules");
        let expr = crate::detection::compile(&det, &self.placeholders).map_err(|(_, m)| m)?;
        for v in &mut rule.variants {
            let set = self.field_set(&rule.logsource, &v.source);
            let mut e = expr.clone();
            e.rename(&|f: &str| Some(self.raw_name(set, f)));
            let rule_expr = std::mem::replace(&mut v.expr, Expr::Or(Vec::new()));
            v.expr = Expr::And(vec![rule_expr, Expr::Not(Box::new(e))]);
        }
        Ok(())
    }
}
