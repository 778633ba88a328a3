//! Resuming a partition at its checkpoint's offset on a broker that may answer past it.
//!
//! Tansu 0.6 answers a fetch from an offset inside a record batch with the batches after that
//! one: the rest of the batch holding the offset is skipped (Kafka answers with the batch that
//! holds it, whose first record is at or before the offset). With
//! `resume_from_partition_start`, a worker checks the first thing a resumed partition returns:
//! a record at or before the checkpoint's offset means nothing was skipped (the records the
//! checkpoint covers are passed over); a record past it, or the partition's end, may mean a
//! skipped batch rest, so the worker seeks back from the checkpoint's offset by 1, 2, 4, ...
//! records until the first record returned is at or before it (the fetch then started at a
//! batch's first record, or in an earlier batch, whose successors hold the offset), or the
//! fetch starts at offset 0 (nothing before it to skip). A batch of n records costs
//! about log2(n) extra fetches, not a read of the partition from its start.

/// Where a resumed partition's reading stands until its first record proves nothing skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The checkpoint's offset: the first record not in its states.
    target: i64,
    /// Where the current fetch started.
    from: i64,
    /// How far before `target` the next seek goes.
    step: i64,
}

/// What to do after the first answer of a fetch from [`Resume`]'s position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The fetch covers the checkpoint's offset: read on, passing over records before it.
    Resumed,
    /// The answer may have skipped records: drop it and fetch again from this offset.
    SeekTo(i64),
}

impl Resume {
    /// A partition whose fetch starts at the checkpoint's offset `target`.
    pub fn new(target: i64) -> Resume {
        Resume { target, from: target, step: 1 }
    }

    /// The first answer of the fetch from the current position: a record at offset `first`,
    /// or the partition's end (`None`).
    pub fn on_first(&mut self, first: Option<i64>) -> Verdict {
        if self.from <= 0 || first.is_some_and(|o| o <= self.target) {
            return Verdict::Resumed;
        }
        self.from = self.target.saturating_sub(self.step).max(0);
        self.step = self.step.saturating_mul(2);
        Verdict::SeekTo(self.from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broker with Tansu 0.6's fetch: from an offset inside a batch, the next batch's first
    /// record (`None` past the last batch); batches given by their first offsets, `end` the
    /// partition's end.
    fn tansu_first(batch_starts: &[i64], end: i64, from: i64) -> Option<i64> {
        if batch_starts.contains(&from) {
            return (from < end).then_some(from);
        }
        batch_starts.iter().copied().find(|b| *b > from)
    }

    /// Kafka's fetch: the first record of the batch that holds `from`.
    fn kafka_first(batch_starts: &[i64], end: i64, from: i64) -> Option<i64> {
        (from < end).then(|| batch_starts.iter().copied().filter(|b| *b <= from).max().unwrap_or(0))
    }

    /// Runs the resume against a broker; returns the offsets fetched from and the first record
    /// of the fetch that resumed.
    fn resume_on(target: i64, broker: impl Fn(i64) -> Option<i64>) -> (Vec<i64>, Option<i64>) {
        let mut r = Resume::new(target);
        let mut from = target;
        let mut fetched = vec![from];
        loop {
            let first = broker(from);
            match r.on_first(first) {
                Verdict::Resumed => return (fetched, first),
                Verdict::SeekTo(o) => {
                    assert!(o < from, "every seek goes further back ({o} after {from})");
                    from = o;
                    fetched.push(o);
                }
            }
        }
    }

    #[test]
    fn a_fetch_that_skipped_a_batch_rest_seeks_back_in_doubling_steps() {
        // Batches of 100 records: the checkpoint's offset 250 is inside [200, 300).
        let starts: Vec<i64> = (0..10).map(|b| b * 100).collect();
        let (fetched, first) = resume_on(250, |from| tansu_first(&starts, 1000, from));
        // 250, 249, 248, 246, 242, 234, 218: answered past 250 (300); 186 is in [100, 200),
        // whose successor [200, 300) holds 250.
        assert_eq!(fetched, vec![250, 249, 248, 246, 242, 234, 218, 186]);
        assert_eq!(first, Some(200));
    }

    #[test]
    fn an_offset_at_a_batch_start_or_on_kafka_resumes_at_once() {
        let starts = [0, 10, 20, 30];
        assert_eq!(resume_on(20, |from| tansu_first(&starts, 40, from)), (vec![20], Some(20)));
        // Kafka answers with the batch holding the offset: no seek.
        assert_eq!(resume_on(25, |from| kafka_first(&starts, 40, from)), (vec![25], Some(20)));
    }

    #[test]
    fn the_end_of_the_partition_is_checked_like_a_record_past_the_offset() {
        // The checkpoint's offset 35 inside the last batch [30, 40): Tansu answers with the
        // end, which must not pass for "read to the end" (35..39 would be lost).
        let starts = [0, 10, 20, 30];
        let (fetched, first) = resume_on(35, |from| tansu_first(&starts, 40, from));
        assert_eq!(first, Some(30));
        assert_eq!(fetched, vec![35, 34, 33, 31, 27]);
        // A checkpoint at the partition's end: one step back finds the last record.
        assert_eq!(resume_on(40, |from| kafka_first(&starts, 40, from)), (vec![40, 39], Some(30)));
    }

    #[test]
    fn offset_zero_ends_the_search_whatever_it_answers() {
        // Records before 7 gone (retention): from 0 the first record is 7, past the target 5.
        assert_eq!(resume_on(5, |from| if from == 0 { Some(7) } else { None }), (vec![5, 4, 3, 1, 0], Some(7)));
        // An empty partition whose checkpoint is at 0.
        assert_eq!(resume_on(0, |_| None), (vec![0], None));
        // A batch as long as the partition: steps stop at 0, never below.
        let (fetched, first) = resume_on(1_000_000, |from| tansu_first(&[0], 2_000_000, from));
        assert_eq!((fetched.last(), first, fetched.len()), (Some(&0), Some(0), 22));
    }
}
