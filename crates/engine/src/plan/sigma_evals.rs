//! The `| eval` commands that give a Sigma rule's result rows its title, id, level and tags
//! and the mapping's result fields. They are built as the syntax trees the SPL parser makes of
//! their text ([`describe_evals`], [`risk_evals`]) rather than parsed: parsing cost ~130k
//! instructions a rule (250 M for SigmaHQ's ~1,900 rules). The planner still turns them into
//! operators as any `eval`; the text is kept for error messages and as the tests' reference.

use vigil_sigma::RuleMeta;
use vigil_spl::ast::{BinaryOp, Command, CommandKind, Expr, Span};

/// `| eval sigma_title=..., sigma_id=..., sigma_level=...[, sigma_tags=...]` as a command.
pub(super) fn describe_command(m: &RuleMeta) -> Command {
    let text = |s: &str| Expr::Str(s.to_string());
    let mut assignments = vec![
        ("sigma_title".to_string(), text(&m.title)),
        ("sigma_id".to_string(), text(m.id.as_deref().unwrap_or(""))),
        ("sigma_level".to_string(), text(m.level.as_deref().unwrap_or(""))),
    ];
    if !m.tags.is_empty() {
        assignments.push(("sigma_tags".to_string(), call("split", vec![Expr::Str(m.tags.join("|")), text("|")])));
    }
    eval_command(assignments)
}

/// `| eval dest=coalesce(...), ...` as commands (none without result fields); parsed from
/// [`risk_evals`] when a name is one the parser might read otherwise than as written.
pub(super) fn risk_commands(result_fields: &[(String, Vec<String>)]) -> Result<Vec<Command>, vigil_spl::SplError> {
    if result_fields.is_empty() {
        return Ok(Vec::new());
    }
    let plain = result_fields.iter().all(|(name, from)| is_identifier(name) && !from.iter().any(|f| f.contains('\\')));
    if !plain {
        let pipeline = vigil_spl::parse(&format!("search *{}", risk_evals(result_fields)))?;
        return Ok(pipeline.commands.into_iter().skip(1).collect());
    }
    let assignments = result_fields
        .iter()
        .map(|(name, from)| {
            // Windows writes "-" for an empty account or host: not a value.
            let args = from
                .iter()
                .map(|f| {
                    let dash =
                        Expr::Binary { op: BinaryOp::Eq, lhs: Box::new(Expr::Field(f.clone())), rhs: Box::new(Expr::Str("-".into())) };
                    call("if", vec![dash, call("null", Vec::new()), Expr::Field(f.clone())])
                })
                .collect();
            (name.clone(), call("coalesce", args))
        })
        .collect();
    Ok(vec![eval_command(assignments)])
}

/// A name the expression lexer reads as one identifier, exactly as written.
fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// Spans point into a text these commands do not have; the planner reads them only to place
// errors, which these functions (all known, with their arities) do not raise.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call { name: name.to_string(), args, span: Span::default() }
}

fn eval_command(assignments: Vec<(String, Expr)>) -> Command {
    Command { name: "eval".into(), span: Span::default(), kind: CommandKind::Eval(assignments) }
}

/// [`describe_command`] as SPL text.
pub(super) fn describe_evals(m: &RuleMeta) -> String {
    // Log source values have no `*`, so SPL patterns match them exactly.
    let mut text = format!(
        "| eval sigma_title=\"{}\", sigma_id=\"{}\", sigma_level=\"{}\"",
        quote(&m.title),
        quote(m.id.as_deref().unwrap_or("")),
        quote(m.level.as_deref().unwrap_or(""))
    );
    if !m.tags.is_empty() {
        text.push_str(&format!(", sigma_tags=split(\"{}\", \"|\")", quote(&m.tags.join("|"))));
    }
    text
}

/// [`risk_commands`] as SPL text.
pub(super) fn risk_evals(result_fields: &[(String, Vec<String>)]) -> String {
    let mut parts = Vec::new();
    for (name, from) in result_fields {
        let args: Vec<String> = from
            .iter()
            .map(|f| {
                let f = format!("'{}'", f.replace('\'', "\\'"));
                format!("if({f}==\"-\", null(), {f})")
            })
            .collect();
        parts.push(format!("{name}=coalesce({})", args.join(", ")));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("| eval {}", parts.join(", "))
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commands the parser makes of `text`, without spans.
    fn parsed(text: &str) -> Vec<Command> {
        let pipeline = vigil_spl::parse(&format!("search *{text}")).unwrap();
        pipeline.commands.into_iter().skip(1).map(nospan).collect()
    }

    fn nospan(c: Command) -> Command {
        fn e(x: Expr) -> Expr {
            match x {
                Expr::Call { name, args, .. } => Expr::Call { name, args: args.into_iter().map(e).collect(), span: Span::default() },
                Expr::Binary { op, lhs, rhs } => Expr::Binary { op, lhs: Box::new(e(*lhs)), rhs: Box::new(e(*rhs)) },
                Expr::Unary { op, expr } => Expr::Unary { op, expr: Box::new(e(*expr)) },
                other => other,
            }
        }
        let kind = match c.kind {
            CommandKind::Eval(a) => CommandKind::Eval(a.into_iter().map(|(n, x)| (n, e(x))).collect()),
            other => other,
        };
        Command { span: Span::default(), kind, ..c }
    }

    #[test]
    fn describe_command_is_its_text_parsed() {
        let mut m = RuleMeta { title: r#"Quote " and \ back\"slash \\ end\"#.into(), ..Default::default() };
        assert_eq!(vec![describe_command(&m)], parsed(&describe_evals(&m)));
        m.id = Some("5f2c-'x'".into());
        m.level = Some("high".into());
        m.tags = vec!["attack.t1059".into(), "a \"b\" \\c".into(), "|".into()];
        assert_eq!(vec![describe_command(&m)], parsed(&describe_evals(&m)));
    }

    #[test]
    fn risk_commands_are_their_text_parsed() {
        let cases: Vec<Vec<(String, Vec<String>)>> = vec![
            Vec::new(),
            vec![("dest".into(), vec!["Computer".into(), "Device Name".into()]), ("user".into(), vec!["it's".into()])],
            // Names the parser would read otherwise: parsed, so the same.
            vec![("src.ip".into(), vec!["a\\b".into()])],
            vec![("_x1".into(), vec!["end\\".into(), "q\\'".into()])],
        ];
        for fields in cases {
            let text = risk_evals(&fields);
            match vigil_spl::parse(&format!("search *{text}")) {
                Ok(_) => assert_eq!(risk_commands(&fields).unwrap().into_iter().map(nospan).collect::<Vec<_>>(), parsed(&text), "{text}"),
                Err(_) => assert!(risk_commands(&fields).is_err(), "{text}"),
            }
        }
        assert!(is_identifier("_a1") && !is_identifier("1a") && !is_identifier("a.b") && !is_identifier(""));
    }
}
