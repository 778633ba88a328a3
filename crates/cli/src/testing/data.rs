//! Where a test's attack data is, and reading it as the test declares.
//!
//! How a `data:` value is found (first hit wins):
//! - A URL (`https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/
//!   attack_techniques/T1218.007/atomic_red_team/windows-sysmon.log`) is mapped into
//!   `--data-dir` by its path after `/datasets/` (`<data-dir>/attack_techniques/...`, then
//!   `<data-dir>/datasets/attack_techniques/...`), then by its path after `attack_data/`
//!   (`<data-dir>/master/datasets/...`). Without `--data-dir` a URL is "not found": Vigil never
//!   downloads.
//! - An absolute path is used as it is.
//! - A relative path of a detection from a `--content DIR` is looked up relative to that
//!   content directory (the one holding `detections/`), then `--data-dir`, then the current
//!   directory.
//! - A relative path of a built-in detection names one of the project's synthetic samples
//!   (`samples/...` in the repository), which are compiled into the binary so that `vigil
//!   test` works from any directory; other relative paths are looked up in `--data-dir`, then
//!   the current directory.

use std::path::{Path, PathBuf};
use vigil_model::Event;
use vigil_read::{ReadOptions, ReadReport};

/// The project's synthetic datasets (see samples/README.md), by their repository path.
const BUILTIN_DATA: &[(&str, &[u8])] = &[
    ("samples/sysmon_msiexec.xml", include_bytes!("../../../../samples/sysmon_msiexec.xml")),
    ("samples/security_4688_msiexec.xml", include_bytes!("../../../../samples/security_4688_msiexec.xml")),
    ("samples/crowdstrike_msiexec.json", include_bytes!("../../../../samples/crowdstrike_msiexec.json")),
    ("samples/cisco_nvm_msiexec.json", include_bytes!("../../../../samples/cisco_nvm_msiexec.json")),
    ("samples/flat_json_msiexec.json", include_bytes!("../../../../samples/flat_json_msiexec.json")),
];

/// A dataset file found for a test.
#[derive(Clone, Debug)]
pub enum DataFile {
    Path(PathBuf),
    /// One of the built-in samples.
    Embedded {
        name: &'static str,
        bytes: &'static [u8],
    },
}

impl DataFile {
    pub fn display(&self) -> String {
        match self {
            DataFile::Path(p) => p.display().to_string(),
            DataFile::Embedded { name, .. } => format!("<built-in>/{name}"),
        }
    }

    /// Reads every event, as `vigil_read::read_file` does.
    pub fn read(&self, opts: &ReadOptions, sink: &mut dyn FnMut(&Event)) -> ReadReport {
        match self {
            DataFile::Path(p) => vigil_read::read_file(p, opts, sink),
            DataFile::Embedded { name, bytes } => vigil_read::read_bytes(&format!("<built-in>/{name}"), bytes, opts, sink),
        }
    }
}

/// The outcome of looking for a `data:` value.
#[derive(Clone, Debug)]
pub enum Resolved {
    Found(DataFile),
    /// Not found; `shown` is what to name in the message, `tried` every place looked at.
    Missing {
        shown: String,
        tried: Vec<PathBuf>,
    },
}

pub struct Resolver {
    pub data_dir: Option<PathBuf>,
}

impl Resolver {
    /// Finds `data` for a detection loaded from content directory `root` (`None`: built-in).
    pub fn resolve(&self, data: &str, root: Option<&Path>) -> Resolved {
        let data = data.trim();
        let mut tried = Vec::new();
        if data.contains("://") {
            let Some(dir) = &self.data_dir else {
                return Resolved::Missing { shown: format!("{data} (no --data-dir given)"), tried };
            };
            for rel in url_candidates(data) {
                tried.push(dir.join(rel));
            }
            if tried.is_empty() {
                return Resolved::Missing { shown: format!("{data} (no `datasets/` or `attack_data/` in the URL)"), tried };
            }
            return first_existing(tried);
        }
        let path = Path::new(data);
        if path.is_absolute() {
            return first_existing(vec![path.to_path_buf()]);
        }
        match root {
            Some(root) => tried.push(root.join(path)),
            None => {
                let rel = data.strip_prefix("./").unwrap_or(data);
                if let Some((name, bytes)) = BUILTIN_DATA.iter().find(|(n, _)| *n == rel) {
                    return Resolved::Found(DataFile::Embedded { name, bytes });
                }
            }
        }
        if let Some(dir) = &self.data_dir {
            tried.push(dir.join(path));
        }
        tried.push(path.to_path_buf());
        first_existing(tried)
    }
}

