//! Token substitution in rule titles, risk messages and drilldown searches.
//!
//! Two kinds of tokens, as in ESCU/ES:
//! - `%key%` (contentctl, at build time): detection attributes such as `%name%`,
//!   `%description%`; [`render_detection_tokens`].
//! - `$field$` (ES, when the notable or risk event is created): the result row's field;
//!   [`render_fields`].
//!
//! Decisions for `$field$`:
//! - A multivalue field renders as its values joined with `,` (the order kept).
//! - A field absent from the row (or null) leaves the token as written, `$field$`, which is
//!   what ES shows in Incident Review for a missing field; it keeps the gap visible to an
//!   analyst instead of silently producing "on endpoint  by user".
//! - Substitution is one pass: a value that itself contains `$x$` is not expanded again.
//! - A token is `$` + 1..=128 characters without whitespace or `$` + `$`; anything else (a
//!   lone `$`, `$$`, `$5 and $6`) is copied literally.

use vigil_content::Detection;
use vigil_model::{Record, Value};

/// Separator between the values of a multivalue field in a rendered token.
pub const MV_SEPARATOR: &str = ",";

/// A value as text in a rendered message: items joined by [`MV_SEPARATOR`]; `None` for null.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Multi(items) => Some(items.join(MV_SEPARATOR)),
        other => other.as_text().map(|c| c.into_owned()),
    }
}

/// Replaces `$name$` tokens with `lookup(name)`; tokens it returns `None` for stay literal.
pub fn render_tokens(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let token_end = after.find('$');
        let valid = token_end.filter(|&end| end > 0 && end <= 128 && !after[..end].chars().any(char::is_whitespace));
        match valid {
            Some(end) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('$');
                        out.push_str(name);
                        out.push('$');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `$field$` substitution from a result row (see the module doc for the rules).
pub fn render_fields(template: &str, row: &Record) -> String {
    render_tokens(template, &|name| row.get(name).and_then(value_text))
}

/// `%key%` substitution from the detection's attributes, as contentctl does when it builds
/// savedsearches.conf. Unknown keys stay literal.
pub fn render_detection_tokens(template: &str, det: &Detection) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let value = after.find('%').and_then(|end| detection_attr(det, &after[..end]).map(|v| (end, v)));
        match value {
            Some((end, v)) => {
                out.push_str(&v);
                rest = &after[end + 1..];
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn detection_attr(det: &Detection, key: &str) -> Option<String> {
    Some(match key {
        "name" => det.name.clone(),
        "description" => det.description.trim().to_string(),
        "id" => det.id.clone(),
        "type" => det.kind.clone(),
        "version" => det.version_text(),
        "author" => det.author.clone().unwrap_or_default(),
        "how_to_implement" => det.how_to_implement.clone().unwrap_or_default(),
        "known_false_positives" => det.known_false_positives.clone().unwrap_or_default(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Value)]) -> Record {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn scalar_multivalue_and_missing() {
        let r = row(&[("dest", Value::str("HOST1")), ("user", Value::Multi(vec!["a".into(), "b".into()])), ("count", Value::Num(3.0))]);
        assert_eq!(
            render_fields("on $dest$ by $user$ ($count$) via $parent_process_name$", &r),
            "on HOST1 by a,b (3) via $parent_process_name$"
        );
    }

    #[test]
    fn not_tokens_stay_literal_and_one_pass() {
        let r = row(&[("x", Value::str("$y$")), ("y", Value::str("no"))]);
        assert_eq!(render_fields("cost $5 and $6, $$x$ $x$ $", &r), "cost $5 and $6, $$y$ $y$ $");
    }

    #[test]
    fn detection_tokens() {
        let det = Detection { name: "N".into(), description: " D \n".into(), ..Default::default() };
        assert_eq!(render_detection_tokens("%name%: %description% 100% %nope%", &det), "N: D 100% %nope%");
    }
}
