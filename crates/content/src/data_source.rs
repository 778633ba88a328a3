//! ESCU data sources (`data_sources/*.yml`): per source of events, the fields it has in Splunk
//! with its add-on installed, and an example event. Used to check statically whether a
//! detection can fire, and as the reference for the add-on knowledge Vigil applies.

use crate::ContentError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct DataSource {
    pub name: String,
    /// `source` of its events (`XmlWinEventLog:Security`); may be empty.
    pub source: String,
    pub sourcetype: String,
    /// The field that tells this data source's events apart within its source (`EventCode`).
    pub separator: Option<String>,
    /// Every field its events have in Splunk with the supported add-on.
    pub fields: Vec<String>,
    pub example_log: Option<String>,
    #[serde(skip)]
    pub file: PathBuf,
}

/// Loads `dir/data_sources/*.yml` (sorted by file name); a missing folder is no data sources.
/// Files that do not parse are returned as errors; the others still load.
pub fn load_data_sources(dir: &Path) -> (Vec<DataSource>, Vec<ContentError>) {
    let folder = dir.join("data_sources");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return (Vec::new(), Vec::new());
    };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml")).collect();
    paths.sort();
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    for p in paths {
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ContentError::new(&p, None, e.to_string()));
                continue;
            }
        };
        match vigil_yaml::from_str::<DataSource>(&text) {
            Ok(mut d) => {
                d.file = p;
                out.push(d);
            }
            Err(e) => errors.push(ContentError::yaml(&p, &e)),
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_fields_and_example() {
        let dir = std::env::temp_dir().join(format!("vigil-ds-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("data_sources")).unwrap();
        std::fs::write(
            dir.join("data_sources/a.yml"),
            "name: A\nsource: S\nsourcetype: st\nfields:\n- dest\n- EventCode\nexample_log: <Event/>\n",
        )
        .unwrap();
        std::fs::write(dir.join("data_sources/b.yml"), "name: [unclosed\n").unwrap();
        let (ds, errors) = load_data_sources(&dir);
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].fields, ["dest", "EventCode"]);
        assert_eq!(ds[0].example_log.as_deref(), Some("<Event/>"));
        assert_eq!(errors.len(), 1);
        assert!(load_data_sources(&dir.join("nope")).0.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
