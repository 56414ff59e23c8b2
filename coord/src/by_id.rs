//! [`ById`]: values keyed by a numeric id, kept in id order, each id once: the events a tab holds
//! back behind a gap.
//!
//! A sorted `VecDeque` rather than a `BTreeMap`: it holds at most a configured capacity of
//! events, which nearly always arrive in id order (so they go in at the back and leave at the
//! front), and each `BTreeMap` instantiation costs the browser's bundle several kilobytes.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub(crate) struct ById<V>(VecDeque<(u64, V)>);

impl<V> Default for ById<V> {
    fn default() -> Self {
        Self(VecDeque::new())
    }
}

impl<V> ById<V> {
    /// Puts `value` under `id`, replacing what was there: `false` if `id` was held already.
    pub(crate) fn insert(&mut self, id: u64, value: V) -> bool {
        match self.position(id) {
            Ok(at) => {
                self.0[at].1 = value;
                false
            }
            Err(at) => {
                self.0.insert(at, (id, value));
                true
            }
        }
    }

    /// The lowest id and its value.
    pub(crate) fn first(&self) -> Option<(u64, &V)> {
        self.0.front().map(|(id, value)| (*id, value))
    }

    /// Takes the lowest id's value.
    pub(crate) fn pop_first(&mut self) -> Option<V> {
        self.0.pop_front().map(|(_, value)| value)
    }

    /// Drops every id at or below `id`.
    pub(crate) fn keep_above(&mut self, id: u64) {
        let below = self.position(id).map_or_else(|at| at, |at| at + 1);
        self.0.drain(..below);
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    fn position(&self, id: u64) -> Result<usize, usize> {
        self.0.binary_search_by_key(&id, |(k, _)| *k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A `BTreeMap` is the model: the same operations leave the same contents.
    #[test]
    fn behaves_as_a_btree_map() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let (mut ours, mut model) = (ById::default(), BTreeMap::new());
            for step in 0..200u32 {
                let id = next() % 40;
                match next() % 6 {
                    0..=2 => assert_eq!(ours.insert(id, step), model.insert(id, step).is_none()),
                    3 => {
                        let expected = model.pop_first().map(|(_, v)| v);
                        assert_eq!(ours.pop_first(), expected);
                    }
                    4 => {
                        ours.keep_above(id);
                        model.retain(|&k, _| k > id);
                    }
                    _ => assert_eq!(ours.first(), model.first_key_value().map(|(k, v)| (*k, v))),
                }
                assert_eq!(ours.len(), model.len());
                assert!(ours.0.iter().map(|(k, v)| (k, v)).eq(model.iter()));
            }
        }
    }
}
