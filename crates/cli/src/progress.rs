//! The progress bar on stderr during long scans.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

/// A progress bar, drawn only when stderr is a terminal and the input is large.
#[derive(Default)]
pub struct Bar(Mutex<Option<ProgressBar>>);

impl vigil_scan::Progress for Bar {
    fn start(&self, total: u64) {
        // A bar only helps a person watching; never write one into a pipe or a CI log.
        let bar = if !std::io::stderr().is_terminal() || total < 64 * 1024 * 1024 {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(total);
            let template = "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        };
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.0.lock().ok().and_then(|b| b.clone()) {
            bar.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.0.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
    }
}
