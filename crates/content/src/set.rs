use crate::{builtin, ContentError, Deployment, Detection, LookupDef};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vigil_spl::{MacroDef, MacroSource};

#[derive(Deserialize)]
struct MacroFile {
    name: String,
    #[serde(default)]
    definition: String,
    #[serde(default)]
    arguments: Vec<String>,
}

/// All loaded content, layer over layer.
#[derive(Clone, Debug, Default)]
pub struct ContentSet {
    detections: Vec<Detection>,
    /// A detection's name, ASCII-lowercased -> its position in `detections`: finding the one a
    /// new detection replaces by a scan of them all was quadratic in ESCU's ~2000.
    by_name: HashMap<String, usize>,
    macros: HashMap<(String, usize), MacroDef>,
    lookups: HashMap<String, LookupDef>,
    deployments: Vec<Deployment>,
    /// Files that could not be loaded; the rest of the content is still usable.
    pub errors: Vec<ContentError>,
}

/// The name of a detection's filter macro: lowercased, with space, `-`, `.`, `/` as `_`, plus
/// `_filter` (ESCU's contentctl convention).
pub fn filter_macro_name(detection_name: &str) -> String {
    let mut s: String =
        detection_name.trim().to_lowercase().chars().map(|c| if matches!(c, ' ' | '-' | '.' | '/') { '_' } else { c }).collect();
    s.push_str("_filter");
    s
}

impl ContentSet {
    /// An empty set, without even the built-in layer.
    pub fn empty() -> ContentSet {
        ContentSet::default()
    }

    /// The built-in base layer.
    pub fn builtin() -> ContentSet {
        let mut set = ContentSet::empty();
        for (path, text) in builtin::MACROS {
            set.add_macro_text(Path::new(path), text);
        }
        for (path, text) in builtin::DEPLOYMENTS {
            set.add_deployment_text(Path::new(path), text);
        }
        for (path, text) in builtin::DETECTIONS {
            set.add_detection_text(Path::new(path), text);
        }
        set
    }

