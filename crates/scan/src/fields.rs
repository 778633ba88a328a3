//! The add-ons' search-time fields an event pays for: only those the searches can read.
//! (Splunk's fast mode likewise extracts only the fields a search names.)

// hashbrown's default hasher (foldhash): a start-up hashes every word of every search.
use hashbrown::HashSet;
use vigil_engine::{Pattern, Query};
use vigil_normalize::{EventReader, Normalizer};

/// Limits the add-ons' search-time fields to the ones `queries` that read raw events name,
/// so that events pay for no field nobody reads (see [`names_in_search`]); then, per kind of
/// event (source and EventCode), to the ones named by the queries whose raw-event scans can
/// read such events (a scan that keeps whole events reads every field).
pub fn restrict_knowledge<'a>(normalizer: &mut Normalizer, queries: impl IntoIterator<Item = &'a Query>) {
    let mut names = HashSet::new();
    let mut each = Vec::new();
    for q in queries.into_iter().filter(|q| q.reads_events()) {
        let own = names_in_search(&q.text);
        for n in &own {
            if !names.contains(n.as_str()) {
                names.insert(n.clone());
            }
        }
        each.push((Named::new(own), q.event_conditions()));
    }
    let all = Named::new(names);
    normalizer.restrict_knowledge(&|field| all.contains(field));
    let every = |_: &str| true;
    let reads: Vec<_> = each.iter().map(|(n, _)| move |f: &str| n.contains(f)).collect();
    let mut readers: Vec<EventReader> = Vec::new();
    for ((_, conds), reads) in each.iter().zip(&reads) {
        for c in conds {
            let reads: &dyn Fn(&str) -> bool = if c.whole_events { &every } else { reads };
            readers.push(EventReader { clauses: &c.clauses, reads });
        }
    }
    normalizer.restrict_knowledge_by_reader(&readers);
}

/// Field names, some with wildcards (`process_*`).
struct Named {
    names: HashSet<String>,
    patterns: Vec<Pattern>,
}

impl Named {
    fn new(names: HashSet<String>) -> Named {
        let patterns = names.iter().filter(|n| n.contains('*')).map(|n| Pattern::new(n)).collect();
        Named { names, patterns }
    }

    fn contains(&self, field: &str) -> bool {
        self.names.contains(field) || self.patterns.iter().any(|p| p.matches(field))
    }
}

/// Every word of a (macro-expanded) search that could name a field: runs of letters, digits,
/// `_`, `:`, `.` and `*`, in or out of quotes. A superset of the fields the search reads,
/// which is all that [`restrict_knowledge`] needs. Wildcard words count only when they
/// start with a letter (`process_*`), not bare values (`*\lsass.exe`).
pub fn names_in_search(text: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    // A word is copied only the first time it is seen: searches repeat their field names
    // (and expanded macros theirs) many times.
    let mut add = |word: &str| {
        if !out.contains(word) {
            out.insert(word.to_string());
        }
    };
    for word in words(text) {
        let word = word.trim_matches('.');
        if word.is_empty() || (word.contains('*') && !word.starts_with(|c: char| c.is_ascii_alphabetic())) {
            continue;
        }
        add(word);
        // `Processes.dest`, `tag::eventtype`: the parts may be fields too.
        if word.contains(['.', ':']) {
            word.split(['.', ':']).filter(|p| !p.is_empty()).for_each(&mut add);
        }
    }
    out
}

/// The runs of ASCII letters, digits, `_`, `:`, `.` and `*` in `text`. Byte by byte: every
/// other byte, those of non-ASCII characters included, separates (a split on a `char`
/// predicate cost twice as much, over every search's text at each start-up).
fn words(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let in_word = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'*');
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && !in_word(bytes[i]) {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && in_word(bytes[i]) {
            i += 1;
        }
        // Both ends are at ASCII bytes (or the text's end): character boundaries.
        (start < i).then(|| &text[start..i])
    })
}

#[cfg(test)]
mod tests {
    use super::names_in_search;

    #[test]
    fn names_in_a_search_cover_every_field_it_can_read() {
        let n = names_in_search("sourcetype=X EventCode=10 TargetImage=\"*\\\\lsass.exe\" | eval u='user' | stats count by dest, Processes.process_name tag::eventtype | table process_*");
        for f in ["EventCode", "TargetImage", "user", "dest", "process_name", "Processes.process_name", "tag", "eventtype", "process_*"] {
            assert!(n.contains(f), "{f} in {n:?}");
        }
        assert!(!n.iter().any(|w| w.starts_with('*')), "bare wildcard values are not names: {n:?}");
    }

    /// The words are those of a split on every other character, non-ASCII ones included.
    #[test]
    fn words_split_as_on_characters() {
        for text in ["", "a", "  a.b  c_d*é:x ", "ünï|code=4688 \\x", "é", "a=b|c"] {
            let split: Vec<&str> = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '*')))
                .filter(|w| !w.is_empty())
                .collect();
            assert_eq!(super::words(text).collect::<Vec<_>>(), split, "{text:?}");
        }
    }
}
