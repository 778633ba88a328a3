//! Printing `top`, `rare` and `timechart`: options that differ from Splunk's defaults only.

use super::{write_aggs, write_quoted, write_words, Word};
use crate::ast::{Timechart, TopRare};
use std::fmt::{self, Formatter, Write};

pub(super) fn top_rare(f: &mut Formatter, t: &TopRare) -> fmt::Result {
    let d = TopRare::new(t.rare);
    f.write_str(if t.rare { "rare" } else { "top" })?;
    if t.limit != d.limit {
        write!(f, " limit={}", t.limit)?;
    }
    for (name, value, default) in [
        ("countfield", &t.countfield, &d.countfield),
        ("percentfield", &t.percentfield, &d.percentfield),
        ("otherstr", &t.otherstr, &d.otherstr),
    ] {
        if value != default {
            write!(f, " {name}=")?;
            write_quoted(f, value)?;
        }
    }
    for (name, value, default) in
        [("showcount", t.showcount, d.showcount), ("showperc", t.showperc, d.showperc), ("useother", t.useother, d.useother)]
    {
        if value != default {
            write!(f, " {name}={value}")?;
        }
    }
    f.write_char(' ')?;
    write_words(f, &t.fields, ", ")?;
    if !t.by.is_empty() {
        f.write_str(" by ")?;
        write_words(f, &t.by, ", ")?;
    }
    Ok(())
}

pub(super) fn timechart(f: &mut Formatter, t: &Timechart) -> fmt::Result {
    let d = Timechart::default();
    f.write_str("timechart")?;
    if let Some(span) = &t.span {
        write!(f, " span={}", Word(span))?;
    }
    for (name, value, default) in [("bins", t.bins, d.bins), ("limit", t.limit, d.limit)] {
        if value != default {
            write!(f, " {name}={value}")?;
        }
    }
    for (name, value, default) in [("useother", t.useother, d.useother), ("usenull", t.usenull, d.usenull), ("cont", t.cont, d.cont)] {
        if value != default {
            write!(f, " {name}={value}")?;
        }
    }
    for (name, value, default) in [("otherstr", &t.otherstr, &d.otherstr), ("nullstr", &t.nullstr, &d.nullstr)] {
        if value != default {
            write!(f, " {name}=")?;
            write_quoted(f, value)?;
        }
    }
    f.write_char(' ')?;
    write_aggs(f, &t.aggregations)?;
    if let Some(by) = &t.by {
        write!(f, " by {}", Word(by))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn round_trips() {
        for text in [
            "| top limit=3 showperc=false process_name, user by dest",
            "| rare countfield=\"n\" useother=true Image",
            "| timechart span=1h limit=5 useother=false otherstr=\"rest\" count, dc(user) as users by dest",
            "| timechart count",
        ] {
            let once = parse(text).unwrap();
            let printed = once.to_string();
            let twice = parse(&printed).unwrap();
            assert_eq!(once.commands[0].kind, twice.commands[0].kind, "{text} -> {printed}");
        }
    }
}
