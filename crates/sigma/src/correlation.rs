//! Correlation rules (sigma-correlation-rules-specification): the document read into a
//! [`Correlation`], and the sliding-window semantics every correlation type shares
//! ([`Correlation::correlate`]). Linking the rules a correlation names is in `link`.
//!
//! Windows: per group (the `group-by` values), events in time order; the window of an event
//! is every event of the group from it up to `timespan` later. A window whose aggregate meets
//! the condition is a hit, and the next window starts after it (hits never share events).
//! When the condition has only lower bounds (`gt`/`gte`) and the aggregate only grows with
//! the window (counts, distinct values, rules seen), the hit's time is the event that first
//! met the condition; otherwise the window's last event. No fixed window boundaries: a burst
//! across the hour is one hit.
//!
//! `value_percentile` (the specification: "check when a certain percentage of observed values
//! occur"; its example, `field: Image` and `lte: 1`, is a process name that makes at most 1 %
//! of a computer's processes in 24 h): the aggregate is the share, in percent, that one value
//! of `field` has among the window's events with that field. Each value whose share meets the
//! condition is a hit of its own (carrying the value); the window is judged whole.

use crate::rule::RuleMeta;
use serde_norway::Value as Yaml;
use std::collections::{BTreeMap, HashMap};

/// `correlation: type:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::EventCount => "event_count",
            Kind::ValueCount => "value_count",
            Kind::Temporal => "temporal",
            Kind::TemporalOrdered => "temporal_ordered",
            Kind::ValueSum => "value_sum",
            Kind::ValueAvg => "value_avg",
            Kind::ValuePercentile => "value_percentile",
        }
    }

    /// Whether the aggregate of a window can only grow when the window takes more events.
    fn grows(self) -> bool {
        !matches!(self, Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile)
    }
}

/// One comparison of the condition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

/// The condition: every bound must hold (`gt: 100` and `lte: 200` is a range).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition(pub Vec<(Cmp, f64)>);

impl Condition {
    pub fn holds(&self, x: f64) -> bool {
        self.0.iter().all(|&(op, v)| match op {
            Cmp::Gt => x > v,
            Cmp::Gte => x >= v,
            Cmp::Lt => x < v,
            Cmp::Lte => x <= v,
            Cmp::Eq => x == v,
            Cmp::Neq => x != v,
        })
    }

    fn lower_bounds_only(&self) -> bool {
        self.0.iter().all(|(op, _)| matches!(op, Cmp::Gt | Cmp::Gte))
    }

    /// `count >= 10`, `count > 100 and count <= 200`, for reports.
    pub fn describe(&self, what: &str) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(op, v)| {
                let sym = match op {
                    Cmp::Gt => ">",
                    Cmp::Gte => ">=",
                    Cmp::Lt => "<",
                    Cmp::Lte => "<=",
                    Cmp::Eq => "==",
                    Cmp::Neq => "!=",
                };
                format!("{what} {sym} {v}")
            })
            .collect();
        parts.join(" and ")
    }
}

/// A checked correlation rule, its references not yet resolved.
#[derive(Clone, Debug)]
pub struct Correlation {
    pub meta: RuleMeta,
    pub kind: Kind,
    /// Rules named by id or name, in order (the order matters for `temporal_ordered`).
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_secs: f64,
    pub condition: Condition,
    /// `condition: field:` (value_count, value_sum, value_avg, value_percentile); several
    /// fields count tuples.
    pub field: Vec<String>,
    /// alias -> (rule name or id -> field in that rule's events).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// `generate: true`: the rules it names also run on their own.
    pub generate: bool,
}

/// Why a correlation cannot run: (unsupported, message).
pub type Failure = (bool, String);

/// `Xs`, `Xm`, `Xh`, `Xd` (the specification's forms; `w` for weeks is accepted too).
pub fn parse_timespan(s: &str) -> Option<f64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: f64 = s[..s.len() - unit.len_utf8()].trim().parse().ok().filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    let secs = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86400.0,
        'w' => 7.0 * 86400.0,
        _ => return None,
    };
    Some(n * secs)
}

