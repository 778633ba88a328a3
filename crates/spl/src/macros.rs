//! Textual expansion of backtick macros, as Splunk does before parsing.
//!
//! `` `name` `` and `` `name(a, b)` `` are replaced by the definition of (`name`, arity) with
//! each `$arg$` replaced by the call's argument text; the result is expanded again, so macros
//! nest. Backticks inside a double-quoted string are left alone. Errors point at the call in
//! the text given to [`expand_macros`]: for a problem deep inside nested definitions, the span
//! is the outermost call and the message names the chain.

use crate::ast::Span;
use crate::{ErrorKind, SplError};

/// A macro definition, as in ESCU `macros/*.yml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroDef {
    pub name: String,
    /// Argument names, in order; `$name$` in `definition` is replaced by the call's value.
    pub args: Vec<String>,
    pub definition: String,
}

/// Where macro definitions come from (content layers, tests).
pub trait MacroSource {
    /// The macro called `name` taking `arity` arguments.
    fn lookup(&self, name: &str, arity: usize) -> Option<&MacroDef>;
}

/// Bounds that keep expansion from running away on hostile content.
#[derive(Clone, Debug)]
pub struct ExpandLimits {
    pub max_depth: usize,
    pub max_output_bytes: usize,
}

impl Default for ExpandLimits {
    fn default() -> Self {
        ExpandLimits { max_depth: 32, max_output_bytes: 1 << 20 }
    }
}

/// Expands backtick macros textually, recursively, and drops triple-backtick comments.
///
/// Errors: [`ErrorKind::UnknownMacro`] (no definition with that name and arity),
/// [`ErrorKind::MacroCycle`], [`ErrorKind::Limit`] (depth or output size), and
/// [`ErrorKind::Syntax`] for an unclosed backtick or a malformed call.
pub fn expand_macros(text: &str, macros: &dyn MacroSource, limits: &ExpandLimits) -> Result<String, SplError> {
    let mut ex = Expander { macros, limits, chain: Vec::new(), outer: None };
    let mut out = String::with_capacity(text.len());
    ex.expand_into(text, &mut out)?;
    Ok(out)
}

/// A call as found in the text: `` `name(args)` ``.
struct Call<'t> {
    name: &'t str,
    args: Vec<&'t str>,
}

struct Expander<'m> {
    macros: &'m dyn MacroSource,
    limits: &'m ExpandLimits,
    /// Macros being expanded, outermost first (name, arity).
    chain: Vec<(String, usize)>,
    /// Span of the outermost call in the user's text, while expanding inside a definition.
    outer: Option<Span>,
}

