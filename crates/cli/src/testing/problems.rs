//! Problems (failures) and warnings found in one content file, each located by the line of
//! the key it is about.

/// Problems (failures) and warnings found in one file.
pub struct Problems<'a> {
    pub file: String,
    pub text: &'a str,
    pub list: Vec<String>,
    pub warnings: Vec<String>,
}

impl Problems<'_> {
    fn at(&self, key: &str, line: Option<usize>, msg: &str) -> String {
        let at = line.map(|l| format!(":{l}")).unwrap_or_default();
        format!("{}{at}: {key}: {msg}", self.file)
    }

    pub fn add(&mut self, key: &str, line: Option<usize>, msg: impl AsRef<str>) {
        let m = self.at(key, line, msg.as_ref());
        self.list.push(m);
    }

    pub fn warn(&mut self, key: &str, line: Option<usize>, msg: impl AsRef<str>) {
        let m = self.at(key, line, msg.as_ref());
        self.warnings.push(m);
    }

    fn line_of(&self, path: &[&str]) -> Option<usize> {
        key_line(self.text, path).or_else(|| key_line(self.text, &path[..path.len().saturating_sub(1).max(1)]))
    }

    /// A problem with a key, located by scanning for the key path in the text.
    pub fn key(&mut self, path: &[&str], msg: impl AsRef<str>) {
        let line = self.line_of(path);
        self.add(&path.join("."), line, msg);
    }

    pub fn warn_key(&mut self, path: &[&str], msg: impl AsRef<str>) {
        let line = self.line_of(path);
        self.warn(&path.join("."), line, msg);
    }
}

/// 1-based line of a key path (`["tags", "product"]`): each key is searched after its parent,
/// more indented than it (a list item's `- key:` counts).
pub fn key_line(text: &str, path: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for key in path {
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(start) {
            let indent = line.len() - line.trim_start().len();
            let body = line.trim_start();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if let Some(pi) = parent_indent {
                if indent <= pi && !body.starts_with('-') {
                    break; // left the parent's block
                }
            }
            let body = body.strip_prefix("- ").map(str::trim_start).unwrap_or(body);
            let matches = body.strip_prefix(key).is_some_and(|r| r.starts_with(':'));
            let at_level = match parent_indent {
                None => indent == 0,
                Some(pi) => indent > pi || line.trim_start().starts_with("- "),
            };
            if matches && at_level {
                hit = Some((i, indent));
                break;
            }
        }
        let (i, indent) = hit?;
        found = Some(i + 1);
        start = i + 1;
        parent_indent = Some(indent);
    }
    found
}

/// 1-based line of the first line at or after a key path containing `needle` (a list value, a
/// `field: x` entry).
pub fn value_line(text: &str, path: &[&str], needle: &str) -> Option<usize> {
    let from = key_line(text, path)?;
    text.lines().enumerate().skip(from - 1).find(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1).or(Some(from))
}
