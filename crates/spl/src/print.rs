//! Printing an AST back to canonical SPL (`Display` for [`Pipeline`], [`Command`],
//! [`SearchExpr`] and [`Expr`]).
//!
//! The output parses back to an equal AST (spans aside): words are quoted and escaped when
//! they would otherwise lex differently, eval expressions get the parentheses their precedence
//! needs and no more, and a leading search is written as an explicit `search` command. A few
//! trees the parser can never produce have no exact text form; they print as the nearest SPL:
//! - `Expr::Bool` prints as `true()`/`false()` (the parser produces those calls, never
//!   `Bool`); `Unary Neg` directly over a number prints as `-(n)`, which parses as the
//!   folded literal `-n`; NaN prints as `(0/0)`, infinities as `1e999`/`-1e999`.
//! - A search value marked unquoted whose text cannot stand bare and does not start with a
//!   character that can (`x=" y"` with `quoted: false`) prints quoted.
//! - A bare search term `AND`/`OR`/`NOT`/`*`, or `IN` followed by a parenthesised group,
//!   reads as the keyword; a field name holding a backslash before a `'` has no `'...'` form.
//! - `SearchExpr::And`/`Or` nested directly in the same kind, or with one item, print
//!   fine but parse flattened.

use crate::ast::*;
use std::fmt::{self, Display, Formatter, Write};

/// Characters that cannot appear in a bare word (Word and Value modes), plus the ones we quote
/// to stay clear of escapes, macros and field references.
fn is_special(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ',' | '|' | '=' | '<' | '>' | '"' | '\\' | '!' | '`' | '\'')
}

/// Words that a command parser may read as a keyword when bare.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "xor",
    "like",
    "in",
    "as",
    "by",
    "where",
    "from",
    "sortby",
    "output",
    "outputnew",
    "d",
    "desc",
    "datamodel",
    "eval",
];

fn is_bare_safe(s: &str) -> bool {
    !s.is_empty()
        && !s.chars().any(is_special)
        && !RESERVED.iter().any(|r| s.eq_ignore_ascii_case(r))
        && !s.starts_with(['-', '+'])
        && !s.bytes().all(|b| b.is_ascii_digit())
        && s != "*"
}

/// Writes `s` as the body of a double-quoted string (`\` and `"` escaped).
fn write_escaped(f: &mut Formatter, s: &str) -> fmt::Result {
    for c in s.chars() {
        if c == '\\' || c == '"' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    Ok(())
}

fn write_quoted(f: &mut Formatter, s: &str) -> fmt::Result {
    f.write_char('"')?;
    write_escaped(f, s)?;
    f.write_char('"')
}

/// A field name, option value or table name in a command: bare when safe, else quoted.
struct Word<'a>(&'a str);

impl Display for Word<'_> {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        if is_bare_safe(self.0) || self.0 == "*" {
            f.write_str(self.0)
        } else {
            write_quoted(f, self.0)
        }
    }
}

/// A field before `IN (`: must lex as an unquoted word, so an unsafe name is written as an
/// empty quoted segment glued to a quoted one (`"""a b" IN (...)`), which the lexer joins into
/// one unquoted word.
struct GluedWord<'a>(&'a str);

impl Display for GluedWord<'_> {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        if is_bare_safe(self.0) || self.0 == "*" {
            f.write_str(self.0)
        } else {
            f.write_str("\"\"")?;
            write_quoted(f, self.0)
        }
    }
}

/// A search value after `=` or inside `IN (...)`.
struct Value<'a>(&'a SearchValue);

impl Display for Value<'_> {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        let SearchValue { text, quoted } = self.0;
        if *quoted {
            return write_quoted(f, text);
        }
        if !text.is_empty() && !text.chars().any(is_special) {
            return f.write_str(text);
        }
        // An unquoted first character glued to a quoted rest keeps `quoted: false`.
        match text.chars().next() {
            Some(c) if !is_special(c) => {
                f.write_char(c)?;
                write_quoted(f, &text[c.len_utf8()..])
            }
            _ => write_quoted(f, text),
        }
    }
}

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        })
    }
}