impl Expander<'_> {
    /// The span to report: the outermost call when inside a definition, else `local`.
    fn span(&self, local: Span) -> Span {
        self.outer.unwrap_or(local)
    }

    fn chain_note(&self) -> String {
        if self.chain.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = self.chain.iter().map(|(n, _)| format!("`{n}`")).collect();
            format!(" (in the expansion of {})", names.join(" -> "))
        }
    }

    fn expand_into(&mut self, text: &str, out: &mut String) -> Result<(), SplError> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut copied = 0;
        let mut in_quote = false;
        while i < bytes.len() {
            match bytes.get(i) {
                Some(b'\\') if in_quote || crate::lexer::is_escape_at(bytes, i) => {
                    i += 2;
                    continue;
                }
                Some(b'"') => in_quote = !in_quote,
                Some(b'`') if !in_quote && text.get(i..i + 3) == Some("```") => {
                    // A comment: ```...```. Dropped, leaving a space so tokens stay apart.
                    let Some(rel) = text.get(i + 3..).and_then(|rest| rest.find("```")) else {
                        let (_, col) = crate::line_col(text, i);
                        return Err(SplError::syntax(
                            format!("unclosed comment: the ``` at column {col} has no closing ```{}", self.chain_note()),
                            self.span(Span::new(i, text.len())),
                        ));
                    };
                    out.push_str(text.get(copied..i).unwrap_or(""));
                    out.push(' ');
                    i = i + 3 + rel + 3;
                    copied = i;
                    continue;
                }
                Some(b'`') if !in_quote => {
                    let Some(rel) = text.get(i + 1..).and_then(|rest| rest.find('`')) else {
                        let (_, col) = crate::line_col(text, i);
                        return Err(SplError::syntax(
                            format!("unclosed macro call: the backtick at column {col} has no closing backtick{}", self.chain_note()),
                            self.span(Span::new(i, text.len())),
                        ));
                    };
                    let close = i + 1 + rel;
                    let call_span = Span::new(i, close + 1);
                    out.push_str(text.get(copied..i).unwrap_or(""));
                    let inner = text.get(i + 1..close).unwrap_or("");
                    let call =
                        parse_call(inner).map_err(|msg| SplError::syntax(format!("{msg}{}", self.chain_note()), self.span(call_span)))?;
                    self.expand_call(&call, call_span, out)?;
                    if out.len() > self.limits.max_output_bytes {
                        return Err(SplError::new(
                            ErrorKind::Limit,
                            format!("macro expansion exceeds {} bytes", self.limits.max_output_bytes),
                            self.span(call_span),
                        ));
                    }
                    i = close + 1;
                    copied = i;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        out.push_str(text.get(copied..).unwrap_or(""));
        if out.len() > self.limits.max_output_bytes {
            return Err(SplError::new(
                ErrorKind::Limit,
                format!("macro expansion exceeds {} bytes", self.limits.max_output_bytes),
                self.span(Span::new(0, text.len())),
            ));
        }
        Ok(())
    }

    fn expand_call(&mut self, call: &Call<'_>, call_span: Span, out: &mut String) -> Result<(), SplError> {
        let arity = call.args.len();
        let Some(def) = self.macros.lookup(call.name, arity) else {
            let what = if arity == 0 { format!("`{}`", call.name) } else { format!("`{}` with {arity} argument(s)", call.name) };
            return Err(SplError::new(
                ErrorKind::UnknownMacro(call.name.to_string()),
                format!("unknown macro {what}{}", self.chain_note()),
                self.span(call_span),
            ));
        };
        if self.chain.iter().any(|(n, a)| n == call.name && *a == arity) {
            let mut names: Vec<&str> = self.chain.iter().map(|(n, _)| n.as_str()).collect();
            names.push(call.name);
            let chain = names.join(" -> ");
            return Err(SplError::new(ErrorKind::MacroCycle(chain.clone()), format!("macro cycle: {chain}"), self.span(call_span)));
        }
        if self.chain.len() >= self.limits.max_depth {
            return Err(SplError::new(
                ErrorKind::Limit,
                format!("macros nest deeper than {} levels{}", self.limits.max_depth, self.chain_note()),
                self.span(call_span),
            ));
        }
        // Arguments can double at every level (`m(x)` = `` `n($x$$x$)` ``): bound the body
        // before building it, not only the output.
        let Some(body) = substitute(&def.definition, &def.args, &call.args, self.limits.max_output_bytes) else {
            return Err(SplError::new(
                ErrorKind::Limit,
                format!(
                    "macro expansion exceeds {} bytes (substituting the arguments of `{}`){}",
                    self.limits.max_output_bytes,
                    call.name,
                    self.chain_note()
                ),
                self.span(call_span),
            ));
        };
        let was_outer = self.outer;
        if self.outer.is_none() {
            self.outer = Some(call_span);
        }
        self.chain.push((call.name.to_string(), arity));
        let r = self.expand_into(&body, out);
        self.chain.pop();
        self.outer = was_outer;
        r
    }
}

/// Parses the text between backticks: `name` or `name(arg, ...)`.
fn parse_call(inner: &str) -> Result<Call<'_>, String> {
    let inner = inner.trim();
    let Some(open) = inner.find('(') else {
        if inner.is_empty() {
            return Err("empty macro call ``".to_string());
        }
        return Ok(Call { name: inner, args: Vec::new() });
    };
    let name = inner.get(..open).unwrap_or("").trim();
    if name.is_empty() {
        return Err("macro call without a name".to_string());
    }
    let Some(body) = inner.strip_suffix(')').and_then(|s| s.get(open + 1..)) else {
        return Err(format!("macro call `{name}(...)` must end with `)`"));
    };
    Ok(Call { name, args: split_args(body) })
}

