//! Field strings reused between events: a reader moves a finished event's field strings here
//! and takes them back for the next one, so steady-state reading allocates no field strings.

/// Field strings kept from earlier events for reuse.
pub(crate) type Spare = Vec<(String, String)>;

/// At most this many spare pairs are kept, and only strings of at most [`SPARE_MAX_CAP`]
/// bytes, so that recycling never holds more than a few hundred KiB.
const SPARE_MAX: usize = 256;
const SPARE_MAX_CAP: usize = 4096;

/// Moves the fields of a finished event into `spare` for reuse (bounded; the rest is freed).
pub(crate) fn recycle(fields: &mut Vec<(String, String)>, spare: &mut Spare) {
    for (k, v) in fields.drain(..) {
        if spare.len() < SPARE_MAX && k.capacity() <= SPARE_MAX_CAP && v.capacity() <= SPARE_MAX_CAP {
            spare.push((k, v));
        }
    }
}
