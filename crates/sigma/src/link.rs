//! A correlation's references resolved: the rules (or correlations) it names, each with the
//! event fields its `group-by` and `field` values come from (aliases applied, then the
//! mapping file's per-source names).

use crate::correlation::{Correlation, Failure};
use crate::mapping::{CompiledRule, Mapping};

/// Deepest chain of correlations over correlations (a cycle stops here too).
const MAX_DEPTH: usize = 8;

/// A correlation ready for the engine.
#[derive(Clone, Debug)]
pub struct CompiledCorrelation {
    pub spec: Correlation,
    /// One per rule named, in the correlation's order.
    pub inputs: Vec<Input>,
}

/// One rule a correlation names, and where each value it needs is in its events.
#[derive(Clone, Debug)]
pub struct Input {
    /// As the correlation names it (id or name).
    pub reference: String,
    pub source: InputSource,
    /// Per `group-by` field: the event fields that may hold it, first with a value wins.
    pub group: Vec<Vec<String>>,
    /// Per `condition: field:` field, likewise.
    pub value: Vec<Vec<String>>,
}

#[derive(Clone, Debug)]
pub enum InputSource {
    Rule(Box<CompiledRule>),
    Correlation(Box<CompiledCorrelation>),
}

/// What a reference resolves to.
pub enum Target<'a> {
    Rule(&'a CompiledRule),
    Correlation(&'a Correlation),
    /// A rule that exists but cannot run (its problem).
    Broken(String),
}

impl CompiledCorrelation {
    /// Resolves `spec`'s references through `find` (id or name -> target).
    pub fn link<'a>(mapping: &Mapping, spec: &Correlation, find: &dyn Fn(&str) -> Option<Target<'a>>) -> Result<Self, Failure> {
        link_at(mapping, spec, find, 0)
    }
}

fn link_at<'a>(
    mapping: &Mapping,
    spec: &Correlation,
    find: &dyn Fn(&str) -> Option<Target<'a>>,
    depth: usize,
) -> Result<CompiledCorrelation, Failure> {
    if depth > MAX_DEPTH {
        return Err((false, format!("correlations chained deeper than {MAX_DEPTH} (a cycle?)")));
    }
    for alias in spec.aliases.keys() {
        if !spec.group_by.contains(alias) && !spec.field.contains(alias) {
            return Err((false, format!("alias `{alias}` is used by neither group-by nor field")));
        }
    }
    let mut inputs = Vec::new();
    for reference in &spec.rules {
        let (source, names) = match find(reference) {
            None => return Err((false, format!("rule `{reference}` is not loaded (referenced by id or name)"))),
            Some(Target::Broken(why)) => return Err((true, format!("rule `{reference}` cannot run: {why}"))),
            Some(Target::Rule(r)) => (InputSource::Rule(Box::new(r.clone())), [r.meta.id.clone(), r.meta.name.clone()]),
            Some(Target::Correlation(c)) => {
                let inner = link_at(mapping, c, find, depth + 1)?;
                (InputSource::Correlation(Box::new(inner)), [c.meta.id.clone(), c.meta.name.clone()])
            }
        };
        // An alias names the rule by its `name` (or id); the field as the rule's events call it.
        let event_field = |field: &str| -> String {
            spec.aliases
                .get(field)
                .and_then(|per_rule| std::iter::once(reference).chain(names.iter().flatten()).find_map(|n| per_rule.get(n.as_str())))
                .cloned()
                .unwrap_or_else(|| field.to_string())
        };
        let places = |field: &str| -> Vec<String> {
            let f = event_field(field);
            match &source {
                InputSource::Rule(r) => mapping.raw_names(r, &f),
                // A correlation's hits carry its group-by fields by their own names.
                InputSource::Correlation(_) => vec![f],
            }
        };
        let group = spec.group_by.iter().map(|f| places(f)).collect();
        let value = spec.field.iter().map(|f| places(f)).collect();
        inputs.push(Input { reference: reference.clone(), source, group, value });
    }
    Ok(CompiledCorrelation { spec: spec.clone(), inputs })
}
