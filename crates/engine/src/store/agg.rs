//! Aggregation functions for `tstats`, `stats` and `eventstats`, with mergeable state so that
//! each thread aggregates its share of the input and the results combine at the end.

use crate::error::PlanError;
use crate::expr::eval::CExpr;
use crate::expr::field::FieldRef;
use std::borrow::Cow;
/// The sets of `dc()` and of large `values()`: found by a fast hash (foldhash), not by
/// SipHash (`std`'s) or a B-tree's string comparisons (each reading another text's
/// allocation). A scan adds to them once per kept row and mostly finds the text there.
pub(crate) type TextSet = hashbrown::HashSet<String>;
use vigil_model::value::{format_num, parse_num};
use vigil_model::{Micros, Value};
use vigil_spl::ast::{AggArg, Aggregation, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    Dc,
    Values,
    List,
    Min,
    Max,
    Sum,
    Avg,
    Range,
    Latest,
    Earliest,
    First,
    Last,
    Stdev,
}

impl AggFunc {
    pub fn from_name(name: &str, span: Span) -> Result<AggFunc, PlanError> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "count" | "c" => AggFunc::Count,
            "dc" | "distinct_count" => AggFunc::Dc,
            "values" => AggFunc::Values,
            "list" => AggFunc::List,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "sum" => AggFunc::Sum,
            "avg" | "mean" => AggFunc::Avg,
            "range" => AggFunc::Range,
            "latest" | "latest_time" => AggFunc::Latest,
            "earliest" | "earliest_time" => AggFunc::Earliest,
            "first" => AggFunc::First,
            "last" => AggFunc::Last,
            "stdev" => AggFunc::Stdev,
            other => {
                return Err(PlanError::UnsupportedFunction { name: other.to_string(), span });
            }
        })
    }
}

/// What an aggregation reads.
#[derive(Clone, Debug)]
pub enum AggInput {
    /// Bare `count`.
    Rows,
    Field(FieldRef),
    /// `count(eval(...))`: counts rows where the expression is true.
    Eval(CExpr),
}

#[derive(Clone, Debug)]
pub struct AggSpec {
    pub func: AggFunc,
    pub input: AggInput,
    /// Output column.
    pub name: String,
}

/// Running state of one aggregation in one group.
///
/// Every group holds one per aggregation, and ESCU's `tstats` keep a group per process or
/// command line, so the state is kept to 32 bytes (the memory budget counts
/// `size_of::<AggState>()` per state, and fewer bytes per group mean fewer spills): rare
/// large states are boxed, texts are boxed `str`s, and `values()` sets, nearly all of one
/// or a few items, are a sorted vector until they outgrow [`SMALL_VALUES`], then a hash set
/// (sorted when finished).
// The boxed sets are the point: a set inline would make every state 48 bytes.
#[allow(clippy::box_collection)]
#[derive(Clone, Debug)]
pub enum AggState {
    Count(u64),
    /// `dc()`: boxed when the first item arrives.
    Distinct(Option<Box<TextSet>>),
    /// `values()` of at most [`SMALL_VALUES`] items: sorted, without repeats.
    Values(Vec<String>),
    /// `values()` past [`SMALL_VALUES`] items, in no order.
    ValuesBig(Box<TextSet>),
    List(Vec<String>),
    /// min/max: numeric extreme (when `has_num`) and text extreme, and whether any text was
    /// seen.
    Extreme {
        num: f64,
        has_num: bool,
        any_text: bool,
        text: Option<Box<str>>,
    },
    Sum {
        sum: f64,
        n: u64,
    },
    Range {
        min: f64,
        max: f64,
        n: u64,
    },
    /// latest/earliest/first/last: the value with its time (or arrival order).
    Timed(Option<(Micros, Box<str>)>),
    /// Welford's running variance.
    Stdev {
        n: u64,
        mean: f64,
        m2: f64,
    },
}

/// Keeps `n` in a min/max state's numeric extreme when it is beyond it.
fn extreme_num(num: &mut f64, has_num: &mut bool, n: f64, want_max: bool) {
    if !*has_num || if want_max { n > *num } else { n < *num } {
        *num = n;
        *has_num = true;
    }
}

/// `list()` keeps at most this many items, like Splunk.
const LIST_LIMIT: usize = 100;

/// `values()` sets up to this many items are a sorted vector (one allocation, found by
/// binary search); beyond, a hash set (found by one probe, not a binary search).
pub(crate) const SMALL_VALUES: usize = 32;

