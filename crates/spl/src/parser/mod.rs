//! Recursive-descent parser from (macro-expanded) SPL text to [`crate::ast`].
//!
//! The text is first cut into commands at top-level `|` (not inside quotes or `[...]`); each
//! command is parsed within its own byte range by a [`Parser`] that pulls tokens from the
//! [`Lexer`] in the mode the grammar needs at that point. Every command must consume its whole
//! range, so trailing garbage is an error rather than silently ignored.

mod chart;
mod commands;
mod eval;
mod search;
mod stats;

use crate::ast::{Command, CommandKind, Expr, Pipeline, SearchExpr, Span};
use crate::lexer::{is_escape_at, scan_quoted, Lexer, Mode, Sym, Tok, Token};
use crate::{ErrorKind, SplError};
use std::cell::RefCell;

/// Nesting bound for parentheses, subsearches and unary chains.
pub(crate) const MAX_DEPTH: usize = 256;

/// Binary operators allowed in one command's eval expressions. `a+a+...+a` parses without
/// recursion but makes a tree as deep as it is long, which planning, evaluation and drop walk
/// recursively: 5000 operators overflowed the stack.
pub(crate) const MAX_OPERATORS: usize = 1000;

// The commands the parser knows and how each is parsed: one table that both the dispatch in
// `parse_command` and [`SUPPORTED_COMMANDS`] come from. A new command is one line here (and
// its `CommandKind`, which the engine's planner must then handle: its match is exhaustive).
macro_rules! commands {
    ($($($name:literal)|+ => $parse:expr;)*) => {
        /// Commands the parser understands; anything else is [`ErrorKind::UnsupportedCommand`].
        pub const SUPPORTED_COMMANDS: &[&str] = &[$($($name),+),*];

        /// Parses the body of command `name`, or `None` for an unknown command.
        fn parse_body(name: &str, p: &mut Parser) -> Option<Result<CommandKind, SplError>> {
            let parse: fn(&mut Parser) -> Result<CommandKind, SplError> = match name {
                $($($name)|+ => $parse,)*
                _ => return None,
            };
            Some(parse(p))
        }
    };
}

commands! {
    "search" => |p| Ok(CommandKind::Search(p.search_expr(false)?));
    "tstats" => |p| Ok(CommandKind::Tstats(p.tstats()?));
    "where" => |p| Ok(CommandKind::Where(p.expr()?));
    "eval" => |p| Ok(CommandKind::Eval(p.eval_assignments()?));
    "stats" => |p| Ok(CommandKind::Stats(p.stats()?));
    "eventstats" => |p| Ok(CommandKind::Eventstats(p.stats()?));
    "rename" => |p| Ok(CommandKind::Rename(p.rename()?));
    "table" => |p| Ok(CommandKind::Table(p.field_list(false)?));
    "fields" => |p| p.fields();
    "dedup" => |p| Ok(CommandKind::Dedup(p.dedup()?));
    "sort" => |p| Ok(CommandKind::Sort(p.sort()?));
    "head" => |p| Ok(CommandKind::Head(p.head()?));
    "convert" => |p| Ok(CommandKind::Convert(p.convert()?));
    "join" => |p| Ok(CommandKind::Join(p.join()?));
    "lookup" => |p| Ok(CommandKind::Lookup(p.lookup()?));
    "inputlookup" => |p| Ok(CommandKind::Inputlookup(p.inputlookup()?));
    "rex" => |p| Ok(CommandKind::Rex(p.rex()?));
    "regex" => |p| Ok(CommandKind::Regex(p.regex()?));
    "fillnull" => |p| Ok(CommandKind::Fillnull(p.fillnull()?));
    "bin" | "bucket" => |p| Ok(CommandKind::Bin(p.bin()?));
    "mvexpand" => |p| p.mvexpand();
    "makemv" => |p| p.makemv();
    "xmlkv" => |p| p.xmlkv();
    "foreach" => |p| p.foreach();
    "replace" => |p| p.replace();
    "spath" => |p| p.spath();
    "transaction" => |p| Ok(CommandKind::Transaction(p.transaction()?));
    "top" => |p| Ok(CommandKind::TopRare(p.top_rare(false)?));
    "rare" => |p| Ok(CommandKind::TopRare(p.top_rare(true)?));
    "timechart" => |p| Ok(CommandKind::Timechart(p.timechart()?));
}

