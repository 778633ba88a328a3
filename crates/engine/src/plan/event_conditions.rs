//! What an event must have for a query's raw-event scans to read it: per scan, exact-value
//! conditions (conjunctive clauses of field-value alternatives) taken from its predicate.
//! The add-on knowledge uses them to derive, per kind of event, only the fields the searches
//! that can read such events name.

use crate::expr::field::FieldRef;
use crate::expr::predicate::Pred;
use crate::expr::prefilter::{anchors, literals};
use crate::plan::{Query, Scan};

/// One raw-event scan's necessary conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventConditions {
    /// Every clause must hold: an event has at least one of its (field name, lowercased
    /// text, exact) atoms: a value equal to the text when exact, else containing it. No
    /// clause means any event may be read.
    pub clauses: Vec<Vec<(String, String, bool)>>,
    /// Whether the scan keeps whole events (no projection): its rows show every field the
    /// event has, derived ones included, not only the ones its text names.
    pub whole_events: bool,
}

impl Query {
    /// The conditions of each raw-event scan (empty when the query reads no raw events).
    pub fn event_conditions(&self) -> Vec<EventConditions> {
        self.scans
            .iter()
            .filter_map(|s| match s {
                Scan::Events(e) => Some(EventConditions { clauses: clauses(&e.pred), whole_events: e.projection.is_none() }),
                Scan::Tstats(_) => None,
            })
            .collect()
    }
}

/// The predicate's necessary conditions as conjunctive clauses: each conjunct of a top-level
/// `AND` gives its own clause (where the prefilter keeps only the smallest one), of exact
/// values when it has them, else of literals. Clauses on anything but named fields are left
/// out (they only weaken what is known, never wrongly).
fn clauses(pred: &Pred) -> Vec<Vec<(String, String, bool)>> {
    if let Pred::And(items) = pred {
        return items.iter().flat_map(clauses).collect();
    }
    let atoms = match anchors(pred) {
        Some(a) => a.into_iter().map(|(f, v)| (f, v, true)).collect(),
        None => match literals(pred, &[]) {
            Some(l) => l.into_iter().map(|(f, v)| (f, v, false)).collect::<Vec<_>>(),
            None => return Vec::new(),
        },
    };
    let named: Option<Vec<(String, String, bool)>> = atoms
        .into_iter()
        .map(|(f, v, exact)| match f {
            FieldRef::Name(n) => Some((n, v, exact)),
            _ => None,
        })
        .collect();
    named.filter(|c| !c.is_empty()).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::pattern::Pattern;

    fn eq(f: &str, v: &str) -> Pred {
        Pred::Eq(FieldRef::Name(f.into()), Pattern::new(v))
    }

    fn atoms(pairs: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
        pairs.iter().map(|(f, v, e)| (f.to_string(), v.to_string(), *e)).collect()
    }

    #[test]
    fn every_conjunct_gives_a_clause() {
        let sysmon = Pred::Or(vec![eq("sourcetype", "A"), eq("source", "B")]);
        let p = Pred::And(vec![sysmon, eq("EventCode", "1"), eq("Image", "*\\x.exe"), Pred::Not(Box::new(eq("User", "x")))]);
        let c = clauses(&p);
        assert_eq!(
            c,
            vec![
                atoms(&[("sourcetype", "a", true), ("source", "b", true)]),
                atoms(&[("EventCode", "1", true)]),
                atoms(&[("Image", "\\x.exe", false)])
            ]
        );
    }

    #[test]
    fn a_disjunction_gives_a_clause_only_when_each_side_has_a_condition() {
        let p = Pred::Or(vec![eq("EventCode", "1"), eq("Image", "*x*")]);
        assert_eq!(clauses(&p), vec![atoms(&[("EventCode", "1", false), ("Image", "x", false)])]);
        let p = Pred::Or(vec![eq("EventCode", "1"), Pred::Present(FieldRef::Name("Image".into()))]);
        assert!(clauses(&p).is_empty());
        assert!(clauses(&Pred::Not(Box::new(eq("EventCode", "1")))).is_empty());
    }
}
