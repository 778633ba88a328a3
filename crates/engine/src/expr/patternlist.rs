//! A list of patterns one value is tested against (`f IN (...)`, or `f=a OR f=b OR ...`),
//! indexed when long: exact values, `*suffix` and `prefix*` patterns are looked up in hash
//! sets by length instead of being compared one by one. ESCU lists of process names and
//! paths run to hundreds of entries, and were the largest share of predicate time.

use crate::expr::pattern::Pattern;
use hashbrown::HashSet;

/// Below this many patterns a plain loop is faster than hashing.
const INDEX_FROM: usize = 8;

#[derive(Clone)]
pub struct PatternList {
    patterns: Vec<Pattern>,
    index: Option<Box<Index>>,
}

/// The patterns alone: the index is built from them.
impl std::fmt::Debug for PatternList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PatternList").field(&self.patterns).finish()
    }
}

#[derive(Clone, Debug, Default)]
struct Index {
    exact: HashSet<Box<[u8]>>,
    /// (length, set of suffixes of that length), for `*suffix`.
    suffixes: Vec<(usize, HashSet<Box<[u8]>>)>,
    /// (length, set of prefixes of that length), for `prefix*`.
    prefixes: Vec<(usize, HashSet<Box<[u8]>>)>,
    /// Patterns with any other shape (tried in order).
    rest: Vec<Pattern>,
}

fn add_by_len(sets: &mut Vec<(usize, HashSet<Box<[u8]>>)>, text: &[u8]) {
    match sets.iter_mut().find(|(len, _)| *len == text.len()) {
        Some((_, set)) => {
            set.insert(text.into());
        }
        None => sets.push((text.len(), HashSet::from([text.into()]))),
    }
}

/// The patterns alone, as for Debug: the index is built from them.
impl PartialEq for PatternList {
    fn eq(&self, other: &PatternList) -> bool {
        self.patterns == other.patterns
    }
}

impl From<Vec<Pattern>> for PatternList {
    fn from(patterns: Vec<Pattern>) -> PatternList {
        let index = (patterns.len() >= INDEX_FROM).then(|| {
            let mut ix = Index::default();
            for p in &patterns {
                // A pattern with several alternatives (an entity-decoded spelling) stays whole.
                let pieces: Vec<&[Vec<u8>]> = p.alternative_pieces().collect();
                match pieces.as_slice() {
                    [[only]] => {
                        ix.exact.insert(only.as_slice().into());
                    }
                    [[first, last]] if first.is_empty() && !last.is_empty() => add_by_len(&mut ix.suffixes, last),
                    [[first, last]] if last.is_empty() && !first.is_empty() => add_by_len(&mut ix.prefixes, first),
                    _ => ix.rest.push(p.clone()),
                }
            }
            Box::new(ix)
        });
        PatternList { patterns, index }
    }
}

impl FromIterator<Pattern> for PatternList {
    fn from_iter<T: IntoIterator<Item = Pattern>>(iter: T) -> PatternList {
        iter.into_iter().collect::<Vec<_>>().into()
    }
}

impl std::ops::Deref for PatternList {
    type Target = [Pattern];
    fn deref(&self) -> &[Pattern] {
        &self.patterns
    }
}

impl PatternList {
    /// Whether any pattern matches `value` (`folded`: already lowercased).
    pub fn matches_maybe_folded(&self, value: &str, folded: bool) -> bool {
        let Some(ix) = &self.index else {
            return self.patterns.iter().any(|p| p.matches_maybe_folded(value, folded));
        };
        Pattern::with_folded(value, folded, |v| {
            ix.exact.contains(v)
                || ix.suffixes.iter().any(|(len, set)| v.len() >= *len && set.contains(&v[v.len() - len..]))
                || ix.prefixes.iter().any(|(len, set)| v.len() >= *len && set.contains(&v[..*len]))
                || ix.rest.iter().any(|p| p.matches_folded_bytes(v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans are compared by their filters' text (`scan::shared`): it shows what the list
    /// matches, the same for lists built apart, different for different patterns.
    #[test]
    fn the_text_of_a_list_is_its_patterns() {
        let texts = ["cmd.exe", "*\\powershell.exe", "net*", "*a*b*", "w", "x", "y", "z", "q"];
        let list = |extra: &str| texts.iter().chain([&extra]).map(|t| Pattern::new(t)).collect::<PatternList>();
        let text = format!("{:?}", list("r"));
        assert_eq!(text, format!("{:?}", list("r")));
        assert_ne!(text, format!("{:?}", list("s")));
        assert!(text.contains("\"cmd.exe\"") && text.contains("\"\\\\powershell.exe\""), "{text}");
        assert!(!text.contains("Finder"), "{text}");
    }

    #[test]
    fn indexed_list_matches_like_the_plain_loop() {
        let texts = [
            "cmd.exe",
            "*\\powershell.exe",
            "*\\rundll32.exe",
            "c:\\windows\\temp\\*",
            "*mimikatz*",
            "A*B*C",
            "regsvr32.exe",
            "*.hta",
            "x",
            "*&gt;*",
            "*",
            "wscript.exe",
            "*\\system32\\*.dll",
        ];
        let list: PatternList = texts.iter().map(|t| Pattern::new(t)).collect();
        assert!(list.index.is_some());
        let plain: Vec<Pattern> = texts.iter().map(|t| Pattern::new(t)).collect();
        for v in [
            "CMD.EXE",
            "c:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "C:\\Windows\\Temp\\a.bat",
            "run mimikatz now",
            "aXbYc",
            "x",
            "xx",
            "",
            "a>b",
            "C:\\Windows\\System32\\kernel32.dll",
            "évènement",
            "file.HTA",
            "notepad.exe",
            "ÉCRAN\\RUNDLL32.EXE",
        ] {
            for folded in [false, true] {
                let v = if folded { v.to_lowercase() } else { v.to_string() };
                assert_eq!(list.matches_maybe_folded(&v, folded), plain.iter().any(|p| p.matches_maybe_folded(&v, folded)), "{v}");
            }
        }
    }
}
