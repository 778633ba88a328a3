//! On-demand tokenizer for SPL.
//!
//! SPL has no single token grammar: `Processes.process=*\\C$\\*` is a field, `=` and a
//! wildcard value in a search, while `a.b+1` is an identifier, `+` and a number in `eval`.
//! So the lexer is driven by the parser, which asks for the next token in a [`Mode`] at a byte
//! position; it never runs ahead. All positions are byte offsets into the whole text, so
//! spans stay valid for sub-ranges (commands, subsearches).

use crate::ast::Span;
use crate::SplError;
use std::borrow::Cow;

/// How to cut the next token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Search/command arguments: a word runs to whitespace or one of `( ) [ ] , | = < >`
    /// (and `!` before `=`). Quoted segments glued to unquoted text form one word, as in
    /// Splunk: `"Processes".*` is the word `Processes.*`.
    Word,
    /// A search value after `=` and friends: like `Word`, except that a value starting with a
    /// quote ends at the closing quote (`x="a"y=b` is two terms), and parentheses opened inside
    /// an unquoted value belong to it when balanced (`*GetCurrent()*`).
    Value,
    /// eval/where expressions: identifiers, numbers, `"strings"`, `'field refs'`, operators.
    Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sym {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Pipe,
    Eq,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Dot,
}

impl Sym {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Sym::LParen => "(",
            Sym::RParen => ")",
            Sym::LBracket => "[",
            Sym::RBracket => "]",
            Sym::Comma => ",",
            Sym::Pipe => "|",
            Sym::Eq => "=",
            Sym::EqEq => "==",
            Sym::Ne => "!=",
            Sym::Lt => "<",
            Sym::Le => "<=",
            Sym::Gt => ">",
            Sym::Ge => ">=",
            Sym::Plus => "+",
            Sym::Minus => "-",
            Sym::Star => "*",
            Sym::Slash => "/",
            Sym::Percent => "%",
            Sym::Dot => ".",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok<'a> {
    /// A word (Word mode) or an identifier (Expr mode), escapes resolved. `quoted` is true
    /// when the whole word was one `"..."` string. Borrowed from the source when that is its
    /// text, so that peeking a token (often several times) allocates nothing.
    Word {
        text: Cow<'a, str>,
        quoted: bool,
    },
    /// `"..."` in Expr mode; borrowed like a word's text.
    Str(Cow<'a, str>),
    /// `'...'` in Expr mode: a field name; borrowed like a word's text.
    FieldRef(Cow<'a, str>),
    /// A number in Expr mode.
    Num(f64),
    Sym(Sym),
    Eof,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub span: Span,
}

impl Token<'_> {
    /// A human description for error messages.
    pub(crate) fn describe(&self) -> String {
        match &self.tok {
            Tok::Word { text, quoted: true } => format!("string \"{text}\""),
            Tok::Str(text) => format!("string \"{text}\""),
            Tok::Word { text, .. } => format!("`{text}`"),
            Tok::FieldRef(t) => format!("'{t}'"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Sym(s) => format!("`{}`", s.as_str()),
            Tok::Eof => "end of command".to_string(),
        }
    }

    /// The unquoted word text, if this is an unquoted word.
    pub(crate) fn bare_word(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word { text, quoted: false } => Some(text),
            _ => None,
        }
    }

    /// True for an unquoted word equal to `kw`, ignoring ASCII case.
    pub(crate) fn is_keyword(&self, kw: &str) -> bool {
        self.bare_word().is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }

    pub(crate) fn is_sym(&self, s: Sym) -> bool {
        self.tok == Tok::Sym(s)
    }
}

/// Characters that end an unquoted word in Word mode.
fn is_word_stop(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ',' | '|' | '=' | '<' | '>' | '"')
}

/// Resolves SPL escapes in the body of a quoted string (or an unquoted word): `\\` is one
/// backslash and `\"` a quote; a backslash before anything else stays as written, so
/// `"C:\Windows\*"` and regexes like `\d` keep their backslashes.
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    unescape_into(&mut out, raw);
    out
}