fn strings(v: Option<&Yaml>) -> Vec<String> {
    match v {
        Some(Yaml::Sequence(l)) => l.iter().filter_map(crate::value::scalar_text).collect(),
        Some(other) => crate::value::scalar_text(other).into_iter().collect(),
        None => Vec::new(),
    }
}

impl Correlation {
    /// Reads the `correlation:` section of a document (the schema check already ran).
    pub fn parse(meta: &RuleMeta, body: &Yaml) -> Result<Correlation, Failure> {
        let bad = |m: String| Err((false, m));
        let Some(c) = body.get("correlation").and_then(Yaml::as_mapping) else { return bad("`correlation` must be a mapping".into()) };
        let kind = match c.get("type").and_then(Yaml::as_str).unwrap_or("") {
            "event_count" => Kind::EventCount,
            "value_count" => Kind::ValueCount,
            "temporal" => Kind::Temporal,
            "temporal_ordered" => Kind::TemporalOrdered,
            "value_sum" => Kind::ValueSum,
            "value_avg" => Kind::ValueAvg,
            "value_percentile" => Kind::ValuePercentile,
            other => return bad(format!("correlation type `{other}` is not known")),
        };
        let rules = strings(c.get("rules"));
        if rules.is_empty() {
            return bad("`rules` names no rule".into());
        }
        let group_by = strings(c.get("group-by"));
        let span_text = c.get("timespan").and_then(crate::value::scalar_text).unwrap_or_default();
        let Some(timespan_secs) = parse_timespan(&span_text) else {
            return bad(format!("timespan `{span_text}` is not a number and one of s, m, h, d"));
        };
        let mut bounds = Vec::new();
        let mut field = Vec::new();
        if let Some(cond) = c.get("condition") {
            let Some(cond) = cond.as_mapping() else { return bad("`condition` must be a mapping".into()) };
            for (k, v) in cond {
                let key = k.as_str().unwrap_or("");
                let op = match key {
                    "gt" => Cmp::Gt,
                    "gte" => Cmp::Gte,
                    "lt" => Cmp::Lt,
                    "lte" => Cmp::Lte,
                    "eq" => Cmp::Eq,
                    "neq" => Cmp::Neq,
                    "field" => {
                        field = strings(Some(v));
                        continue;
                    }
                    other => return bad(format!("condition: `{other}` is not one of gt, gte, lt, lte, eq, neq, field")),
                };
                let Some(n) = crate::value::scalar_text(v).and_then(|t| t.trim().parse::<f64>().ok()) else {
                    return bad(format!("condition: `{key}` needs a number"));
                };
                bounds.push((op, n));
            }
        }
        let temporal = matches!(kind, Kind::Temporal | Kind::TemporalOrdered);
        if bounds.is_empty() {
            if !temporal {
                return bad(format!("{} needs a condition (gt, gte, lt, lte, eq or neq)", kind.name()));
            }
            // Temporal: every rule named must have matched.
            bounds.push((Cmp::Gte, rules.len() as f64));
        }
        if matches!(kind, Kind::ValueCount | Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile) && field.is_empty() {
            return bad(format!("{} needs `field` in its condition", kind.name()));
        }
        let mut aliases = BTreeMap::new();
        if let Some(a) = c.get("aliases").and_then(Yaml::as_mapping) {
            for (alias, per_rule) in a {
                let Some(per_rule) = per_rule.as_mapping() else { return bad("aliases: each alias must map rule names to fields".into()) };
                let map = per_rule
                    .iter()
                    .filter_map(|(r, f)| Some((crate::value::scalar_text(r)?, crate::value::scalar_text(f)?)))
                    .collect::<BTreeMap<_, _>>();
                aliases.insert(crate::value::scalar_text(alias).unwrap_or_default(), map);
            }
        }
        let generate = body.get("generate").or_else(|| c.get("generate")).and_then(Yaml::as_bool).unwrap_or(false);
        Ok(Correlation { meta: meta.clone(), kind, rules, group_by, timespan_secs, condition: Condition(bounds), field, aliases, generate })
    }

