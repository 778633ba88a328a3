//! Identical tstats scans of different queries accumulate once.
//!
//! Many ESCU detections join on the same subsearch (every process creation grouped by
//! process id, name, command line, host and GUID; every network connection by host and
//! port), so all ready ESCU detections kept the same table of one group per process up to
//! seven times: over a third of the scan's group memory on the 200 MB bench corpus. A scan
//! whose dataset, filter, key fields, aggregations, span and fillnull value equal an earlier
//! query's reads that query's groups instead of building its own; the groups are handed to
//! each reader when its query finishes (see `physical::schedule`).

use super::ScanAcc;
use crate::expr::field::FieldRef;
use crate::plan::keyfilter::KeyFilter;
use crate::plan::{Query, Scan, TstatsScan};
use crate::store::agg::AggInput;
use crate::store::groups::Groups;
use hashbrown::HashMap;
use std::sync::Mutex;
use vigil_model::Micros;

/// Per query and scan: the earlier (query, scan) whose groups it reads, if any.
pub(crate) type Owners = Vec<Vec<Option<(usize, usize)>>>;

/// What makes two tstats scans build the same groups, output names, aggregations and filter
/// aside: cheap to hash. Scans that share it compare aggregations and filters.
/// (This used to be their Debug text, and the filter's: 12 M instructions for all ESCU.)
#[derive(PartialEq, Eq, Hash)]
struct Outline<'q> {
    dataset: usize,
    by: Vec<&'q FieldRef>,
    fillnull: Option<&'q str>,
    span: Option<Micros>,
}

fn outline(t: &TstatsScan) -> Outline<'_> {
    Outline { dataset: t.dataset, by: t.by.iter().map(|(_, f)| f).collect(), fillnull: t.fillnull.as_deref(), span: t.span }
}

/// Whether two scans of one outline build the same groups: the same aggregations of the same
/// inputs, in order, and the same filter.
fn same_groups(a: &TstatsScan, b: &TstatsScan) -> bool {
    let same_input = |x: &AggInput, y: &AggInput| match (x, y) {
        (AggInput::Rows, AggInput::Rows) => true,
        (AggInput::Field(f), AggInput::Field(g)) => f == g,
        // `count(eval(...))` is rare: compared by its text.
        (AggInput::Eval(e), AggInput::Eval(g)) => format!("{e:?}") == format!("{g:?}"),
        _ => false,
    };
    a.aggs.len() == b.aggs.len()
        && a.aggs.iter().zip(&b.aggs).all(|(x, y)| x.func == y.func && same_input(&x.input, &y.input))
        && a.filter == b.filter
}

/// Per outline, the first scan of each distinct kind of groups, with its (query, scan).
type Seen<'q> = Vec<(&'q TstatsScan, (usize, usize))>;