/// [`unescape`] appended to `out`: the text between backslashes is copied as a run, so a word
/// without escapes (nearly all of them) costs one copy and no string of its own.
pub(crate) fn unescape_into(out: &mut String, raw: &str) {
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match rest.as_bytes().get(i + 1) {
            Some(&b) if b == b'\\' || b == b'"' => {
                out.push(char::from(b));
                rest = &rest[i + 2..];
            }
            _ => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
}

/// True when `bytes[i]` is a backslash escaping a quote or a backslash: outside quoted strings
/// too, `\"` is a literal quote (it opens no string) and `\\` a literal backslash.
pub(crate) fn is_escape_at(bytes: &[u8], i: usize) -> bool {
    bytes.get(i) == Some(&b'\\') && matches!(bytes.get(i + 1), Some(b'"' | b'\\'))
}

/// Finds the end of a `quote`-delimited string whose opening quote is at `start`; returns the
/// byte offset just past the closing quote. Backslash escapes the next character.
pub(crate) fn scan_quoted(src: &str, start: usize, end: usize, quote: u8) -> Result<usize, SplError> {
    let bytes = src.as_bytes();
    let mut i = start + 1;
    while i < end {
        match bytes.get(i) {
            Some(b'\\') => i += 2,
            Some(&b) if b == quote => return Ok(i + 1),
            _ => i += 1,
        }
    }
    let (_, col) = crate::line_col(src, start);
    Err(SplError::syntax(format!("unterminated string: the quote opened at column {col} is never closed"), Span::new(start, end)))
}

/// The tokenizer over `src[..end]`.
#[derive(Clone, Copy)]
pub(crate) struct Lexer<'a> {
    pub src: &'a str,
    pub end: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str, end: usize) -> Lexer<'a> {
        Lexer { src, end: end.min(src.len()) }
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        if pos >= self.end {
            return None;
        }
        self.src.get(pos..self.end).and_then(|s| s.chars().next())
    }

    /// Skips whitespace from `pos`.
    pub(crate) fn skip_ws(&self, mut pos: usize) -> usize {
        // ASCII bytes without decoding a char each; anything else goes through `char_at`.
        while let Some(&b) = self.src.as_bytes().get(pos).filter(|_| pos < self.end) {
            match b {
                b' ' | b'\t'..=b'\r' => pos += 1,
                0x80.. => break,
                _ => return pos,
            }
        }
        while let Some(c) = self.char_at(pos) {
            if !c.is_whitespace() {
                break;
            }
            pos += c.len_utf8();
        }
        pos
    }

    /// Lexes one token starting at (or after whitespace from) `pos`.
    pub(crate) fn lex(&self, pos: usize, mode: Mode) -> Result<Token<'a>, SplError> {
        let start = self.skip_ws(pos);
        let Some(c) = self.char_at(start) else {
            return Ok(Token { tok: Tok::Eof, span: Span::new(self.end, self.end) });
        };
        let next = self.char_at(start + c.len_utf8());
        let sym = |s: Sym, len: usize| Ok(Token { tok: Tok::Sym(s), span: Span::new(start, start + len) });
        match c {
            '(' => return sym(Sym::LParen, 1),
            ')' => return sym(Sym::RParen, 1),
            '[' => return sym(Sym::LBracket, 1),
            ']' => return sym(Sym::RBracket, 1),
            ',' => return sym(Sym::Comma, 1),
            '|' => return sym(Sym::Pipe, 1),
            '=' if next == Some('=') => return sym(Sym::EqEq, 2),
            '=' => return sym(Sym::Eq, 1),
            '!' if next == Some('=') => return sym(Sym::Ne, 2),
            '<' if next == Some('=') => return sym(Sym::Le, 2),
            '<' => return sym(Sym::Lt, 1),
            '>' if next == Some('=') => return sym(Sym::Ge, 2),
            '>' => return sym(Sym::Gt, 1),
            _ => {}
        }
        match mode {
            Mode::Word => self.lex_word(start, false),
            Mode::Value => self.lex_word(start, true),
            Mode::Expr => self.lex_expr(start, c),
        }
    }

    fn lex_word(&self, start: usize, value: bool) -> Result<Token<'a>, SplError> {
        if let Some(end) = self.plain_word_end(start, value) {
            let text = Cow::Borrowed(self.src.get(start..end).unwrap_or(""));
            return Ok(Token { tok: Tok::Word { text, quoted: false }, span: Span::new(start, end) });
        }
        self.lex_word_general(start, value)
    }

    /// The end of the word at `start` when it is plain ASCII without quotes, escapes or any
    /// byte whose meaning depends on the mode's finer rules (`( ) = < > !` in a value), so its
    /// text is the source slice as is; `None` sends the word to the general loop. Nearly all
    /// words are plain: decoding them a char at a time was most of the parser's cost.
    fn plain_word_end(&self, start: usize, value: bool) -> Option<usize> {
        let bytes = self.src.as_bytes().get(..self.end)?;
        let mut pos = start;
        while let Some(&b) = bytes.get(pos) {
            match b {
                b' ' | b'\t'..=b'\r' | b'[' | b']' | b',' | b'|' => break,
                b'(' | b')' | b'=' | b'<' | b'>' if !value => break,
                b'"' | b'\\' | b'!' | b'(' | b')' | b'=' | b'<' | b'>' | 0x80.. => return None,
                _ => pos += 1,
            }
        }
        (pos > start).then_some(pos)
    }

    fn lex_word_general(&self, start: usize, value: bool) -> Result<Token<'a>, SplError> {
        let mut pos = start;
        let mut text = String::new();
        let mut segments = 0;
        let mut all_quoted = true;
        let mut parens = 0usize;
        while let Some(c) = self.char_at(pos) {
            if c == '"' {
                let close = scan_quoted(self.src, pos, self.end, b'"')?;
                unescape_into(&mut text, self.src.get(pos + 1..close - 1).unwrap_or(""));
                pos = close;
                segments += 1;
                if value && pos == close && segments == 1 {
                    break;
                }
                continue;
            }
            let stops = |c: char, at: usize, parens: usize| {
                // After `field=`, Splunk reads the value up to whitespace: `uri=*id=*`,
                // `q=*<script>*` and `f=a!=b` are one value each.
                if value && at > start && (matches!(c, '(' | '=' | '<' | '>' | '!') || (c == ')' && parens > 0)) {
                    return false;
                }
                is_word_stop(c) || (c == '!' && self.char_at(at + 1) == Some('='))
            };
            if stops(c, pos, parens) {
                break;
            }
            let seg_start = pos;
            while let Some(c) = self.char_at(pos) {
                // `\"` and `\\` are escapes in an unquoted word too: `x=\"a\"` is the value `"a"`.
                if pos < self.end.saturating_sub(1) && is_escape_at(self.src.as_bytes(), pos) {
                    pos += 2;
                    continue;
                }
                if stops(c, pos, parens) {
                    break;
                }
                if value && c == '(' {
                    parens += 1;
                } else if value && c == ')' {
                    parens -= 1;
                }
                pos += c.len_utf8();
            }
            unescape_into(&mut text, self.src.get(seg_start..pos).unwrap_or(""));
            segments += 1;
            all_quoted = false;
        }
        if pos == start {
            // Only reachable for a lone `!` followed by `=`, handled as a symbol above.
            return Err(SplError::syntax("unexpected character", Span::new(start, start + 1)));
        }
        Ok(Token { tok: Tok::Word { text: Cow::Owned(text), quoted: all_quoted && segments == 1 }, span: Span::new(start, pos) })
    }

    fn lex_expr(&self, start: usize, c: char) -> Result<Token<'a>, SplError> {
        let sym = |s: Sym| Ok(Token { tok: Tok::Sym(s), span: Span::new(start, start + 1) });
        match c {
            '+' => return sym(Sym::Plus),
            '-' => return sym(Sym::Minus),
            '*' => return sym(Sym::Star),
            '/' => return sym(Sym::Slash),
            '%' => return sym(Sym::Percent),
            '.' if !self.char_at(start + 1).is_some_and(|d| d.is_ascii_digit()) => return sym(Sym::Dot),
            '"' => {
                let close = scan_quoted(self.src, start, self.end, b'"')?;
                let body = self.src.get(start + 1..close - 1).unwrap_or("");
                let text = if body.contains('\\') { Cow::Owned(unescape(body)) } else { Cow::Borrowed(body) };
                return Ok(Token { tok: Tok::Str(text), span: Span::new(start, close) });
            }
            '\'' => {
                let close = scan_quoted(self.src, start, self.end, b'\'')?;
                let body = self.src.get(start + 1..close - 1).unwrap_or("");
                let text = if body.contains("\\'") { Cow::Owned(body.replace("\\'", "'")) } else { Cow::Borrowed(body) };
                return Ok(Token { tok: Tok::FieldRef(text), span: Span::new(start, close) });
            }
            _ => {}
        }
        if c.is_ascii_digit() || c == '.' {
            return self.lex_number(start);
        }
        if c.is_alphabetic() || c == '_' || c == '@' || c == '$' || c == '{' {
            let mut pos = start;
            while let Some(ch) = self.char_at(pos) {
                let ok = ch.is_alphanumeric()
                    || matches!(ch, '_' | '@' | '$' | '{' | '}')
                    || (ch == '.' && self.char_at(pos + 1).is_some_and(|n| n.is_alphanumeric() || n == '_' || n == '{'));
                if !ok {
                    break;
                }
                pos += ch.len_utf8();
            }
            let text = Cow::Borrowed(self.src.get(start..pos).unwrap_or(""));
            return Ok(Token { tok: Tok::Word { text, quoted: false }, span: Span::new(start, pos) });
        }
        Err(SplError::syntax(format!("unexpected character `{c}` in expression"), Span::new(start, start + c.len_utf8())))
    }

    fn lex_number(&self, start: usize) -> Result<Token<'a>, SplError> {
        let mut pos = start;
        let mut seen_dot = false;
        let mut seen_exp = false;
        while let Some(ch) = self.char_at(pos) {
            if ch.is_ascii_digit() {
                pos += 1;
            } else if ch == '.' && !seen_dot && !seen_exp {
                seen_dot = true;
                pos += 1;
            } else if (ch == 'e' || ch == 'E')
                && !seen_exp
                && pos > start
                && (self.char_at(pos + 1).is_some_and(|d| d.is_ascii_digit())
                    || (matches!(self.char_at(pos + 1), Some('+') | Some('-'))
                        && self.char_at(pos + 2).is_some_and(|d| d.is_ascii_digit())))
            {
                seen_exp = true;
                pos += 2;
            } else {
                break;
            }
        }
        let text = self.src.get(start..pos).unwrap_or("");
        let span = Span::new(start, pos);
        // Something like `10m` or `1h`: not a number; let the parser report it.
        if self.char_at(pos).is_some_and(|c| c.is_alphabetic() || c == '_') {
            let mut end = pos;
            while let Some(ch) = self.char_at(end) {
                if !(ch.is_alphanumeric() || ch == '_') {
                    break;
                }
                end += ch.len_utf8();
            }
            return Err(SplError::syntax(
                format!("`{}` is not a number or a field name", self.src.get(start..end).unwrap_or("")),
                Span::new(start, end),
            ));
        }
        match text.parse::<f64>() {
            Ok(n) => Ok(Token { tok: Tok::Num(n), span }),
            Err(_) => Err(SplError::syntax(format!("invalid number `{text}`"), span)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Tok<'_>> {
        let lx = Lexer::new(s, s.len());
        let mut pos = 0;
        let mut out = vec![];
        loop {
            let t = lx.lex(pos, Mode::Word).expect("lex");
            if t.tok == Tok::Eof {
                return out;
            }
            pos = t.span.end;
            out.push(t.tok);
        }
    }

    fn w(s: &str, quoted: bool) -> Tok<'_> {
        Tok::Word { text: s.into(), quoted }
    }

    #[test]
    fn words_and_symbols() {
        assert_eq!(
            words(r#"Processes.process=*\\C$\\* x!="a b" (y<=3)"#),
            vec![
                w("Processes.process", false),
                Tok::Sym(Sym::Eq),
                w(r"*\C$\*", false),
                w("x", false),
                Tok::Sym(Sym::Ne),
                w("a b", true),
                Tok::Sym(Sym::LParen),
                w("y", false),
                Tok::Sym(Sym::Le),
                w("3", false),
                Tok::Sym(Sym::RParen),
            ]
        );
    }

    #[test]
    fn quoted_glued_to_text_is_one_word() {
        assert_eq!(words(r#"rename "Processes".* AS *"#), vec![w("rename", false), w("Processes.*", false), w("AS", false), w("*", false)]);
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"C:\Windows\*"#), r"C:\Windows\*");
        assert_eq!(unescape(r#"a\\b\"c\d"#), r#"a\b"c\d"#);
        // Runs between escapes, escapes at either end, a lone trailing backslash, non-ASCII.
        for (raw, want) in [(r"", ""), (r"\\", "\\"), (r"\", "\\"), (r#"\"x\\"#, r#""x\"#), (r"é\né\\", "é\\né\\")] {
            assert_eq!(unescape(raw), want, "{raw}");
        }
        let mut acc = String::from("pre:");
        unescape_into(&mut acc, r#"a\"b"#);
        assert_eq!(acc, r#"pre:a"b"#);
        assert_eq!(words(r#""say \"hi\"""#), vec![w(r#"say "hi""#, true)]);
    }

    #[test]
    fn unterminated_string_errors() {
        let s = r#"x="abc"#;
        let e = Lexer::new(s, s.len()).lex(2, Mode::Word).unwrap_err();
        assert_eq!(e.span.start, 2);
        assert!(e.message.contains("column 3"), "{}", e.message);
    }

    #[test]
    fn expr_tokens() {
        let s = r#"a.b+1.5."x".'f g' Processes.dest"#;
        let lx = Lexer::new(s, s.len());
        let mut pos = 0;
        let mut out = vec![];
        loop {
            let t = lx.lex(pos, Mode::Expr).expect("lex");
            if t.tok == Tok::Eof {
                break;
            }
            pos = t.span.end;
            out.push(t.tok);
        }
        assert_eq!(
            out,
            vec![
                w("a.b", false),
                Tok::Sym(Sym::Plus),
                Tok::Num(1.5),
                Tok::Sym(Sym::Dot),
                Tok::Str("x".into()),
                Tok::Sym(Sym::Dot),
                Tok::FieldRef("f g".into()),
                w("Processes.dest", false),
            ]
        );
    }

    /// The plain-word shortcut cuts and spells every word as the general loop does, in both
    /// modes, whether it takes the word or hands it on.
    #[test]
    fn plain_words_lex_as_the_general_loop_does() {
        let texts = [
            r#"Processes.process_name=cmd.exe x!=y a!b (q) f(x) v=*GetCurrent()* u=*id=* w<3 c>=d"#,
            "a\tb\x0bc\x0cd\re\u{a0}f\u{85}g\u{2003}h é=ü [sub] a,b|c \"q\"x y\\\"z \x1fctl\x7f",
            "a=\"b\"c d=(e) g=h) k=l( *\\C$\\* m=n!o p=q<r>s",
        ];
        for text in texts {
            let lx = Lexer::new(text, text.len());
            for start in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
                for value in [false, true] {
                    if lx.plain_word_end(start, value).is_none() {
                        continue;
                    }
                    let general = lx.lex_word_general(start, value).expect("plain words lex");
                    assert_eq!(lx.lex_word(start, value).ok(), Some(general), "{text:?} at {start}, value {value}");
                }
            }
        }
        // The shortcut takes the common words and leaves the others.
        let lx = Lexer::new("Processes.dest x=\"a\" é", 22);
        assert_eq!(lx.plain_word_end(0, false), Some(14));
        assert_eq!(lx.plain_word_end(15, true), None);
        assert_eq!(lx.plain_word_end(17, true), None);
        assert_eq!(lx.plain_word_end(21, false), None);
    }

    #[test]
    fn skip_ws_skips_ascii_and_unicode_whitespace() {
        let text = " \t\x0b\x0c\r\n\u{a0}\u{3000}x \x1f";
        let lx = Lexer::new(text, text.len());
        assert_eq!(&text[lx.skip_ws(0)..], "x \x1f");
        assert_eq!(lx.skip_ws(text.len() - 1), text.len() - 1);
        assert_eq!(Lexer::new(text, 3).skip_ws(0), 3);
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for s in ["\"", "'", "é=\"", "!", "1e", "1e+", ".", "\\", "a\"b"] {
            let lx = Lexer::new(s, s.len());
            let _ = lx.lex(0, Mode::Word);
            let _ = lx.lex(0, Mode::Expr);
        }
    }
}
