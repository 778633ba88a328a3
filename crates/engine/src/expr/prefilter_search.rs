//! How the prefilter searches values for its literals: with a DFA each thread builds lazily
//! from the literals' NFA, one transition at a time, as values take it ([`LiteralNfa`]).
//!
//! A field with many literals (`Processes.process` has ~450 with all ESCU) is too large for a
//! DFA built up front (its table would take MBs, and its building start-up time), so it was
//! searched with a contiguous NFA, which follows failure transitions and scans sparse ones at
//! every byte: ~45 instructions a byte, most of the prefilter's cost on values seen once (file
//! paths, command lines, registry paths). Values only ever take a small part of the DFA's
//! transitions; each is worked out once, from the NFA, then read from a table: a few
//! instructions a byte. The table is bounded per thread and field; past the bound, values walk
//! the NFA from a state the table does not hold until they reach one it does. Fields with few
//! literals, which had small DFAs built up front, are searched the same way: as fast, and
//! nothing to build at start-up (-6 M instructions with all ESCU). So is an event's whole text
//! for bare terms, which had a DFA of up to 4 MiB built up front: SigmaHQ's keywords take
//! ~600 of its states over the 8 MB diverse XML corpus, ~350 KB of table (-60 M instructions
//! in the scan, -9 M at start-up).

use crate::expr::field::FieldRef;
use crate::expr::prefilter_windows::WindowIndex;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{AhoCorasick, Anchored, BuildError};
use hashbrown::HashMap;

/// The most bytes of transitions one thread keeps for one field's [`LiteralNfa`].
const LAZY_MAX_BYTES: usize = 512 << 10;

/// A transition not worked out yet.
const UNKNOWN: u32 = u32::MAX;
/// Set in a transition into a state where literals end.
const MATCH: u32 = 1 << 31;

/// A field's literals, searched as [`literal_searcher`] chose.
#[derive(Debug)]
pub(crate) enum Searcher {
    /// The library's choice of automaton, when there is no [`LiteralNfa`].
    Built(AhoCorasick),
    /// A DFA each thread builds as values need it.
    Lazy(Box<LiteralNfa>),
}

impl Searcher {
    /// Whether the search folds ASCII case itself; else the text must be ASCII-lowercased
    /// before it is searched.
    pub fn folds_case(&self) -> bool {
        matches!(self, Searcher::Lazy(_))
    }

    /// Pushes onto `found` the ids of the literals `text` holds (for a built automaton, once
    /// per place; for a lazy DFA, once), through this thread's table `lazy` for a lazy DFA.
    pub fn find(&self, text: &str, lazy: &mut LazyDfa, found: &mut Vec<u32>) {
        match self {
            Searcher::Built(automaton) => found.extend(automaton.find_overlapping_iter(text).map(|m| m.pattern().as_u32())),
            Searcher::Lazy(nfa) => nfa.find(lazy, text.as_bytes(), found),
        }
    }
}

/// Literals' bytes past which a field's long literals are searched by their windows: the
/// trie has about as many states as its literals have bytes, and past ~16 Ki states values
/// walk rows the DFA's table cannot keep (SigmaHQ's `Hashes` has 230 KB, `CommandLine` 40 KB;
/// every ESCU field has less than 15 KB).
const WINDOWED_BYTES: usize = 16 << 10;

/// A field's literals as they are searched: an automaton over those it holds and, for a
/// field with many literals, [`WindowIndex`]es over those of at least 4 bytes: 8-byte windows
/// for those that have them (a 4-byte window of a hash value's hex digits is one of 65,536,
/// which thousands of hashes would make most of), 4-byte ones for the rest.
#[derive(Debug)]
pub(crate) struct FieldSearcher {
    automaton: Option<Searcher>,
    /// The automaton's pattern ids -> the field's literal ids, when it holds only some.
    automaton_ids: Option<Vec<u32>>,
    narrow: Option<WindowIndex<4>>,
    wide: Option<WindowIndex<8>>,
}

impl FieldSearcher {
    /// The searcher of `texts` (a field's literals; their ids are their places in it).
    pub fn new(texts: &[String]) -> Result<FieldSearcher, BuildError> {
        if texts.iter().map(String::len).sum::<usize>() <= WINDOWED_BYTES {
            let automaton = literal_searcher(texts)?;
            return Ok(FieldSearcher { automaton: Some(automaton), automaton_ids: None, narrow: None, wide: None });
        }
        let lowered: Vec<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
        let of_len = |lens: std::ops::Range<usize>| -> Vec<(u32, &str)> {
            lowered.iter().enumerate().filter(|(_, t)| lens.contains(&t.len())).map(|(id, t)| (id as u32, t.as_str())).collect()
        };
        let (short, narrow, wide) = (of_len(0..4), of_len(4..8), of_len(8..usize::MAX));
        let automaton = match short.is_empty() {
            true => None,
            false => Some(literal_searcher(&short.iter().map(|(_, t)| t.to_string()).collect::<Vec<_>>())?),
        };
        let automaton_ids = Some(short.iter().map(|&(id, _)| id).collect());
        let (narrow, wide) = ((!narrow.is_empty()).then(|| WindowIndex::new(&narrow)), (!wide.is_empty()).then(|| WindowIndex::new(&wide)));
        Ok(FieldSearcher { automaton, automaton_ids, narrow, wide })
    }

