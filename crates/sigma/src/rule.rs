//! Sigma YAML files into documents: rules (checked against the specification's JSON schema
//! by hand), correlation rules and filters. Errors carry the file and line.

use serde_norway::{Mapping, Value as Yaml};
use std::borrow::Cow;
use std::fmt;

/// A problem with a rule file: where, and what.
#[derive(Clone, Debug)]
pub struct SigmaError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SigmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// What every Sigma document has, for output rows, alerts and reports.
#[derive(Clone, Debug, Default)]
pub struct RuleMeta {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub references: Vec<String>,
    pub file: String,
    /// 1-based line where the document starts.
    pub line: usize,
}

/// `logsource:` of a rule.
#[derive(Clone, Debug, Default)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

/// A detection rule, checked but not compiled.
#[derive(Clone, Debug)]
pub struct Rule {
    pub meta: RuleMeta,
    pub logsource: LogSource,
    pub detection: Mapping,
    /// The document's text (for line numbers of later problems).
    pub text: String,
}

impl Rule {
    /// The file:line of the first line of the document containing `needle` (else its start).
    pub fn locate(&self, needle: &str) -> String {
        let off = self.text.lines().position(|l| l.contains(needle)).unwrap_or(0);
        format!("{}:{}", self.meta.file, self.meta.line + off)
    }
}

/// One YAML document of a Sigma file.
#[derive(Clone, Debug)]
pub enum Document {
    Rule(Rule),
    /// A correlation rule (`correlation:`), kept as its tree.
    Correlation {
        meta: RuleMeta,
        body: Yaml,
    },
    /// A filter (`filter:`), kept as its tree.
    Filter {
        meta: RuleMeta,
        body: Yaml,
    },
}

/// Splits a file into YAML documents at `---` lines: (1-based start line, text). A document's
/// text is its lines, each ended by `\n` (a CRLF's `\r` dropped, as [`str::lines`] does): a
/// slice of the file unless a `\r` or a missing final line break makes it differ (copying
/// every line was ~29 M instructions of SigmaHQ's load).
fn split_documents(text: &str) -> Vec<(usize, Cow<'_, str>)> {
    let mut pieces = Vec::new();
    let (mut start_line, mut start, mut offset) = (1, 0, 0);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let end = offset + line.len();
        if line.trim_end() == "---" {
            pieces.push((start_line, &text[start..offset]));
            start_line = i + 2;
            start = end;
        }
        offset = end;
    }
    pieces.push((start_line, &text[start..]));
    pieces.into_iter().filter(|(_, doc)| !doc.trim().is_empty()).map(|(line, doc)| (line, as_lines(doc))).collect()
}

/// `doc`'s lines, each ended by `\n`: `doc` itself when it already is that.
fn as_lines(doc: &str) -> Cow<'_, str> {
    if doc.ends_with('\n') && !doc.contains('\r') {
        Cow::Borrowed(doc)
    } else {
        Cow::Owned(doc.lines().flat_map(|line| [line, "\n"]).collect())
    }
}

/// Deepest `[`/`{`/indentation nesting accepted (hostile YAML must not exhaust the stack).
const MAX_NESTING: usize = 64;

/// Parses every document of a Sigma file. A document that does not parse or breaks the
/// schema is an error; the others are returned.
pub fn parse_file(file: &str, text: &str) -> Vec<Result<Document, SigmaError>> {
    split_documents(text).into_iter().map(|(line, doc)| parse_document(file, line, &doc)).collect()
}

fn parse_document(file: &str, start: usize, text: &str) -> Result<Document, SigmaError> {
    let err = |line: usize, message: String| SigmaError { file: file.to_string(), line, message };
    if too_deep(text) {
        return Err(err(start, format!("YAML nested deeper than {MAX_NESTING} levels")));
    }
    let doc: Yaml = vigil_yaml::value_from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line()).unwrap_or(1);
        err(start + line.saturating_sub(1), format!("YAML: {e}"))
    })?;
    let Some(map) = doc.as_mapping() else {
        return Err(err(start, "a Sigma document must be a mapping".into()));
    };
    let key_line =
        |key: &str| -> usize { text.lines().position(|l| l.starts_with(&format!("{key}:"))).map(|i| start + i).unwrap_or(start) };
    let problems = crate::schema::check(map);
    if let Some((key, msg)) = problems.first() {
        let more = if problems.len() > 1 { format!(" (and {} more problems)", problems.len() - 1) } else { String::new() };
        return Err(err(key_line(key), format!("{key}: {msg}{more}")));
    }
    let meta = meta(map, file, start);
    if map.contains_key("correlation") {
        return Ok(Document::Correlation { meta, body: doc.clone() });
    }
    if map.contains_key("filter") {
        return Ok(Document::Filter { meta, body: doc.clone() });
    }
    let ls = map.get("logsource").and_then(Yaml::as_mapping);
    let ls_field = |k: &str| ls.and_then(|m| m.get(k)).and_then(Yaml::as_str).map(str::to_string);
    let detection = map.get("detection").and_then(Yaml::as_mapping).cloned().unwrap_or_default();
    Ok(Document::Rule(Rule {
        meta,
        logsource: LogSource { product: ls_field("product"), category: ls_field("category"), service: ls_field("service") },
        detection,
        text: text.to_string(),
    }))
}

