//! Reading mapping files (TOML) into compiled datasets and mappings. See `mappings/README.md`
//! in the repository for the file format as a user sees it.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::{Spanned, Value as T};

use crate::expr::{Expr, Op, Source, ValueMap};
use crate::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    dataset: Vec<Spanned<DatasetDef>>,
    #[serde(default)]
    mapping: Vec<Spanned<MappingDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatasetDef {
    pub name: String,
    pub object: String,
    pub fields: Vec<String>,
    #[serde(default)]
    pub lowercase: Vec<String>,
    #[serde(default)]
    pub unknown_when_null: Vec<String>,
    #[serde(default)]
    pub name_from_first_token: BTreeMap<String, String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub notes: Option<String>,
    /// Child datasets, parents before their children.
    #[serde(default)]
    pub child: Vec<ChildDef>,
}

/// `[[dataset.child]]`: a constrained subset of the dataset's rows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChildDef {
    pub name: String,
    /// The parent node's name; the root object when absent.
    #[serde(default)]
    pub parent: Option<String>,
    /// An SPL search expression over unprefixed field names (`action="failure"`).
    pub constraint: String,
    /// Fields the child adds to its parent's.
    #[serde(default)]
    pub fields: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingDef {
    name: String,
    dataset: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    notes: Option<String>,
    when: BTreeMap<Spanned<String>, Spanned<T>>,
    fields: BTreeMap<Spanned<String>, Spanned<T>>,
}

/// A mapping ready to run.
#[derive(Debug)]
pub(crate) struct Mapping {
    pub name: String,
    pub file: String,
    pub dataset: usize,
    /// Lowercased sourcetypes this mapping applies to.
    pub sourcetypes: Vec<String>,
    /// Sources (any, case-insensitive); empty means any source.
    pub sources: Vec<String>,
    /// Field conditions: the event has a value of `field` equal (case-insensitive) to one of.
    pub conds: Vec<(String, Vec<String>)>,
    /// Dataset field index and its expression.
    pub fields: Vec<(usize, Expr)>,
    /// The dataset's field indexes no expression sets (null until the rules run), so that a
    /// reused row can be cleared without touching the others.
    pub unmapped: Vec<usize>,
}

/// A parsed file: its datasets (not yet checked) and raw mappings (compiled later, once every
/// dataset is known).
pub(crate) struct Parsed {
    pub file: String,
    text: String,
    pub datasets: Vec<(usize, DatasetDef)>,
    mappings: Vec<Spanned<MappingDef>>,
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
}

pub(crate) fn err(file: &str, text: &str, offset: usize, message: impl Into<String>) -> Error {
    Error::Mapping { file: file.to_string(), line: line_of(text, offset), message: message.into() }
}

pub(crate) fn parse(file: &str, text: &str) -> Result<Parsed, Error> {
    let def: FileDef = toml::from_str(text).map_err(|e| {
        let off = e.span().map_or(0, |s| s.start);
        err(file, text, off, e.message().to_string())
    })?;
    let datasets = def.dataset.into_iter().map(|d| (line_of(text, d.span().start), d.into_inner())).collect();
    Ok(Parsed { file: file.to_string(), text: text.to_string(), datasets, mappings: def.mapping })
}

/// Compiles the mappings of a parsed file against the known datasets.
pub(crate) fn compile_mappings(p: &Parsed, catalog: &vigil_model::Catalog) -> Result<Vec<Mapping>, Error> {
    let mut out = Vec::new();
    for m in &p.mappings {
        let def = m.get_ref();
        let e = |off: usize, msg: String| err(&p.file, &p.text, off, msg);
        let ds_name = def.dataset.get_ref();
        let dataset = catalog
            .datasets
            .iter()
            .position(|d| d.name == *ds_name)
            .ok_or_else(|| e(def.dataset.span().start, format!("mapping {:?}: unknown dataset {ds_name:?}", def.name)))?;
        let schema = &catalog.datasets[dataset];
        let mut sourcetypes = Vec::new();
        let mut sources = Vec::new();
        let mut conds = Vec::new();
        for (k, v) in &def.when {
            let vals = strings(v.get_ref())
                .ok_or_else(|| e(v.span().start, format!("when.{}: expected a string or a list of strings", k.get_ref())))?;
            match k.get_ref().as_str() {
                "sourcetype" => sourcetypes = vals.iter().map(|s| s.to_lowercase()).collect(),
                "source" => sources = vals,
                field => conds.push((field.to_string(), vals)),
            }
        }
        if sourcetypes.is_empty() {
            return Err(e(m.span().start, format!("mapping {:?}: when.sourcetype is required", def.name)));
        }
        let mut fields = Vec::new();
        for (k, v) in &def.fields {
            let idx = schema
                .field_index(k.get_ref())
                .ok_or_else(|| e(k.span().start, format!("mapping {:?}: {} has no field {:?}", def.name, schema.name, k.get_ref())))?;
            let expr = compile_expr(v.get_ref(), &[]).map_err(|msg| e(v.span().start, format!("field {}: {msg}", k.get_ref())))?;
            fields.push((idx, expr));
        }
        let unmapped = (0..schema.fields.len()).filter(|i| !fields.iter().any(|(f, _)| f == i)).collect();
        out.push(Mapping { name: def.name.clone(), file: p.file.clone(), dataset, sourcetypes, sources, conds, fields, unmapped });
    }
    Ok(out)
}