/// Heap bytes of one kept text beyond its characters (its `String` in a set or list slot,
/// allocator rounding), and of a new hash set's table: estimates for the memory budget,
/// which spilled too late while states' texts went uncounted.
const SET_ITEM_BYTES: usize = 40;
const SET_TABLE_BYTES: usize = 64;
/// A text's allocator rounding, when its `String` sits in a vector counted by capacity.
const TEXT_ROUNDING: usize = SET_ITEM_BYTES - std::mem::size_of::<String>();
/// A box's allocation beyond its contents (allocator header and rounding).
const BOX_BYTES: usize = 16;

impl AggState {
    pub fn new(f: AggFunc) -> AggState {
        match f {
            AggFunc::Count => AggState::Count(0),
            AggFunc::Dc => AggState::Distinct(None),
            AggFunc::Values => AggState::Values(Vec::new()),
            AggFunc::List => AggState::List(Vec::new()),
            AggFunc::Min | AggFunc::Max => AggState::Extreme { num: 0.0, has_num: false, any_text: false, text: None },
            AggFunc::Sum | AggFunc::Avg => AggState::Sum { sum: 0.0, n: 0 },
            AggFunc::Range => AggState::Range { min: f64::MAX, max: f64::MIN, n: 0 },
            AggFunc::Latest | AggFunc::Earliest | AggFunc::First | AggFunc::Last => AggState::Timed(None),
            AggFunc::Stdev => AggState::Stdev { n: 0, mean: 0.0, m2: 0.0 },
        }
    }

    /// A `dc()` state of these items (no table when there are none).
    pub fn distinct_of(items: Vec<String>) -> AggState {
        AggState::Distinct((!items.is_empty()).then(|| Box::new(items.into_iter().collect())))
    }

    /// A `values()` state of these items (in any order, repeats allowed).
    pub fn values_of(mut items: Vec<String>) -> AggState {
        items.sort_unstable();
        items.dedup();
        if items.len() <= SMALL_VALUES {
            items.shrink_to_fit();
            AggState::Values(items)
        } else {
            AggState::ValuesBig(Box::new(items.into_iter().collect()))
        }
    }

    /// Whether this is the kind of state `f` keeps (a state read from bytes may not be).
    pub fn fits(&self, f: AggFunc) -> bool {
        matches!((self, f), (AggState::ValuesBig(_), AggFunc::Values))
            || std::mem::discriminant(self) == std::mem::discriminant(&AggState::new(f))
    }

    /// Counts one row (bare `count`, or `count(eval)` when true).
    pub fn add_row(&mut self) {
        if let AggState::Count(c) = self {
            *c += 1;
        }
    }

    /// Adds an item to a `values()` state unless it holds it; returns the heap bytes the
    /// state grew by. An owned item (from a merge) is moved in, a borrowed one copied.
    fn add_value(&mut self, item: Cow<'_, str>) -> usize {
        let len = item.len();
        match self {
            AggState::Values(v) => {
                let Err(at) = v.binary_search_by(|s| s.as_str().cmp(&item)) else { return 0 };
                if v.len() < SMALL_VALUES {
                    // Grown by doubling from one slot: most sets keep one item.
                    let cap = v.capacity();
                    if v.len() == cap {
                        v.reserve_exact(cap.max(1));
                    }
                    v.insert(at, item.into_owned());
                    return (v.capacity() - cap) * std::mem::size_of::<String>() + TEXT_ROUNDING + len;
                }
                let mut set: TextSet = std::mem::take(v).into_iter().collect();
                set.insert(item.into_owned());
                *self = AggState::ValuesBig(Box::new(set));
                // The set's table and box; the vector it replaces stays counted (an
                // overestimate until the next spill resets the count).
                (SMALL_VALUES + 1) * SET_ITEM_BYTES / 2 + SET_TABLE_BYTES + BOX_BYTES + len
            }
            AggState::ValuesBig(s) if !s.contains(item.as_ref()) => {
                s.insert(item.into_owned());
                SET_ITEM_BYTES + len
            }
            _ => 0,
        }
    }