fn first_existing(tried: Vec<PathBuf>) -> Resolved {
    match tried.iter().find(|p| p.is_file()) {
        Some(p) => Resolved::Found(DataFile::Path(p.clone())),
        None => Resolved::Missing { shown: tried.first().map(|p| p.display().to_string()).unwrap_or_default(), tried },
    }
}

/// Relative paths under a data directory for an attack_data URL.
pub fn url_candidates(url: &str) -> Vec<String> {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let mut out = Vec::new();
    if let Some(i) = url.find("/datasets/") {
        let rest = &url[i + "/datasets/".len()..];
        if !rest.is_empty() {
            out.push(rest.to_string());
            out.push(format!("datasets/{rest}"));
        }
    }
    if let Some(i) = url.find("attack_data/") {
        let rest = &url[i + "attack_data/".len()..];
        if !rest.is_empty() && !out.iter().any(|o| o == rest) {
            out.push(rest.to_string());
        }
    }
    out
}

/// Moves event times so that the latest is `target`, keeping every offset. Events without a
/// time stay without one. Returns the shift applied, in microseconds.
pub fn shift_to(events: &mut [Event], target: i64) -> i64 {
    let Some(latest) = events.iter().filter_map(|e| e.time).max() else { return 0 };
    let delta = target.saturating_sub(latest);
    for e in events.iter_mut() {
        if let Some(t) = &mut e.time {
            *t = t.saturating_add(delta);
        }
    }
    delta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_into_the_data_dir() {
        let url = "https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/attack_techniques/T1218.007/atomic_red_team/windows-sysmon.log";
        assert_eq!(
            url_candidates(url),
            [
                "attack_techniques/T1218.007/atomic_red_team/windows-sysmon.log",
                "datasets/attack_techniques/T1218.007/atomic_red_team/windows-sysmon.log",
                "master/datasets/attack_techniques/T1218.007/atomic_red_team/windows-sysmon.log",
            ]
        );
        assert_eq!(url_candidates("https://example.com/attack_data/x.log?raw=1"), ["x.log"]);
        assert!(url_candidates("https://example.com/x.log").is_empty());
    }

    #[test]
    fn resolution_order() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("attack_techniques/T1")).unwrap();
        std::fs::write(data.join("attack_techniques/T1/a.log"), "x").unwrap();
        let root = dir.path().join("content");
        std::fs::create_dir_all(root.join("ds")).unwrap();
        std::fs::write(root.join("ds/local.log"), "x").unwrap();
        let r = Resolver { data_dir: Some(data.clone()) };
        let found = |res: Resolved| match res {
            Resolved::Found(f) => f.display(),
            Resolved::Missing { shown, .. } => panic!("missing {shown}"),
        };
        assert_eq!(
            found(r.resolve("https://h/splunk/attack_data/master/datasets/attack_techniques/T1/a.log", None)),
            data.join("attack_techniques/T1/a.log").display().to_string()
        );
        assert_eq!(found(r.resolve("ds/local.log", Some(&root))), root.join("ds/local.log").display().to_string());
        assert_eq!(found(r.resolve("samples/sysmon_msiexec.xml", None)), "<built-in>/samples/sysmon_msiexec.xml");
        match r.resolve("ds/none.log", Some(&root)) {
            Resolved::Missing { shown, tried } => {
                assert_eq!(shown, root.join("ds/none.log").display().to_string());
                assert_eq!(tried.len(), 3);
            }
            Resolved::Found(_) => panic!("found"),
        }
        let none = Resolver { data_dir: None };
        assert!(
            matches!(none.resolve("https://h/attack_data/x.log", None), Resolved::Missing { shown, .. } if shown.contains("no --data-dir"))
        );
    }

    #[test]
    fn shift_keeps_offsets() {
        let mut evs = vec![
            Event { time: Some(1_000), ..Default::default() },
            Event { time: None, ..Default::default() },
            Event { time: Some(5_000), ..Default::default() },
        ];
        assert_eq!(shift_to(&mut evs, 10_000), 5_000);
        assert_eq!(evs.iter().map(|e| e.time).collect::<Vec<_>>(), [Some(6_000), None, Some(10_000)]);
    }
}
