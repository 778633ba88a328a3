//! "Can fire": whether every field a raw-event detection filters or groups on can exist in
//! the events of at least one of its declared data sources.
//!
//! What a data source's events have in Vigil: for a Windows data source whose example event
//! Vigil reads, the fields the reader extracts from it, the event's own fields its
//! `data_sources/*.yml` lists (CamelCase names), and the add-on knowledge for its source and
//! event code (`mappings/addons`), but not the add-on fields of the list that Vigil does not
//! derive; for a Windows data source whose example Vigil cannot read, nothing certain (not
//! judged); for any other data source, its field list (the fields it has in Splunk). A detection that cannot fire is
//! reported with the fields it misses, distinct from one whose SPL Vigil does not support.

use std::collections::{HashMap, HashSet};
use vigil_content::{DataSource, Detection};
use vigil_model::Event;
use vigil_normalize::Knowledge;
use vigil_spl::ast::{CommandKind, Pipeline, SearchExpr};

/// Fields every event has (Splunk's default fields).
const DEFAULT_FIELDS: &[&str] = &["_time", "_raw", "host", "source", "sourcetype", "index", "splunk_server", "linecount", "punct"];

/// The fields each known data source's events can have, by data source name.
pub struct FieldCatalog {
    /// `None`: Vigil cannot tell (a Windows data source whose example it cannot read).
    by_source: HashMap<String, Option<HashSet<String>>>,
}

impl FieldCatalog {
    /// From the data sources of every content directory (later ones override by name).
    pub fn new(sources: &[DataSource], knowledge: &Knowledge) -> FieldCatalog {
        let by_source = sources.iter().map(|d| (d.name.clone(), fields_of(d, knowledge))).collect();
        FieldCatalog { by_source }
    }

    /// Loads `data_sources/` of each directory.
    pub fn load(dirs: &[std::path::PathBuf], knowledge: &Knowledge) -> FieldCatalog {
        let sources: Vec<DataSource> = dirs.iter().flat_map(|d| vigil_content::load_data_sources(d).0).collect();
        FieldCatalog::new(&sources, knowledge)
    }

    /// `None` when the detection can fire (or cannot be judged: a data model search, no known
    /// data source); otherwise the fields it misses, for the declared data source that misses
    /// the fewest.
    pub fn missing_fields(&self, d: &Detection, expanded: &str) -> Option<Vec<String>> {
        // A data source Vigil knows nothing definite about might have the fields.
        let known: Vec<&HashSet<String>> = d.data_source.iter().map(|n| self.by_source.get(n)?.as_ref()).collect::<Option<_>>()?;
        if known.is_empty() {
            return None;
        }
        let pipeline = vigil_spl::parse(expanded).ok()?;
        let need = raw_search_needs(&pipeline)?;
        known
            .iter()
            .map(|have| missing(&need, &|f| have.contains(f) || DEFAULT_FIELDS.contains(&f)))
            .min_by_key(Vec::len)
            .filter(|m| !m.is_empty())
    }
}

/// What a data source's events can have in Vigil (see the module comment).
fn fields_of(d: &DataSource, knowledge: &Knowledge) -> Option<HashSet<String>> {
    if let Some(ev) = d.example_log.as_deref().and_then(read_example) {
        // The event's own fields (CamelCase: EventData, System) Vigil reads whenever the
        // event has them, including those this example lacks; the add-on's fields (dest,
        // subject, ...: lower case) only when Vigil's knowledge gives them.
        // The knowledge is applied to the example with those fields added, so that what it
        // derives from them counts too.
        let mut ev = ev;
        for f in d.fields.iter().filter(|f| f.chars().any(|c| c.is_ascii_uppercase())) {
            // Absent, or `-` / empty in this example only.
            if ev.get_all(f).all(|v| v.is_empty() || v == "-") && !f.contains(['{', ':']) {
                ev.push(f.clone(), "x");
            }
        }
        let mut out = Event::default();
        let ev = if knowledge.enrich(&ev, &mut out) { out } else { ev };
        return Some(ev.fields.into_iter().map(|(k, _)| k).collect());
    }
    // A Windows event log in another rendering (classic key=value): its field names are not
    // the ones Vigil's XML readers give, so its list says nothing certain.
    let windows = ["WinEventLog:", "XmlWinEventLog:"].iter().any(|p| d.source.starts_with(p));
    (!windows).then(|| d.fields.iter().cloned().collect())
}