    /// Adds one item of the input field. `time` orders latest/earliest; `seq` orders
    /// first/last (arrival order). Returns an estimate of the heap bytes the state grew by
    /// (texts it now keeps), for the memory budget.
    pub fn add(&mut self, f: AggFunc, item: &str, time: Micros) -> usize {
        match self {
            AggState::Count(c) => *c += 1,
            AggState::Distinct(s) => {
                let set = match s {
                    Some(set) => set,
                    None => s.insert(Box::default()),
                };
                if !set.contains(item) {
                    // A table slot and the text; the first item allocates the table and box.
                    let first = if set.is_empty() { SET_TABLE_BYTES + std::mem::size_of::<TextSet>() + BOX_BYTES } else { 0 };
                    set.insert(item.to_string());
                    return first + SET_ITEM_BYTES + item.len();
                }
            }
            AggState::Values(_) | AggState::ValuesBig(_) => return self.add_value(Cow::Borrowed(item)),
            AggState::List(v) => {
                if v.len() < LIST_LIMIT {
                    v.push(item.to_string());
                    return SET_ITEM_BYTES + item.len();
                }
            }
            AggState::Extreme { num, has_num, any_text, text } => {
                let want_max = f == AggFunc::Max;
                match parse_num(item) {
                    Some(n) => extreme_num(num, has_num, n, want_max),
                    None => {
                        *any_text = true;
                        let better = text.as_deref().is_none_or(|cur| if want_max { item > cur } else { item < cur });
                        if better {
                            let before = text.as_ref().map_or(0, |t| t.len());
                            *text = Some(item.into());
                            return item.len().saturating_sub(before);
                        }
                    }
                }
            }
            AggState::Sum { sum, n } => {
                if let Some(x) = parse_num(item) {
                    *sum += x;
                    *n += 1;
                }
            }
            AggState::Range { min, max, n } => {
                if let Some(x) = parse_num(item) {
                    *min = min.min(x);
                    *max = max.max(x);
                    *n += 1;
                }
            }
            AggState::Timed(cur) => {
                let replace = match (cur.as_ref(), f) {
                    (None, _) => true,
                    (Some((t, _)), AggFunc::Latest) => time >= *t,
                    (Some((t, _)), AggFunc::Earliest) => time < *t,
                    (Some(_), AggFunc::Last) => true,
                    _ => false,
                };
                if replace {
                    let before = cur.as_ref().map_or(0, |(_, s)| s.len());
                    *cur = Some((time, item.into()));
                    return item.len().saturating_sub(before);
                }
            }
            AggState::Stdev { n, mean, m2 } => {
                if let Some(x) = parse_num(item) {
                    *n += 1;
                    let d = x - *mean;
                    *mean += d / *n as f64;
                    *m2 += d * (x - *mean);
                }
            }
        }
        0
    }

    /// Adds a number to min/max as [`AggState::add`] adds a text that parses to it (other
    /// states ignore it), without the text.
    pub fn add_num(&mut self, f: AggFunc, n: f64) {
        if let AggState::Extreme { num, has_num, .. } = self {
            extreme_num(num, has_num, n, f == AggFunc::Max);
        }
    }