    /// Whether the search folds ASCII case itself; else the text must be ASCII-lowercased
    /// before it is searched.
    pub fn folds_case(&self) -> bool {
        self.automaton.as_ref().is_none_or(Searcher::folds_case)
    }

    /// Pushes onto `found` (empty) the ids of the literals `text` holds (for a built
    /// automaton, once per place; else once), through this thread's state `lazy`.
    pub fn find(&self, text: &str, lazy: &mut LazyDfa, found: &mut Vec<u32>) {
        if let Some(automaton) = &self.automaton {
            automaton.find(text, lazy, found);
            if let Some(ids) = &self.automaton_ids {
                found.iter_mut().for_each(|id| *id = ids[*id as usize]);
            }
        }
        if self.narrow.is_some() || self.wide.is_some() {
            lazy.lowered.clear();
            lazy.lowered.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
            if let Some(narrow) = &self.narrow {
                narrow.find(&lazy.lowered, found);
            }
            if let Some(wide) = &self.wide {
                wide.find(&lazy.lowered, found);
            }
        }
    }
}

/// Whether literals on this field are searched in the event's whole text.
pub(crate) fn is_raw(field: &FieldRef) -> bool {
    matches!(field, FieldRef::Name(n) if n == "_raw")
}

/// The searcher of one field's literals (or an event's whole text's): a lazily built DFA (see
/// the module's documentation), which matches ASCII-lowercased literals and folds the values'
/// ASCII case itself; other values are lowercased first (see `meet_literal`). The library's
/// own case folding made building the automata for all SigmaHQ rules cost ~180 M
/// instructions more (it tracks visited states in a `BTreeSet`).
pub(crate) fn literal_searcher(texts: &[String]) -> Result<Searcher, BuildError> {
    let lowered: Vec<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
    match LiteralNfa::new(&lowered) {
        Some(Ok(nfa)) => Ok(Searcher::Lazy(Box::new(nfa))),
        // An empty literal, or more states than a contiguous NFA holds: the library's choice.
        _ => aho_corasick::AhoCorasickBuilder::new().build(&lowered).map(Searcher::Built),
    }
}

/// A field's literals: their NFA, and the classes of bytes that take the same transitions.
#[derive(Debug)]
pub(crate) struct LiteralNfa {
    nfa: NFA,
    /// Byte -> its class. Each byte of some literal has a class of its own, except upper-case
    /// ASCII letters, which share their lower-case letter's: values are searched as if
    /// ASCII-lowercased. Every other byte is class 0: no literal holds it, so from any state
    /// it leads back to the start.
    classes: [u8; 256],
    /// Per class: one of its bytes, to ask the NFA for the class's transitions.
    representatives: Vec<u8>,
}

/// One thread's transitions of one [`LiteralNfa`], worked out as values took them.
#[derive(Debug)]
pub(crate) struct LazyDfa {
    /// Per row (a DFA state), one transition per class: where the target's row begins in this
    /// table (so a transition is one addition away from the next), with [`MATCH`] when
    /// literals end there, or [`UNKNOWN`].
    transitions: Vec<u32>,
    /// Per row: its NFA state.
    states: Vec<StateID>,
    /// NFA state -> where its row begins.
    rows: HashMap<StateID, u32>,
    /// The most bytes `transitions` may take.
    max_bytes: usize,
    /// A value ASCII-lowercased, for a [`WindowIndex`].
    lowered: Vec<u8>,
}

impl Default for LazyDfa {
    fn default() -> LazyDfa {
        LazyDfa::with_max_bytes(LAZY_MAX_BYTES)
    }
}

/// A thread's [`LazyDfa`]s, by field (an id the caller gives each field of each index).
#[derive(Debug, Default)]
pub(crate) struct LazyDfas {
    tables: HashMap<u64, LazyDfa>,
}

impl LazyDfas {
    /// The table of field `field`, empty on first use.
    pub fn of(&mut self, field: u64) -> &mut LazyDfa {
        self.tables.entry(field).or_default()
    }
}

impl LiteralNfa {
    /// The NFA over `literals`, which must all be non-empty (`None` otherwise: an empty
    /// literal matches before the first byte, which the table has no place for).
    pub fn new(literals: &[String]) -> Option<Result<LiteralNfa, BuildError>> {
        if literals.iter().any(String::is_empty) {
            return None;
        }
        let nfa = match aho_corasick::nfa::contiguous::Builder::new().prefilter(false).build(literals) {
            Ok(nfa) => nfa,
            Err(e) => return Some(Err(e)),
        };
        let mut seen = [false; 256];
        literals.iter().flat_map(|l| l.bytes()).for_each(|b| seen[usize::from(b)] = true);
        let (mut classes, mut representatives) = ([0u8; 256], vec![0u8]);
        // At most 231 classes (230 bytes that are not upper-case ASCII letters, and class 0).
        for b in (0..=255u8).filter(|b| seen[usize::from(*b)] && !b.is_ascii_uppercase()) {
            classes[usize::from(b)] = representatives.len() as u8;
            representatives.push(b);
        }
        for upper in b'A'..=b'Z' {
            classes[usize::from(upper)] = classes[usize::from(upper.to_ascii_lowercase())];
        }
        Some(Ok(LiteralNfa { nfa, classes, representatives }))
    }

