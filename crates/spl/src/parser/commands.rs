//! The table-shaping commands: everything except the search/eval/aggregation families.

use super::{parse_bool, parse_pipeline, parse_u64, Parser};
use crate::ast::{
    Bin, CommandKind, Conversion, Convert, Dedup, Fillnull, Foreach, Inputlookup, Join, Lookup, MvList, RegexCmd, Rex, SearchExpr,
    SearchValue, Sort, SortKey, Span, Transaction, TxnFilter,
};
use crate::lexer::{is_escape_at, scan_quoted, Mode, Sym, Tok};
use crate::SplError;

const W: Mode = Mode::Word;

fn unknown_option(cmd: &str, name: &str, span: Span) -> SplError {
    SplError::syntax(format!("unknown option `{name}=` for `{cmd}`"), span)
}

impl Parser<'_> {
    /// Field names separated by spaces and/or commas, to the end of the command.
    pub(crate) fn field_list(&mut self, allow_empty: bool) -> Result<Vec<String>, SplError> {
        let mut out = Vec::new();
        loop {
            let t = self.peek(W)?;
            match t.tok {
                Tok::Eof => break,
                Tok::Sym(Sym::Comma) => {
                    self.next(W)?;
                }
                Tok::Word { text, .. } => {
                    self.next(W)?;
                    out.push(text.into_owned());
                }
                _ => return Err(SplError::syntax(format!("expected a field name, found {}", t.describe()), t.span)),
            }
        }
        if out.is_empty() && !allow_empty {
            return Err(SplError::syntax("expected at least one field name", Span::new(self.pos, self.pos)));
        }
        Ok(out)
    }

    /// `rename a AS b, c* AS d*`.
    pub(crate) fn rename(&mut self) -> Result<Vec<(String, String)>, SplError> {
        let mut out = Vec::new();
        while !self.at_end()? {
            if self.eat_sym(Sym::Comma, W)? {
                continue;
            }
            let (from, span) = self.word("a field name to rename")?;
            if !self.eat_keyword("as")? {
                let t = self.peek(W)?;
                return Err(SplError::syntax(
                    format!("expected `AS` after `{from}` in rename, found {}", t.describe()),
                    Span::new(span.start, t.span.end),
                ));
            }
            let (to, _) = self.word("a new field name after `AS`")?;
            out.push((from, to));
        }
        if out.is_empty() {
            return Err(SplError::syntax("rename needs `field AS new_name`", Span::new(self.pos, self.pos)));
        }
        Ok(out)
    }

    /// `fields [+|-] a, b*`.
    pub(crate) fn fields(&mut self) -> Result<CommandKind, SplError> {
        let t = self.peek(W)?;
        let remove = match t.bare_word() {
            Some("-") => true,
            Some("+") => false,
            _ => {
                return Ok(CommandKind::Fields { remove: false, fields: self.field_list(false)? });
            }
        };
        self.next(W)?;
        Ok(CommandKind::Fields { remove, fields: self.field_list(false)? })
    }

    /// Sort keys: `[-|+]field`, `- field`, `num(field)`, ...; a final `d`/`desc` reverses all.
    fn sort_keys(&mut self) -> Result<Vec<SortKey>, SplError> {
        let mut keys: Vec<SortKey> = Vec::new();
        let mut sign: Option<bool> = None;
        loop {
            let t = self.peek(W)?;
            let Tok::Word { text, quoted } = t.tok.clone() else {
                if t.is_sym(Sym::Comma) {
                    self.next(W)?;
                    continue;
                }
                if t.tok == Tok::Eof {
                    break;
                }
                return Err(SplError::syntax(format!("expected a sort field, found {}", t.describe()), t.span));
            };
            self.next(W)?;
            if !quoted && (text == "-" || text == "+") {
                sign = Some(text == "-");
                continue;
            }
            if !quoted
                && sign.is_none()
                && (text.eq_ignore_ascii_case("d") || text.eq_ignore_ascii_case("desc"))
                && !keys.is_empty()
                && self.at_end()?
            {
                for k in &mut keys {
                    k.descending = !k.descending;
                }
                break;
            }
            let (mut descending, mut name) = (false, text.to_string());
            if sign.is_none() && !quoted {
                if let Some(rest) = text.strip_prefix('-') {
                    descending = true;
                    name = rest.to_string();
                } else if let Some(rest) = text.strip_prefix('+') {
                    name = rest.to_string();
                }
            }
            if let Some(s) = sign.take() {
                descending = s;
            }
            let mut mode = "auto".to_string();
            let lower = name.to_ascii_lowercase();
            if matches!(lower.as_str(), "auto" | "str" | "num" | "ip") && self.peek(W)?.is_sym(Sym::LParen) {
                let open = self.next(W)?;
                let (field, _) = self.word("a field name")?;
                self.expect_close(open.span, W)?;
                mode = lower;
                name = field;
            }
            if name.is_empty() {
                return Err(SplError::syntax("expected a field name after the sign", t.span));
            }
            keys.push(SortKey { field: name, descending, mode });
        }
        if let Some(true) | Some(false) = sign {
            return Err(SplError::syntax("expected a field name after `-`/`+`", Span::new(self.pos, self.pos)));
        }
        Ok(keys)
    }

    /// `dedup [N] f1 f2 [keepempty=true] [consecutive=true] [sortby -f]`.
    pub(crate) fn dedup(&mut self) -> Result<Dedup, SplError> {
        let mut d = Dedup { count: 1, fields: Vec::new(), keepempty: false, consecutive: false, sortby: Vec::new() };
        let t = self.peek(W)?;
        if let Some(n) = t.bare_word().filter(|w| w.bytes().all(|b| b.is_ascii_digit())) {
            d.count = parse_u64(n, t.span, "the dedup count")?;
            self.next(W)?;
        }
        loop {
            if let Some((k, v, s)) = self.option()? {
                match k.to_ascii_lowercase().as_str() {
                    "keepempty" => d.keepempty = parse_bool(&v, s, "keepempty")?,
                    "consecutive" => d.consecutive = parse_bool(&v, s, "consecutive")?,
                    "keepevents" => {}
                    _ => return Err(unknown_option("dedup", &k, s)),
                }
                continue;
            }
            if self.eat_keyword("sortby")? {
                d.sortby = self.sort_keys()?;
                break;
            }
            let t = self.peek(W)?;
            match t.tok {
                Tok::Eof => break,
                Tok::Sym(Sym::Comma) => {
                    self.next(W)?;
                }
                Tok::Word { text, .. } => {
                    self.next(W)?;
                    d.fields.push(text.into_owned());
                }
                _ => return Err(SplError::syntax(format!("expected a field name, found {}", t.describe()), t.span)),
            }
        }
        if d.fields.is_empty() {
            return Err(SplError::syntax("dedup needs at least one field", Span::new(self.pos, self.pos)));
        }
        Ok(d)
    }

    /// `sort [N] [limit=N] keys`.
    pub(crate) fn sort(&mut self) -> Result<Sort, SplError> {
        let mut limit = None;
        let t = self.peek(W)?;
        if let Some(n) = t.bare_word().filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit())) {
            limit = Some(parse_u64(n, t.span, "the sort limit")?);
            self.next(W)?;
        }
        if let Some((k, v, s)) = self.option()? {
            if !k.eq_ignore_ascii_case("limit") {
                return Err(unknown_option("sort", &k, s));
            }
            limit = Some(parse_u64(&v, s, "limit")?);
        }
        let keys = self.sort_keys()?;
        if keys.is_empty() {
            return Err(SplError::syntax("sort needs at least one field", Span::new(self.pos, self.pos)));
        }
        Ok(Sort { limit, keys })
    }

    /// `head`, `head N`, `head limit=N`.
    pub(crate) fn head(&mut self) -> Result<u64, SplError> {
        if let Some((k, v, s)) = self.option()? {
            if !k.eq_ignore_ascii_case("limit") {
                return Err(unknown_option("head", &k, s));
            }
            return parse_u64(&v, s, "limit");
        }
        let t = self.peek(W)?;
        match t.tok {
            Tok::Eof => Ok(10),
            Tok::Word { ref text, .. } => {
                self.next(W)?;
                parse_u64(text, t.span, "the head count")
            }
            _ => Err(SplError::syntax(format!("expected a number after `head`, found {}", t.describe()), t.span)),
        }
    }

    /// `convert [timeformat=...] func(field) [as alias] ...`.
    pub(crate) fn convert(&mut self) -> Result<Convert, SplError> {
        let mut c = Convert { timeformat: None, conversions: Vec::new() };
        while !self.at_end()? {
            if let Some((k, v, s)) = self.option()? {
                if !k.eq_ignore_ascii_case("timeformat") {
                    return Err(unknown_option("convert", &k, s));
                }
                c.timeformat = Some(v);
                continue;
            }
            if self.eat_sym(Sym::Comma, W)? {
                continue;
            }
            let (func, fspan) = self.word("a conversion such as `ctime(field)`")?;
            let open = self.next(W)?;
            if !open.is_sym(Sym::LParen) {
                return Err(SplError::syntax(format!("expected `(` after `{func}`, as in `{func}(field)`"), fspan));
            }
            let (field, _) = self.word("a field name")?;
            self.expect_close(open.span, W)?;
            let alias = if self.eat_keyword("as")? { Some(self.word("a name after `as`")?.0) } else { None };
            c.conversions.push(Conversion { func: func.to_ascii_lowercase(), field, alias });
        }
        if c.conversions.is_empty() {
            return Err(SplError::syntax("convert needs a conversion such as `ctime(field)`", Span::new(self.pos, self.pos)));
        }
        Ok(c)
    }

    /// `join [options] fields [ subsearch ]`.
    pub(crate) fn join(&mut self) -> Result<Join, SplError> {
        let mut options = Vec::new();
        let mut fields = Vec::new();
        loop {
            if let Some((k, v, _)) = self.option()? {
                options.push((k, v));
                continue;
            }
            let t = self.peek(W)?;
            match t.tok {
                Tok::Sym(Sym::Comma) => {
                    self.next(W)?;
                }
                Tok::Word { text, .. } => {
                    self.next(W)?;
                    fields.push(text.into_owned());
                }
                Tok::Sym(Sym::LBracket) => break,
                _ => return Err(SplError::syntax(format!("expected join fields and a `[ subsearch ]`, found {}", t.describe()), t.span)),
            }
        }
        let open = self.next(W)?;
        let close = self.matching_bracket(open.span.start)?;
        let subsearch = parse_pipeline(self.src, open.span.end, close, self.depth + 1)?;
        self.pos = close + 1;
        Ok(Join { options, fields, subsearch })
    }

    /// Byte offset of the `]` matching the `[` at `open`.
    pub(crate) fn matching_bracket(&self, open: usize) -> Result<usize, SplError> {
        let bytes = self.src.as_bytes();
        let mut depth = 0usize;
        let mut i = open;
        while i < self.end() {
            match bytes.get(i) {
                Some(b'\\') if is_escape_at(bytes, i) => {
                    i += 2;
                    continue;
                }
                Some(b'"') => {
                    i = scan_quoted(self.src, i, self.end(), b'"')?;
                    continue;
                }
                Some(b'[') => depth += 1,
                Some(b']') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        let (_, col) = crate::line_col(self.src, open);
        Err(SplError::syntax(format!("expected `]` to close `[` opened at column {col}"), Span::new(open, self.end())))
    }

    /// Field pairs `a [AS b]` up to a stop keyword; (table field, event field).
    fn lookup_fields(&mut self, stop: &[&str]) -> Result<Vec<(String, String)>, SplError> {
        let mut out = Vec::new();
        loop {
            let t = self.peek(W)?;
            if t.tok == Tok::Eof || stop.iter().any(|k| t.is_keyword(k)) {
                break;
            }
            if self.eat_sym(Sym::Comma, W)? {
                continue;
            }
            let (f, _) = self.word("a lookup field")?;
            let ev = if self.eat_keyword("as")? { self.word("an event field after `AS`")?.0 } else { f.clone() };
            out.push((f, ev));
        }
        Ok(out)
    }

    /// `lookup [options] table in [AS ev] ... [OUTPUT|OUTPUTNEW out [AS ev] ...]`.
    pub(crate) fn lookup(&mut self) -> Result<Lookup, SplError> {
        let mut options = Vec::new();
        while let Some((k, v, _)) = self.option()? {
            options.push((k, v));
        }
        let (table, tspan) = self.word("a lookup table name")?;
        let inputs = self.lookup_fields(&["output", "outputnew"])?;
        if inputs.is_empty() {
            return Err(SplError::syntax(format!("lookup `{table}` needs at least one input field"), tspan));
        }
        let mut overwrite = true;
        let mut outputs = Vec::new();
        let t = self.peek(W)?;
        if t.is_keyword("output") || t.is_keyword("outputnew") {
            self.next(W)?;
            overwrite = t.is_keyword("output");
            outputs = self.lookup_fields(&[])?;
            if outputs.is_empty() {
                return Err(SplError::syntax("expected output fields after OUTPUT", t.span));
            }
        }
        Ok(Lookup { table, options, inputs, overwrite, outputs })
    }

    /// `| inputlookup [options] table [where expr]`.
    pub(crate) fn inputlookup(&mut self) -> Result<Inputlookup, SplError> {
        let mut options = Vec::new();
        while let Some((k, v, _)) = self.option()? {
            options.push((k, v));
        }
        let (table, _) = self.word("a lookup table name")?;
        let filter = if self.eat_keyword("where")? { Some(self.search_expr(false)?) } else { None };
        Ok(Inputlookup { table, options, filter })
    }

    /// `rex [field=f] [max_match=N] [mode=sed] "pattern"`, options in any order.
    pub(crate) fn rex(&mut self) -> Result<crate::ast::Rex, SplError> {
        let mut r = Rex { field: "_raw".into(), pattern: String::new(), sed: false, max_match: 1 };
        let mut pattern = None;
        let start = self.pos;
        while !self.at_end()? {
            if let Some((k, v, s)) = self.option()? {
                match k.to_ascii_lowercase().as_str() {
                    "field" => r.field = v,
                    "max_match" => r.max_match = parse_u64(&v, s, "max_match")?,
                    "mode" if v.eq_ignore_ascii_case("sed") => r.sed = true,
                    "offset_field" => {}
                    _ => return Err(unknown_option("rex", &k, s)),
                }
                continue;
            }
            let (p, span) = self.word("a quoted regular expression")?;
            if pattern.is_some() {
                return Err(SplError::syntax("rex takes a single pattern", span));
            }
            pattern = Some(p);
        }
        r.pattern = pattern.ok_or_else(|| SplError::syntax("rex needs a quoted regular expression", Span::new(start, self.pos)))?;
        Ok(r)
    }

    /// `regex f="re"`, `regex f!="re"`, `regex "re"`.
    pub(crate) fn regex(&mut self) -> Result<RegexCmd, SplError> {
        let (first, span) = self.word("a field name or a quoted regular expression")?;
        let op = self.peek(W)?;
        if op.is_sym(Sym::Eq) || op.is_sym(Sym::Ne) {
            self.next(W)?;
            let (pattern, _) = self.word("a quoted regular expression").map_err(|e| {
                SplError::syntax(format!("missing pattern after `{first}{}`", if op.is_sym(Sym::Ne) { "!=" } else { "=" }), e.span)
            })?;
            return Ok(RegexCmd { field: first, negate: op.is_sym(Sym::Ne), pattern });
        }
        if first.is_empty() {
            return Err(SplError::syntax("empty regular expression", span));
        }
        Ok(RegexCmd { field: "_raw".into(), negate: false, pattern: first })
    }

    /// `fillnull [value=x] [fields]`.
    pub(crate) fn fillnull(&mut self) -> Result<Fillnull, SplError> {
        let mut f = Fillnull { value: "0".into(), fields: Vec::new() };
        while !self.at_end()? {
            if let Some((k, v, s)) = self.option()? {
                if !k.eq_ignore_ascii_case("value") {
                    return Err(unknown_option("fillnull", &k, s));
                }
                f.value = v;
                continue;
            }
            if self.eat_sym(Sym::Comma, W)? {
                continue;
            }
            f.fields.push(self.word("a field name")?.0);
        }
        Ok(f)
    }

    /// `bin|bucket [span=t] [bins=N] field [as alias]`, options before or after the field.
    pub(crate) fn bin(&mut self) -> Result<Bin, SplError> {
        let mut b = Bin { field: String::new(), span: None, bins: None, alias: None };
        let start = self.pos;
        while !self.at_end()? {
            if let Some((k, v, s)) = self.option()? {
                match k.to_ascii_lowercase().as_str() {
                    "span" => b.span = Some(v),
                    "bins" => b.bins = Some(parse_u64(&v, s, "bins")?),
                    _ => return Err(unknown_option("bin", &k, s)),
                }
                continue;
            }
            if self.eat_keyword("as")? {
                b.alias = Some(self.word("a name after `as`")?.0);
                continue;
            }
            let (f, span) = self.word("a field name")?;
            if !b.field.is_empty() {
                return Err(SplError::syntax(format!("bin takes one field, found a second one `{f}`"), span));
            }
            b.field = f;
        }
        if b.field.is_empty() {
            return Err(SplError::syntax("bin needs a field, e.g. `bin _time span=1h`", Span::new(start, self.pos)));
        }
        Ok(b)
    }

    /// `mvexpand field [limit=N]`.
    pub(crate) fn mvexpand(&mut self) -> Result<CommandKind, SplError> {
        let mut field = None;
        let mut limit = None;
        let start = self.pos;
        while !self.at_end()? {
            if let Some((k, v, s)) = self.option()? {
                if !k.eq_ignore_ascii_case("limit") {
                    return Err(unknown_option("mvexpand", &k, s));
                }
                limit = Some(parse_u64(&v, s, "limit")?);
                continue;
            }
            let (f, span) = self.word("a field name")?;
            if field.is_some() {
                return Err(SplError::syntax("mvexpand takes one field", span));
            }
            field = Some(f);
        }
        let field = field.ok_or_else(|| SplError::syntax("mvexpand needs a field", Span::new(start, self.pos)))?;
        Ok(CommandKind::Mvexpand { field, limit })
    }

    /// `replace a with b [, c with d]... [in fields]`.
    pub(crate) fn replace(&mut self) -> Result<CommandKind, SplError> {
        let start = self.pos;
        let mut pairs = Vec::new();
        let mut fields = Vec::new();
        while !self.at_end()? {
            let t = self.peek(W)?;
            if t.is_sym(Sym::Comma) {
                self.next(W)?;
                continue;
            }
            let (from, span) = self.word("a value to replace")?;
            if from.eq_ignore_ascii_case("in") && !pairs.is_empty() {
                fields = self.field_list(false)?;
                break;
            }
            let (with, wspan) = self.word("`with`")?;
            if !with.eq_ignore_ascii_case("with") {
                return Err(SplError::syntax(format!("expected `with` after {from:?}"), wspan));
            }
            let (to, _) = self.word("a replacement value").map_err(|e| SplError::syntax(e.message, Span::new(span.start, self.pos)))?;
            pairs.push((from, to));
        }
        if pairs.is_empty() {
            return Err(SplError::syntax("replace needs `<value> with <value>`", Span::new(start, self.pos)));
        }
        Ok(CommandKind::Replace { pairs, fields })
    }

    /// `spath [input=f] [output=o] [path=p | p]`.
    pub(crate) fn spath(&mut self) -> Result<CommandKind, SplError> {
        let (mut input, mut output, mut path) = (None, None, None);
        while !self.at_end()? {
            if let Some((k, v, s)) = self.option()? {
                match k.to_ascii_lowercase().as_str() {
                    "input" => input = Some(v),
                    "output" => output = Some(v),
                    "path" => path = Some(v),
                    _ => return Err(unknown_option("spath", &k, s)),
                }
                continue;
            }
            let (p, span) = self.word("a path")?;
            if path.is_some() {
                return Err(SplError::syntax("spath takes one path", span));
            }
            path = Some(p);
        }
        Ok(CommandKind::Spath { input, output, path })
    }

    /// `xmlkv [field] [maxinputs=N]`.
    pub(crate) fn xmlkv(&mut self) -> Result<CommandKind, SplError> {
        let mut field = None;
        while !self.at_end()? {
            if let Some((k, _, s)) = self.option()? {
                if !k.eq_ignore_ascii_case("maxinputs") {
                    return Err(unknown_option("xmlkv", &k, s));
                }
                continue;
            }
            let (f, span) = self.word("a field name")?;
            if field.is_some() {
                return Err(SplError::syntax("xmlkv takes one field", span));
            }
            field = Some(f);
        }
        Ok(CommandKind::Xmlkv { field })
    }

    /// `foreach fields... [options] [ template ]`.
    pub(crate) fn foreach(&mut self) -> Result<CommandKind, SplError> {
        let start = self.pos;
        let mut fields = Vec::new();
        loop {
            if let Some((k, _, s)) = self.option()? {
                return Err(unknown_option("foreach", &k, s));
            }
            let t = self.peek(W)?;
            match t.tok {
                Tok::Sym(Sym::LBracket) => break,
                Tok::Word { text, .. } => {
                    self.next(W)?;
                    fields.push(text.into_owned());
                }
                _ => return Err(SplError::syntax(format!("expected fields and a `[ template ]`, found {}", t.describe()), t.span)),
            }
        }
        if fields.is_empty() {
            return Err(SplError::syntax("foreach needs at least one field", Span::new(start, self.pos)));
        }
        let open = self.next(W)?;
        let close = self.matching_bracket(open.span.start)?;
        let template = self.src[open.span.end..close].to_string();
        self.pos = close + 1;
        Ok(CommandKind::Foreach(Foreach { fields, template, template_span: Span::new(open.span.end, close) }))
    }

    /// `makemv [delim="x"] field`.
    pub(crate) fn makemv(&mut self) -> Result<CommandKind, SplError> {
        let mut field = None;
        let mut delim = " ".to_string();
        let start = self.pos;
        while !self.at_end()? {
            if let Some((k, v, s)) = self.option()? {
                match k.to_ascii_lowercase().as_str() {
                    "delim" => delim = v,
                    _ => return Err(unknown_option("makemv", &k, s)),
                }
                continue;
            }
            let (f, span) = self.word("a field name")?;
            if field.is_some() {
                return Err(SplError::syntax("makemv takes one field", span));
            }
            field = Some(f);
        }
        let field = field.ok_or_else(|| SplError::syntax("makemv needs a field", Span::new(start, self.pos)))?;
        Ok(CommandKind::Makemv { delim, field })
    }

    /// `transaction [field-list] [options]`; fields and options in any order. Options:
    /// `maxspan= maxpause= maxevents= startswith= endswith= connected= keepevicted= mvlist=
    /// mvraw= delim=`. A filter is `(search expression)`, `eval(expression)`, or a single
    /// (quoted) term matched against `_raw`.
    pub(crate) fn transaction(&mut self) -> Result<Transaction, SplError> {
        let mut t = Transaction {
            fields: Vec::new(),
            maxspan: None,
            maxpause: None,
            maxevents: None,
            startswith: None,
            endswith: None,
            connected: true,
            keepevicted: false,
            mvlist: MvList::Off,
            mvraw: false,
            delim: " ".into(),
        };
        while !self.at_end()? {
            let tok = self.peek(W)?;
            if tok.is_sym(Sym::Comma) {
                self.next(W)?;
                continue;
            }
            let option = match tok.bare_word() {
                Some(w) if self.peek2(W)?.is_sym(Sym::Eq) => Some(w.to_ascii_lowercase()),
                _ => None,
            };
            let Some(name) = option else {
                let (field, _) = self.word("a field name or an option such as `maxspan=`")?;
                t.fields.push(field);
                continue;
            };
            self.next(W)?;
            let eq = self.next(W)?;
            if name == "startswith" || name == "endswith" {
                let f = self.txn_filter(&name, eq.span)?;
                if name == "startswith" {
                    t.startswith = Some(f);
                } else {
                    t.endswith = Some(f);
                }
                continue;
            }
            let v = self.next(W)?;
            let Tok::Word { text, quoted } = v.tok else {
                return Err(SplError::syntax(format!("missing value after `{name}=`"), eq.span));
            };
            let span = Span::new(tok.span.start, v.span.end);
            match name.as_str() {
                "maxspan" => t.maxspan = Some(text.into_owned()),
                "maxpause" => t.maxpause = Some(text.into_owned()),
                "maxevents" => {
                    t.maxevents = Some(
                        text.parse::<i64>()
                            .map_err(|_| SplError::syntax(format!("maxevents must be a whole number, found `{text}`"), span))?,
                    )
                }
                "connected" => t.connected = parse_bool(&text, span, "connected")?,
                "keepevicted" => t.keepevicted = parse_bool(&text, span, "keepevicted")?,
                "mvraw" => t.mvraw = parse_bool(&text, span, "mvraw")?,
                "delim" => t.delim = text.into_owned(),
                "mvlist" => {
                    t.mvlist = match parse_bool(&text, span, "mvlist") {
                        Ok(b) if !quoted => {
                            if b {
                                MvList::All
                            } else {
                                MvList::Off
                            }
                        }
                        _ => {
                            let fields: Vec<String> = text.split(',').map(str::trim).filter(|f| !f.is_empty()).map(String::from).collect();
                            if fields.is_empty() {
                                return Err(SplError::syntax("mvlist needs true, false or a list of fields", span));
                            }
                            MvList::Fields(fields)
                        }
                    }
                }
                _ => return Err(unknown_option("transaction", &name, span)),
            }
        }
        Ok(t)
    }

    /// The value of `startswith=`/`endswith=` (after the `=` at `eq`).
    fn txn_filter(&mut self, name: &str, eq: Span) -> Result<TxnFilter, SplError> {
        let t = self.peek(W)?;
        if t.is_keyword("eval") && self.peek2(W)?.is_sym(Sym::LParen) {
            self.next(W)?;
            let open = self.next(W)?;
            self.enter(open.span)?;
            let e = self.expr()?;
            self.leave();
            self.expect_close(open.span, Mode::Expr)?;
            return Ok(TxnFilter::Eval(e));
        }
        if t.is_sym(Sym::LParen) {
            let open = self.next(W)?;
            self.enter(open.span)?;
            let e = self.search_expr(false)?;
            self.leave();
            self.expect_close(open.span, W)?;
            return Ok(TxnFilter::Search(e));
        }
        match t.tok {
            Tok::Word { text, quoted } => {
                self.next(W)?;
                Ok(TxnFilter::Search(SearchExpr::Term(SearchValue { text: text.into_owned(), quoted })))
            }
            _ => Err(SplError::syntax(
                format!("expected a filter after `{name}=`, such as `{name}=(field=value)`, `{name}=eval(expr)` or `{name}=\"text\"`"),
                Span::new(eq.start, t.span.end.max(eq.end)),
            )),
        }
    }
}
