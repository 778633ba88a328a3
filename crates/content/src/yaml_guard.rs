//! A cheap pre-check before handing content YAML to the parser.
//!
//! libyaml's scanner (under `serde_norway`) is quadratic in the nesting depth of flow
//! collections: a file of 100 000 `[` takes minutes to reject. Real content nests a few levels,
//! so a file nesting deeper than [`MAX_YAML_NESTING`] is refused before parsing.

/// Deepest `[`/`{` nesting accepted in a content YAML file.
pub const MAX_YAML_NESTING: usize = 256;

/// `Err((line, message))` when `[`/`{` nest deeper than [`MAX_YAML_NESTING`] anywhere in
/// `text`. Brackets inside quoted or block scalars are counted too: an over-estimate that only
/// matters for text with hundreds of unclosed brackets.
pub fn check_yaml_nesting(text: &str) -> Result<(), (usize, String)> {
    // Depth never exceeds the number of openers, and content has a few dozen at most: counting
    // them with memchr (vectorised) spares the byte-by-byte walk below for nearly every file.
    if memchr::memchr2_iter(b'[', b'{', text.as_bytes()).nth(MAX_YAML_NESTING).is_none() {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut line = 1;
    for b in text.bytes() {
        match b {
            b'\n' => line += 1,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_YAML_NESTING {
                    return Err((line, format!("YAML nests `[`/`{{` deeper than {MAX_YAML_NESTING} levels; not parsed")));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_with_its_line() {
        assert!(check_yaml_nesting("a: [1, {b: [2]}]\nsearch: '| x [search y]'\n").is_ok());
        let deep = format!("name: x\ntags: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let (line, msg) = check_yaml_nesting(&deep).unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains("deeper than 256"), "{msg}");
        // Many shallow collections are fine.
        assert!(check_yaml_nesting(&"- [a, {b: c}]\n".repeat(10_000)).is_ok());
        // Exactly the limit passes, one more fails, whether or not the openers are closed later.
        let at = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        assert!(check_yaml_nesting(&at(MAX_YAML_NESTING)).is_ok());
        assert_eq!(check_yaml_nesting(&format!("x: 1\n{}", at(MAX_YAML_NESTING + 1))).map_err(|e| e.0), Err(2));
    }
}
