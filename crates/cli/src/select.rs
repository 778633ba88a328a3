//! Which detections a hunt runs (and `content list` lists): by status, type, story and ATT&CK
//! technique, or by name, id, file name or a unique part of the name.

use clap::Args;
use vigil_content::{ContentSet, Detection};
use vigil_model::Record;

/// Selection of detections from the loaded content.
#[derive(Args, Clone, Debug, Default)]
pub struct SelectArgs {
    /// Run only this detection: its name, id, file name, or a unique part of its name
    /// (case-insensitive); repeatable. A named detection runs whatever its status.
    #[arg(long = "detection", value_name = "NAME")]
    pub detections: Vec<String>,
    /// Detection statuses to run (comma-separated or repeated; `all` for every status).
    /// Default: production (a detection without a status counts as production).
    #[arg(long, value_name = "STATUS", value_delimiter = ',')]
    pub status: Vec<String>,
    /// Only detections of these types (TTP, Anomaly, Hunting, Correlation, ...).
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Only detections of an analytic story whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    pub story: Vec<String>,
    /// Only detections tagged with this ATT&CK technique (T1218 also selects T1218.007).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub mitre: Vec<String>,
}

/// A detection's status: its `status:`, `deprecated` when it lives under a `deprecated/`
/// folder (ESCU moves retired detections there), `production` when it has none.
pub fn status_of(d: &Detection) -> String {
    if d.file.components().any(|c| c.as_os_str().eq_ignore_ascii_case("deprecated")) {
        return "deprecated".into();
    }
    match d.status.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => s.to_ascii_lowercase(),
        _ => "production".into(),
    }
}

impl SelectArgs {
    /// Whether `d` passes the status, type, story and technique filters. Without `--status`,
    /// production only, unless the detection was named with `--detection`.
    fn passes(&self, d: &Detection, named: bool) -> bool {
        let status = status_of(d);
        let status_ok = if self.status.is_empty() {
            named || status == "production"
        } else {
            self.status.iter().any(|s| s.eq_ignore_ascii_case("all") || s.eq_ignore_ascii_case(&status))
        };
        let kind_ok = self.kind.is_empty() || self.kind.iter().any(|k| k.eq_ignore_ascii_case(d.kind.trim()));
        let story_ok = self.story.is_empty()
            || self.story.iter().any(|s| {
                let s = s.to_lowercase();
                d.tags.analytic_story.iter().any(|a| a.to_lowercase().contains(&s))
            });
        let mitre_ok = self.mitre.is_empty()
            || self.mitre.iter().any(|m| {
                let m = m.trim().to_ascii_uppercase();
                d.tags.mitre_attack_id.iter().any(|t| {
                    let t = t.trim().to_ascii_uppercase();
                    t == m || t.strip_prefix(&m).is_some_and(|rest| rest.starts_with('.'))
                })
            });
        status_ok && kind_ok && story_ok && mitre_ok
    }

    /// [`Self::select`] when other content is loaded beside ESCU: `--detection` names that
    /// `elsewhere` accepts (Sigma rules) are not looked up in ESCU, and when every name is
    /// such, no ESCU detection is selected.
    pub fn select_beside<'a>(&self, content: &'a ContentSet, elsewhere: &dyn Fn(&str) -> bool) -> Result<Vec<&'a Detection>, String> {
        if self.detections.is_empty() || !self.detections.iter().any(|q| elsewhere(q)) {
            return self.select(content);
        }
        let all = content.detections();
        let mut chosen: Vec<&Detection> = Vec::new();
        for query in self.detections.iter().filter(|q| !elsewhere(q)) {
            let d = resolve(all, query)?;
            if !chosen.iter().any(|c| std::ptr::eq(*c, d)) {
                chosen.push(d);
            }
        }
        Ok(chosen.into_iter().filter(|d| self.passes(d, true)).collect())
    }

    /// The selected detections, in content order. Every `--detection` must name exactly one
    /// detection; the error says which did not and suggests names.
    pub fn select<'a>(&self, content: &'a ContentSet) -> Result<Vec<&'a Detection>, String> {
        let all = content.detections();
        if self.detections.is_empty() {
            return Ok(all.iter().filter(|d| self.passes(d, false)).collect());
        }
        let mut chosen: Vec<&Detection> = Vec::new();
        for query in &self.detections {
            let d = resolve(all, query)?;
            if !chosen.iter().any(|c| std::ptr::eq(*c, d)) {
                chosen.push(d);
            }
        }
        Ok(chosen.into_iter().filter(|d| self.passes(d, true)).collect())
    }
}

