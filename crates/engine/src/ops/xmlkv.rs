//! `xmlkv`: fields from the `<name>value</name>` elements of an XML text.

use crate::expr::pattern::decode_xml_entities;
use vigil_model::{Record, Value};

/// Leaf elements of `xml` as (name, text) pairs, in document order. Elements that contain
/// other elements are not fields; their children are.
pub(crate) fn leaf_elements(xml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = xml.as_bytes();
    let mut i = 0;
    while let Some(off) = xml[i..].find('<') {
        let start = i + off + 1;
        // A name starts with a letter or underscore; skip end tags, comments, declarations.
        let name_len = xml[start..].bytes().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':')).count();
        if name_len == 0 || !(b[start].is_ascii_alphabetic() || b[start] == b'_') {
            i = start;
            continue;
        }
        let name = &xml[start..start + name_len];
        let Some(gt) = xml[start + name_len..].find('>') else { break };
        let open_end = start + name_len + gt;
        if b.get(open_end.wrapping_sub(1)) == Some(&b'/') {
            i = open_end + 1;
            continue;
        }
        let body_start = open_end + 1;
        let close = format!("</{name}>");
        match xml[body_start..].find(&close) {
            Some(len) if !xml[body_start..body_start + len].contains('<') => {
                let text = &xml[body_start..body_start + len];
                out.push((name.to_string(), decode_xml_entities(text.trim())));
                i = body_start + len + close.len();
            }
            _ => i = body_start,
        }
    }
    out
}

pub(crate) fn apply(mut rows: Vec<Record>, field: Option<&str>) -> Vec<Record> {
    let field = field.unwrap_or("_raw");
    for row in &mut rows {
        let Some(text) = row.value(field).as_text().map(|t| t.into_owned()) else { continue };
        // XML carried inside another XML event arrives escaped (`&lt;Command&gt;`).
        let text = if text.contains("&lt;") { decode_xml_entities(&text) } else { text };
        let mut fields: Vec<(String, Vec<String>)> = Vec::new();
        for (name, value) in leaf_elements(&text) {
            match fields.iter_mut().find(|(n, _)| *n == name) {
                Some((_, vals)) => vals.push(value),
                None => fields.push((name, vec![value])),
            }
        }
        for (name, vals) in fields {
            row.set(name, Value::from_items(vals));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_leaves_of_a_task() {
        let xml = "<?xml version=\"1.0\"?><Task><Actions><Exec><Command>C:\\x.exe</Command>\
                   <Arguments>/c a &amp; b</Arguments></Exec></Actions><Settings><Hidden>true</Hidden><Empty/></Settings></Task>";
        let got = leaf_elements(xml);
        assert_eq!(
            got,
            vec![
                ("Command".to_string(), "C:\\x.exe".to_string()),
                ("Arguments".to_string(), "/c a & b".to_string()),
                ("Hidden".to_string(), "true".to_string()),
            ]
        );
    }

    #[test]
    fn escaped_xml_in_a_field() {
        let r: Record = [("TaskContent".to_string(), Value::str("&lt;Task&gt;&lt;Command&gt;cmd.exe&lt;/Command&gt;&lt;/Task&gt;"))]
            .into_iter()
            .collect();
        let out = apply(vec![r], Some("TaskContent"));
        assert_eq!(out[0].value("Command"), &Value::str("cmd.exe"));
    }
}
