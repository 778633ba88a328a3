//! Push-down into raw-event scans: what of a stage runs inside the scan.

use super::EventScan;
use crate::ops::Op;

/// Moves the leading row-by-row operators (and a `stats` right after them) into the event
/// scan. Only operators whose result does not depend on the clock or time zone move, so the
/// scan needs no execution context; the rest run after the scan as usual.
pub(super) fn push_down(scan: &mut EventScan, ops: &mut Vec<Op>) {
    let streaming = ops.iter().take_while(|op| op.is_streaming()).count();
    scan.prefix = ops.drain(..streaming).collect();
    if matches!(ops.first(), Some(Op::Stats(s)) if s.is_pure()) {
        if let Op::Stats(s) = ops.remove(0) {
            scan.stats = Some(s);
        }
    }
    // After a stats in the scan, `_raw` matters only if the scan's own steps read it.
    scan.needs_raw = match &scan.stats {
        Some(stats) => scan.prefix.iter().any(Op::reads_raw) || stats.reads_field("_raw"),
        None => true,
    };
    scan.projection = scan.stats.as_ref().and_then(|stats| {
        let mut fields = stats.fields_read()?;
        for op in &scan.prefix {
            fields.extend(op.fields_read()?);
        }
        fields.push("_time".into());
        fields.sort();
        fields.dedup();
        Some(fields)
    });
}
