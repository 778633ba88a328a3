//! Expressions over one row: search predicates and their patterns, the prefilter that finds
//! candidate scans by literal, eval expressions and functions, regular expressions, time
//! spans. The lowest layer: it imports nothing else of the engine but `error`.

pub(crate) mod describe;
pub(crate) mod eval;
pub(crate) mod event_names;
pub(crate) mod field;
pub(crate) mod functions;
pub(crate) mod pattern;
pub(crate) mod patternlist;
pub(crate) mod predicate;
pub(crate) mod prefilter;
pub(crate) mod prefilter_bits;
pub(crate) mod prefilter_memo;
pub(crate) mod prefilter_names;
pub(crate) mod prefilter_search;
pub(crate) mod prefilter_windows;
pub(crate) mod regex;
pub(crate) mod regex_literals;
pub(crate) mod timespan;
pub(crate) mod tuplelist;
pub(crate) mod value;
