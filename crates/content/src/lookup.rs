use crate::ContentError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A lookup definition (`lookups/<name>.yml`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupDef {
    pub name: String,
    pub filename: Option<String>,
    pub description: Option<String>,
    /// `WILDCARD(field)` entries, comma-separated.
    pub match_type: Option<String>,
    pub min_matches: Option<serde_norway::Value>,
    pub case_sensitive_match: Option<serde_norway::Value>,
    pub default_match: Option<serde_norway::Value>,
    /// KV-store collections have no CSV and cannot be read outside Splunk.
    pub collection: Option<String>,
    /// Directory the definition was found in, to resolve `filename`.
    #[serde(skip)]
    pub dir: PathBuf,
}

fn yaml_text(v: &Option<serde_norway::Value>) -> Option<String> {
    match v {
        Some(serde_norway::Value::String(s)) => Some(s.clone()),
        Some(serde_norway::Value::Bool(b)) => Some(b.to_string()),
        Some(serde_norway::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl LookupDef {
    /// Fields matched with wildcards (`match_type: WILDCARD(a),WILDCARD(b)`).
    pub fn wildcard_fields(&self) -> Vec<String> {
        let Some(m) = &self.match_type else { return Vec::new() };
        m.split(',')
            .filter_map(|p| {
                let p = p.trim();
                let inner = p.strip_prefix("WILDCARD(")?.strip_suffix(')')?;
                Some(inner.trim().to_string())
            })
            .collect()
    }

    /// Splunk's default is case-sensitive matching when the setting is absent.
    pub fn case_sensitive(&self) -> bool {
        yaml_text(&self.case_sensitive_match).map(|s| !s.eq_ignore_ascii_case("false")).unwrap_or(true)
    }

    pub fn min_matches(&self) -> usize {
        yaml_text(&self.min_matches).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// Value given to output fields when nothing matches (fewer than min_matches).
    pub fn default_match(&self) -> Option<String> {
        yaml_text(&self.default_match)
    }

    pub fn csv_path(&self) -> Option<PathBuf> {
        self.filename.as_ref().map(|f| self.dir.join(f))
    }
}

/// A loaded CSV lookup table.
#[derive(Clone, Debug, Default)]
pub struct LookupTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl LookupTable {
    pub fn load(path: &Path) -> Result<LookupTable, ContentError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| ContentError::new(path, None, format!("cannot read lookup: {e}")))?;
        let columns = reader
            .headers()
            .map_err(|e| ContentError::new(path, Some(1), format!("bad CSV header: {e}")))?
            .iter()
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>();
        let mut rows = Vec::new();
        // One record read into again and again (what `records()` does with a new one per row).
        let mut rec = csv::StringRecord::new();
        for i in 0.. {
            match reader.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(ContentError::new(path, Some(i + 2), format!("bad CSV row: {e}"))),
            }
            let mut row: Vec<String> = Vec::with_capacity(columns.len().max(rec.len()));
            row.extend(rec.iter().map(str::to_string));
            row.resize(columns.len(), String::new());
            rows.push(row);
        }
        Ok(LookupTable { columns, rows })
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}