/// Whether `[` and `{` nest deeper than [`MAX_NESTING`] in `text`. Measured only when there
/// are more openers than that (found with memchr): fewer cannot nest deeper, and a loop over
/// every byte of every rule cost ~15 M instructions.
fn too_deep(text: &str) -> bool {
    let bytes = text.as_bytes();
    if memchr::memchr2_iter(b'[', b'{', bytes).take(MAX_NESTING + 1).count() <= MAX_NESTING {
        return false;
    }
    let depth = bytes.iter().fold((0usize, 0usize), |(d, max), b| match b {
        b'[' | b'{' => (d + 1, max.max(d + 1)),
        b']' | b'}' => (d.saturating_sub(1), max),
        _ => (d, max),
    });
    depth.1 > MAX_NESTING
}

fn meta(map: &Mapping, file: &str, line: usize) -> RuleMeta {
    let s = |k: &str| map.get(k).and_then(Yaml::as_str).map(|s| s.trim().to_string());
    let list = |k: &str| -> Vec<String> {
        map.get(k).and_then(Yaml::as_sequence).map(|l| l.iter().filter_map(crate::value::scalar_text).collect()).unwrap_or_default()
    };
    RuleMeta {
        title: s("title").unwrap_or_default(),
        id: s("id"),
        name: s("name"),
        status: s("status"),
        level: s("level"),
        description: s("description"),
        author: s("author"),
        tags: list("tags"),
        falsepositives: list("falsepositives"),
        references: list("references"),
        file: file.to_string(),
        line,
    }
}

#[cfg(test)]
pub(crate) fn tests_split(text: &str) -> Vec<(usize, String)> {
    split_documents(text).into_iter().map(|(line, doc)| (line, doc.into_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_errors_with_lines() {
        let text = "title: A\nlogsource:\n  category: process_creation\ndetection:\n  sel:\n    Image: x\n  condition: sel\n---\ntitle: B\nlevel: severe\nlogsource: {}\ndetection:\n  condition: x\n---\ntitle: [\n";
        let docs = parse_file("r.yml", text);
        assert_eq!(docs.len(), 3);
        assert!(matches!(&docs[0], Ok(Document::Rule(r)) if r.meta.title == "A" && r.meta.line == 1));
        let e = docs[1].as_ref().unwrap_err();
        assert_eq!((e.line, e.message.starts_with("level:")), (10, true), "{e}");
        let e = docs[2].as_ref().unwrap_err();
        assert_eq!(e.line, 16, "{e}"); // where the parser noticed the unclosed `[`
    }

    /// The documents read line by line, each line copied (how files were split before).
    fn split_documents_by_line(text: &str) -> Vec<(usize, Cow<'_, str>)> {
        let mut docs = Vec::new();
        let mut cur = String::new();
        let mut start = 1;
        for (i, line) in text.lines().enumerate() {
            if line.trim_end() == "---" {
                if !cur.trim().is_empty() {
                    docs.push((start, Cow::Owned(std::mem::take(&mut cur))));
                }
                cur.clear();
                start = i + 2;
                continue;
            }
            cur.push_str(line);
            cur.push('\n');
        }
        if !cur.trim().is_empty() {
            docs.push((start, Cow::Owned(cur)));
        }
        docs
    }

    /// Documents sliced from the file are the texts read line by line.
    #[test]
    fn documents_sliced_as_read_by_line() {
        let texts = [
            "a: 1\n---\nb: 2\n",
            "---\na: 1\n---  \n\n---\nb: 2",
            "a: 1\r\n---\r\nb: 2\r\n",
            "a: 1\n---\nb: 2\r\n",
            "a: 'x\ry'\n---\r",
            "a: '---'\n  ---\n---\n",
            "",
            "\n\n",
        ];
        for text in texts {
            let sliced: Vec<(usize, String)> = split_documents(text).into_iter().map(|(l, d)| (l, d.into_owned())).collect();
            let by_line: Vec<(usize, String)> = split_documents_by_line(text).into_iter().map(|(l, d)| (l, d.into_owned())).collect();
            assert_eq!(sliced, by_line, "{text:?}");
        }
        assert!(matches!(split_documents("a: 1\n---\nb: 2\n")[1], (3, Cow::Borrowed("b: 2\n"))));
    }

    #[test]
    fn nesting_limit() {
        assert!(!too_deep(&"[".repeat(MAX_NESTING)));
        assert!(too_deep(&"{".repeat(MAX_NESTING + 1)));
        assert!(!too_deep(&"[]".repeat(MAX_NESTING + 1)));
    }
}
