//! JUnit XML, the report format CI systems read: one `<testsuite>` per test kind, one
//! `<testcase>` per outcome (classname = the detection file, name = the detection), with
//! `<failure>` or `<skipped>` carrying the reason and details.

use super::{Kind, Outcome, Status};
use std::fmt::Write;

pub fn render(outcomes: &[Outcome]) -> String {
    let count = |list: &[&Outcome], s: Status| list.iter().filter(|o| o.status == s).count();
    let all: Vec<&Outcome> = outcomes.iter().collect();
    let total_time: f64 = outcomes.iter().map(|o| o.seconds).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"vigil test\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" time=\"{total_time:.3}\">",
        all.len(),
        count(&all, Status::Fail),
        count(&all, Status::Skip)
    );
    for kind in [Kind::Validation, Kind::Unit, Kind::Integration, Kind::Regression] {
        let list: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == kind).collect();
        if list.is_empty() {
            continue;
        }
        let time: f64 = list.iter().map(|o| o.seconds).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" time=\"{time:.3}\">",
            kind.as_str(),
            list.len(),
            count(&list, Status::Fail),
            count(&list, Status::Skip)
        );
        for o in list {
            let _ = write!(x, "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"", escape(&o.file), escape(&o.name), o.seconds);
            let body = std::iter::once(o.reason.as_str()).chain(o.details.iter().map(String::as_str)).collect::<Vec<_>>().join("\n");
            match o.status {
                Status::Pass => x.push_str("/>\n"),
                // JUnit has no warning verdict: a pass, with the warnings as its output.
                Status::Warn => {
                    let _ = writeln!(x, ">\n      <system-out>{}</system-out>\n    </testcase>", escape(&body));
                }
                Status::Fail => {
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        escape(&o.reason),
                        kind.as_str(),
                        escape(&body)
                    );
                }
                Status::Skip => {
                    let _ = writeln!(x, ">\n      <skipped message=\"{}\"/>\n    </testcase>", escape(&o.reason));
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_suites_and_escapes() {
        let mut f = Outcome::new(Kind::Unit, "A <b> & \"c\"", "d/a.yml", Status::Fail, "0 results");
        f.details.push("12 events read\u{1}".into());
        let outcomes = vec![
            Outcome::new(Kind::Validation, "A", "d/a.yml", Status::Pass, ""),
            f,
            Outcome::new(Kind::Integration, "A", "d/a.yml", Status::Skip, "unit test did not pass"),
        ];
        let x = render(&outcomes);
        assert!(x.contains("<testsuites name=\"vigil test\" tests=\"3\" failures=\"1\" skipped=\"1\""), "{x}");
        assert!(x.contains("<testsuite name=\"unit\" tests=\"1\" failures=\"1\" skipped=\"0\""), "{x}");
        assert!(x.contains("name=\"A &lt;b&gt; &amp; &quot;c&quot;\""), "{x}");
        assert!(x.contains("<failure message=\"0 results\" type=\"unit\">0 results&#10;12 events read</failure>"), "{x}");
        assert!(x.contains("<skipped message=\"unit test did not pass\"/>"), "{x}");
        assert_eq!(x.matches("<testcase").count(), 3);
    }
}