    /// The name of the aggregate column in result rows.
    pub fn aggregate_name(&self) -> &'static str {
        match self.kind {
            Kind::EventCount => "event_count",
            Kind::ValueCount => "value_count",
            Kind::Temporal | Kind::TemporalOrdered => "rule_count",
            Kind::ValueSum => "value_sum",
            Kind::ValueAvg => "value_avg",
            Kind::ValuePercentile => "value_percentile",
        }
    }

    /// Finds the hits among `events` (any order). See the module doc for the windows.
    pub fn correlate(&self, events: &[Event]) -> Vec<Hit> {
        let mut groups: BTreeMap<&[String], Vec<usize>> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            if e.time.is_finite() {
                groups.entry(e.group.as_slice()).or_default().push(i);
            }
        }
        let mut hits = Vec::new();
        for (group, mut idx) in groups {
            idx.sort_by(|&a, &b| events[a].time.total_cmp(&events[b].time).then(a.cmp(&b)));
            let evs: Vec<&Event> = idx.iter().map(|&i| &events[i]).collect();
            let found = match self.kind {
                Kind::ValuePercentile => self.share_windows(&evs),
                _ => self.windows(&evs),
            };
            for w in found {
                let events = (w.start..w.end).filter(|&j| w.value.is_none() || evs[j].value == w.value).map(|j| idx[j]).collect();
                hits.push(Hit {
                    group: group.to_vec(),
                    time: evs[w.done].time,
                    first_time: evs[w.start].time,
                    last_time: evs[w.end - 1].time,
                    aggregate: w.aggregate,
                    value: w.value,
                    events,
                });
            }
        }
        hits.sort_by(|a, b| a.time.total_cmp(&b.time).then_with(|| a.group.cmp(&b.group)).then_with(|| a.value.cmp(&b.value)));
        hits
    }

    /// The hits of one group's events (time order).
    fn windows(&self, evs: &[&Event]) -> Vec<WindowHit> {
        let grows = self.kind.grows() && self.condition.lower_bounds_only();
        self.slide(evs, |acc, i, end| {
            let value = self.aggregate(acc, &evs[i..end]);
            if !self.condition.holds(value) {
                return Vec::new();
            }
            let done = if grows { self.first_meeting(&evs[i..end]).map_or(end - 1, |j| i + j) } else { end - 1 };
            vec![WindowHit { start: i, done, end, aggregate: value, value: None }]
        })
    }

    /// value_percentile's hits of one group's events (time order): per window, every value
    /// whose share of the window's valued events meets the condition, in value order.
    fn share_windows(&self, evs: &[&Event]) -> Vec<WindowHit> {
        self.slide(evs, |acc, i, end| {
            let valued = acc.valued as f64;
            let mut meeting: Vec<WindowHit> = acc
                .values
                .iter()
                .map(|(v, &n)| (v, 100.0 * n as f64 / valued))
                .filter(|&(_, share)| self.condition.holds(share))
                .map(|(v, share)| WindowHit { start: i, done: end - 1, end, aggregate: share, value: Some(v.clone()) })
                .collect();
            meeting.sort_by(|a, b| a.value.cmp(&b.value));
            meeting
        })
    }

    /// Slides over one group's events (time order) the window of each event: it and every
    /// event up to `timespan` later. `judge` gives a window's hits from its running
    /// aggregates, its first event and its end (exclusive); after a hit, the next window
    /// starts past it.
    fn slide(&self, evs: &[&Event], mut judge: impl FnMut(&Acc, usize, usize) -> Vec<WindowHit>) -> Vec<WindowHit> {
        let mut out = Vec::new();
        let mut acc = Acc::default();
        let (mut i, mut end) = (0, 0);
        while i < evs.len() {
            let limit = evs[i].time + self.timespan_secs;
            while end < evs.len() && evs[end].time <= limit {
                acc.add(evs[end]);
                end += 1;
            }
            let hits = judge(&acc, i, end);
            if hits.is_empty() {
                acc.remove(evs[i]);
                i += 1;
                continue;
            }
            out.extend(hits);
            acc = Acc::default();
            i = end;
        }
        out
    }

    /// The index in `window` of the event with which its aggregate first meets the condition.
    fn first_meeting(&self, window: &[&Event]) -> Option<usize> {
        let mut acc = Acc::default();
        (0..window.len()).find(|&j| {
            acc.add(window[j]);
            self.condition.holds(self.aggregate(&acc, &window[..=j]))
        })
    }

    fn aggregate(&self, acc: &Acc, window: &[&Event]) -> f64 {
        match self.kind {
            Kind::EventCount => acc.count as f64,
            Kind::ValueCount => acc.values.len() as f64,
            Kind::Temporal => acc.inputs.len() as f64,
            // Ordered: how many of the rules, from the first, appear in order. Never more than
            // the rules seen at all, so the walk is skipped when those cannot meet the condition.
            Kind::TemporalOrdered => {
                let seen = acc.inputs.len() as f64;
                if self.condition.lower_bounds_only() && !self.condition.holds(seen) {
                    seen
                } else {
                    ordered_prefix(window, self.rules.len()) as f64
                }
            }
            Kind::ValueSum => acc.sum,
            Kind::ValueAvg if acc.numbers == 0 => f64::NAN,
            Kind::ValueAvg => acc.sum / acc.numbers as f64,
            // One share per value, judged in `share_windows`, never here.
            Kind::ValuePercentile => f64::NAN,
        }
    }
}

