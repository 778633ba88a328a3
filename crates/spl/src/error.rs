use crate::ast::Span;

/// What went wrong in the SPL front end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not follow SPL grammar.
    Syntax,
    /// A command Vigil does not implement (named, so `content check` can report it).
    UnsupportedCommand(String),
    /// A function Vigil does not implement.
    UnsupportedFunction(String),
    /// A backtick macro with no definition for that name and argument count.
    UnknownMacro(String),
    /// A macro that expands (directly or not) to itself.
    MacroCycle(String),
    /// A resource limit: expansion depth or size, token count, nesting depth.
    Limit,
}

/// An error with the span it concerns, renderable with a caret under the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SplError {
    pub kind: ErrorKind,
    pub message: String,
    pub span: Span,
}

impl SplError {
    pub fn new(kind: ErrorKind, message: impl Into<String>, span: Span) -> SplError {
        SplError { kind, message: message.into(), span }
    }

    pub fn syntax(message: impl Into<String>, span: Span) -> SplError {
        SplError::new(ErrorKind::Syntax, message, span)
    }

    /// 1-based line and column (in characters) of the error's start within `text`.
    pub fn line_col(&self, text: &str) -> (usize, usize) {
        line_col(text, self.span.start)
    }

    /// Renders the error for a person:
    ///
    /// ```text
    /// error: unsupported command `xmlkv`
    ///  --> search:1:42
    ///   |
    /// 1 | | tstats count from datamodel=Endpoint.Processes | xmlkv
    ///   |                                                    ^^^^^
    /// ```
    /// `label` names where the text came from (`search`, `path/to/detection.yml`).
    pub fn render(&self, text: &str, label: &str) -> String {
        let (line_no, col) = self.line_col(text);
        let line = text.lines().nth(line_no - 1).unwrap_or("");
        let start = self.span.start.min(text.len());
        let end = self.span.end.clamp(start, text.len());
        // Underline at most to the end of the line.
        let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line_end = line_start + line.len();
        let width = text.get(start..end.min(line_end).max(start)).map(|s| s.chars().count()).unwrap_or(0).max(1);
        let gutter = line_no.to_string().len();
        // Long lines (a whole ESCU search is one line) are shown as a window around the caret.
        let chars: Vec<char> = line.chars().collect();
        let (shown, caret_col, width) = if chars.len() > MAX_SHOWN {
            let from = (col - 1).saturating_sub(CONTEXT_BEFORE);
            let to = (from + MAX_SHOWN).min(chars.len());
            let mut shown: String = chars[from..to].iter().collect();
            let mut caret_col = col - from;
            if from > 0 {
                shown.insert_str(0, "...");
                caret_col += 3;
            }
            if to < chars.len() {
                shown.push_str("...");
            }
            (shown, caret_col, width.min(to.saturating_sub(col - 1)).max(1))
        } else {
            (line.to_string(), col, width)
        };
        format!(
            "error: {msg}\n{pad} --> {label}:{line_no}:{col}\n{pad} |\n{line_no} | {shown}\n{pad} | {sp}{carets}",
            msg = self.message,
            pad = " ".repeat(gutter),
            sp = " ".repeat(caret_col - 1),
            carets = "^".repeat(width),
        )
    }
}

/// Longest part of a line shown under an error, in characters.
const MAX_SHOWN: usize = 120;
/// Characters shown before the error's column when a line is cut.
const CONTEXT_BEFORE: usize = 40;

/// 1-based (line, column) of a byte offset; columns count characters, not bytes.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|s| s.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let text = "| tstats count | xmlkv";
        let e = SplError::new(ErrorKind::UnsupportedCommand("xmlkv".into()), "unsupported command `xmlkv`", Span::new(17, 22));
        let r = e.render(text, "search");
        assert!(r.contains("search:1:18"), "{r}");
        assert!(r.ends_with("                 ^^^^^"), "{r}");
    }

    #[test]
    fn long_lines_show_a_window_around_the_caret() {
        let text = format!("{} | xmlkv {}", "a".repeat(300), "b".repeat(300));
        let e = SplError::syntax("bad", Span::new(303, 308));
        let r = e.render(&text, "search");
        let lines: Vec<&str> = r.lines().collect();
        let code = lines[3];
        let carets = lines[4];
        assert!(code.len() < 140, "{code}");
        let caret_at = carets.find('^').unwrap();
        assert_eq!(&code[caret_at..caret_at + 5], "xmlkv", "{r}");
        assert!(r.contains("search:1:304"), "{r}");
    }

    #[test]
    fn line_col_on_second_line() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
