//! A time range in front of a consumer: `hunt/search --earliest/--latest` (and a server's
//! window). Events outside it never reach the engine; they are counted.
//!
//! A window is `earliest <= _time < latest` (Splunk). An event and the dataset rows
//! normalized from it share one `_time`, so routing is decided once per event. Events without
//! `_time` pass only when no range is set: they are dropped from a time-restricted run and
//! counted.

use crate::Consumer;
use vigil_model::{DatasetRow, Event};
use vigil_time::Window;

/// Passes on only the events (and their rows) inside `window`.
pub struct Windowed<'a, C> {
    pub inner: &'a C,
    pub window: Window,
}

/// The inner consumer's state plus what was dropped.
pub struct WindowedState<S> {
    pub inner: S,
    /// Events with a _time outside the window.
    pub outside: u64,
    /// Events without _time.
    pub untimed: u64,
}

impl<C: Consumer> Consumer for Windowed<'_, C> {
    type State = WindowedState<C::State>;

    fn new_state(&self) -> Self::State {
        WindowedState { inner: self.inner.new_state(), outside: 0, untimed: 0 }
    }

    fn wants_dataset(&self, dataset: usize) -> bool {
        self.inner.wants_dataset(dataset)
    }

    fn consume(&self, state: &mut Self::State, event: &Event, rows: &[DatasetRow]) {
        match event.time {
            None => state.untimed += 1,
            Some(t) if self.window.contains(t) => self.inner.consume(&mut state.inner, event, rows),
            Some(_) => state.outside += 1,
        }
    }

    fn merge(&self, into: &mut Self::State, other: Self::State) {
        self.inner.merge(&mut into.inner, other.inner);
        into.outside += other.outside;
        into.untimed += other.untimed;
    }
}