impl Display for SearchExpr {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        match self {
            SearchExpr::All => f.write_str("*"),
            SearchExpr::Subsearch(p) => write!(f, "[ {p} ]"),
            SearchExpr::And(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    // OR binds tighter than AND: only a nested AND needs parentheses.
                    if matches!(e, SearchExpr::And(_)) {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
            SearchExpr::Or(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" OR ")?;
                    }
                    if matches!(e, SearchExpr::And(_) | SearchExpr::Or(_)) {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
            SearchExpr::Not(e) => {
                if matches!(**e, SearchExpr::And(_) | SearchExpr::Or(_)) {
                    write!(f, "NOT ({e})")
                } else {
                    write!(f, "NOT {e}")
                }
            }
            SearchExpr::Compare { field, op, value } => write!(f, "{}{op}{}", Word(field), Value(value)),
            SearchExpr::In { field, values } => {
                write!(f, "{} IN (", GluedWord(field))?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Value(v))?;
                }
                f.write_char(')')
            }
            SearchExpr::Term(v) => {
                if v.quoted {
                    write_quoted(f, &v.text)
                } else if !v.text.is_empty() && !v.text.chars().any(is_special) {
                    f.write_str(&v.text)
                } else {
                    // `""` glued to the quoted text lexes as one unquoted word.
                    f.write_str("\"\"")?;
                    write_quoted(f, &v.text)
                }
            }
        }
    }
}

/// Binding strength of an eval expression's top node (higher binds tighter).
fn prec(e: &Expr) -> u8 {
    match e {
        Expr::Binary { op, .. } => binary_prec(*op),
        Expr::Unary { op: UnaryOp::Not, .. } => 4,
        Expr::Unary { op: UnaryOp::Neg, .. } => 8,
        _ => 9,
    }
}