    /// Loads an ESCU-layout directory (`detections/**`, `macros/`, `lookups/`, `deployments/`)
    /// over what is already loaded. Only a missing directory is an error; bad files are
    /// recorded in [`ContentSet::errors`].
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), ContentError> {
        if !dir.is_dir() {
            return Err(ContentError::new(dir, None, "content directory not found"));
        }
        let known = ["detections", "macros", "lookups", "deployments"];
        if !known.iter().any(|k| dir.join(k).is_dir()) {
            return Err(ContentError::new(
                dir,
                None,
                "not an ESCU content directory (expected detections/, macros/, lookups/ or deployments/)",
            ));
        }
        for file in yaml_files(&dir.join("macros"), false) {
            if let Some(text) = self.read(&file) {
                self.add_macro_text(&file, &text);
            }
        }
        for file in yaml_files(&dir.join("deployments"), false) {
            if let Some(text) = self.read(&file) {
                self.add_deployment_text(&file, &text);
            }
        }
        for file in yaml_files(&dir.join("lookups"), false) {
            if let Some(text) = self.read(&file).filter(|t| self.nesting_ok(&file, t)) {
                match vigil_yaml::from_str::<LookupDef>(&text) {
                    Ok(mut def) if !def.name.is_empty() => {
                        def.dir = dir.join("lookups");
                        self.lookups.insert(def.name.clone(), def);
                    }
                    Ok(_) => self.errors.push(ContentError::new(&file, None, "lookup without a name")),
                    Err(e) => self.errors.push(ContentError::yaml(&file, &e)),
                }
            }
        }
        for file in yaml_files(&dir.join("detections"), true) {
            if let Some(text) = self.read(&file) {
                self.add_detection_text(&file, &text);
            }
        }
        Ok(())
    }

    /// Records an error and returns false when `text` nests too deep to parse in good time.
    fn nesting_ok(&mut self, file: &Path, text: &str) -> bool {
        match crate::check_yaml_nesting(text) {
            Ok(()) => true,
            Err((line, msg)) => {
                self.errors.push(ContentError::new(file, Some(line), msg));
                false
            }
        }
    }

    fn read(&mut self, file: &Path) -> Option<String> {
        match std::fs::read_to_string(file) {
            Ok(t) => Some(t),
            Err(e) => {
                self.errors.push(ContentError::new(file, None, format!("cannot read: {e}")));
                None
            }
        }
    }

    /// Adds one macro YAML document (`file` labels errors); a bad document is recorded in
    /// [`ContentSet::errors`]. Public so that fuzzing and tests can feed text without files.
    pub fn add_macro_text(&mut self, file: &Path, text: &str) {
        if !self.nesting_ok(file, text) {
            return;
        }
        match vigil_yaml::from_str::<MacroFile>(text) {
            Ok(m) if m.name.trim().is_empty() => self.errors.push(ContentError::new(file, None, "macro without a name")),
            Ok(m) => self.add_macro(MacroDef { name: m.name.trim().to_string(), args: m.arguments, definition: m.definition }),
            Err(e) => self.errors.push(ContentError::yaml(file, &e)),
        }
    }

    /// Adds or replaces a macro (same name and argument count).
    pub fn add_macro(&mut self, def: MacroDef) {
        self.macros.insert((def.name.clone(), def.args.len()), def);
    }

    fn add_deployment_text(&mut self, file: &Path, text: &str) {
        if !self.nesting_ok(file, text) {
            return;
        }
        match vigil_yaml::from_str::<Deployment>(text) {
            Ok(d) => {
                if let Some(kind) = &d.kind {
                    self.deployments.retain(|old| old.kind.as_deref() != Some(kind.as_str()));
                }
                self.deployments.push(d);
            }
            Err(e) => self.errors.push(ContentError::yaml(file, &e)),
        }
    }

    /// Adds one detection YAML document (`file` labels errors); a bad document is recorded in
    /// [`ContentSet::errors`]. Public so that fuzzing and tests can feed text without files.
    pub fn add_detection_text(&mut self, file: &Path, text: &str) {
        if !self.nesting_ok(file, text) {
            return;
        }
        match vigil_yaml::from_str::<Detection>(text) {
            Ok(mut d) => {
                if d.name.trim().is_empty() {
                    self.errors.push(ContentError::new(file, None, "detection without a name"));
                    return;
                }
                if d.search.trim().is_empty() {
                    self.errors.push(ContentError::new(file, None, "detection without a search"));
                    return;
                }
                d.file = file.to_path_buf();
                self.add_detection(d);
            }
            Err(e) => self.errors.push(ContentError::yaml(file, &e)),
        }
    }

    /// Adds a detection, replacing one with the same name (case-insensitive) in place.
    pub fn add_detection(&mut self, d: Detection) {
        match self.by_name.entry(d.name.to_ascii_lowercase()) {
            std::collections::hash_map::Entry::Occupied(at) => self.detections[*at.get()] = d,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(self.detections.len());
                self.detections.push(d);
            }
        }
    }

    pub fn detections(&self) -> &[Detection] {
        &self.detections
    }

    /// A detection by exact name, else case-insensitively.
    pub fn detection(&self, name: &str) -> Option<&Detection> {
        // Names are unique up to ASCII case (see `add_detection`): the index finds the one.
        let at = self.by_name.get(&name.to_ascii_lowercase()).or_else(|| self.by_name.get(&name.trim().to_ascii_lowercase()));
        at.and_then(|&i| self.detections.get(i))
    }

    pub fn lookup_def(&self, name: &str) -> Option<&LookupDef> {
        self.lookups.get(name)
    }

    pub fn macro_count(&self) -> usize {
        self.macros.len()
    }

    /// The default deployment for a detection type (`TTP`, `Anomaly`, `Hunting`, ...).
    pub fn default_deployment(&self, kind: &str) -> Option<&Deployment> {
        self.deployments.iter().rev().find(|d| d.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(kind)))
    }

    /// The deployment that applies: the detection's own, else the default for its type.
    pub fn deployment_for<'a>(&'a self, d: &'a Detection) -> Option<&'a Deployment> {
        d.deployment.as_ref().or_else(|| self.default_deployment(&d.kind))
    }
}

/// The default definition of every detection's filter macro, used when no layer defines it:
/// ESCU generates these at build time, so a security_content checkout does not contain them.
static DEFAULT_FILTER: std::sync::OnceLock<MacroDef> = std::sync::OnceLock::new();

impl MacroSource for ContentSet {
    fn lookup(&self, name: &str, arity: usize) -> Option<&MacroDef> {
        if let Some(m) = self.macros.get(&(name.to_string(), arity)) {
            return Some(m);
        }
        if arity == 0 && name.ends_with("_filter") {
            return Some(DEFAULT_FILTER.get_or_init(|| MacroDef {
                name: "<detection>_filter".into(),
                args: Vec::new(),
                definition: "search *".into(),
            }));
        }
        None
    }
}

