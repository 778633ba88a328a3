//! `spath`: fields named by their paths in JSON or XML text (`a.b`, arrays as `a{}.b`, XML
//! attributes as `a.b{@attr}`).

use crate::expr::pattern::decode_xml_entities;
use vigil_model::{Record, Value};

/// (path, value) pairs of a JSON document; `None` when it is not JSON.
fn json_paths(text: &str) -> Option<Vec<(String, String)>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut out = Vec::new();
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&p, v, out);
                }
            }
            serde_json::Value::Array(items) => {
                let p = format!("{prefix}{{}}");
                for i in items {
                    walk(&p, i, out);
                }
            }
            serde_json::Value::Null => out.push((prefix.to_string(), "null".into())),
            serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    walk("", &v, &mut out);
    Some(out)
}

/// (path, value) pairs of an XML document: element text by element path, attributes as
/// `path{@name}`.
fn xml_paths(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(lt) = rest.find('<') {
        let body = rest[..lt].trim();
        if !body.is_empty() && !stack.is_empty() {
            out.push((stack.join("."), decode_xml_entities(body)));
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else { break };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            if stack.last().map(String::as_str) == Some(name.trim()) {
                stack.pop();
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
        let name = &tag[..name_end];
        if name.is_empty() {
            continue;
        }
        stack.push(name.to_string());
        let path = stack.join(".");
        let mut attrs = &tag[name_end..];
        while let Some(eq) = attrs.find('=') {
            let key = attrs[..eq].trim();
            let v = attrs[eq + 1..].trim_start();
            let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'') else { break };
            let Some(end) = v[1..].find(q) else { break };
            out.push((format!("{path}{{@{key}}}"), decode_xml_entities(&v[1..1 + end])));
            attrs = &v[end + 2..];
        }
        if self_closing {
            stack.pop();
        }
    }
    out
}

pub(crate) fn apply(mut rows: Vec<Record>, input: Option<&str>, output: Option<&str>, path: Option<&str>) -> Vec<Record> {
    let input = input.unwrap_or("_raw");
    for row in &mut rows {
        let Some(text) = row.value(input).as_text().map(|t| t.into_owned()) else { continue };
        let trimmed = text.trim_start();
        let pairs = if trimmed.starts_with('{') || trimmed.starts_with('[') {
            json_paths(trimmed).unwrap_or_default()
        } else {
            let decoded = if trimmed.contains("&lt;") { decode_xml_entities(trimmed) } else { trimmed.to_string() };
            xml_paths(&decoded)
        };
        let mut fields: Vec<(String, Vec<String>)> = Vec::new();
        for (p, v) in pairs {
            if path.is_some_and(|want| want != p) {
                continue;
            }
            let name = match (path, output) {
                (Some(_), Some(o)) => o.to_string(),
                _ => p,
            };
            match fields.iter_mut().find(|(n, _)| *n == name) {
                Some((_, vals)) => vals.push(v),
                None => fields.push((name, vec![v])),
            }
        }
        for (name, vals) in fields {
            row.set(name, Value::from_items(vals));
        }
    }
    rows
}

/// `replace`: whole values matching a wildcard pattern (case-sensitive) become the
/// replacement, with the text each `*` matched carried over in order.
pub(crate) fn replace(mut rows: Vec<Record>, pairs: &[(String, String)], fields: &[String]) -> Vec<Record> {
    use crate::ops::fields::{fill_captures, wild_capture};
    let substitute = |v: &str| -> Option<String> {
        pairs.iter().find_map(|(from, to)| {
            let caps = wild_capture(from, v)?;
            Some(fill_captures(to, &caps))
        })
    };
    for row in &mut rows {
        let names: Vec<String> = if fields.is_empty() {
            row.names().map(str::to_string).collect()
        } else {
            row.names().filter(|n| fields.iter().any(|f| wild_capture(f, n).is_some())).map(str::to_string).collect()
        };
        for name in names {
            let new = match row.value(&name) {
                Value::Str(s) => substitute(s).map(Value::Str),
                Value::Multi(items) => {
                    let mapped: Vec<String> = items.iter().map(|i| substitute(i).unwrap_or_else(|| i.clone())).collect();
                    (mapped != *items).then_some(Value::Multi(mapped))
                }
                _ => None,
            };
            if let Some(v) = new {
                row.set(name, v);
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(k: &str, v: &str) -> Record {
        [(k.to_string(), Value::str(v))].into_iter().collect()
    }

    #[test]
    fn xml_paths_and_attributes() {
        let xml = "<RuleAndFileData xmlns='x'><PolicyName>EXE</PolicyName><FilePath>C:\\a &amp; b.exe</FilePath><Empty/></RuleAndFileData>";
        let out = apply(vec![row("UserData_Xml", xml)], Some("UserData_Xml"), None, None);
        assert_eq!(out[0].value("RuleAndFileData.PolicyName"), &Value::str("EXE"));
        assert_eq!(out[0].value("RuleAndFileData.FilePath"), &Value::str("C:\\a & b.exe"));
        assert_eq!(out[0].value("RuleAndFileData{@xmlns}"), &Value::str("x"));
    }

    #[test]
    fn json_paths_with_arrays_and_path_option() {
        let j = r#"{"a": {"b": 1, "c": ["x", "y"]}}"#;
        let out = apply(vec![row("_raw", j)], None, None, None);
        assert_eq!(out[0].value("a.b"), &Value::str("1"));
        assert_eq!(out[0].value("a.c{}"), &Value::Multi(vec!["x".into(), "y".into()]));
        let out = apply(vec![row("_raw", j)], None, Some("out"), Some("a.b"));
        assert_eq!(out[0].value("out"), &Value::str("1"));
        assert!(out[0].get("a.c{}").is_none());
    }

    #[test]
    fn replace_whole_values_with_wildcards() {
        let pairs = vec![("%%8448".to_string(), "Success removed".to_string()), ("0x*".to_string(), "hex *".to_string())];
        let out = replace(vec![row("c", "%%8448"), row("c", "0x1f"), row("c", "x%%8448")], &pairs, &["c".to_string()]);
        let got: Vec<String> = out.iter().map(|r| r.value("c").to_string()).collect();
        assert_eq!(got, ["Success removed", "hex 1f", "x%%8448"]);
    }
}
