//! Reporting commands: `top`, `rare`, `timechart`.

use super::{parse_bool, parse_u64, Parser};
use crate::ast::{Span, Timechart, TopRare};
use crate::lexer::{Mode, Sym, Tok};
use crate::SplError;

const W: Mode = Mode::Word;

fn unknown_option(cmd: &str, name: &str, span: Span) -> SplError {
    SplError::syntax(format!("unknown option `{name}=` for `{cmd}`"), span)
}

impl Parser<'_> {
    /// `top|rare [options] field... [by field...]`; options may also follow the fields.
    pub(crate) fn top_rare(&mut self, rare: bool) -> Result<TopRare, SplError> {
        let cmd = if rare { "rare" } else { "top" };
        let mut t = TopRare::new(rare);
        let start = self.pos;
        let mut in_by = false;
        loop {
            if let Some((k, v, s)) = self.option()? {
                match k.to_ascii_lowercase().as_str() {
                    "limit" => t.limit = parse_u64(&v, s, "limit")?,
                    "countfield" => t.countfield = v,
                    "percentfield" => t.percentfield = v,
                    "showcount" => t.showcount = parse_bool(&v, s, "showcount")?,
                    "showperc" => t.showperc = parse_bool(&v, s, "showperc")?,
                    "useother" => t.useother = parse_bool(&v, s, "useother")?,
                    "otherstr" => t.otherstr = v,
                    _ => return Err(unknown_option(cmd, &k, s)),
                }
                continue;
            }
            if self.eat_sym(Sym::Comma, W)? {
                continue;
            }
            if !in_by && !t.fields.is_empty() && self.eat_keyword("by")? {
                in_by = true;
                continue;
            }
            let tok = self.peek(W)?;
            match tok.tok {
                Tok::Eof => break,
                Tok::Word { text, .. } => {
                    self.next(W)?;
                    if in_by {
                        t.by.push(text.into_owned());
                    } else {
                        t.fields.push(text.into_owned());
                    }
                }
                _ => return Err(SplError::syntax(format!("expected a field name, found {}", tok.describe()), tok.span)),
            }
        }
        if t.fields.is_empty() {
            return Err(SplError::syntax(format!("{cmd} needs a field, e.g. `{cmd} process_name`"), Span::new(start, self.pos)));
        }
        if in_by && t.by.is_empty() {
            return Err(SplError::syntax("expected a field after `by`", Span::new(start, self.pos)));
        }
        Ok(t)
    }

    /// One `timechart` option, if the next tokens are one.
    fn timechart_option(&mut self, tc: &mut Timechart) -> Result<bool, SplError> {
        let Some((k, v, s)) = self.option()? else { return Ok(false) };
        match k.to_ascii_lowercase().as_str() {
            "span" => tc.span = Some(v),
            "bins" => tc.bins = parse_u64(&v, s, "bins")?.max(1),
            "limit" => {
                // `limit=top5` / `bottom5` rank differently; only the plain count is supported.
                tc.limit = parse_u64(v.strip_prefix("top").unwrap_or(&v), s, "limit")?;
            }
            "useother" => tc.useother = parse_bool(&v, s, "useother")?,
            "otherstr" => tc.otherstr = v,
            "usenull" => tc.usenull = parse_bool(&v, s, "usenull")?,
            "nullstr" => tc.nullstr = v,
            "cont" => tc.cont = parse_bool(&v, s, "cont")?,
            // Display-only options: they do not change the table.
            "partial" | "fixedrange" | "sep" | "format" => {}
            _ => return Err(unknown_option("timechart", &k, s)),
        }
        Ok(true)
    }

    /// `timechart [options] agg [, agg]... [by field [options]]`.
    pub(crate) fn timechart(&mut self) -> Result<Timechart, SplError> {
        let start = self.pos;
        let mut tc = Timechart::default();
        while self.timechart_option(&mut tc)? {}
        tc.aggregations = self.aggregations(&["by"])?;
        if tc.aggregations.is_empty() {
            return Err(SplError::syntax("timechart needs an aggregation such as `count`", Span::new(start, self.pos)));
        }
        if self.eat_keyword("by")? {
            let (field, _) = self.word("a split-by field after `by`")?;
            tc.by = Some(field);
        }
        while self.timechart_option(&mut tc)? {}
        let t = self.peek(W)?;
        if t.tok != Tok::Eof {
            let msg = if tc.by.is_some() { "timechart splits by one field" } else { "unexpected text in timechart" };
            return Err(SplError::syntax(format!("{msg}, found {}", t.describe()), t.span));
        }
        Ok(tc)
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{CommandKind, Timechart, TopRare};

    fn one(text: &str) -> CommandKind {
        crate::parse(text).unwrap().commands.remove(0).kind
    }

    #[test]
    fn top_and_rare() {
        let CommandKind::TopRare(t) = one("| top limit=3 process_name, user by dest showperc=f") else { panic!() };
        let want = TopRare {
            fields: vec!["process_name".into(), "user".into()],
            by: vec!["dest".into()],
            limit: 3,
            showperc: false,
            ..TopRare::new(false)
        };
        assert_eq!(t, want);
        let CommandKind::TopRare(r) = one("| rare Image") else { panic!() };
        assert_eq!(r, TopRare { fields: vec!["Image".into()], ..TopRare::new(true) });
        assert!(crate::parse("| top").is_err());
        assert!(crate::parse("| top x by").is_err());
        assert!(crate::parse("| top x colour=red").is_err());
    }

    #[test]
    fn timechart() {
        let CommandKind::Timechart(t) = one("| timechart span=1h count, dc(user) as users by dest limit=5 useother=f") else { panic!() };
        assert_eq!(t.span.as_deref(), Some("1h"));
        assert_eq!((t.limit, t.useother, t.by.as_deref()), (5, false, Some("dest")));
        assert_eq!(t.aggregations.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["count", "users"]);
        let CommandKind::Timechart(d) = one("| timechart count") else { panic!() };
        assert_eq!(d, Timechart { aggregations: d.aggregations.clone(), ..Timechart::default() });
        assert!(crate::parse("| timechart by host").is_err());
        assert!(crate::parse("| timechart count by a b").is_err());
    }
}