    /// Pushes onto `found` the id of every literal `text` holds (ASCII letters of either case
    /// matching the literals' lower-case ones), each once, through `dfa`'s transitions.
    pub fn find(&self, dfa: &mut LazyDfa, text: &[u8], found: &mut Vec<u32>) {
        let stride = self.representatives.len();
        if dfa.states.is_empty() {
            let Ok(start) = self.nfa.start_state(Anchored::No) else { return };
            dfa.add_row(start, stride);
        }
        // The start state's row begins the table.
        let (mut row, mut at) = (0usize, 0usize);
        loop {
            // Transitions already worked out, into states where no literal ends: a plain loop
            // over the table (a few instructions a byte), left for anything else.
            let (transitions, classes) = (&dfa.transitions[..], &self.classes);
            let next = loop {
                let Some(&byte) = text.get(at) else { return };
                let next = transitions[row + usize::from(classes[usize::from(byte)])];
                if next & MATCH != 0 {
                    break next;
                }
                row = next as usize;
                at += 1;
            };
            let next = if next == UNKNOWN {
                let class = usize::from(self.classes[usize::from(text[at])]);
                match self.work_out(dfa, row, class, stride) {
                    Some(worked_out) => worked_out,
                    None => {
                        // The table is full: walk the NFA to a state it holds.
                        let Some(resumed) = self.walk_nfa(dfa, dfa.state_of(row, stride), text, at, found) else { return };
                        (row, at) = resumed;
                        continue;
                    }
                }
            } else {
                next
            };
            if next & MATCH != 0 {
                self.report(dfa.state_of((next & !MATCH) as usize, stride), found);
            }
            row = (next & !MATCH) as usize;
            at += 1;
        }
    }

    /// Works out and records the transition of the row at `row` on `class`: the target's row
    /// (with [`MATCH`]), made now if it has none; `None` when it has none and the table is full.
    fn work_out(&self, dfa: &mut LazyDfa, row: usize, class: usize, stride: usize) -> Option<u32> {
        let target = self.nfa.next_state(Anchored::No, dfa.state_of(row, stride), self.representatives[class]);
        let target_row = match dfa.rows.get(&target) {
            Some(&r) => r,
            None if (dfa.transitions.len() + stride) * 4 <= dfa.max_bytes => dfa.add_row(target, stride),
            None => return None,
        };
        let next = target_row | if self.nfa.is_match(target) { MATCH } else { 0 };
        dfa.transitions[row + class] = next;
        Some(next)
    }

    /// Follows the NFA from `state` over `text[at..]` until it enters a state with a row, for
    /// a full table: where that row is and the position after the byte that led there, or
    /// `None` at the end of the text.
    fn walk_nfa(&self, dfa: &LazyDfa, mut state: StateID, text: &[u8], mut at: usize, found: &mut Vec<u32>) -> Option<(usize, usize)> {
        while let Some(&byte) = text.get(at) {
            let class = usize::from(self.classes[usize::from(byte)]);
            state = self.nfa.next_state(Anchored::No, state, self.representatives[class]);
            at += 1;
            if self.nfa.is_match(state) {
                self.report(state, found);
            }
            if let Some(&row) = dfa.rows.get(&state) {
                return Some((row as usize, at));
            }
        }
        None
    }

    /// Pushes the literals ending in NFA state `state` not yet in `found`.
    fn report(&self, state: StateID, found: &mut Vec<u32>) {
        for i in 0..self.nfa.match_len(state) {
            let id = self.nfa.match_pattern(state, i).as_u32();
            if !found.contains(&id) {
                found.push(id);
            }
        }
    }
}

impl LazyDfa {
    /// An empty table that will take at most `max_bytes` of transitions (past the first row;
    /// at most 4 GiB, so that where a row begins stays below [`MATCH`]).
    pub fn with_max_bytes(max_bytes: usize) -> LazyDfa {
        let max_bytes = max_bytes.min(u32::MAX as usize);
        LazyDfa { transitions: Vec::new(), states: Vec::new(), rows: HashMap::new(), max_bytes, lowered: Vec::new() }
    }

    /// A new row for NFA state `state`, its transitions unknown: where it is in the table.
    fn add_row(&mut self, state: StateID, stride: usize) -> u32 {
        let row = self.transitions.len() as u32;
        self.states.push(state);
        self.transitions.resize(self.transitions.len() + stride, UNKNOWN);
        self.rows.insert(state, row);
        row
    }

    /// The NFA state of the row at `row`.
    fn state_of(&self, row: usize, stride: usize) -> StateID {
        self.states[row / stride]
    }
}

#[cfg(test)]
#[path = "prefilter_search_tests.rs"]
mod tests;