/// Parses a macro-expanded search into a pipeline.
pub fn parse(text: &str) -> Result<Pipeline, SplError> {
    parse_pipeline(text, 0, text.len(), 0)
}

/// Parses a standalone search expression (as after `search` or tstats `where`).
pub fn parse_search_expr(text: &str) -> Result<SearchExpr, SplError> {
    let mut p = Parser::new(text, 0, text.len(), 0);
    let e = p.search_expr(false)?;
    p.expect_end()?;
    Ok(e)
}

/// Parses a standalone eval expression.
pub fn parse_eval_expr(text: &str) -> Result<Expr, SplError> {
    let mut p = Parser::new(text, 0, text.len(), 0);
    let e = p.expr()?;
    p.expect_end()?;
    Ok(e)
}

/// Parses `text[start..end]` as a pipeline (the whole search or a subsearch's body).
pub(crate) fn parse_pipeline(text: &str, start: usize, end: usize, depth: usize) -> Result<Pipeline, SplError> {
    if depth > MAX_DEPTH {
        return Err(SplError::new(ErrorKind::Limit, format!("subsearches nest deeper than {MAX_DEPTH}"), Span::new(start, end)));
    }
    let segments = split_commands(text, start, end)?;
    let lexer = Lexer::new(text, end);
    let first = lexer.skip_ws(start);
    let leading_pipe = text.as_bytes().get(first) == Some(&b'|') && first < end;
    // An unsupported command anywhere is reported first: it is the more useful diagnosis
    // (for `content check`) than a syntax quirk in an earlier command.
    for (i, (s, e)) in segments.iter().copied().enumerate() {
        if i == 0 {
            continue;
        }
        if let Ok(t) = Parser::new(text, s, e, depth).peek(Mode::Word) {
            if let Some(w) = t.bare_word() {
                let name = w.to_ascii_lowercase();
                if !SUPPORTED_COMMANDS.contains(&name.as_str()) {
                    return Err(unsupported(&name, t.span));
                }
            }
        }
    }
    let mut commands = Vec::new();
    for (i, (s, e)) in segments.iter().copied().enumerate() {
        let body_start = Lexer::new(text, e).skip_ws(s);
        if i == 0 && !leading_pipe && !Parser::new(text, s, e, depth).peek(Mode::Word)?.is_keyword("search") {
            // The implicit leading search; an empty one (or `*`) matches everything.
            let mut p = Parser::new(text, s, e, depth);
            let expr = p.search_expr(false)?;
            p.expect_end()?;
            commands.push(Command {
                name: "search".into(),
                span: Span::new(body_start, trim_end(text, s, e)),
                kind: CommandKind::Search(expr),
            });
            continue;
        }
        if i == 0 && leading_pipe {
            // Text before the leading `|` is whitespace only.
            continue;
        }
        if body_start >= e {
            return Err(SplError::syntax("empty command: expected a command name after `|`", Span::new(s.saturating_sub(1), e)));
        }
        commands.push(parse_command(text, s, e, depth)?);
    }
    if commands.is_empty() {
        return Err(SplError::syntax("empty search", Span::new(start, end)));
    }
    Ok(Pipeline { commands, span: Span::new(first.min(end), trim_end(text, start, end)) })
}

fn trim_end(text: &str, start: usize, end: usize) -> usize {
    let s = text.get(start..end).unwrap_or("");
    start + s.trim_end().len()
}

