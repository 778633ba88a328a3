//! A spilled group's key texts held in one allocation, as bytes checked only when used.
//!
//! A merge of spilled runs reads every group back and orders groups by key, part by part.
//! Read back as one `String` per part, a group cost an allocation and a UTF-8 check per part
//! (ESCU groups by up to ~20 fields). Here a key is one buffer: the part count, each part's
//! end, then the parts' bytes; its texts are checked when a result row or a key filter needs
//! them, and copied only for a row.

use std::cmp::Ordering;

/// Bytes before the parts' ends: the part count.
const HEAD: usize = 4;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyBytes(Vec<u8>);

impl KeyBytes {
    /// The key of these parts (iterated three times: sizes, ends, bytes).
    pub fn of_parts<'a>(parts: impl Iterator<Item = &'a [u8]> + Clone) -> KeyBytes {
        let (count, bytes) = parts.clone().fold((0usize, 0usize), |(n, b), p| (n + 1, b + p.len()));
        let mut buf = Vec::with_capacity(HEAD + 4 * count + bytes);
        buf.extend_from_slice(&(count as u32).to_le_bytes());
        let mut end = 0u32;
        for p in parts.clone() {
            end = end.saturating_add(p.len() as u32);
            buf.extend_from_slice(&end.to_le_bytes());
        }
        parts.for_each(|p| buf.extend_from_slice(p));
        KeyBytes(buf)
    }

    /// The key of these texts.
    pub fn of_texts<'a>(texts: impl Iterator<Item = &'a str> + Clone) -> KeyBytes {
        KeyBytes::of_parts(texts.map(str::as_bytes))
    }

    /// The parts' bytes, in order.
    pub fn parts(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let (texts, ends) = self.split();
        self.spans(ends).map(move |(start, end)| texts.get(start..end).unwrap_or_default())
    }

    /// The parts as texts; an error if one is not UTF-8 (a damaged run).
    pub fn texts(&self) -> std::io::Result<Vec<&str>> {
        let damaged = || std::io::Error::new(std::io::ErrorKind::InvalidData, "damaged spilled group key");
        let (texts, ends) = self.split();
        // One check of all the parts' bytes: each part is then text if it starts and ends on
        // a character boundary (`str::get` checks that).
        let texts = std::str::from_utf8(texts).map_err(|_| damaged())?;
        let mut out = Vec::with_capacity(ends.len() / 4);
        for (start, end) in self.spans(ends) {
            out.push(texts.get(start..end).ok_or_else(damaged)?);
        }
        Ok(out)
    }

    /// The parts' bytes, and the bytes holding their ends.
    fn split(&self) -> (&[u8], &[u8]) {
        let count = self.0.get(..HEAD).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes) as usize;
        let ends = self.0.get(HEAD..HEAD + 4 * count).unwrap_or_default();
        (self.0.get(HEAD + ends.len()..).unwrap_or_default(), ends)
    }

    /// Where each part starts and ends among the parts' bytes.
    fn spans<'a>(&self, ends: &'a [u8]) -> impl Iterator<Item = (usize, usize)> + 'a {
        let mut start = 0;
        ends.chunks_exact(4).map(move |end| {
            let end = u32::from_le_bytes([end[0], end[1], end[2], end[3]]) as usize;
            let span = (start, end);
            start = end;
            span
        })
    }
}

/// Part by part, as the key texts order (UTF-8 bytes order as their texts do).
impl Ord for KeyBytes {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(other.parts())
    }
}

impl PartialOrd for KeyBytes {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_as_their_texts_and_parts_come_back() {
        let texts = ["", "a", "a\0", "a\0b", "a\u{1}", "ab", "b", "é", "\0", "zz"];
        let mut keys: Vec<Vec<&str>> = Vec::new();
        for x in texts {
            for y in texts {
                keys.push(vec![x, y]);
                keys.push(vec![x, y, x]);
            }
            keys.push(vec![x]);
        }
        keys.push(Vec::new());
        let mut by_bytes: Vec<(KeyBytes, &Vec<&str>)> = keys.iter().map(|k| (KeyBytes::of_texts(k.iter().copied()), k)).collect();
        by_bytes.sort();
        let mut by_text = keys.clone();
        by_text.sort();
        assert_eq!(by_bytes.iter().map(|(_, k)| (*k).clone()).collect::<Vec<_>>(), by_text);
        for (key, texts) in &by_bytes {
            assert_eq!(&key.texts().expect("texts"), *texts);
            assert_eq!(key, &KeyBytes::of_texts(texts.iter().copied()));
        }
    }

    #[test]
    fn bytes_that_are_not_text_are_an_error() {
        let key = KeyBytes::of_parts([&b"ok"[..], &[0xff, 0]].into_iter());
        assert!(key.texts().is_err());
        assert_eq!(key.parts().collect::<Vec<_>>(), [&b"ok"[..], &[0xff, 0]]);
        // Text together, not part by part: a character cut in two.
        let e = "é".as_bytes();
        let cut = KeyBytes::of_parts([&e[..1], &e[1..]].into_iter());
        assert_eq!(cut.parts().collect::<Vec<_>>(), [&e[..1], &e[1..]]);
        assert!(cut.texts().is_err());
    }
}
