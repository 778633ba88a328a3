//! A rule's `detection:` into one [`Expr`]: search identifiers (maps are AND, lists OR,
//! lists of strings are keywords), then the condition over them.

use crate::expr::Expr;
use crate::value::{compile_entry, Placeholders};
use serde_norway::{Mapping, Value as Yaml};

/// Compiles the detection; errors are (text to locate in the rule, message).
pub fn compile(det: &Mapping, ph: &Placeholders) -> Result<Expr, (String, String)> {
    let mut idents = Vec::new();
    for (k, v) in det {
        let Some(name) = k.as_str() else { continue };
        if matches!(name, "condition" | "timeframe") {
            continue;
        }
        let e = identifier(v, ph).map_err(|(at, m)| (at.unwrap_or_else(|| format!("{name}:")), format!("{name}: {m}")))?;
        idents.push((name.to_string(), e));
    }
    let conditions: Vec<&str> = match det.get("condition") {
        Some(Yaml::String(s)) => vec![s.as_str()],
        Some(Yaml::Sequence(l)) => l.iter().filter_map(Yaml::as_str).collect(),
        _ => return Err(("condition".into(), "`condition` missing".into())),
    };
    let mut exprs = Vec::new();
    for c in conditions {
        exprs.push(crate::condition::compile(c, &idents).map_err(|m| ("condition".to_string(), m))?);
    }
    Ok(Expr::any(exprs))
}

type Failure = (Option<String>, String);

fn identifier(v: &Yaml, ph: &Placeholders) -> Result<Expr, Failure> {
    match v {
        Yaml::Mapping(m) => map(m, ph),
        Yaml::Sequence(items) if items.iter().all(|i| i.is_mapping()) => {
            let alts = items.iter().filter_map(Yaml::as_mapping).map(|m| map(m, ph)).collect::<Result<Vec<_>, _>>()?;
            Ok(Expr::Or(alts))
        }
        Yaml::Sequence(items) if items.iter().all(|i| !i.is_mapping() && !i.is_sequence()) => {
            compile_entry(None, &["contains"], items, ph).map_err(|m| (None, m))
        }
        Yaml::String(_) | Yaml::Number(_) => compile_entry(None, &["contains"], std::slice::from_ref(v), ph).map_err(|m| (None, m)),
        _ => Err((None, "a search identifier must be a mapping, a list of mappings or a list of values".into())),
    }
}

