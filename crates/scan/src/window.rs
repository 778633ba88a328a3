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
    pub dropped: Dropped,
}

/// Events a time window dropped, and the time span of all timed events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Events with a _time before the window's earliest.
    pub before: u64,
    /// Events with a _time at or after the window's latest.
    pub after: u64,
    /// Events without _time.
    pub untimed: u64,
    /// The earliest and latest event times seen, inside the window or not.
    pub span: Option<(vigil_model::Micros, vigil_model::Micros)>,
}

impl<C: Consumer> Consumer for Windowed<'_, C> {
    type State = WindowedState<C::State>;

    fn new_state(&self) -> Self::State {
        WindowedState { inner: self.inner.new_state(), dropped: Dropped::default() }
    }

    fn wants_dataset(&self, dataset: usize) -> bool {
        self.inner.wants_dataset(dataset)
    }

    fn dataset_columns(&self, dataset: usize) -> Option<Vec<bool>> {
        self.inner.dataset_columns(dataset)
    }

    fn skips_rows(&self) -> bool {
        self.inner.skips_rows()
    }

    fn needs_line_numbers(&self) -> bool {
        self.inner.needs_line_numbers()
    }

    fn consume(&self, state: &mut Self::State, event: &Event, rows: &[DatasetRow]) {
        let d = &mut state.dropped;
        let Some(t) = event.time else {
            d.untimed += 1;
            return;
        };
        d.span = Some(d.span.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
        if self.window.contains(t) {
            self.inner.consume(&mut state.inner, event, rows);
        } else if t < self.window.earliest {
            d.before += 1;
        } else {
            d.after += 1;
        }
    }

    fn merge(&self, into: &mut Self::State, other: Self::State) {
        self.inner.merge(&mut into.inner, other.inner);
        let (a, b) = (&mut into.dropped, other.dropped);
        a.before += b.before;
        a.after += b.after;
        a.untimed += b.untimed;
        a.span = match (a.span, b.span) {
            (Some((x, y)), Some((z, w))) => Some((x.min(z), y.max(w))),
            (x, y) => x.or(y),
        };
    }
}
