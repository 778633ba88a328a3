//! Predicates as text, for EXPLAIN: SPL-like, patterns lowercased as they are matched.

use crate::expr::field::FieldRef;
use crate::expr::predicate::Pred;

/// How a field reference is named in the text.
pub(crate) type FieldName<'a> = &'a dyn Fn(&FieldRef) -> String;

impl Pred {
    pub(crate) fn describe(&self, name: FieldName) -> String {
        let quoted = |p: &crate::expr::pattern::Pattern| format!("\"{}\"", p.text());
        match self {
            Pred::True => "*".into(),
            Pred::And(items) => items.iter().map(|p| p.describe_nested(name)).collect::<Vec<_>>().join(" AND "),
            Pred::Or(items) => items.iter().map(|p| p.describe_nested(name)).collect::<Vec<_>>().join(" OR "),
            Pred::Not(p) => format!("NOT {}", p.describe_nested(name)),
            Pred::Eq(f, p) => format!("{}={}", name(f), quoted(p)),
            Pred::Ne(f, p) => format!("{}!={}", name(f), quoted(p)),
            Pred::Present(f) => format!("{}=*", name(f)),
            Pred::Order(f, op, v) => format!("{}{op}\"{v}\"", name(f)),
            Pred::AnyOf(f, pats) => format!("{} IN ({})", name(f), pats.iter().map(quoted).collect::<Vec<_>>().join(", ")),
            Pred::AnyTuple(t) => {
                let fields: Vec<String> = t.fields().map(name).collect();
                let (indexed, rest) = t.sizes();
                let mut text = format!("({}) IN {indexed} indexed tuples", fields.join(", "));
                for p in rest {
                    text.push_str(&format!(" OR {}", p.describe_nested(name)));
                }
                text
            }
            Pred::Raw(p) => quoted(p),
            Pred::External(p) => p.describe(),
        }
    }

    fn describe_nested(&self, name: FieldName) -> String {
        match self {
            Pred::And(items) | Pred::Or(items) if items.len() > 1 => format!("({})", self.describe(name)),
            _ => self.describe(name),
        }
    }
}