/// Splits macro arguments on top-level commas (not inside quotes or parentheses) and trims
/// them. `name()` has no arguments.
fn split_args(body: &str) -> Vec<&str> {
    if body.trim().is_empty() {
        return Vec::new();
    }
    let bytes = body.as_bytes();
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut in_quote = false;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'\\') if in_quote || crate::lexer::is_escape_at(bytes, i) => i += 1,
            Some(b'"') => in_quote = !in_quote,
            Some(b'(') if !in_quote => depth += 1,
            Some(b')') if !in_quote => depth = depth.saturating_sub(1),
            Some(b',') if !in_quote && depth == 0 => {
                args.push(body.get(start..i).unwrap_or("").trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    args.push(body.get(start..).unwrap_or("").trim());
    args
}

/// Replaces `$name$` for each declared argument, in one left-to-right pass (substituted text
/// is not rescanned for `$...$`). `None` when the result would exceed `max` bytes.
fn substitute(definition: &str, names: &[String], values: &[&str], max: usize) -> Option<String> {
    if names.is_empty() {
        return Some(definition.to_string());
    }
    let mut out = String::with_capacity(definition.len());
    let mut rest = definition;
    while let Some(d) = rest.find('$') {
        out.push_str(rest.get(..d).unwrap_or(""));
        let after = rest.get(d + 1..).unwrap_or("");
        let hit = after.find('$').and_then(|e| {
            let name = after.get(..e)?;
            let idx = names.iter().position(|n| n == name)?;
            Some((e, values.get(idx).copied().unwrap_or("")))
        });
        match hit {
            Some((e, value)) => {
                if out.len() + value.len() > max {
                    return None;
                }
                out.push_str(value);
                rest = after.get(e + 1..).unwrap_or("");
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Defs(HashMap<(String, usize), MacroDef>);

    impl Defs {
        fn add(mut self, name: &str, args: &[&str], def: &str) -> Self {
            let d = MacroDef { name: name.into(), args: args.iter().map(|s| s.to_string()).collect(), definition: def.into() };
            self.0.insert((name.into(), args.len()), d);
            self
        }
    }

    impl MacroSource for Defs {
        fn lookup(&self, name: &str, arity: usize) -> Option<&MacroDef> {
            self.0.get(&(name.to_string(), arity))
        }
    }

    fn esc() -> Defs {
        Defs::default()
            .add(
                "security_content_summariesonly",
                &[],
                "summariesonly=`summariesonly_config` allow_old_summaries=`oldsummaries_config` fillnull_value=`fillnull_config`",
            )
            .add("summariesonly_config", &[], "false")
            .add("oldsummaries_config", &[], "true")
            .add("fillnull_config", &[], "null")
            .add("drop_dm_object_name", &["object"], "rename $object$.* AS *")
            .add("security_content_ctime", &["field"], "convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime($field$)")
            .add("two", &["a", "b"], "$a$-$b$-$c$-$$")
    }

    fn expand(s: &str) -> Result<String, SplError> {
        expand_macros(s, &esc(), &ExpandLimits::default())
    }

    #[test]
    fn nested_and_arguments() {
        assert_eq!(
            expand("| tstats `security_content_summariesonly` count | `drop_dm_object_name(Processes)` | `security_content_ctime(firstTime)`").unwrap(),
            "| tstats summariesonly=false allow_old_summaries=true fillnull_value=null count | rename Processes.* AS * | convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime(firstTime)"
        );
        assert_eq!(expand("`drop_dm_object_name(\"Processes\")`").unwrap(), "rename \"Processes\".* AS *");
    }

    #[test]
    fn args_split_on_top_level_commas_and_trimmed() {
        assert_eq!(expand("`two( f(x, y) , \"a,b\" )`").unwrap(), "f(x, y)-\"a,b\"-$c$-$$");
        assert_eq!(split_args("a, (b,c), \"d,e\", "), vec!["a", "(b,c)", "\"d,e\"", ""]);
    }

    #[test]
    fn arity_selects_definition() {
        let e = expand("`two(a)`").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownMacro("two".into()));
        assert!(e.message.contains("1 argument"), "{}", e.message);
    }

    #[test]
    fn backticks_in_quotes_are_literal() {
        assert_eq!(expand(r#"x="a `b` \" `c`" `summariesonly_config`"#).unwrap(), r#"x="a `b` \" `c`" false"#);
    }

    #[test]
    fn unknown_macro_span_is_the_call() {
        let text = "| tstats count | `nope_filter` | x";
        let e = expand(text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownMacro("nope_filter".into()));
        assert_eq!(&text[e.span.start..e.span.end], "`nope_filter`");
    }

    #[test]
    fn unknown_inside_definition_points_at_outer_call() {
        let defs = Defs::default().add("outer", &[], "a `inner` b");
        let text = "x `outer` y";
        let e = expand_macros(text, &defs, &ExpandLimits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownMacro("inner".into()));
        assert_eq!(e.span, Span::new(2, 9));
        assert!(e.message.contains("`outer`"), "{}", e.message);
    }

    #[test]
    fn cycle_is_detected_and_named() {
        let defs = Defs::default().add("a", &[], "x `b`").add("b", &[], "`a`");
        let e = expand_macros("`a`", &defs, &ExpandLimits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::MacroCycle("a -> b -> a".into()));
    }

    #[test]
    fn depth_and_size_limits() {
        let mut defs = Defs::default();
        for i in 0..50 {
            defs = defs.add(&format!("m{i}"), &[], &format!("`m{}`", i + 1));
        }
        defs = defs.add("m50", &[], "end");
        let e = expand_macros("`m0`", &defs, &ExpandLimits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
        // Exponential blow-up: each level doubles.
        let mut defs = Defs::default().add("b0", &[], "xxxxxxxxxxxxxxxx");
        for i in 1..30 {
            defs = defs.add(&format!("b{i}"), &[], &format!("`b{}``b{}`", i - 1, i - 1));
        }
        let e = expand_macros("`b29`", &defs, &ExpandLimits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
    }

    #[test]
    fn argument_growth_is_bounded_before_it_is_built() {
        // Each level passes its argument twice to the next: 2^31 copies at the depth limit.
        let mut defs = Defs::default().add("d31", &["x"], "$x$");
        for i in 0..31 {
            defs = defs.add(&format!("d{i}"), &["x"], &format!("`d{}($x$$x$)`", i + 1));
        }
        let e = expand_macros("`d0(abcdefgh)`", &defs, &ExpandLimits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
        assert!(e.message.contains("exceeds 1048576 bytes"), "{}", e.message);
        assert_eq!(e.span, Span::new(0, 14));
        // One level with many uses of a big argument.
        let defs = Defs::default().add("many", &["x"], &"$x$".repeat(10_000));
        let big = "y".repeat(10_000);
        let e = expand_macros(&format!("`many({big})`"), &defs, &ExpandLimits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
    }

    #[test]
    fn triple_backtick_comments_are_dropped() {
        assert_eq!(expand("a ```note `x` | y``` | b ```c```").unwrap(), "a   | b  ");
        assert_eq!(expand("x=\"```\" ```c```").unwrap(), "x=\"```\"  ");
        assert!(expand("a ```open").unwrap_err().message.contains("unclosed comment"));
    }

    #[test]
    fn unclosed_backtick() {
        let e = expand("a `b").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert_eq!(e.span.start, 2);
    }

    #[test]
    fn no_macros_is_identity_and_unicode_safe() {
        for s in ["", "é `summariesonly_config` ü", "\"unterminated `x`", "\\"] {
            let _ = expand(s);
        }
        assert_eq!(expand("é `summariesonly_config` ü").unwrap(), "é false ü");
    }
}
