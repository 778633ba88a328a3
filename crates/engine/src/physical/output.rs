//! What finishing a query produces: [`QueryOutput`]s, handed on in query order, and the
//! [`StoredOutput`] a query's rows wait in until their turn; the memory finishing may use
//! ([`Budgets`]) and the rows handed on at a time ([`CHUNK_ROWS`]).

use crate::error::ExecError;
use crate::store::row_store::{RowSink, RowStore};
use vigil_model::Record;

/// Group rows per chunk.
pub(crate) const CHUNK_ROWS: usize = 4096;

/// Estimated heap bytes of the rows handed on at a time when a stored output is replayed:
/// [`CHUNK_ROWS`] rows of whole events would be ~16 MB held at once.
const REPLAY_CHUNK_BYTES: usize = 2 << 20;

/// Memory for finishing one query.
#[derive(Clone, Copy)]
pub(crate) struct Budgets {
    /// Bytes of finished rows kept in memory while they wait for their turn.
    pub store: usize,
    /// Bytes of rows a subsearch run ahead keeps in memory.
    pub rows: usize,
    /// Group tables up to this many bytes are finished in memory rather than staged through
    /// temporary files (their rows take a few times their size).
    pub in_memory: usize,
}

/// The result of one query.
#[derive(Debug)]
pub struct QueryOutput {
    pub name: String,
    pub result: Result<Vec<Record>, ExecError>,
    /// Time spent after the scan: building result rows and running the operators.
    pub finish_time: std::time::Duration,
    /// More rows of this query follow in further outputs (a query finished in chunks, see
    /// `physical::chunked`); the last output of a query has `partial: false`.
    pub partial: bool,
}

impl QueryOutput {
    /// Adds the next output of the same query (a further chunk of its rows, or its error).
    pub fn absorb(&mut self, next: QueryOutput) {
        match (&mut self.result, next.result) {
            (Ok(rows), Ok(more)) => rows.extend(more),
            (_, Err(e)) => self.result = Err(e),
            (Err(_), Ok(_)) => {}
        }
        self.finish_time = next.finish_time;
        self.partial = next.partial;
    }
}

/// A chunked query's output, finished alongside other queries and kept (in memory up to a
/// budget, on disk past it) until its turn to be handed on comes.
pub(crate) struct StoredOutput {
    name: String,
    rows: RowStore,
    error: Option<ExecError>,
    finish_time: std::time::Duration,
    /// The outputs were handed on as they were made (see [`store_outputs`]): nothing to replay.
    handed_on: bool,
}

/// Where a query's outputs go once its turn has come (every earlier query's outputs are on
/// their way), so that they need not wait in a store.
pub(crate) trait Turn {
    /// The output, if this query's turn has come.
    fn output(&mut self) -> Option<&mut dyn FnMut(QueryOutput)>;
}

impl StoredOutput {
    /// Estimated heap bytes of the rows it holds in memory.
    pub fn memory_bytes(&self) -> usize {
        self.rows.memory_bytes()
    }

    /// Whether its outputs were handed on already, as they were made.
    pub fn is_handed_on(&self) -> bool {
        self.handed_on
    }

    pub fn new(name: String, result: Result<RowStore, ExecError>, finish_time: std::time::Duration) -> StoredOutput {
        let (rows, error) = match result {
            Ok(rows) => (rows, None),
            Err(e) => (RowStore::new(0), Some(e)),
        };
        StoredOutput { name, rows, error, finish_time, handed_on: false }
    }

    /// Hands the rows on as partial outputs of [`CHUNK_ROWS`] rows, then the final output
    /// (empty, or the query's error), as `chunked::finish_in_chunks` would have.
    pub fn replay(self, emit: &mut dyn FnMut(QueryOutput)) {
        let StoredOutput { name, rows, error, finish_time, handed_on } = self;
        if handed_on {
            return;
        }
        let read = replay_rows(&name, rows, finish_time, emit);
        let result = match (read, error) {
            (Err(e), _) | (_, Some(e)) => Err(e),
            (Ok(()), None) => Ok(Vec::new()),
        };
        emit(QueryOutput { name, result, finish_time, partial: false });
    }
}

/// Hands stored rows on as partial outputs of [`CHUNK_ROWS`] rows (fewer when large).
fn replay_rows(name: &str, rows: RowStore, finish_time: std::time::Duration, emit: &mut dyn FnMut(QueryOutput)) -> Result<(), ExecError> {
    rows.for_each_chunk_within(CHUNK_ROWS, REPLAY_CHUNK_BYTES, |chunk| {
        emit(QueryOutput { name: name.to_string(), result: Ok(chunk), finish_time, partial: true })
    })
}

/// Runs a query's finishing that emits outputs (`run`) into a [`StoredOutput`] that keeps
/// about `budget` bytes of rows in memory; or straight to the output when the query's `turn`
/// has come, from the start or when its rows would go to disk (the rows stored so far first),
/// and the stored output is then empty and replays nothing.
pub(crate) fn store_outputs(name: &str, budget: usize, turn: &mut dyn Turn, run: impl FnOnce(&mut dyn FnMut(QueryOutput))) -> StoredOutput {
    let stored = |rows, error, finish_time, handed_on| StoredOutput { name: name.to_string(), rows, error, finish_time, handed_on };
    if let Some(emit) = turn.output() {
        run(emit);
        return stored(RowStore::new(0), None, std::time::Duration::ZERO, true);
    }
    let mut rows = RowStore::new(budget);
    let mut error = None;
    let mut finish_time = std::time::Duration::ZERO;
    let (mut handed_on, mut ended) = (false, false);
    run(&mut |o| {
        finish_time = o.finish_time;
        if handed_on {
            if let (false, Some(emit)) = (ended, turn.output()) {
                emit(o);
            }
            return;
        }
        let mut chunk = match o.result {
            Ok(chunk) => chunk.into_iter(),
            Err(e) => return error = Some(e),
        };
        while let Some(row) = chunk.next() {
            // An error already met is the stored output's final word: no switch after it.
            let Some(emit) = (rows.full_before(&row) && error.is_none()).then(|| turn.output()).flatten() else {
                rows.put(row);
                continue;
            };
            let output = |result, partial| QueryOutput { name: name.to_string(), result, finish_time, partial };
            let held = std::mem::replace(&mut rows, RowStore::new(0));
            match replay_rows(name, held, finish_time, emit) {
                Ok(()) => emit(output(Ok(std::iter::once(row).chain(chunk).collect()), o.partial)),
                // The query ends with the error; what it would still hand on is dropped.
                Err(e) => {
                    emit(output(Err(e), false));
                    ended = true;
                }
            }
            handed_on = true;
            return;
        }
    });
    stored(rows, error, finish_time, handed_on)
}
