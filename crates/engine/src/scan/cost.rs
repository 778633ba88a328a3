//! What the scan spends on each query, for `--verbose`: how many rows and events its scans
//! were tried on (the prefilter let them through) and kept, and the time that took: measured
//! on the first [`TIME_ALL_FIRST`] rows and events of a state and on one in [`SAMPLE_EVERY`]
//! after that (timing every one would cost more than many detections do), and scaled up per
//! query from the rows it was timed on to all it was tried on.

use std::time::{Duration, Instant};

/// Rows and events between two timed ones, after the first [`TIME_ALL_FIRST`].
const SAMPLE_EVERY: u32 = 64;
const TIME_ALL_FIRST: u32 = 1024;

/// One query's share of the scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanCost {
    /// Rows and events the query's scans were tried on.
    pub tried: u64,
    /// Those its scans' predicates kept.
    pub passed: u64,
    /// Estimated time: that of the rows it was timed on, scaled to all it was tried on.
    pub time: Duration,
    /// Bytes of its scans' groups written to temporary files during the scan (budget spills).
    pub spilled: u64,
}

/// Per-query costs of one scan state.
#[derive(Debug, Default)]
pub(crate) struct ScanCosts {
    per_query: Vec<Counts>,
    /// Rows and events seen, up to [`TIME_ALL_FIRST`]; then the rows until the next timed one.
    seen: u32,
    countdown: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    tried: u64,
    passed: u64,
    timed: u64,
    nanos: u64,
    spilled: u64,
}

impl ScanCosts {
    /// Whether the next row or event is one to time.
    pub(crate) fn sample(&mut self) -> bool {
        if self.seen < TIME_ALL_FIRST {
            self.seen += 1;
            return true;
        }
        match self.countdown.checked_sub(1) {
            Some(n) => {
                self.countdown = n;
                false
            }
            None => {
                self.countdown = SAMPLE_EVERY - 1;
                true
            }
        }
    }

    /// Query `qi` was tried on a row, which it kept or not; `started` when the row is timed.
    pub(crate) fn record(&mut self, qi: usize, passed: bool, started: Option<Instant>) {
        if self.per_query.len() <= qi {
            self.per_query.resize(qi + 1, Counts::default());
        }
        let c = &mut self.per_query[qi];
        c.tried += 1;
        c.passed += u64::from(passed);
        if let Some(s) = started {
            c.timed += 1;
            c.nanos += s.elapsed().as_nanos() as u64;
        }
    }

    /// Query `qi`'s groups were written to a temporary file: `bytes` of them.
    pub(crate) fn spilled(&mut self, qi: usize, bytes: u64) {
        if self.per_query.len() <= qi {
            self.per_query.resize(qi + 1, Counts::default());
        }
        self.per_query[qi].spilled += bytes;
    }

    pub(crate) fn merge(&mut self, other: &ScanCosts) {
        if self.per_query.len() < other.per_query.len() {
            self.per_query.resize(other.per_query.len(), Counts::default());
        }
        for (mine, theirs) in self.per_query.iter_mut().zip(&other.per_query) {
            mine.tried += theirs.tried;
            mine.passed += theirs.passed;
            mine.timed += theirs.timed;
            mine.nanos += theirs.nanos;
            mine.spilled += theirs.spilled;
        }
    }

    /// The queries tried at all, with their costs.
    pub(crate) fn costs(&self) -> impl Iterator<Item = (usize, ScanCost)> + '_ {
        self.per_query.iter().enumerate().filter(|(_, c)| c.tried > 0 || c.spilled > 0).map(|(qi, c)| {
            let nanos = (c.nanos as f64 * c.tried as f64 / c.timed.max(1) as f64) as u64;
            (qi, ScanCost { tried: c.tried, passed: c.passed, time: Duration::from_nanos(nanos), spilled: c.spilled })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_rows_then_one_in_the_sampling_rate_are_timed_and_costs_add_up() {
        let mut a = ScanCosts::default();
        let timed = (0..TIME_ALL_FIRST + SAMPLE_EVERY * 3).filter(|_| a.sample()).count();
        assert_eq!(timed, TIME_ALL_FIRST as usize + 3);
        a.record(2, true, None);
        a.record(2, false, Some(Instant::now()));
        let mut b = ScanCosts::default();
        b.record(0, true, None);
        b.record(2, true, None);
        b.spilled(3, 100);
        a.spilled(3, 20);
        a.merge(&b);
        let costs: Vec<(usize, ScanCost)> = a.costs().collect();
        assert_eq!(costs.iter().map(|(q, c)| (*q, c.tried, c.passed)).collect::<Vec<_>>(), vec![(0, 1, 1), (2, 3, 2), (3, 0, 0)]);
        assert_eq!(costs[2].1.spilled, 120);
    }

    #[test]
    fn time_is_scaled_from_the_timed_rows_to_all() {
        let a = ScanCosts { per_query: vec![Counts { tried: 100, passed: 1, timed: 10, nanos: 5_000, spilled: 0 }], ..Default::default() };
        let (_, c) = a.costs().next().expect("one query");
        assert_eq!(c.time, Duration::from_nanos(50_000));
    }
}
