//! Aggregating commands: `tstats`, `stats`, `eventstats`.

use super::Parser;
use crate::ast::{AggArg, Aggregation, SearchExpr, Span, Stats, Tstats};
use crate::lexer::{Mode, Sym, Tok};
use crate::SplError;

const W: Mode = Mode::Word;

impl Parser<'_> {
    /// True when the next token is one of the keywords that end an aggregation list.
    fn at_any_keyword(&self, kws: &[&str]) -> Result<bool, SplError> {
        let t = self.peek(W)?;
        Ok(t.tok == Tok::Eof || kws.iter().any(|k| t.is_keyword(k)))
    }

    /// Aggregations up to one of `stop` keywords (or the end); commas between them optional.
    pub(crate) fn aggregations(&mut self, stop: &[&str]) -> Result<Vec<Aggregation>, SplError> {
        let mut out = Vec::new();
        while !self.at_any_keyword(stop)? {
            if self.eat_sym(Sym::Comma, W)? {
                continue;
            }
            out.push(self.aggregation()?);
        }
        Ok(out)
    }

    /// `func`, `func(field)`, `func(eval(expr))`, each optionally followed by `as alias`.
    fn aggregation(&mut self) -> Result<Aggregation, SplError> {
        let t = self.next(W)?;
        let Some(func_text) = t.bare_word().map(str::to_string) else {
            return Err(SplError::syntax(
                format!("expected an aggregation such as `count` or `values(field)`, found {}", t.describe()),
                t.span,
            ));
        };
        let mut func = func_text.to_ascii_lowercase();
        if func == "distinct_count" {
            func = "dc".into();
        }
        let mut arg = None;
        let mut end = t.span.end;
        let open = self.peek(W)?;
        if open.is_sym(Sym::LParen) {
            self.next(W)?;
            let a = self.peek(W)?;
            if a.is_keyword("eval") && self.peek2(W)?.is_sym(Sym::LParen) {
                self.next(W)?;
                let eval_open = self.next(W)?;
                self.enter(eval_open.span)?;
                let e = self.expr();
                self.leave();
                let e = e?;
                self.expect_close(eval_open.span, Mode::Expr)?;
                arg = Some(AggArg::Eval(e));
            } else if let Tok::Word { text, .. } = a.tok {
                self.next(W)?;
                arg = Some(AggArg::Field(text.into_owned()));
            } else if !a.is_sym(Sym::RParen) {
                return Err(SplError::syntax(format!("expected a field name in `{func_text}(...)`, found {}", a.describe()), a.span));
            }
            self.expect_close(open.span, W)?;
            end = self.pos;
        }
        let name = if self.eat_keyword("as")? {
            let (alias, _) = self.word_in("a name after `as`", Mode::Value)?;
            alias
        } else {
            self.src.get(t.span.start..end).unwrap_or("").to_string()
        };
        Ok(Aggregation { func, arg, name })
    }

    /// Group-by fields after `by`: space and/or comma separated. Returns the fields and any
    /// `span=` found among them.
    fn by_fields(&mut self, allow_span: bool) -> Result<(Vec<String>, Option<String>), SplError> {
        let mut fields = Vec::new();
        let mut span = None;
        loop {
            if self.eat_sym(Sym::Comma, W)? {
                continue;
            }
            if allow_span {
                if let Some((k, v, s)) = self.option()? {
                    if k.eq_ignore_ascii_case("span") {
                        span = Some(v);
                        continue;
                    }
                    return Err(SplError::syntax(format!("unexpected option `{k}=` in the by-clause"), s));
                }
            }
            let t = self.peek(W)?;
            match t.tok {
                Tok::Word { text, .. } => {
                    self.next(W)?;
                    fields.push(text.into_owned());
                }
                Tok::Eof => break,
                _ => return Err(SplError::syntax(format!("expected a field name, found {}", t.describe()), t.span)),
            }
        }
        Ok((fields, span))
    }

    /// `| tstats [options] aggs [from datamodel=X] [where expr] [by fields [span=t]]`.
    pub(crate) fn tstats(&mut self) -> Result<Tstats, SplError> {
        let start = self.pos;
        let mut options = Vec::new();
        while let Some((k, v, _)) = self.option()? {
            options.push((k, v));
        }
        let aggregations = self.aggregations(&["from", "where", "by"])?;
        if aggregations.is_empty() {
            let t = self.peek(W)?;
            return Err(SplError::syntax("tstats needs at least one aggregation such as `count`", Span::new(start, t.span.end)));
        }
        let mut datamodel = String::new();
        if self.eat_keyword("from")? {
            let t = self.next(W)?;
            let Some(w) = t.bare_word() else {
                return Err(SplError::syntax(format!("expected `datamodel=` after `from`, found {}", t.describe()), t.span));
            };
            if let Some(rest) = w.strip_prefix("datamodel:").filter(|_| w.len() > 10) {
                datamodel = rest.to_string();
            } else if w.eq_ignore_ascii_case("datamodel") {
                let eq = self.next(W)?;
                if !eq.is_sym(Sym::Eq) {
                    return Err(SplError::syntax(format!("expected `=` after `datamodel`, found {}", eq.describe()), eq.span));
                }
                let (dm, _) = self.word("a data model name").map_err(|e| SplError::syntax("missing value after `datamodel=`", e.span))?;
                datamodel = dm;
            } else {
                return Err(SplError::syntax(format!("expected `datamodel=` after `from`, found {}", t.describe()), t.span));
            }
        }
        // Options may also follow the data model (`... from datamodel=X summariesonly=t where`).
        while let Some((k, v, _)) = self.option()? {
            options.push((k, v));
        }
        let filter = if self.eat_keyword("where")? { self.search_expr(true)? } else { SearchExpr::All };
        let (by, span) = if self.eat_keyword("by")? { self.by_fields(true)? } else { (Vec::new(), None) };
        let t = self.peek(W)?;
        if t.tok != Tok::Eof {
            return Err(SplError::syntax(format!("unexpected {} in tstats (expected `from`, `where` or `by`)", t.describe()), t.span));
        }
        Ok(Tstats { options, aggregations, datamodel, filter, by, span })
    }

    /// `stats|eventstats [options] aggs [by fields]`.
    pub(crate) fn stats(&mut self) -> Result<Stats, SplError> {
        while self.option()?.is_some() {}
        let aggregations = self.aggregations(&["by"])?;
        if aggregations.is_empty() {
            let t = self.peek(W)?;
            return Err(SplError::syntax("expected at least one aggregation such as `count`", t.span));
        }
        let by = if self.eat_keyword("by")? {
            let (by, _) = self.by_fields(false)?;
            if by.is_empty() {
                return Err(SplError::syntax("expected field names after `by`", Span::new(self.pos, self.pos)));
            }
            by
        } else {
            Vec::new()
        };
        Ok(Stats { aggregations, by })
    }
}