fn map(m: &Mapping, ph: &Placeholders) -> Result<Expr, Failure> {
    let mut items = Vec::new();
    for (k, v) in m {
        let key = match k {
            Yaml::String(s) => s.clone(),
            other => crate::value::scalar_text(other).unwrap_or_default(),
        };
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or("").trim();
        let mut mods: Vec<&str> = parts.collect();
        let values: &[Yaml] = match v {
            Yaml::Sequence(l) => l,
            Yaml::Mapping(_) => return Err((Some(key.clone()), format!("`{key}`: a value cannot be a mapping"))),
            other => std::slice::from_ref(other),
        };
        if field.is_empty() && !mods.iter().any(|m| matches!(*m, "contains" | "startswith" | "endswith" | "re")) {
            mods.insert(0, "contains"); // a keyword list with modifiers (`'|all': [...]`)
        }
        let field = (!field.is_empty()).then_some(field);
        let e = compile_entry(field, &mods, values, ph).map_err(|msg| (Some(key.clone()), format!("`{key}`: {msg}")))?;
        items.push(e);
    }
    if items.is_empty() {
        return Err((None, "an empty selection".into()));
    }
    Ok(Expr::all(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Fields;

    struct Ev(Vec<(&'static str, &'static str)>);
    impl Fields for Ev {
        fn any_value(&self, field: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
            self.0.iter().filter(|(k, _)| *k == field).any(|(_, v)| f(v))
        }
        fn any_field_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
            self.0.iter().any(|(_, v)| f(v))
        }
    }

    fn rule(y: &str) -> Expr {
        let v: Yaml = serde_norway::from_str(y).unwrap();
        compile(v.as_mapping().unwrap(), &Placeholders::new()).unwrap()
    }

    #[test]
    fn selections_modifiers_and_keywords() {
        let e = rule(
            r#"
sel_img:
  - Image|endswith: '\whoami.exe'
  - OriginalFileName: 'whoami.exe'
sel_cli:
  CommandLine|contains|all: ['/priv', ' /all']
kw:
  - 'mimikatz'
filter_null:
  ParentImage: null
condition: (all of sel_* and not filter_null) or kw
"#,
        );
        let hit = Ev(vec![("Image", r"C:\Windows\System32\WHOAMI.EXE"), ("CommandLine", "whoami /PRIV /all"), ("ParentImage", "cmd.exe")]);
        assert!(e.eval(&hit));
        let no_parent = Ev(vec![("Image", r"C:\x\whoami.exe"), ("CommandLine", "whoami /priv /all")]);
        assert!(!e.eval(&no_parent));
        assert!(e.eval(&Ev(vec![("Payload", "Invoke-MIMIKATZ -x")])));
        assert!(!e.eval(&Ev(vec![("Image", r"C:\x\whoami.exe"), ("CommandLine", "whoami /priv"), ("ParentImage", "x")])));
    }

    #[test]
    fn typed_modifiers() {
        let e = rule(
            r#"
sel:
  DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']
  DestinationPort|gte: 1024
  CommandLine|re|i: 'invoke-\w+'
  Hashes|exists: true
  TargetFilename|fieldref|endswith: Image
condition: sel
"#,
        );
        let ok = Ev(vec![
            ("DestinationIp", "10.2.3.4"),
            ("DestinationPort", "4444"),
            ("CommandLine", "x INVOKE-Stuff"),
            ("Hashes", "SHA1=.."),
            ("TargetFilename", r"c:\x\a.exe"),
            ("Image", "A.exe"),
        ]);
        assert!(e.eval(&ok));
        let low_port = Ev(vec![
            ("DestinationIp", "10.2.3.4"),
            ("DestinationPort", "80"),
            ("CommandLine", "invoke-x"),
            ("Hashes", "h"),
            ("TargetFilename", "a"),
            ("Image", "a"),
        ]);
        assert!(!e.eval(&low_port));
    }

    #[test]
    fn time_modifiers_read_dates() {
        // Off-hours logons: before 06:00 or from 22:00 on, in the first quarter.
        let e = rule("night:\n  UtcTime|hour|lt: 6\nlate:\n  UtcTime|hour|gte: 22\nq1:\n  UtcTime|month|lte: 3\nyear:\n  UtcTime|year: 2026\ncondition: (night or late) and q1 and year\n");
        assert!(e.eval(&Ev(vec![("UtcTime", "2026-02-03 23:10:00.000")])));
        assert!(e.eval(&Ev(vec![("UtcTime", "2026-01-31T05:59:59Z")])));
        assert!(!e.eval(&Ev(vec![("UtcTime", "2026-02-03 12:00:00.000")])));
        assert!(!e.eval(&Ev(vec![("UtcTime", "2026-05-03 23:10:00.000")])));
        assert!(!e.eval(&Ev(vec![("UtcTime", "2025-02-03 23:10:00.000")])));
        assert!(!e.eval(&Ev(vec![("UtcTime", "not a date")])));
        let v: Yaml = serde_norway::from_str("sel:\n  UtcTime|hour|contains: 3\ncondition: sel\n").unwrap();
        assert!(compile(v.as_mapping().unwrap(), &Placeholders::new()).is_err(), "a date part is a number, not a string");
    }

    #[test]
    fn windash_and_base64offset_in_selections() {
        let e = rule("sel:\n  CommandLine|windash|contains: ' -enc '\ncondition: sel\n");
        assert!(e.eval(&Ev(vec![("CommandLine", "powershell /enc AAA")])));
        assert!(e.eval(&Ev(vec![("CommandLine", "powershell \u{2013}enc AAA")])));
        let b = rule("sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel\n");
        // "IEX http://x" base64-encoded
        assert!(b.eval(&Ev(vec![("CommandLine", "powershell -e SUVYIGh0dHA6Ly94")])));
    }
}