/// Byte ranges of the commands in `text[start..end]`, split at `|` outside quotes and
/// brackets. The ranges exclude the `|` itself; the first one is what precedes the first `|`.
fn split_commands(text: &str, start: usize, end: usize) -> Result<Vec<(usize, usize)>, SplError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut seg_start = start;
    let mut brackets: Vec<usize> = Vec::new();
    let mut i = start;
    while i < end {
        match bytes.get(i) {
            Some(b'\\') if is_escape_at(bytes, i) => {
                i += 2;
                continue;
            }
            Some(b'"') => {
                i = scan_quoted(text, i, end, b'"')?;
                continue;
            }
            Some(b'[') => brackets.push(i),
            Some(b']') if brackets.pop().is_none() => {
                return Err(SplError::syntax("unexpected `]` without a matching `[`", Span::new(i, i + 1)));
            }
            Some(b'|') if brackets.is_empty() => {
                out.push((seg_start, i));
                seg_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(&open) = brackets.last() {
        let (_, col) = crate::line_col(text, open);
        return Err(SplError::syntax(format!("expected `]` to close `[` opened at column {col}"), Span::new(open, end)));
    }
    out.push((seg_start, end));
    Ok(out)
}

fn unsupported(name: &str, span: Span) -> SplError {
    SplError::new(ErrorKind::UnsupportedCommand(name.to_string()), format!("unsupported command `{name}`"), span)
}

/// Parses one command in `text[start..end]` (without its leading `|`).
fn parse_command(text: &str, start: usize, end: usize, depth: usize) -> Result<Command, SplError> {
    let mut p = Parser::new(text, start, end, depth);
    let name_tok = p.next(Mode::Word)?;
    let Some(raw_name) = name_tok.bare_word() else {
        return Err(SplError::syntax(format!("expected a command name, found {}", name_tok.describe()), name_tok.span));
    };
    let name = raw_name.to_ascii_lowercase();
    let Some(kind) = parse_body(&name, &mut p) else {
        return Err(unsupported(&name, name_tok.span));
    };
    let kind = kind?;
    p.expect_end()?;
    Ok(Command { name, span: Span::new(name_tok.span.start, trim_end(text, start, end)), kind })
}

/// Token cursor over one command's byte range.
pub(crate) struct Parser<'a> {
    pub(crate) src: &'a str,
    pub(crate) lexer: Lexer<'a>,
    pub(crate) pos: usize,
    /// Nesting depth (parentheses, subsearches) so far.
    pub(crate) depth: usize,
    /// Binary operators parsed so far (see [`MAX_OPERATORS`]).
    pub(crate) operators: usize,
    /// The last two tokens lexed: (position, mode, token). The grammar peeks the same token
    /// once per precedence level before taking it, and one token ahead of it (`peek2`, then the
    /// same token again after `next`); lexing is a function of (position, mode).
    cache: RefCell<[Option<(usize, Mode, Token<'a>)>; 2]>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, start: usize, end: usize, depth: usize) -> Parser<'a> {
        Parser { src, lexer: Lexer::new(src, end), pos: start, depth, operators: 0, cache: RefCell::new([None, None]) }
    }

    /// The token at `pos` in `mode`, from the cache when it was lexed there.
    fn lex_at(&self, pos: usize, mode: Mode) -> Result<Token<'a>, SplError> {
        let mut cache = self.cache.borrow_mut();
        if let Some((_, _, t)) = cache.iter().flatten().find(|(p, m, _)| *p == pos && *m == mode) {
            return Ok(t.clone());
        }
        let t = self.lexer.lex(pos, mode)?;
        // The older entry makes way; the newer one is usually the token before this one.
        cache.swap(0, 1);
        cache[1] = Some((pos, mode, t.clone()));
        Ok(t)
    }

    pub(crate) fn end(&self) -> usize {
        self.lexer.end
    }

    pub(crate) fn peek(&self, mode: Mode) -> Result<Token<'a>, SplError> {
        self.lex_at(self.pos, mode)
    }

    /// The token after the next one.
    pub(crate) fn peek2(&self, mode: Mode) -> Result<Token<'a>, SplError> {
        let end = self.lex_at(self.pos, mode)?.span.end;
        self.lex_at(end, mode)
    }

    /// Takes the next token: out of the cache when it is there (the parser never moves back,
    /// so a token taken is not asked for again), else lexed.
    pub(crate) fn next(&mut self, mode: Mode) -> Result<Token<'a>, SplError> {
        let pos = self.pos;
        let cached = self.cache.get_mut().iter_mut().find(|e| matches!(e, Some((p, m, _)) if *p == pos && *m == mode));
        let t = match cached.and_then(Option::take) {
            Some((_, _, t)) => t,
            None => self.lexer.lex(pos, mode)?,
        };
        self.pos = t.span.end;
        Ok(t)
    }

    pub(crate) fn at_end(&self) -> Result<bool, SplError> {
        Ok(self.peek(Mode::Word)?.tok == Tok::Eof)
    }

    pub(crate) fn expect_end(&mut self) -> Result<(), SplError> {
        let t = self.peek(Mode::Word)?;
        match t.tok {
            Tok::Eof => Ok(()),
            Tok::Sym(Sym::RParen) => Err(SplError::syntax("unexpected `)` without a matching `(`", t.span)),
            _ => Err(SplError::syntax(format!("unexpected {}", t.describe()), t.span)),
        }
    }

    /// Consumes the symbol `s` if it is next.
    pub(crate) fn eat_sym(&mut self, s: Sym, mode: Mode) -> Result<bool, SplError> {
        if self.peek(mode)?.is_sym(s) {
            self.next(mode)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Consumes an unquoted keyword (any case) if it is next.
    pub(crate) fn eat_keyword(&mut self, kw: &str) -> Result<bool, SplError> {
        if self.peek(Mode::Word)?.is_keyword(kw) {
            self.next(Mode::Word)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Expects `)` closing the `(` at `open`.
    pub(crate) fn expect_close(&mut self, open: Span, mode: Mode) -> Result<(), SplError> {
        let t = self.peek(mode)?;
        if t.is_sym(Sym::RParen) {
            self.next(mode)?;
            return Ok(());
        }
        let (_, col) = crate::line_col(self.src, open.start);
        // At the end of the command, point at the unclosed `(` rather than at nothing.
        let span = if t.tok == Tok::Eof { open } else { t.span };
        Err(SplError::syntax(format!("expected `)` to close `(` opened at column {col}, found {}", t.describe()), span))
    }

    /// A word (quoted or not) such as a field name or option value.
    pub(crate) fn word(&mut self, what: &str) -> Result<(String, Span), SplError> {
        self.word_in(what, Mode::Word)
    }

    /// A word lexed in `mode` ([`Mode::Value`] lets a name like `aceFlags(inheritance)` keep
    /// its parentheses).
    pub(crate) fn word_in(&mut self, what: &str, mode: Mode) -> Result<(String, Span), SplError> {
        let t = self.next(mode)?;
        match t.tok {
            Tok::Word { text, .. } => Ok((text.into_owned(), t.span)),
            _ => Err(SplError::syntax(format!("expected {what}, found {}", t.describe()), t.span)),
        }
    }

    /// `name=value` if the next tokens are a bare word followed by `=`.
    pub(crate) fn option(&mut self) -> Result<Option<(String, String, Span)>, SplError> {
        let t = self.peek(Mode::Word)?;
        let Some(name) = t.bare_word().map(str::to_string) else { return Ok(None) };
        if !self.peek2(Mode::Word)?.is_sym(Sym::Eq) {
            return Ok(None);
        }
        self.next(Mode::Word)?;
        let eq = self.next(Mode::Word)?;
        let v = self.next(Mode::Word)?;
        match v.tok {
            Tok::Word { text, .. } => Ok(Some((name, text.into_owned(), Span::new(t.span.start, v.span.end)))),
            _ => Err(SplError::syntax(format!("missing value after `{name}=`"), Span::new(eq.span.start, eq.span.end))),
        }
    }

    pub(crate) fn enter(&mut self, span: Span) -> Result<(), SplError> {
        self.enter_weighted(span, 1)
    }

    /// Like [`Parser::enter`] for grammar levels that use several stack frames per nesting
    /// (eval expressions), so that the cap also bounds stack use.
    pub(crate) fn enter_weighted(&mut self, span: Span, weight: usize) -> Result<(), SplError> {
        self.depth += weight;
        if self.depth > MAX_DEPTH {
            return Err(SplError::new(ErrorKind::Limit, format!("expression nests deeper than {MAX_DEPTH} levels"), span));
        }
        Ok(())
    }

    /// Counts one binary operator against [`MAX_OPERATORS`].
    pub(crate) fn count_operator(&mut self, span: Span) -> Result<(), SplError> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(SplError::new(ErrorKind::Limit, format!("more than {MAX_OPERATORS} operators in one expression"), span));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.leave_weighted(1);
    }

    pub(crate) fn leave_weighted(&mut self, weight: usize) {
        self.depth = self.depth.saturating_sub(weight);
    }
}

/// Parses an unsigned integer option value.
pub(crate) fn parse_u64(text: &str, span: Span, what: &str) -> Result<u64, SplError> {
    text.parse::<u64>().map_err(|_| SplError::syntax(format!("{what} must be a whole number, found `{text}`"), span))
}

/// Parses a Splunk boolean option value (`true`/`t`/`1`/`false`/`f`/`0`).
pub(crate) fn parse_bool(text: &str, span: Span, what: &str) -> Result<bool, SplError> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Ok(true),
        "false" | "f" | "0" | "no" => Ok(false),
        _ => Err(SplError::syntax(format!("{what} must be true or false, found `{text}`"), span)),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod token_cache_tests {
    use super::*;

    /// The remembered token is only reused for the same position and mode: `a.b+1` is one word
    /// in Word mode but the identifier `a.b` in Expr mode.
    #[test]
    fn cached_token_follows_position_and_mode() {
        let mut p = Parser::new("a.b+1 x", 0, 7, 0);
        let word = p.peek(Mode::Word).unwrap();
        assert_eq!(word.bare_word(), Some("a.b+1"));
        let ident = p.peek(Mode::Expr).unwrap();
        assert_eq!((ident.bare_word(), ident.span), (Some("a.b"), Span::new(0, 3)));
        assert_eq!(p.next(Mode::Expr).unwrap(), ident);
        assert!(p.peek(Mode::Expr).unwrap().is_sym(Sym::Plus));
        assert_eq!(p.peek(Mode::Word).unwrap().bare_word(), Some("+1"));
        assert_eq!(p.peek2(Mode::Word).unwrap().bare_word(), Some("x"));
    }

    /// `peek2`'s token is cached beside the next one, and `next` takes a cached token out: the
    /// tokens that follow are still those of the text, in either mode.
    #[test]
    fn tokens_after_peek2_and_next_are_the_texts() {
        let mut p = Parser::new("a = b c", 0, 7, 0);
        assert_eq!(p.peek2(Mode::Word).unwrap(), Token { tok: Tok::Sym(Sym::Eq), span: Span::new(2, 3) });
        assert_eq!(p.next(Mode::Word).unwrap().bare_word(), Some("a"));
        assert!(p.peek(Mode::Word).unwrap().is_sym(Sym::Eq));
        assert!(p.next(Mode::Word).unwrap().is_sym(Sym::Eq));
        assert_eq!(p.peek2(Mode::Expr).unwrap().bare_word(), Some("c"));
        assert_eq!(p.next(Mode::Expr).unwrap().bare_word(), Some("b"));
        assert_eq!(p.next(Mode::Word).unwrap().bare_word(), Some("c"));
        assert_eq!(p.next(Mode::Word).unwrap().tok, Tok::Eof);
    }
}