/// YAML files in a directory (recursively when asked), sorted for deterministic order.
pub(crate) fn yaml_files(dir: &Path, recursive: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    // Sorted by file name, which orders these paths (one parent) as sorting the paths would,
    // without `Path`'s component-wise comparison (most of this function's cost before).
    let mut entries: Vec<(std::ffi::OsString, PathBuf)> = entries.filter_map(|e| e.ok().map(|e| (e.file_name(), e.path()))).collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (_, p) in entries {
        let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            if recursive {
                out.extend(yaml_files(&p, true));
            }
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_seed_and_its_macros() {
        let set = ContentSet::builtin();
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        let d = set.detection("Windows MSIExec Remote Download").expect("seed");
        assert_eq!(d.kind, "TTP");
        assert_eq!(d.version_text(), "10");
        assert_eq!(d.rba.as_ref().map(|r| r.risk_objects.len()), Some(2));
        assert!(d.search.contains("Processes.vendor_product"));
        for (name, arity) in [
            ("security_content_summariesonly", 0),
            ("summariesonly_config", 0),
            ("process_msiexec", 0),
            ("drop_dm_object_name", 1),
            ("security_content_ctime", 1),
            ("windows_msiexec_remote_download_filter", 0),
        ] {
            assert!(set.lookup(name, arity).is_some(), "{name}");
        }
        let dep = set.deployment_for(d).expect("deployment");
        assert_eq!(dep.scheduling.cron_schedule.as_deref(), Some("0 * * * *"));
        assert_eq!(dep.scheduling.disabled, Some(true));
        assert_eq!(set.default_deployment("anomaly").map(|d| d.alert_action.notable.is_none()), Some(true));
    }

    #[test]
    fn filter_macro_names_follow_escu() {
        assert_eq!(filter_macro_name("Windows MSIExec Remote Download"), "windows_msiexec_remote_download_filter");
        assert_eq!(filter_macro_name("Detect Rare Executables - 2/3.x"), "detect_rare_executables___2_3_x_filter");
    }

    #[test]
    fn later_layer_overrides_earlier() {
        let dir = std::env::temp_dir().join(format!("vigil-content-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("macros")).unwrap();
        std::fs::write(
            dir.join("macros/windows_msiexec_remote_download_filter.yml"),
            "name: windows_msiexec_remote_download_filter\ndefinition: search dest!=build-*\n",
        )
        .unwrap();
        std::fs::write(dir.join("macros/broken.yml"), "name: [unclosed\n").unwrap();
        let mut set = ContentSet::builtin();
        set.load_dir(&dir).unwrap();
        let m = set.lookup("windows_msiexec_remote_download_filter", 0).unwrap();
        assert_eq!(m.definition, "search dest!=build-*");
        assert_eq!(set.errors.len(), 1);
        assert!(set.errors[0].to_string().contains("broken.yml:1"), "{}", set.errors[0]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn yaml_files_come_in_path_order() {
        let dir = std::env::temp_dir().join(format!("vigil-content-order-{}", std::process::id()));
        // Names where byte order and a naive per-character order could differ (`-`, `.`, `_`,
        // case, a prefix of another name) and a subdirectory between files.
        let names = ["b.yml", "a_b.yml", "a-b.yml", "a.yml", "a.b.yml", "B.yml", "ab.yml", "a.yaml", "z.txt"];
        std::fs::create_dir_all(dir.join("a.c")).unwrap();
        std::fs::write(dir.join("a.c/x.yml"), "").unwrap();
        for n in names {
            std::fs::write(dir.join(n), "").unwrap();
        }
        let got = yaml_files(&dir, true);
        let mut want: Vec<PathBuf> = names.iter().filter(|n| !n.ends_with(".txt")).map(|n| dir.join(n)).collect();
        want.push(dir.join("a.c/x.yml"));
        want.sort();
        assert_eq!(got, want);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A detection named as an earlier one, up to ASCII case, replaces it in its place.
    #[test]
    fn same_name_replaces_in_place() {
        let mut set = ContentSet::empty();
        let d = |name: &str, search: &str| Detection { name: name.into(), search: search.into(), ..Detection::default() };
        set.add_detection(d("Alpha One", "a"));
        set.add_detection(d("Beta", "b"));
        set.add_detection(d("ALPHA one", "c"));
        let got: Vec<(&str, &str)> = set.detections().iter().map(|d| (d.name.as_str(), d.search.as_str())).collect();
        assert_eq!(got, [("ALPHA one", "c"), ("Beta", "b")]);
        assert_eq!(set.detection("alpha ONE").map(|d| d.search.as_str()), Some("c"));
    }

    #[test]
    fn missing_dir_is_an_error() {
        let mut set = ContentSet::empty();
        assert!(set.load_dir(Path::new("/nonexistent/vigil")).is_err());
    }
}
