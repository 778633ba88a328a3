//! The `condition` language: `and`, `or`, `not`, parentheses, `1 of` / `all of` a name
//! pattern or `them`. Precedence, least binding first: or, and, not, `x of`, parentheses.

use crate::expr::Expr;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    LParen,
    RParen,
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if !word.is_empty() {
            out.push(Token::Word(std::mem::take(word)));
        }
    };
    for c in s.chars() {
        match c {
            '(' | ')' => {
                flush(&mut word, &mut out);
                out.push(if c == '(' { Token::LParen } else { Token::RParen });
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            '|' => return Err("aggregation expressions (`| count() ...`) are deprecated: use a correlation rule".into()),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    Ok(out)
}

/// Compiles a condition over the rule's search identifiers (`idents`, in rule order).
pub fn compile(cond: &str, idents: &[(String, Expr)]) -> Result<Expr, String> {
    let tokens = tokenize(cond)?;
    let mut p = Parser { tokens, pos: 0, idents };
    let e = p.or()?;
    if p.pos < p.tokens.len() {
        return Err(format!("unexpected `{}` in condition `{cond}`", p.show(p.pos)));
    }
    Ok(e)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    idents: &'a [(String, Expr)],
}

impl Parser<'_> {
    fn show(&self, i: usize) -> String {
        match self.tokens.get(i) {
            Some(Token::LParen) => "(".into(),
            Some(Token::RParen) => ")".into(),
            Some(Token::Word(w)) => w.clone(),
            None => "end".into(),
        }
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(Expr::any(items))
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while self.keyword("and") {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(Expr::all(items))
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let at = self.pos;
        match self.tokens.get(at).cloned() {
            Some(Token::LParen) => {
                self.pos += 1;
                let e = self.or()?;
                if self.tokens.get(self.pos) != Some(&Token::RParen) {
                    return Err(format!("expected `)` in condition, found `{}`", self.show(self.pos)));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Token::Word(w)) => {
                let quant = w.eq_ignore_ascii_case("all") || w.eq_ignore_ascii_case("any") || w.parse::<usize>().is_ok();
                if quant && matches!(self.tokens.get(at + 1), Some(Token::Word(o)) if o.eq_ignore_ascii_case("of")) {
                    let Some(Token::Word(pat)) = self.tokens.get(at + 2).cloned() else {
                        return Err(format!("`{w} of` needs a name pattern or `them`"));
                    };
                    self.pos += 3;
                    return self.quantified(&w, &pat);
                }
                if ["and", "or", "of"].iter().any(|k| w.eq_ignore_ascii_case(k)) {
                    return Err(format!("unexpected `{w}` in condition"));
                }
                self.pos += 1;
                self.idents
                    .iter()
                    .find(|(n, _)| *n == w)
                    .map(|(_, e)| e.clone())
                    .ok_or_else(|| format!("condition names `{w}`, which is not a search identifier of the rule"))
            }
            _ => Err(format!("expected a search identifier, found `{}`", self.show(at))),
        }
    }

    fn quantified(&self, quant: &str, pat: &str) -> Result<Expr, String> {
        let them = pat.eq_ignore_ascii_case("them");
        let matched: Vec<Expr> = self
            .idents
            .iter()
            .filter(|(n, _)| if them { !n.starts_with('_') } else { name_matches(pat, n) })
            .map(|(_, e)| e.clone())
            .collect();
        if matched.is_empty() {
            return Err(format!("`{quant} of {pat}` matches no search identifier"));
        }
        if quant.eq_ignore_ascii_case("all") {
            return Ok(Expr::And(matched));
        }
        let n: usize = quant.parse().unwrap_or(1);
        if n != 1 {
            return Err(format!("unsupported: `{n} of` (only `1 of` and `all of` are in the specification)"));
        }
        Ok(Expr::Or(matched))
    }
}

/// Name pattern with `*` wildcards (case-sensitive, like identifiers).
fn name_matches(pat: &str, name: &str) -> bool {
    let toks: Vec<crate::pattern::Tok> =
        pat.chars().map(|c| if c == '*' { crate::pattern::Tok::Star } else { crate::pattern::Tok::Char(c) }).collect();
    crate::pattern::Glob::new(toks, true).matches(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Fields, Test};

    struct Ev(Vec<(&'static str, &'static str)>);
    impl Fields for Ev {
        fn any_value(&self, field: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
            self.0.iter().filter(|(k, _)| *k == field).any(|(_, v)| f(v))
        }
        fn any_field_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
            self.0.iter().any(|(_, v)| f(v))
        }
    }

    fn has(field: &str) -> Expr {
        Expr::Leaf { field: Some(field.into()), test: Test::Exists(true) }
    }

    fn idents() -> Vec<(String, Expr)> {
        vec![("sel_a".into(), has("a")), ("sel_b".into(), has("b")), ("filter".into(), has("f")), ("_x".into(), has("x"))]
    }

    fn eval(cond: &str, ev: &Ev) -> bool {
        compile(cond, &idents()).unwrap().eval(ev)
    }

    #[test]
    fn precedence_and_quantifiers() {
        let ab = Ev(vec![("a", "1"), ("b", "1")]);
        let a = Ev(vec![("a", "1")]);
        let af = Ev(vec![("a", "1"), ("f", "1")]);
        assert!(eval("all of sel_*", &ab));
        assert!(!eval("all of sel_*", &a));
        assert!(eval("1 of sel_* and not filter", &a));
        assert!(!eval("1 of sel_* and not filter", &af));
        assert!(eval("sel_b or sel_a and not filter", &a));
        assert!(!eval("(sel_b or sel_a) and not filter", &af));
        assert!(eval("not not sel_a", &a));
        // `them` leaves out names starting with an underscore.
        assert!(eval("all of them", &Ev(vec![("a", "1"), ("b", "1"), ("f", "1")])));
        assert!(compile("sel_c", &idents()).is_err());
        assert!(compile("sel_a and", &idents()).is_err());
        assert!(compile("(sel_a", &idents()).is_err());
        assert!(compile("selection | count() > 5", &idents()).is_err());
    }
}