fn binary_prec(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => 1,
        BinaryOp::Xor => 2,
        BinaryOp::And => 3,
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Like => 5,
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Concat => 6,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 7,
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        f.write_str(match self {
            BinaryOp::Or => "OR",
            BinaryOp::Xor => "XOR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Like => "LIKE",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Concat => ".",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        })
    }
}

/// An identifier as the Expr-mode lexer reads it, and not an operator keyword.
fn is_ident(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    let Some(first) = chars.next() else { return false };
    if !(first.is_alphabetic() || matches!(first, '_' | '@' | '$' | '{')) {
        return false;
    }
    while let Some(c) = chars.next() {
        let ok = c.is_alphanumeric()
            || matches!(c, '_' | '@' | '$' | '{' | '}')
            || (c == '.' && chars.peek().is_some_and(|n| n.is_alphanumeric() || matches!(n, '_' | '{')));
        if !ok {
            return false;
        }
    }
    !["and", "or", "xor", "not", "like", "in"].iter().any(|k| s.eq_ignore_ascii_case(k))
}

/// Writes `e`, parenthesised when its binding is weaker than `min`.
fn write_operand(f: &mut Formatter, e: &Expr, min: u8) -> fmt::Result {
    if prec(e) < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn write_num(f: &mut Formatter, n: f64) -> fmt::Result {
    if n.is_finite() {
        write!(f, "{n}")
    } else if n.is_nan() {
        f.write_str("(0/0)")
    } else if n > 0.0 {
        f.write_str("1e999")
    } else {
        f.write_str("-1e999")
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        match self {
            Expr::Str(s) => write_quoted(f, s),
            Expr::Num(n) => write_num(f, *n),
            Expr::Bool(b) => f.write_str(if *b { "true()" } else { "false()" }),
            Expr::Field(name) => {
                if is_ident(name) {
                    f.write_str(name)
                } else {
                    write!(f, "'{}'", name.replace('\'', "\\'"))
                }
            }
            Expr::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
            Expr::Unary { op: UnaryOp::Not, expr } => {
                f.write_str("NOT ")?;
                write_operand(f, expr, 4)
            }
            Expr::Unary { op: UnaryOp::Neg, expr } => {
                f.write_char('-')?;
                // `--x` would be fine, but `-` before a literal folds into it: keep it apart.
                if matches!(**expr, Expr::Num(_)) {
                    write!(f, "({expr})")
                } else {
                    write_operand(f, expr, 8)
                }
            }
            Expr::Binary { op, lhs, rhs } => {
                let p = binary_prec(*op);
                // Left-associative: the right operand needs parentheses at equal strength.
                write_operand(f, lhs, p)?;
                write!(f, " {op} ")?;
                write_operand(f, rhs, p + 1)
            }
        }
    }
}

fn write_list<T>(f: &mut Formatter, items: &[T], sep: &str, mut each: impl FnMut(&mut Formatter, &T) -> fmt::Result) -> fmt::Result {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        each(f, x)?;
    }
    Ok(())
}

fn write_options(f: &mut Formatter, options: &[(String, String)]) -> fmt::Result {
    for (k, v) in options {
        write!(f, " {k}={}", Word(v))?;
    }
    Ok(())
}

fn write_aggs(f: &mut Formatter, aggs: &[Aggregation]) -> fmt::Result {
    write_list(f, aggs, " ", |f, a| {
        let written = match &a.arg {
            None => a.func.clone(),
            Some(AggArg::Field(x)) => format!("{}({})", a.func, Word(x)),
            Some(AggArg::Eval(e)) => format!("{}(eval({e}))", a.func),
        };
        f.write_str(&written)?;
        if a.name != written {
            write!(f, " as {}", Word(&a.name))?;
        }
        Ok(())
    })
}

fn write_words(f: &mut Formatter, words: &[String], sep: &str) -> fmt::Result {
    write_list(f, words, sep, |f, w| write!(f, "{}", Word(w)))
}

fn write_sort_keys(f: &mut Formatter, keys: &[SortKey]) -> fmt::Result {
    write_list(f, keys, ", ", |f, k| {
        if k.descending {
            f.write_str("- ")?;
        }
        if k.mode == "auto" {
            write!(f, "{}", Word(&k.field))
        } else {
            write!(f, "{}({})", k.mode, Word(&k.field))
        }
    })
}

impl Display for Command {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        let name = self.name.as_str();
        match &self.kind {
            CommandKind::Search(SearchExpr::All) => f.write_str("search"),
            CommandKind::Search(e) => write!(f, "search {e}"),
            CommandKind::Tstats(t) => {
                f.write_str("tstats")?;
                write_options(f, &t.options)?;
                f.write_char(' ')?;
                write_aggs(f, &t.aggregations)?;
                if !t.datamodel.is_empty() {
                    write!(f, " from datamodel={}", Word(&t.datamodel))?;
                }
                if t.filter != SearchExpr::All {
                    // Inside parentheses a field named `by` is not the by-clause.
                    write!(f, " where ({})", t.filter)?;
                }
                if !t.by.is_empty() || t.span.is_some() {
                    f.write_str(" by ")?;
                    write_words(f, &t.by, " ")?;
                    if let Some(s) = &t.span {
                        write!(f, " span={}", Word(s))?;
                    }
                }
                Ok(())
            }
            CommandKind::Where(e) => write!(f, "where {e}"),
            CommandKind::Eval(assignments) => {
                f.write_str("eval ")?;
                write_list(f, assignments, ", ", |f, (n, e)| {
                    if is_ident(n) {
                        write!(f, "{n}={e}")
                    } else {
                        write_quoted(f, n)?;
                        write!(f, "={e}")
                    }
                })
            }
            CommandKind::Stats(s) | CommandKind::Eventstats(s) => {
                write!(f, "{name} ")?;
                write_aggs(f, &s.aggregations)?;
                if !s.by.is_empty() {
                    f.write_str(" by ")?;
                    write_words(f, &s.by, ", ")?;
                }
                Ok(())
            }
            CommandKind::Rename(pairs) => {
                f.write_str("rename ")?;
                write_list(f, pairs, ", ", |f, (a, b)| write!(f, "{} AS {}", Word(a), Word(b)))
            }
            CommandKind::Table(fields) => {
                f.write_str("table ")?;
                write_words(f, fields, " ")
            }
            CommandKind::Fields { remove, fields } => {
                f.write_str(if *remove { "fields - " } else { "fields " })?;
                write_words(f, fields, ", ")
            }
            CommandKind::Dedup(d) => {
                f.write_str("dedup")?;
                if d.count != 1 {
                    write!(f, " {}", d.count)?;
                }
                f.write_char(' ')?;
                write_words(f, &d.fields, " ")?;
                if d.keepempty {
                    f.write_str(" keepempty=true")?;
                }
                if d.consecutive {
                    f.write_str(" consecutive=true")?;
                }
                if !d.sortby.is_empty() {
                    f.write_str(" sortby ")?;
                    write_sort_keys(f, &d.sortby)?;
                }
                Ok(())
            }
            CommandKind::Sort(s) => {
                f.write_str("sort ")?;
                if let Some(n) = s.limit {
                    write!(f, "limit={n} ")?;
                }
                write_sort_keys(f, &s.keys)
            }
            CommandKind::Head(n) => write!(f, "head {n}"),
            CommandKind::Convert(c) => {
                f.write_str("convert")?;
                if let Some(t) = &c.timeformat {
                    write!(f, " timeformat={}", Word(t))?;
                }
                for cv in &c.conversions {
                    write!(f, " {}({})", Word(&cv.func), Word(&cv.field))?;
                    if let Some(a) = &cv.alias {
                        write!(f, " as {}", Word(a))?;
                    }
                }
                Ok(())
            }
            CommandKind::Join(j) => {
                f.write_str("join")?;
                write_options(f, &j.options)?;
                if !j.fields.is_empty() {
                    f.write_char(' ')?;
                    write_words(f, &j.fields, ", ")?;
                }
                write!(f, " [{}]", j.subsearch)
            }
            CommandKind::Lookup(l) => {
                f.write_str("lookup")?;
                write_options(f, &l.options)?;
                write!(f, " {} ", Word(&l.table))?;
                let pair = |f: &mut Formatter, (t, e): &(String, String)| {
                    if t == e {
                        write!(f, "{}", Word(t))
                    } else {
                        write!(f, "{} AS {}", Word(t), Word(e))
                    }
                };
                write_list(f, &l.inputs, ", ", pair)?;
                if !l.outputs.is_empty() {
                    f.write_str(if l.overwrite { " OUTPUT " } else { " OUTPUTNEW " })?;
                    write_list(f, &l.outputs, ", ", pair)?;
                }
                Ok(())
            }
            CommandKind::Inputlookup(il) => {
                f.write_str("inputlookup")?;
                write_options(f, &il.options)?;
                write!(f, " {}", Word(&il.table))?;
                if let Some(e) = &il.filter {
                    write!(f, " where {e}")?;
                }
                Ok(())
            }
            CommandKind::Rex(r) => {
                f.write_str("rex")?;
                if r.field != "_raw" {
                    write!(f, " field={}", Word(&r.field))?;
                }
                if r.sed {
                    f.write_str(" mode=sed")?;
                }
                if r.max_match != 1 {
                    write!(f, " max_match={}", r.max_match)?;
                }
                f.write_char(' ')?;
                write_quoted(f, &r.pattern)
            }
            CommandKind::Regex(r) => {
                f.write_str("regex ")?;
                if r.field != "_raw" || r.negate {
                    write!(f, "{}{}", Word(&r.field), if r.negate { "!=" } else { "=" })?;
                }
                write_quoted(f, &r.pattern)
            }
            CommandKind::Fillnull(fl) => {
                write!(f, "fillnull value={}", Word(&fl.value))?;
                if !fl.fields.is_empty() {
                    f.write_char(' ')?;
                    write_words(f, &fl.fields, " ")?;
                }
                Ok(())
            }
            CommandKind::Bin(b) => {
                write!(f, "{name} ")?;
                if let Some(s) = &b.span {
                    write!(f, "span={} ", Word(s))?;
                }
                if let Some(n) = b.bins {
                    write!(f, "bins={n} ")?;
                }
                write!(f, "{}", Word(&b.field))?;
                if let Some(a) = &b.alias {
                    write!(f, " as {}", Word(a))?;
                }
                Ok(())
            }
            CommandKind::Mvexpand { field, limit } => {
                write!(f, "mvexpand {}", Word(field))?;
                if let Some(n) = limit {
                    write!(f, " limit={n}")?;
                }
                Ok(())
            }
            CommandKind::Makemv { delim, field } => {
                f.write_str("makemv delim=")?;
                write_quoted(f, delim)?;
                write!(f, " {}", Word(field))
            }
            CommandKind::Replace { pairs, fields } => {
                f.write_str("replace")?;
                for (i, (from, to)) in pairs.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { ", " })?;
                    write_quoted(f, from)?;
                    f.write_str(" with ")?;
                    write_quoted(f, to)?;
                }
                if !fields.is_empty() {
                    f.write_str(" in")?;
                    for field in fields {
                        write!(f, " {}", Word(field))?;
                    }
                }
                Ok(())
            }
            CommandKind::Spath { input, output, path } => {
                f.write_str("spath")?;
                if let Some(i) = input {
                    write!(f, " input={}", Word(i))?;
                }
                if let Some(o) = output {
                    write!(f, " output={}", Word(o))?;
                }
                if let Some(p) = path {
                    write!(f, " path={}", Word(p))?;
                }
                Ok(())
            }
            CommandKind::Xmlkv { field: Some(field) } => write!(f, "xmlkv {}", Word(field)),
            CommandKind::Xmlkv { field: None } => f.write_str("xmlkv"),
            CommandKind::Foreach(fe) => {
                f.write_str("foreach")?;
                for field in &fe.fields {
                    write!(f, " {}", Word(field))?;
                }
                write!(f, " [{}]", fe.template)
            }
            CommandKind::TopRare(t) => chart::top_rare(f, t),
            CommandKind::Timechart(t) => chart::timechart(f, t),
            CommandKind::Transaction(t) => {
                f.write_str("transaction")?;
                for field in &t.fields {
                    write!(f, " {}", Word(field))?;
                }
                if let Some(s) = &t.maxspan {
                    write!(f, " maxspan={}", Word(s))?;
                }
                if let Some(s) = &t.maxpause {
                    write!(f, " maxpause={}", Word(s))?;
                }
                if let Some(n) = t.maxevents {
                    write!(f, " maxevents={n}")?;
                }
                let filter = |f: &mut Formatter, name: &str, x: &Option<TxnFilter>| match x {
                    Some(TxnFilter::Search(e)) => write!(f, " {name}=({e})"),
                    Some(TxnFilter::Eval(e)) => write!(f, " {name}=eval({e})"),
                    None => Ok(()),
                };
                filter(f, "startswith", &t.startswith)?;
                filter(f, "endswith", &t.endswith)?;
                if !t.connected {
                    f.write_str(" connected=false")?;
                }
                if t.keepevicted {
                    f.write_str(" keepevicted=true")?;
                }
                match &t.mvlist {
                    MvList::Off => {}
                    MvList::All => f.write_str(" mvlist=true")?,
                    MvList::Fields(fields) => {
                        f.write_str(" mvlist=")?;
                        write_quoted(f, &fields.join(","))?;
                    }
                }
                if t.mvraw {
                    f.write_str(" mvraw=true")?;
                }
                if t.delim != " " {
                    f.write_str(" delim=")?;
                    write_quoted(f, &t.delim)?;
                }
                Ok(())
            }
        }
    }
}

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter) -> fmt::Result {
        for (i, c) in self.commands.iter().enumerate() {
            match (i, &c.kind) {
                (0, CommandKind::Search(_)) => write!(f, "{c}")?,
                (0, _) => write!(f, "| {c}")?,
                _ => write!(f, " | {c}")?,
            }
        }
        Ok(())
    }
}

#[path = "print_chart.rs"]
mod chart;

#[cfg(test)]
mod tests {
    use crate::{parse, parse_eval_expr, parse_search_expr};

    #[test]
    fn prints_canonical_spl() {
        let p = parse(r#"a=1 "b c" OR d NOT (e f) | where x>1 AND NOT y="q\"" | stats count, values(p) as v by h"#).unwrap();
        assert_eq!(p.to_string(), r#"search a=1 "b c" OR d NOT (e f) | where x > 1 AND NOT y = "q\"" | stats count values(p) as v by h"#);
        assert_eq!(parse_eval_expr("(a - (b - c)) * -x . 'f f'").unwrap().to_string(), "(a - (b - c)) * -x . 'f f'");
        assert_eq!(parse_search_expr(r#"x IN ("a b", c) NOT (y OR z)"#).unwrap().to_string(), r#"x IN ("a b", c) NOT (y OR z)"#);
    }
}