/// A string, integer or list of them, as strings.
pub(crate) fn strings(v: &T) -> Option<Vec<String>> {
    match v {
        T::String(s) => Some(vec![s.clone()]),
        T::Integer(i) => Some(vec![i.to_string()]),
        T::Array(items) => items.iter().map(|i| strings(i).and_then(|mut v| v.pop())).collect(),
        _ => None,
    }
}

pub(crate) fn compile_expr(v: &T, inherited_empty: &[String]) -> Result<Expr, String> {
    let table = match v {
        T::String(s) => {
            let mut x = Expr::field(s);
            x.empty = inherited_empty.to_vec();
            return Ok(x);
        }
        T::Table(t) => t,
        other => return Err(format!("expected a field name or a table, found {}", other.type_str())),
    };
    for k in table.keys() {
        if !matches!(k.as_str(), "from" | "first" | "join" | "sep" | "const" | "empty" | "op" | "map" | "map_only" | "split" | "last") {
            return Err(format!("unknown key {k:?} (expected from, first, join, sep, const, empty, op, map, map_only, split, last)"));
        }
    }
    let empty: Vec<String> = match table.get("empty") {
        Some(v) => strings(v).ok_or("empty: expected a list of strings")?.iter().map(|s| s.to_lowercase()).collect(),
        None => inherited_empty.to_vec(),
    };
    let nested = |v: &T, what: &str| -> Result<Vec<Expr>, String> {
        match v {
            T::Array(items) => items.iter().map(|i| compile_expr(i, &empty)).collect(),
            T::String(_) => Ok(vec![compile_expr(v, &empty)?]),
            _ => Err(format!("{what}: expected a list of field names or expressions")),
        }
    };
    let mut chosen = Vec::new();
    let mut source = None;
    if let Some(v) = table.get("from") {
        chosen.push("from");
        let mut alts = nested(v, "from")?;
        source = Some(if alts.len() == 1 { alts.remove(0).source } else { Source::First(alts) });
    }
    if let Some(v) = table.get("first") {
        chosen.push("first");
        source = Some(Source::First(nested(v, "first")?));
    }
    if let Some(v) = table.get("join") {
        chosen.push("join");
        let sep = match table.get("sep") {
            Some(T::String(s)) => s.clone(),
            Some(_) => return Err("sep: expected a string".into()),
            None => String::new(),
        };
        source = Some(Source::Join { parts: nested(v, "join")?, sep });
    }
    if let Some(v) = table.get("const") {
        chosen.push("const");
        source = Some(Source::Const(strings(v).ok_or("const: expected a string or a list of strings")?));
    }
    let source = match (chosen.len(), source) {
        (1, Some(s)) => s,
        (0, _) => return Err("needs one of from, first, join, const".into()),
        _ => return Err(format!("has more than one source: {}", chosen.join(", "))),
    };
    let ops = match table.get("op") {
        None => Vec::new(),
        Some(v) => strings(v)
            .ok_or("op: expected a list of names")?
            .iter()
            .map(|s| Op::parse(s).ok_or_else(|| format!("unknown op {s:?} (known: basename, lower, upper, trim, hex_to_dec, strip_device_prefix, unquote, first_token, path_root, ipv4_unmapped, dns_answer, hash_md5, hash_sha1, hash_sha256, hash_imphash)")))
            .collect::<Result<_, _>>()?,
    };
    let map = match table.get("map") {
        None => None,
        Some(T::Table(t)) => {
            let mut m = ValueMap::default();
            for (k, v) in t {
                let v = match v {
                    T::String(s) => s.clone(),
                    T::Integer(i) => i.to_string(),
                    _ => return Err(format!("map.{k}: expected a string")),
                };
                m.insert(k.to_lowercase(), v);
            }
            Some(m)
        }
        Some(_) => return Err("map: expected a table".into()),
    };
    let map_only = match table.get("map_only") {
        None => false,
        Some(T::Boolean(b)) => *b,
        Some(_) => return Err("map_only: expected true or false".into()),
    };
    let split = match table.get("split") {
        None => None,
        Some(T::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err("split: expected a non-empty string".into()),
    };
    let last = match table.get("last") {
        None => false,
        Some(T::Boolean(b)) => *b,
        Some(_) => return Err("last: expected true or false".into()),
    };
    Ok(Expr { source, empty, ops, map, map_only, split, last })
}
