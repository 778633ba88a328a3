//! What a read did: counts, and why records were skipped, with a few examples each.

use std::collections::BTreeMap;
use std::fmt;

/// How many examples to keep per skip reason. Enough to find the problem, bounded so that a
/// file of ten million bad lines does not grow the report.
pub const MAX_EXAMPLES: usize = 5;

/// Records skipped for one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    pub count: u64,
    /// `file:line: message` or `file@offset: message`, first [`MAX_EXAMPLES`] only.
    pub examples: Vec<String>,
}

/// The outcome of reading one or more files. Reading never fails as a whole: every problem is
/// counted here under a short, stable reason (`"malformed JSON"`, `"not an XML event"`,
/// `"unreadable file"`, `"bad EVTX chunk"`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Files (and archive members) opened.
    pub files: u64,
    /// Events handed to the sink.
    pub events: u64,
    /// Bytes consumed (decompressed bytes for compressed input).
    pub bytes: u64,
    /// Skipped records by reason, sorted by reason for stable output.
    pub skipped: BTreeMap<String, Skipped>,
    /// Records read after a repair (e.g. invalid UTF-8 replaced), by reason: not lost, but
    /// not exactly what the file held either.
    pub repaired: BTreeMap<String, Skipped>,
    /// Files that are not logs (images, packet captures, executables, scripts, ...), by kind:
    /// recognised by content and skipped whole. Examples are the file names.
    pub not_logs: BTreeMap<String, Skipped>,
    /// Files (or archive members) that held no record at all: empty, or EVTX without records.
    pub no_events: Skipped,
}

impl ReadReport {
    /// Counts one skipped record. `location` is `file:line` or `file@offset`.
    pub fn skip(&mut self, reason: &str, location: impl fmt::Display, message: impl fmt::Display) {
        let s = self.skipped.entry(reason.to_string()).or_default();
        s.count += 1;
        if s.examples.len() < MAX_EXAMPLES {
            let mut m = message.to_string();
            truncate(&mut m, 200);
            s.examples.push(format!("{location}: {m}"));
        }
    }

    /// Counts one record read after a repair.
    pub fn repair(&mut self, reason: &str, location: impl fmt::Display, message: impl fmt::Display) {
        let s = self.repaired.entry(reason.to_string()).or_default();
        s.count += 1;
        if s.examples.len() < MAX_EXAMPLES {
            let mut m = message.to_string();
            truncate(&mut m, 200);
            s.examples.push(format!("{location}: {m}"));
        }
    }

    /// Adds `by` to the line numbers of the examples located in `file` (`file:line: ...`): the
    /// report of a piece of `file` read as if it started the file, once the lines before it
    /// are known.
    pub fn shift_lines(&mut self, file: &str, by: u64) {
        if by == 0 {
            return;
        }
        for s in self.skipped.values_mut().chain(self.repaired.values_mut()) {
            for example in &mut s.examples {
                let Some(rest) = example.strip_prefix(file).and_then(|r| r.strip_prefix(':')) else { continue };
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let Ok(line) = rest[..digits].parse::<u64>() else { continue };
                if rest[digits..].starts_with(':') {
                    *example = format!("{file}:{}{}", line + by, &rest[digits..]);
                }
            }
        }
    }

    /// Counts a file skipped whole because it is not a log.
    pub fn not_log(&mut self, kind: &str, file: impl fmt::Display) {
        note(self.not_logs.entry(kind.to_string()).or_default(), file);
    }

    /// Counts a file that held no record.
    pub fn no_events(&mut self, file: impl fmt::Display) {
        note(&mut self.no_events, file);
    }

    /// Files skipped as not logs, all kinds.
    pub fn not_logs_total(&self) -> u64 {
        self.not_logs.values().map(|s| s.count).sum()
    }

    /// Total repaired records, all reasons.
    pub fn repaired_total(&self) -> u64 {
        self.repaired.values().map(|s| s.count).sum()
    }

    /// Total skipped records, all reasons.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|s| s.count).sum()
    }

    /// Count for one reason (0 when absent).
    pub fn skipped_count(&self, reason: &str) -> u64 {
        self.skipped.get(reason).map_or(0, |s| s.count)
    }

    /// Adds another report's counts into this one (examples are kept up to the bound).
    pub fn merge(&mut self, other: ReadReport) {
        self.files += other.files;
        self.events += other.events;
        self.bytes += other.bytes;
        for (mine, theirs) in
            [(&mut self.skipped, other.skipped), (&mut self.repaired, other.repaired), (&mut self.not_logs, other.not_logs)]
        {
            for (reason, o) in theirs {
                absorb(mine.entry(reason).or_default(), o);
            }
        }
        absorb(&mut self.no_events, other.no_events);
    }
}

fn note(s: &mut Skipped, example: impl fmt::Display) {
    s.count += 1;
    if s.examples.len() < MAX_EXAMPLES {
        s.examples.push(example.to_string());
    }
}

fn absorb(s: &mut Skipped, o: Skipped) {
    s.count += o.count;
    for e in o.examples {
        if s.examples.len() < MAX_EXAMPLES {
            s.examples.push(e);
        }
    }
}

impl fmt::Display for ReadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} files, {} events, {} bytes, {} skipped", self.files, self.events, self.bytes, self.skipped_total())?;
        for (reason, s) in &self.skipped {
            write!(f, "\n  {reason}: {}", s.count)?;
            for e in &s.examples {
                write!(f, "\n    {e}")?;
            }
        }
        Ok(())
    }
}

/// Cuts a string to at most `max` bytes on a char boundary, marking the cut.
pub(crate) fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_and_bounds_examples() {
        let mut a = ReadReport { files: 1, events: 2, bytes: 3, ..Default::default() };
        for i in 0..4 {
            a.skip("bad", format!("f:{i}"), "x");
        }
        let mut b = ReadReport { files: 1, events: 1, bytes: 1, ..Default::default() };
        for i in 0..4 {
            b.skip("bad", format!("g:{i}"), "y");
        }
        b.skip("other", "g:9", "z");
        a.merge(b);
        assert_eq!((a.files, a.events, a.bytes), (2, 3, 4));
        assert_eq!(a.skipped_count("bad"), 8);
        assert_eq!(a.skipped["bad"].examples.len(), MAX_EXAMPLES);
        assert_eq!(a.skipped_total(), 9);
        assert!(a.to_string().contains("other: 1"));
    }

    #[test]
    fn truncates_on_char_boundary() {
        let mut s = "é".repeat(300);
        truncate(&mut s, 201);
        assert!(s.ends_with("..."));
    }

    #[test]
    fn shift_lines_moves_only_the_line_examples_of_that_file() {
        let mut r = ReadReport::default();
        r.skip("not JSON", "/logs/a:1.json:7", "junk");
        r.skip("not JSON", "/logs/a:1.json@40", "junk at an offset");
        r.skip("not JSON", "/logs/b.json:7", "other file");
        r.repair("invalid UTF-8", "/logs/a:1.json:12", "replaced");
        r.shift_lines("/logs/a:1.json", 100);
        assert_eq!(
            r.skipped["not JSON"].examples,
            ["/logs/a:1.json:107: junk", "/logs/a:1.json@40: junk at an offset", "/logs/b.json:7: other file"]
        );
        assert_eq!(r.repaired["invalid UTF-8"].examples, ["/logs/a:1.json:112: replaced"]);
    }
}
