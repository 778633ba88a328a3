//! The structure the specification's JSON schemas (spec/json-schema) demand, checked by
//! hand: required keys, types, enumerations, patterns and lengths. Returns (key, problem).

use serde_norway::{Mapping, Value as Yaml};

const STATUS: &[&str] = &["stable", "test", "experimental", "deprecated", "unsupported"];
const LEVEL: &[&str] = &["informational", "low", "medium", "high", "critical"];
const RELATED: &[&str] = &["derived", "obsolete", "merged", "renamed", "similar"];
const CORRELATION_TYPES: &[&str] =
    &["event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg", "value_percentile"];

type Problems = Vec<(String, String)>;

/// Checks a rule, correlation or filter document; empty when it conforms.
pub fn check(map: &Mapping) -> Problems {
    let mut p = Problems::new();
    let kind = if map.contains_key("correlation") {
        "correlation"
    } else if map.contains_key("filter") {
        "filter"
    } else {
        "detection"
    };
    let required: &[&str] = match kind {
        "correlation" => &["title", "correlation"],
        "filter" => &["title", "logsource", "filter"],
        _ => &["title", "logsource", "detection"],
    };
    for k in required {
        if !map.contains_key(*k) {
            p.push((k.to_string(), "required key missing".into()));
        }
    }
    string(map, "title", Some(256), &mut p);
    string(map, "name", Some(256), &mut p);
    string(map, "taxonomy", Some(256), &mut p);
    string(map, "description", Some(65535), &mut p);
    string(map, "license", None, &mut p);
    string(map, "author", None, &mut p);
    if let Some(id) = string(map, "id", None, &mut p) {
        if !is_uuid(id) {
            p.push(("id".into(), format!("`{id}` is not a UUID")));
        }
    }
    enumerated(map, "status", STATUS, &mut p);
    enumerated(map, "level", LEVEL, &mut p);
    for k in ["date", "modified"] {
        if let Some(d) = string(map, k, None, &mut p) {
            if !is_date(d) {
                p.push((k.into(), format!("`{d}` is not a date YYYY-MM-DD")));
            }
        }
    }
    strings(map, "references", true, 0, &mut p);
    strings(map, "fields", true, 0, &mut p);
    strings(map, "falsepositives", true, 2, &mut p);
    strings(map, "scope", false, 2, &mut p);
    if let Some(tags) = strings(map, "tags", true, 0, &mut p) {
        for t in tags {
            if !is_tag(t) {
                p.push(("tags".into(), format!("`{t}` is not a namespace.name tag of lowercase letters, digits, `_`, `-`, `.`")));
            }
        }
    }
    related(map, &mut p);
    if let Some(ls) = map.get("logsource") {
        match ls.as_mapping() {
            Some(m) => {
                for (k, v) in m {
                    if !v.is_string() {
                        p.push(("logsource".into(), format!("`{}` must be a string", k.as_str().unwrap_or("?"))));
                    }
                }
            }
            None => p.push(("logsource".into(), "must be a mapping".into())),
        }
    }
    match kind {
        "detection" => detection(map, &mut p),
        "correlation" => correlation(map, &mut p),
        _ => filter(map, &mut p),
    }
    p
}

fn string<'a>(map: &'a Mapping, key: &str, max: Option<usize>, p: &mut Problems) -> Option<&'a str> {
    let v = map.get(key)?;
    let Some(s) = v.as_str() else {
        p.push((key.into(), "must be a string".into()));
        return None;
    };
    if max.is_some_and(|m| s.chars().count() > m) {
        p.push((key.into(), format!("longer than {} characters", max.unwrap_or(0))));
    }
    Some(s)
}

fn enumerated(map: &Mapping, key: &str, allowed: &[&str], p: &mut Problems) {
    if let Some(s) = string(map, key, None, p) {
        if !allowed.contains(&s) {
            p.push((key.into(), format!("`{s}` is not one of {}", allowed.join(", "))));
        }
    }
}

fn strings<'a>(map: &'a Mapping, key: &str, unique: bool, min_len: usize, p: &mut Problems) -> Option<Vec<&'a str>> {
    let v = map.get(key)?;
    let Some(list) = v.as_sequence() else {
        p.push((key.into(), "must be a list".into()));
        return None;
    };
    let mut out = Vec::new();
    for item in list {
        match item.as_str() {
            Some(s) if s.chars().count() >= min_len => out.push(s),
            Some(s) => p.push((key.into(), format!("`{s}` is shorter than {min_len} characters"))),
            None => p.push((key.into(), "items must be strings".into())),
        }
    }
    if unique {
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = out.iter().find(|s| !seen.insert(**s)) {
            p.push((key.into(), format!("`{dup}` appears twice (items must be unique)")));
        }
    }
    Some(out)
}