/// The Windows event an example log holds, as Vigil's reader sees it; `None` for other formats.
fn read_example(text: &str) -> Option<Event> {
    let line = text.trim();
    if !line.starts_with("<Event") {
        return None;
    }
    // YAML folding may have split the XML over lines; it is one record.
    let line = line.replace(['\r', '\n'], " ");
    let mut found = None;
    vigil_read::read_bytes("example_log", line.as_bytes(), &vigil_read::ReadOptions::default(), &mut |ev| {
        found.get_or_insert_with(|| ev.clone());
    });
    found
}

/// Fields a search needs, as a tree: all of them, or any one of several alternatives.
#[derive(Debug)]
enum Need {
    All(Vec<Need>),
    Any(Vec<Need>),
    Field(String),
}

/// The fields a raw-event search filters on (its first command) and groups on (the first
/// `stats` after it, when the commands before it create no field it cannot name). `None` for
/// a data model search.
fn raw_search_needs(p: &Pipeline) -> Option<Need> {
    let mut commands = p.commands.iter();
    let CommandKind::Search(first) = &commands.next()?.kind else {
        return None;
    };
    let mut needs = vec![search_needs(first)];
    let mut created: HashSet<&str> = HashSet::new();
    for c in commands {
        match &c.kind {
            CommandKind::Eval(assigns) => created.extend(assigns.iter().map(|(n, _)| n.as_str())),
            CommandKind::Rename(pairs) if pairs.iter().all(|(a, b)| !a.contains('*') && !b.contains('*')) => {
                created.extend(pairs.iter().map(|(_, to)| to.as_str()))
            }
            CommandKind::Fillnull(f) if !f.fields.is_empty() => created.extend(f.fields.iter().map(String::as_str)),
            CommandKind::Rex(r) if !r.sed => created.extend(group_names(&r.pattern)),
            CommandKind::Table(_)
            | CommandKind::Fields { .. }
            | CommandKind::Dedup(_)
            | CommandKind::Sort(_)
            | CommandKind::Head(_)
            | CommandKind::Convert(_)
            | CommandKind::Bin(_)
            | CommandKind::Regex(_) => {}
            CommandKind::Stats(s) => {
                let by = s.by.iter().filter(|f| !created.contains(f.as_str()) && !f.contains('*'));
                needs.extend(by.map(|f| Need::Field(f.clone())));
                break;
            }
            // Anything else may create fields Vigil cannot name statically: stop here.
            _ => break,
        }
    }
    Some(Need::All(needs))
}

fn search_needs(e: &SearchExpr) -> Need {
    match e {
        SearchExpr::And(items) => Need::All(items.iter().map(search_needs).collect()),
        SearchExpr::Or(items) => Need::Any(items.iter().map(search_needs).collect()),
        // `f=v`, `f!=v`, `f IN (...)` match only events that have f; `NOT f=v` (under `_`)
        // also matches those without.
        SearchExpr::Compare { field, .. } | SearchExpr::In { field, .. } if !field.contains('*') => Need::Field(field.clone()),
        _ => Need::All(Vec::new()),
    }
}

/// Named groups of a regular expression: `(?<name>` and `(?P<name>`.
fn group_names(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, _) in pattern.match_indices("(?") {
        let rest = &pattern[i + 2..];
        let rest = rest.strip_prefix('P').unwrap_or(rest);
        if let Some(name) = rest.strip_prefix('<').and_then(|r| r.split('>').next()) {
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.push(name);
            }
        }
    }
    out
}

/// The needed fields `have` lacks: every missing one of an `All`, and for an `Any`, nothing
/// when one alternative is met, else the alternative that misses the fewest.
fn missing(need: &Need, have: &dyn Fn(&str) -> bool) -> Vec<String> {
    match need {
        Need::Field(f) => {
            if have(f) {
                Vec::new()
            } else {
                vec![f.clone()]
            }
        }
        Need::All(items) => {
            let mut out: Vec<String> = Vec::new();
            for m in items.iter().flat_map(|n| missing(n, have)) {
                if !out.contains(&m) {
                    out.push(m);
                }
            }
            out
        }
        Need::Any(items) => items.iter().map(|n| missing(n, have)).min_by_key(Vec::len).unwrap_or_default(),
    }
}

#[cfg(test)]
#[path = "fire_tests.rs"]
mod tests;
