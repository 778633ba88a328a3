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
        let width = text
            .get(start..end.min(line_end).max(start))
            .map(|s| s.chars().count())
            .unwrap_or(0)
            .max(1);
        let gutter = line_no.to_string().len();
        format!(
            "error: {msg}\n{pad} --> {label}:{line_no}:{col}\n{pad} |\n{line_no} | {line}\n{pad} | {sp}{carets}",
            msg = self.message,
            pad = " ".repeat(gutter),
            sp = " ".repeat(col - 1),
            carets = "^".repeat(width),
        )
    }
}

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
        let e = SplError::new(
            ErrorKind::UnsupportedCommand("xmlkv".into()),
            "unsupported command `xmlkv`",
            Span::new(17, 22),
        );
        let r = e.render(text, "search");
        assert!(r.contains("search:1:18"), "{r}");
        assert!(r.ends_with("                 ^^^^^"), "{r}");
    }

    #[test]
    fn line_col_on_second_line() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