    /// Combines another thread's state for the same group into this one.
    pub fn merge(&mut self, f: AggFunc, other: AggState) {
        match (self, other) {
            (AggState::Count(a), AggState::Count(b)) => *a += b,
            (AggState::Distinct(a), AggState::Distinct(Some(b))) => match a {
                Some(a) => a.extend(*b),
                None => *a = Some(b),
            },
            (me @ (AggState::Values(_) | AggState::ValuesBig(_)), AggState::Values(b)) => {
                b.into_iter().for_each(|item| _ = me.add_value(Cow::Owned(item)));
            }
            (me @ (AggState::Values(_) | AggState::ValuesBig(_)), AggState::ValuesBig(b)) => {
                b.into_iter().for_each(|item| _ = me.add_value(Cow::Owned(item)));
            }
            (AggState::List(a), AggState::List(b)) => {
                a.extend(b);
                a.truncate(LIST_LIMIT);
            }
            (me @ AggState::Extreme { .. }, AggState::Extreme { num, has_num, text, .. }) => {
                if has_num {
                    me.add(f, &format_num(num), 0);
                }
                if let Some(t) = text {
                    me.add(f, &t, 0);
                }
            }
            (AggState::Sum { sum, n }, AggState::Sum { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (AggState::Range { min, max, n }, AggState::Range { min: a, max: b, n: m }) => {
                *min = min.min(a);
                *max = max.max(b);
                *n += m;
            }
            (me @ AggState::Timed(_), AggState::Timed(Some((t, v)))) => {
                me.add(f, &v, t);
            }
            (AggState::Stdev { n, mean, m2 }, AggState::Stdev { n: n2, mean: mean2, m2: m22 }) if n2 > 0 => {
                let total = *n + n2;
                let d = mean2 - *mean;
                *m2 += m22 + d * d * (*n as f64) * (n2 as f64) / total as f64;
                *mean += d * n2 as f64 / total as f64;
                *n = total;
            }
            _ => {}
        }
    }

    pub fn finish(self, f: AggFunc) -> Value {
        match self {
            AggState::Count(c) => Value::Num(c as f64),
            AggState::Distinct(s) => Value::Num(s.map_or(0, |s| s.len()) as f64),
            AggState::Values(v) => Value::from_items(v),
            AggState::ValuesBig(s) => Value::from_items(sorted(*s)),
            AggState::List(v) => Value::from_items(v),
            AggState::Extreme { num, has_num, text, .. } => {
                // Numbers only: numeric result. With text: Splunk compares lexically.
                match (has_num.then_some(num), text) {
                    (Some(n), None) => Value::Num(n),
                    (None, Some(t)) => Value::Str(t.into()),
                    (Some(n), Some(t)) => {
                        let ns = format_num(n);
                        let pick_text = if f == AggFunc::Max { *t > *ns } else { *t < *ns };
                        if pick_text {
                            Value::Str(t.into())
                        } else {
                            Value::Num(n)
                        }
                    }
                    (None, None) => Value::Null,
                }
            }
            AggState::Sum { sum, n } => match f {
                AggFunc::Avg if n > 0 => Value::Num(sum / n as f64),
                AggFunc::Sum if n > 0 => Value::Num(sum),
                _ => Value::Null,
            },
            AggState::Range { min, max, n } if n > 0 => Value::Num(max - min),
            AggState::Range { .. } => Value::Null,
            AggState::Timed(v) => v.map(|(_, s)| Value::Str(s.into())).unwrap_or(Value::Null),
            AggState::Stdev { n, m2, .. } if n > 1 => Value::Num((m2 / (n - 1) as f64).sqrt()),
            AggState::Stdev { .. } => Value::Null,
        }
    }
}

/// A set's texts in text order.
pub(crate) fn sorted(set: TextSet) -> Vec<String> {
    let mut items: Vec<String> = set.into_iter().collect();
    items.sort_unstable();
    items
}

/// A set's texts in text order, borrowed (states written as bytes list their texts in order,
/// whatever order the set holds them in).
pub(crate) fn sorted_refs(set: &TextSet) -> Vec<&String> {
    let mut items: Vec<&String> = set.iter().collect();
    items.sort_unstable();
    items
}

pub(crate) fn plan_agg(a: &Aggregation, resolve: &dyn Fn(&str) -> FieldRef, span: Span) -> Result<AggSpec, PlanError> {
    let func = AggFunc::from_name(&a.func, span)?;
    let input = match &a.arg {
        None if func == AggFunc::Count => AggInput::Rows,
        None => return Err(PlanError::invalid(format!("`{}` needs a field", a.func), span)),
        Some(AggArg::Field(f)) => AggInput::Field(resolve(f)),
        Some(AggArg::Eval(e)) => AggInput::Eval(CExpr::compile(e)?),
    };
    Ok(AggSpec { func, input, name: a.name.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: AggFunc, items: &[&str]) -> Value {
        let mut a = AggState::new(f);
        let mut b = AggState::new(f);
        for (i, it) in items.iter().enumerate() {
            // Split across two "threads" to exercise merge.
            if i % 2 == 0 { &mut a } else { &mut b }.add(f, it, i as i64);
        }
        a.merge(f, b);
        a.finish(f)
    }

    #[test]
    fn aggregations() {
        assert_eq!(run(AggFunc::Count, &["a", "b", "c"]), Value::Num(3.0));
        assert_eq!(run(AggFunc::Dc, &["a", "b", "a"]), Value::Num(2.0));
        assert_eq!(run(AggFunc::Values, &["b", "a", "b"]), Value::Multi(vec!["a".into(), "b".into()]));
        assert_eq!(run(AggFunc::Min, &["10", "9", "100"]), Value::Num(9.0));
        assert_eq!(run(AggFunc::Max, &["10", "9", "100"]), Value::Num(100.0));
        assert_eq!(run(AggFunc::Max, &["b", "a"]), Value::str("b"));
        assert_eq!(run(AggFunc::Avg, &["1", "2", "x", "3"]), Value::Num(2.0));
        assert_eq!(run(AggFunc::Latest, &["old", "mid", "new"]), Value::str("new"));
        assert_eq!(run(AggFunc::Earliest, &["old", "mid", "new"]), Value::str("old"));
        assert_eq!(run(AggFunc::Sum, &[]), Value::Null);
        let sd = run(AggFunc::Stdev, &["2", "4", "4", "4", "5", "5", "7", "9"]);
        assert!((sd.as_num().unwrap() - 2.138).abs() < 0.001, "{sd:?}");
    }

    #[test]
    fn a_state_is_small() {
        // The memory budget counts this per aggregation per group.
        assert!(std::mem::size_of::<AggState>() <= 32, "{}", std::mem::size_of::<AggState>());
    }

    #[test]
    fn values_stay_sorted_and_distinct_across_the_small_and_big_forms() {
        for n in [1usize, 5, SMALL_VALUES, SMALL_VALUES + 1, 3 * SMALL_VALUES] {
            let items: Vec<String> = (0..n).rev().map(|i| format!("v{i:03}")).collect();
            let mut want = items.clone();
            want.sort();
            let (mut a, mut b) = (AggState::new(AggFunc::Values), AggState::new(AggFunc::Values));
            let mut grown = 0;
            for (i, it) in items.iter().enumerate() {
                grown += if i % 3 == 0 { &mut a } else { &mut b }.add(AggFunc::Values, it, 0);
                assert_eq!(a.add(AggFunc::Values, &items[0], 0), 0, "a repeat adds nothing");
            }
            assert!(grown >= items.iter().map(String::len).sum::<usize>(), "texts are counted");
            assert_eq!(matches!(a, AggState::ValuesBig(_)), n.div_ceil(3) > SMALL_VALUES);
            a.merge(AggFunc::Values, b);
            assert!(a.fits(AggFunc::Values));
            assert_eq!(matches!(a, AggState::ValuesBig(_)), n > SMALL_VALUES, "{n}");
            assert_eq!(a.clone().finish(AggFunc::Values), Value::from_items(want.clone()));
            assert_eq!(AggState::values_of(items).finish(AggFunc::Values), Value::from_items(want));
        }
    }

    #[test]
    fn large_text_sets_are_hashed_and_written_in_text_order() {
        let items: Vec<String> = (0..3 * SMALL_VALUES).map(|i| format!("host-{:03}", (i * 37) % 101)).collect();
        let (mut fwd, mut back) = (AggState::new(AggFunc::Values), AggState::new(AggFunc::Values));
        items.iter().for_each(|it| _ = fwd.add(AggFunc::Values, it, 0));
        items.iter().rev().for_each(|it| _ = back.add(AggFunc::Values, it, 0));
        // Found by one hash probe per add, not by comparing texts down a tree.
        let AggState::ValuesBig(set) = &fwd else { panic!("a large set") };
        assert!(set.capacity() >= items.len() && set.contains("host-037"));
        // Written as bytes (spill runs, scan states), the texts come in order either way.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        crate::store::spill::encode_state(&fwd, &mut a);
        crate::store::spill::encode_state(&back, &mut b);
        assert_eq!(a, b);
        let mut want = items.clone();
        want.sort();
        want.dedup();
        assert_eq!(fwd.finish(AggFunc::Values), Value::from_items(want));
        let mut dc = AggState::new(AggFunc::Dc);
        items.iter().for_each(|it| _ = dc.add(AggFunc::Dc, it, 0));
        assert_eq!(dc.finish(AggFunc::Dc), Value::Num(items.iter().collect::<std::collections::HashSet<_>>().len() as f64));
    }

    #[test]
    fn numbers_added_without_text_give_the_state_their_text_gives() {
        for f in [AggFunc::Min, AggFunc::Max] {
            let (mut by_text, mut by_num) = (AggState::new(f), AggState::new(f));
            for n in [1_772_409_600i64, -5, 1_772_409_601, 0] {
                by_text.add(f, &n.to_string(), 0);
                by_num.add_num(f, n as f64);
            }
            assert_eq!(by_num.finish(f), by_text.finish(f));
        }
        let mut count = AggState::new(AggFunc::Count);
        count.add_num(AggFunc::Count, 1.0);
        assert_eq!(count.finish(AggFunc::Count), Value::Num(0.0), "only min/max take numbers");
    }
}