/// Finds, for every tstats scan without a key filter, the first identical one.
/// A scan `deferred(query, scan)` builds its groups after the scan (see `deferred`): it
/// neither owns nor reads another's.
pub(crate) fn owners(queries: &[Query], key_filters: &[Vec<Option<KeyFilter>>], deferred: impl Fn(usize, usize) -> bool) -> Owners {
    let mut seen: HashMap<Outline, Seen> = HashMap::new();
    queries
        .iter()
        .enumerate()
        .map(|(qi, q)| {
            q.scans
                .iter()
                .enumerate()
                .map(|(si, s)| match s {
                    // A key filter keeps only the groups its own query's operators admit.
                    Scan::Tstats(t) if key_filters[qi][si].is_none() && !deferred(qi, si) => {
                        let earlier = seen.entry(outline(t)).or_default();
                        if let Some((_, owner)) = earlier.iter().find(|(e, _)| same_groups(e, t)) {
                            return Some(*owner);
                        }
                        earlier.push((t, (qi, si)));
                        None
                    }
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// Groups of scans read by several queries while the queries finish: each reader gets a copy
/// but the last, which gets the groups themselves (so at most as many copies exist as
/// readers finish at once).
pub(crate) struct SharedGroups<'a> {
    owners: &'a Owners,
    /// By owner (query, scan).
    slots: HashMap<(usize, usize), Mutex<Slot>>,
}

/// A shared scan's groups (until the last reader took them) and the readers left.
type Slot = (Option<Groups>, usize);

impl<'a> SharedGroups<'a> {
    /// Moves the groups of every shared scan out of `accs` (indexed by query, then scan).
    pub fn take(owners: &'a Owners, accs: &mut [Vec<ScanAcc>]) -> SharedGroups<'a> {
        let mut readers: HashMap<(usize, usize), usize> = HashMap::new();
        for owner in owners.iter().flatten().flatten() {
            *readers.entry(*owner).or_insert(1) += 1;
        }
        let slots = readers
            .into_iter()
            .filter_map(|((qi, si), n)| {
                let acc = accs.get_mut(qi)?.get_mut(si)?;
                let ScanAcc::Groups(g) = std::mem::replace(acc, ScanAcc::Groups(Groups::default())) else { return None };
                Some(((qi, si), Mutex::new((Some(g), n))))
            })
            .collect();
        SharedGroups { owners, slots }
    }

    /// Puts the groups of query `qi`'s shared scans (its own or an earlier query's) into its
    /// `accs`.
    pub fn fill(&self, qi: usize, accs: &mut [ScanAcc]) {
        for (si, acc) in accs.iter_mut().enumerate() {
            let owner = self.owners.get(qi).and_then(|o| o.get(si).copied().flatten()).unwrap_or((qi, si));
            let Some(slot) = self.slots.get(&owner) else { continue };
            let Ok(mut slot) = slot.lock() else { continue };
            slot.1 = slot.1.saturating_sub(1);
            let groups = if slot.1 == 0 { slot.0.take() } else { slot.0.clone() };
            if let Some(g) = groups {
                *acc = ScanAcc::Groups(g);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Planner;
    use vigil_content::ContentSet;

    fn owners_of(texts: &[&str]) -> Owners {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let mut planner = Planner::new(&catalog, &content);
        let queries: Vec<Query> = texts.iter().map(|&t| planner.plan("t", t).expect("plans")).collect();
        let none = queries.iter().map(|q| q.scans.iter().map(|_| None).collect()).collect::<Vec<_>>();
        owners(&queries, &none, |_, _| false)
    }

    #[test]
    fn scans_share_with_the_first_identical_one() {
        let scan = |filter: &str, by: &str| format!("| tstats count from datamodel=Endpoint.Processes where {filter} by {by}");
        let a = scan("Processes.process_name=a", "Processes.dest");
        let b = scan("Processes.process_name=b", "Processes.dest");
        let other_key = scan("Processes.process_name=a", "Processes.user");
        let owners = owners_of(&[&a, &b, &a, &other_key, &b, &b]);
        // The same outline with another filter is not the same scan; the third `b` reads the
        // first `b`, not the second (which reads the first itself).
        let expected: Owners = vec![vec![None], vec![None], vec![Some((0, 0))], vec![None], vec![Some((1, 0))], vec![Some((1, 0))]];
        assert_eq!(owners, expected);
    }

    #[test]
    fn scans_compare_aggregations_and_filters_by_what_they_do() {
        let scan = |aggs: &str, values: &str| {
            format!("| tstats {aggs} from datamodel=Endpoint.Processes where Processes.process_name IN ({values}) by Processes.dest")
        };
        let a = scan("count", "a.exe, b.exe, c*");
        // Output names are not what groups hold; values compare lowercased, as they match.
        let renamed = scan("count as n", "A.EXE, b.exe, c*");
        let more_aggs = scan("count min(_time) as firstTime", "a.exe, b.exe, c*");
        let other_values = scan("count", "a.exe, b.exe, d*");
        let owners = owners_of(&[&a, &renamed, &more_aggs, &other_values, &more_aggs]);
        let expected: Owners = vec![vec![None], vec![Some((0, 0))], vec![None], vec![None], vec![Some((2, 0))]];
        assert_eq!(owners, expected);
    }
}
