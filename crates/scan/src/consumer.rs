//! What a scan feeds: the engine, or a wrapper in front of it.

use vigil_engine::{Engine, ScanState};
use vigil_model::{DatasetRow, Event};

/// Receives every event (and its normalized rows) of one pass, with per-thread state.
///
/// States are built per worker and merged in input order (`merge(into, other)`: `other`'s
/// events came after `into`'s).
pub trait Consumer: Sync {
    type State: Send;
    fn new_state(&self) -> Self::State;
    /// Whether rows of this dataset are needed (rows nobody reads are not built).
    fn wants_dataset(&self, _dataset: usize) -> bool {
        true
    }
    /// Which columns of a wanted dataset's rows are read (`None`: any may be); the others are
    /// left null instead of being computed.
    fn dataset_columns(&self, _dataset: usize) -> Option<Vec<bool>> {
        None
    }
    /// Whether events are, from now on, to be consumed without rows (a cancelled search):
    /// asked per event.
    fn skips_rows(&self) -> bool {
        false
    }
    fn consume(&self, state: &mut Self::State, event: &Event, rows: &[DatasetRow]);
    fn merge(&self, into: &mut Self::State, other: Self::State);
    /// Whether events must carry their line in the file (`Origin::line`). When not, the
    /// pieces of a large file are read without counting their lines first.
    fn needs_line_numbers(&self) -> bool {
        true
    }
}

/// The engine as a consumer: every event and row goes to every query.
impl Consumer for Engine {
    type State = ScanState;

    fn new_state(&self) -> ScanState {
        Engine::new_state(self)
    }

    fn wants_dataset(&self, dataset: usize) -> bool {
        Engine::wants_dataset(self, dataset)
    }

    fn dataset_columns(&self, dataset: usize) -> Option<Vec<bool>> {
        self.columns_read(dataset).map(<[bool]>::to_vec)
    }

    fn consume(&self, state: &mut ScanState, event: &Event, rows: &[DatasetRow]) {
        if Engine::wants_events(self) {
            self.on_event(state, event);
        }
        for row in rows {
            self.on_row(state, row);
        }
    }

    fn merge(&self, into: &mut ScanState, other: ScanState) {
        Engine::merge(self, into, other)
    }

    fn needs_line_numbers(&self) -> bool {
        Engine::reads_line_numbers(self)
    }
}

/// Reads and normalises every event into the data sets `engine`'s queries read, and detects
/// nothing: the cost of getting their input ready, which the benchmarks compare detections
/// against (`vigil hunt --no-detections`). The state counts the rows built.
pub struct ReadOnly<'a> {
    pub engine: &'a Engine,
}

impl Consumer for ReadOnly<'_> {
    type State = u64;

    fn new_state(&self) -> u64 {
        0
    }

    fn wants_dataset(&self, dataset: usize) -> bool {
        self.engine.wants_dataset(dataset)
    }

    fn dataset_columns(&self, dataset: usize) -> Option<Vec<bool>> {
        self.engine.dataset_columns(dataset)
    }

    fn consume(&self, rows_built: &mut u64, _event: &Event, rows: &[DatasetRow]) {
        *rows_built += rows.len() as u64;
    }

    fn merge(&self, into: &mut u64, other: u64) {
        *into += other;
    }

    fn needs_line_numbers(&self) -> bool {
        false
    }
}
