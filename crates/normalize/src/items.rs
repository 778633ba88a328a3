//! A list of strings whose buffers outlive their values: expressions are evaluated for every
//! event, and a fresh `String` per value was most of their cost.

/// Strings `[..len]` are the items; the ones after keep their capacity for the next items.
#[derive(Debug, Default)]
pub struct Items {
    strs: Vec<String>,
    len: usize,
    /// Where a transform writes before its result takes the item's place.
    pub(crate) tmp: String,
}

impl Items {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn as_slice(&self) -> &[String] {
        &self.strs[..self.len]
    }

    /// Keeps the first `len` items (the buffers of the others stay for reuse).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends a copy of `v`, in a reused buffer when there is one.
    pub fn push_str(&mut self, v: &str) {
        self.next_slot().push_str(v);
    }

    /// Appends an empty item and returns it to be written.
    pub(crate) fn next_slot(&mut self) -> &mut String {
        if self.len == self.strs.len() {
            self.strs.push(String::new());
        }
        self.len += 1;
        let s = &mut self.strs[self.len - 1];
        s.clear();
        s
    }

    /// The item at `i`, to be rewritten in place.
    pub(crate) fn get_mut(&mut self, i: usize) -> &mut String {
        &mut self.strs[..self.len][i]
    }

    /// Swaps the item at `i` with `other`: the caller keeps the value, the list keeps a buffer.
    pub fn swap_out(&mut self, i: usize, other: &mut String) {
        std::mem::swap(&mut self.strs[..self.len][i], other);
    }

    /// Swaps two items.
    pub(crate) fn swap(&mut self, a: usize, b: usize) {
        self.strs[..self.len].swap(a, b);
    }

    /// Removes the items `[from..to]`, the later ones moving down, order kept.
    pub(crate) fn remove_range(&mut self, from: usize, to: usize) {
        self.strs[from..self.len].rotate_left(to - from);
        self.len -= to - from;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_ranges_removed_in_order() {
        let mut items = Items::default();
        for v in ["a", "b", "c", "d"] {
            items.push_str(v);
        }
        items.remove_range(1, 3);
        assert_eq!(items.as_slice(), ["a", "d"]);
        items.clear();
        assert_eq!(items.len(), 0);
        items.push_str("longer value");
        let kept = items.as_slice()[0].capacity();
        items.clear();
        items.push_str("x");
        assert_eq!(items.as_slice(), ["x"]);
        assert!(items.as_slice()[0].capacity() >= kept.min(1));
        let mut out = String::from("mine");
        items.swap_out(0, &mut out);
        assert_eq!((out.as_str(), items.as_slice()), ("x", &["mine".to_string()][..]));
        items.push_str("y");
        items.swap(0, 1);
        items.truncate(1);
        assert_eq!(items.as_slice(), ["y"]);
    }
}