/// The one detection `query` names: exact name, id or file name (with or without `.yml`),
/// case-insensitive; else the only one whose name contains it.
pub fn resolve<'a>(all: &'a [Detection], query: &str) -> Result<&'a Detection, String> {
    let q = query.trim().to_lowercase();
    let file_name = |d: &Detection| d.file.file_name().map(|f| f.to_string_lossy().to_lowercase()).unwrap_or_default();
    let exact: Vec<&Detection> = all
        .iter()
        .filter(|d| {
            let f = file_name(d);
            d.name.to_lowercase() == q || d.id.to_lowercase() == q || f == q || f.strip_suffix(".yml") == Some(q.as_str())
        })
        .collect();
    // Later content layers override earlier ones by name, so a name is unique; an id or file
    // name shared by two layers' detections is ambiguous.
    let found = if exact.is_empty() { all.iter().filter(|d| d.name.to_lowercase().contains(&q)).collect() } else { exact };
    match found.as_slice() {
        [one] => Ok(one),
        [] => {
            let near = nearest(all, &q, 3);
            let hint = if near.is_empty() { String::new() } else { format!("; did you mean: {}?", quoted(&near)) };
            Err(format!("no detection matches `{query}` (name, id, file name or part of the name){hint}"))
        }
        many => {
            let names: Vec<&str> = many.iter().take(8).map(|d| d.name.as_str()).collect();
            let more = if many.len() > 8 { format!(" and {} more", many.len() - 8) } else { String::new() };
            Err(format!("`{query}` matches {} detections: {}{more}; give more of the name", many.len(), quoted(&names)))
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Up to `n` names closest to `query` by edit distance, against the whole name or against any
/// run of as many consecutive words as the query has (a misspelt part of a name), nearest
/// first; only names within a few edits (a quarter of the query, at least 2).
fn nearest<'a>(all: &'a [Detection], query: &str, n: usize) -> Vec<&'a str> {
    let query_words = query.split_whitespace().count().max(1);
    let mut scored: Vec<(usize, &str)> = all
        .iter()
        .map(|d| {
            let name = d.name.to_lowercase();
            let words: Vec<&str> = name.split_whitespace().collect();
            let part = words.windows(query_words.min(words.len()).max(1)).map(|w| edit_distance(query, &w.join(" "))).min();
            (part.unwrap_or(usize::MAX).min(edit_distance(query, &name)), d.name.as_str())
        })
        .collect();
    scored.sort();
    let limit = (query.chars().count() / 4).max(2);
    scored.into_iter().filter(|(s, _)| *s <= limit).take(n).map(|(_, name)| name).collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A row that is only an empty aggregate: it has numbers and every one is 0, the rest being
/// empty or text (what `stats count`, `dc(x)` or `count(eval(...))` without `by` give over no
/// events, with the constants an `eval` adds after them). Such a row of a Hunting search is not
/// a finding: those searches print it on any input, even random bytes. A group of real events
/// has a count of at least 1.
pub fn is_empty_aggregate(row: &Record) -> bool {
    let mut numbers = 0;
    for (_, v) in row.iter() {
        if let Some(n) = v.as_num() {
            if n != 0.0 {
                return false;
            }
            numbers += 1;
        }
    }
    numbers > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::Value;

    fn det(name: &str, id: &str, file: &str, status: Option<&str>, kind: &str, mitre: &[&str]) -> Detection {
        Detection {
            name: name.into(),
            id: id.into(),
            file: file.into(),
            status: status.map(String::from),
            kind: kind.into(),
            tags: vigil_content::Tags { mitre_attack_id: mitre.iter().map(|s| s.to_string()).collect(), ..Default::default() },
            ..Default::default()
        }
    }

    fn content() -> Vec<Detection> {
        vec![
            det(
                "Windows MSIExec Remote Download",
                "6aa49ff2",
                "d/endpoint/windows_msiexec_remote_download.yml",
                Some("production"),
                "TTP",
                &["T1218.007"],
            ),
            det(
                "Windows MSIExec Spawn WinDBG",
                "9a18f7c2",
                "d/endpoint/windows_msiexec_spawn_windbg.yml",
                Some("production"),
                "TTP",
                &["T1218.007"],
            ),
            det(
                "Detect Rare Executables",
                "44fddcb2",
                "d/deprecated/detect_rare_executables.yml",
                Some("production"),
                "Anomaly",
                &["T1204"],
            ),
            det(
                "Windows Remote Access Software Hunt",
                "8bd22c9f",
                "d/endpoint/windows_remote_access_software_hunt.yml",
                Some("experimental"),
                "Hunting",
                &["T1219"],
            ),
        ]
    }

    fn names(v: &[&Detection]) -> Vec<String> {
        v.iter().map(|d| d.name.clone()).collect()
    }

    #[test]
    fn resolves_name_id_file_and_unique_substring() {
        let all = content();
        assert_eq!(resolve(&all, "windows msiexec remote download").unwrap().id, "6aa49ff2");
        assert_eq!(resolve(&all, "9A18F7C2").unwrap().name, "Windows MSIExec Spawn WinDBG");
        assert_eq!(resolve(&all, "detect_rare_executables.yml").unwrap().id, "44fddcb2");
        assert_eq!(resolve(&all, "detect_rare_executables").unwrap().id, "44fddcb2");
        assert_eq!(resolve(&all, "windbg").unwrap().id, "9a18f7c2");
        let many = resolve(&all, "msiexec").unwrap_err();
        assert!(many.contains("matches 2 detections") && many.contains("`Windows MSIExec Spawn WinDBG`"), "{many}");
        let none = resolve(&all, "Windows MSIExec Remote Downlaod").unwrap_err();
        assert!(none.ends_with("did you mean: `Windows MSIExec Remote Download`?"), "{none}");
        let far = resolve(&all, "kerberoasting").unwrap_err();
        assert!(!far.contains("did you mean"), "{far}");
    }

    #[test]
    fn default_is_production_and_deprecated_needs_asking() {
        let mut set = ContentSet::empty();
        for d in content() {
            set.add_detection(d);
        }
        let by = |a: SelectArgs| names(&a.select(&set).unwrap());
        assert_eq!(by(SelectArgs::default()), ["Windows MSIExec Remote Download", "Windows MSIExec Spawn WinDBG"]);
        let all = SelectArgs { status: vec!["all".into()], ..Default::default() };
        assert_eq!(by(all.clone()).len(), 4);
        let deprecated = SelectArgs { status: vec!["Deprecated".into()], ..Default::default() };
        assert_eq!(by(deprecated), ["Detect Rare Executables"]);
        assert_eq!(by(SelectArgs { kind: vec!["hunting".into()], ..all.clone() }), ["Windows Remote Access Software Hunt"]);
        assert_eq!(by(SelectArgs { mitre: vec!["t1218".into()], ..all.clone() }).len(), 2);
        assert!(by(SelectArgs { mitre: vec!["T121".into()], ..all }).is_empty(), "a prefix must end at a dot");
        // Named detections run whatever their status, unless --status says otherwise.
        let named = SelectArgs { detections: vec!["rare exec".into()], ..Default::default() };
        assert_eq!(by(named.clone()), ["Detect Rare Executables"]);
        assert!(by(SelectArgs { status: vec!["production".into()], ..named }).is_empty());
    }

    #[test]
    fn empty_aggregates() {
        let row = |pairs: &[(&str, Value)]| -> Record { pairs.iter().cloned().map(|(k, v)| (k.to_string(), v)).collect() };
        assert!(is_empty_aggregate(&row(&[("count", Value::Num(0.0)), ("firstTime", Value::Null), ("lastTime", Value::str(""))])));
        assert!(is_empty_aggregate(&row(&[("count", Value::str("0")), ("dc_user", Value::Num(0.0))])));
        // ESCU's PowerShell Web Access hunt over no events: zero counts and eval'd constants.
        assert!(is_empty_aggregate(&row(&[
            ("PSWA_Running", Value::str("Yes")),
            ("Connection Attempts", Value::str("0")),
            ("Unique Target Accounts", Value::str("0")),
        ])));
        assert!(!is_empty_aggregate(&row(&[("count", Value::Num(3.0)), ("dest", Value::str("HOST1"))])));
        assert!(!is_empty_aggregate(&row(&[("count", Value::Num(0.0)), ("dc_user", Value::Num(2.0))])));
        assert!(!is_empty_aggregate(&row(&[("dest", Value::str("HOST1")), ("process", Value::str("cmd.exe"))])));
    }
}
