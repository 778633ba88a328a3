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

/// Where a query's finishing hands its outputs when they need not wait for their turn.
pub(crate) type Direct<'a> = Option<&'a mut dyn FnMut(QueryOutput)>;

impl StoredOutput {
    /// Estimated heap bytes of the rows it holds in memory.
    pub fn memory_bytes(&self) -> usize {
        self.rows.memory_bytes()
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
        let output = |result, partial| QueryOutput { name: name.clone(), result, finish_time, partial };
        let read = rows.for_each_chunk_within(CHUNK_ROWS, REPLAY_CHUNK_BYTES, |chunk| emit(output(Ok(chunk), true)));
        let result = match (read, error) {
            (Err(e), _) | (_, Some(e)) => Err(e),
            (Ok(()), None) => Ok(Vec::new()),
        };
        emit(output(result, false));
    }
}

/// Runs a query's finishing that emits outputs (`run`) into a [`StoredOutput`] that keeps
/// about `budget` bytes of rows in memory, or straight into `direct` when given (the stored
/// output is then empty and replays nothing).
pub(crate) fn store_outputs(name: &str, budget: usize, direct: Direct, run: impl FnOnce(&mut dyn FnMut(QueryOutput))) -> StoredOutput {
    if let Some(emit) = direct {
        run(emit);
        let (rows, error, finish_time) = (RowStore::new(0), None, std::time::Duration::ZERO);
        return StoredOutput { name: name.to_string(), rows, error, finish_time, handed_on: true };
    }
    let mut rows = RowStore::new(budget);
    let mut error = None;
    let mut finish_time = std::time::Duration::ZERO;
    run(&mut |o| {
        finish_time = o.finish_time;
        match o.result {
            Ok(chunk) => chunk.into_iter().for_each(|r| rows.put(r)),
            Err(e) => error = Some(e),
        }
    });
    StoredOutput { name: name.to_string(), rows, error, finish_time, handed_on: false }
}
