//! Where state lives: aggregation states, groups keyed by interned texts, the symbol table,
//! sorted runs spilled to disk, and row stores that keep rows in memory up to a budget.
//! Imports only `expr` (below it).

pub(crate) mod agg;
pub(crate) mod blocks;
pub(crate) mod event_rows;
pub(crate) mod group_arena;
pub(crate) mod groups;
pub(crate) mod key_bytes;
pub(crate) mod row_store;
pub(crate) mod run_codec;
pub(crate) mod spill;
pub(crate) mod symbols;