fn related(map: &Mapping, p: &mut Problems) {
    let Some(v) = map.get("related") else { return };
    let Some(list) = v.as_sequence() else {
        p.push(("related".into(), "must be a list".into()));
        return;
    };
    for item in list {
        let id = item.get("id").and_then(Yaml::as_str);
        let ty = item.get("type").and_then(Yaml::as_str);
        match (id, ty) {
            (Some(id), Some(ty)) => {
                if !is_uuid(id) {
                    p.push(("related".into(), format!("id `{id}` is not a UUID")));
                }
                if !RELATED.contains(&ty) {
                    p.push(("related".into(), format!("type `{ty}` is not one of {}", RELATED.join(", "))));
                }
            }
            _ => p.push(("related".into(), "each item needs a string id and type".into())),
        }
    }
}

fn detection(map: &Mapping, p: &mut Problems) {
    let Some(det) = map.get("detection") else {
        return;
    };
    let Some(det) = det.as_mapping() else {
        p.push(("detection".into(), "must be a mapping".into()));
        return;
    };
    match det.get("condition") {
        None => p.push(("detection".into(), "`condition` missing".into())),
        Some(Yaml::String(_)) => {}
        Some(Yaml::Sequence(l)) if l.iter().all(Yaml::is_string) => {}
        Some(_) => p.push(("detection".into(), "`condition` must be a string".into())),
    }
    for (k, v) in det {
        let name = k.as_str().unwrap_or("?");
        if matches!(name, "condition" | "timeframe") {
            continue;
        }
        let ok = match v {
            Yaml::Mapping(_) => true,
            Yaml::Sequence(items) => items.iter().all(|i| matches!(i, Yaml::String(_) | Yaml::Number(_) | Yaml::Mapping(_))),
            _ => false,
        };
        if !ok {
            p.push(("detection".into(), format!("search identifier `{name}` must be a mapping or a list of strings, numbers or mappings")));
        }
    }
}

fn correlation(map: &Mapping, p: &mut Problems) {
    let Some(c) = map.get("correlation").and_then(Yaml::as_mapping) else {
        p.push(("correlation".into(), "must be a mapping".into()));
        return;
    };
    match c.get("type").and_then(Yaml::as_str) {
        Some(t) if CORRELATION_TYPES.contains(&t) => {}
        Some(t) => p.push(("correlation".into(), format!("type `{t}` is not one of {}", CORRELATION_TYPES.join(", ")))),
        None => p.push(("correlation".into(), "`type` missing".into())),
    }
    if !c.contains_key("rules") {
        p.push(("correlation".into(), "`rules` missing".into()));
    }
    if !c.contains_key("timespan") {
        p.push(("correlation".into(), "`timespan` missing".into()));
    }
}

fn filter(map: &Mapping, p: &mut Problems) {
    let Some(f) = map.get("filter").and_then(Yaml::as_mapping) else {
        p.push(("filter".into(), "must be a mapping".into()));
        return;
    };
    if !f.contains_key("rules") {
        p.push(("filter".into(), "`rules` missing".into()));
    }
    if !f.contains_key("condition") {
        p.push(("filter".into(), "`condition` missing".into()));
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5 && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, part)| part.len() == *n && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    matches!((num(0..4), num(5..7), num(8..10)), (Some(_), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d))
}

fn is_tag(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    match s.split_once('.') {
        Some((ns, name)) => !ns.is_empty() && ns.chars().all(ok) && !name.is_empty() && name.chars().all(|c| ok(c) || c == '.'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(y: &str) -> Vec<String> {
        let v: Yaml = serde_norway::from_str(y).unwrap();
        check(v.as_mapping().unwrap()).into_iter().map(|(k, m)| format!("{k}: {m}")).collect()
    }

    #[test]
    fn the_schemas_test_rules_conform() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma/spec/tests/schema");
        let Ok(kinds) = std::fs::read_dir(&dir) else {
            eprintln!("skipped: {} not found", dir.display());
            return;
        };
        let mut n = 0;
        for kind in kinds.flatten() {
            for f in std::fs::read_dir(kind.path()).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(f.path()).unwrap();
                for (_, doc) in super::super::rule::tests_split(&text) {
                    assert_eq!(problems(&doc), Vec::<String>::new(), "{}", f.path().display());
                    n += 1;
                }
            }
        }
        assert!(n >= 10, "{n} schema test documents");
    }

    #[test]
    fn violations_are_named() {
        let p = problems("title: x\nid: nope\nstatus: wip\ntags: [Attack.T1]\nlogsource: {category: 1}\ndetection: {sel: 5}\n");
        let joined = p.join("\n");
        for want in ["id: `nope`", "status: `wip`", "tags: `Attack.T1`", "logsource: `category`", "`condition` missing", "`sel` must be"] {
            assert!(joined.contains(want), "{want} in\n{joined}");
        }
    }
}