/// A window of one group that met the condition.
struct WindowHit {
    start: usize,
    /// The event with which it met the condition.
    done: usize,
    /// Exclusive.
    end: usize,
    aggregate: f64,
    /// value_percentile: the value whose share met it.
    value: Option<Vec<String>>,
}

/// How many of inputs 0, 1, 2, ... occur in that order (each after the previous) in `window`.
fn ordered_prefix(window: &[&Event], inputs: usize) -> usize {
    let mut next = 0;
    for e in window {
        if next < inputs && e.inputs.contains(&next) {
            next += 1;
        }
    }
    next
}

/// A window's running aggregates, kept as events enter and leave it.
#[derive(Default)]
struct Acc {
    count: usize,
    values: HashMap<Vec<String>, usize>,
    /// Events with a value (the sum of `values`' counts).
    valued: usize,
    inputs: HashMap<usize, usize>,
    sum: f64,
    numbers: usize,
}

impl Acc {
    fn add(&mut self, e: &Event) {
        self.count += 1;
        if let Some(v) = &e.value {
            *self.values.entry(v.clone()).or_default() += 1;
            self.valued += 1;
        }
        for &i in &e.inputs {
            *self.inputs.entry(i).or_default() += 1;
        }
        if let Some(n) = e.number {
            self.sum += n;
            self.numbers += 1;
        }
    }

    fn remove(&mut self, e: &Event) {
        self.count -= 1;
        if let Some(v) = &e.value {
            if let Some(n) = self.values.get_mut(v) {
                *n -= 1;
                self.valued -= 1;
                if *n == 0 {
                    self.values.remove(v);
                }
            }
        }
        for i in &e.inputs {
            if let Some(n) = self.inputs.get_mut(i) {
                *n -= 1;
                if *n == 0 {
                    self.inputs.remove(i);
                }
            }
        }
        if let Some(n) = e.number {
            self.sum -= n;
            self.numbers -= 1;
        }
    }
}

/// One event a correlation sees: a match of one (or more) of the rules it names.
#[derive(Clone, Debug, Default)]
pub struct Event {
    /// Seconds since the epoch.
    pub time: f64,
    /// The `group-by` values, in order.
    pub group: Vec<String>,
    /// Which of the correlation's rules (by position in `rules`) the event matched.
    pub inputs: Vec<usize>,
    /// The `field` values (value_count, value_percentile), when the event has them all.
    pub value: Option<Vec<String>>,
    /// The `field` as a number (value_sum, value_avg).
    pub number: Option<f64>,
}

/// A window that met the condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub group: Vec<String>,
    /// When the condition was met (see the module doc), in seconds.
    pub time: f64,
    pub first_time: f64,
    pub last_time: f64,
    pub aggregate: f64,
    /// value_percentile: the `field` values whose share this is.
    pub value: Option<Vec<String>>,
    /// The window's events (value_percentile: those with `value`) (indices into the slice given to `correlate`).
    pub events: Vec<usize>,
}

#[cfg(test)]
#[path = "correlation_tests.rs"]
mod tests;
