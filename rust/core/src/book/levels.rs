//! Price levels per side. Two interchangeable maps, measured against each other in
//! `benches/book.rs`: a sorted vector with the best level at its end (the default), and a
//! B-tree. Both key levels by a side-normalised key (bids: price, asks: -price) so that the
//! best level is always the greatest key.

use std::collections::BTreeMap;

use super::types::{Price, Qty, Side};

/// Sentinel for "no slot" in the intrusive order lists.
pub const NIL: u32 = u32::MAX;

/// One price level: aggregate size and the FIFO queue of arena slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    pub price: Price,
    pub total: Qty,
    pub count: u32,
    pub head: u32,
    pub tail: u32,
}

impl Level {
    fn empty(price: Price) -> Self {
        Level { price, total: 0, count: 0, head: NIL, tail: NIL }
    }
}

#[inline]
fn key(side: Side, price: Price) -> i64 {
    match side {
        Side::Buy => price,
        Side::Sell => -price,
    }
}

/// The operations the book needs from one side's level storage.
pub trait LevelMap: Clone {
    fn new(side: Side) -> Self;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn best(&self) -> Option<&Level>;
    fn best_mut(&mut self) -> Option<&mut Level>;
    fn pop_best(&mut self);
    fn get(&self, price: Price) -> Option<&Level>;
    fn get_mut(&mut self, price: Price) -> Option<&mut Level>;
    fn get_or_insert(&mut self, price: Price) -> &mut Level;
    fn remove(&mut self, price: Price);
    /// Levels from the best outward.
    fn iter_best(&self) -> impl Iterator<Item = &Level>;
    fn clear(&mut self);
}

/// Levels in a vector sorted by key, best at the end: the top of book is the last element, and
/// inserts and deletes near the top move only the few levels above them.
#[derive(Clone, Debug)]
pub struct VecLevels {
    side: Side,
    levels: Vec<Level>,
}

impl VecLevels {
    /// Index of the level with `price`, or where it would go. Searches from the top first because
    /// almost all activity is within a few levels of the best price.
    #[inline]
    fn find(&self, price: Price) -> Result<usize, usize> {
        let k = key(self.side, price);
        let n = self.levels.len();
        let scan = n.min(16);
        for i in (n - scan..n).rev() {
            let lk = key(self.side, self.levels[i].price);
            if lk == k {
                return Ok(i);
            }
            if lk < k {
                return Err(i + 1);
            }
        }
        let head = &self.levels[..n - scan];
        head.binary_search_by_key(&k, |l| key(self.side, l.price))
    }
}

impl LevelMap for VecLevels {
    fn new(side: Side) -> Self {
        VecLevels { side, levels: Vec::new() }
    }
    #[inline]
    fn len(&self) -> usize {
        self.levels.len()
    }
    #[inline]
    fn best(&self) -> Option<&Level> {
        self.levels.last()
    }
    #[inline]
    fn best_mut(&mut self) -> Option<&mut Level> {
        self.levels.last_mut()
    }
    #[inline]
    fn pop_best(&mut self) {
        self.levels.pop();
    }
    #[inline]
    fn get(&self, price: Price) -> Option<&Level> {
        self.find(price).ok().map(|i| &self.levels[i])
    }
    #[inline]
    fn get_mut(&mut self, price: Price) -> Option<&mut Level> {
        match self.find(price) {
            Ok(i) => Some(&mut self.levels[i]),
            Err(_) => None,
        }
    }
    #[inline]
    fn get_or_insert(&mut self, price: Price) -> &mut Level {
        let i = match self.find(price) {
            Ok(i) => i,
            Err(i) => {
                self.levels.insert(i, Level::empty(price));
                i
            }
        };
        &mut self.levels[i]
    }
    #[inline]
    fn remove(&mut self, price: Price) {
        if let Ok(i) = self.find(price) {
            self.levels.remove(i);
        }
    }
    fn iter_best(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev()
    }
    fn clear(&mut self) {
        self.levels.clear();
    }
}

/// Levels in a B-tree: O(log levels) everywhere, including deep inserts.
#[derive(Clone, Debug)]
pub struct BtreeLevels {
    side: Side,
    levels: BTreeMap<i64, Level>,
}

impl LevelMap for BtreeLevels {
    fn new(side: Side) -> Self {
        BtreeLevels { side, levels: BTreeMap::new() }
    }
    fn len(&self) -> usize {
        self.levels.len()
    }
    fn best(&self) -> Option<&Level> {
        self.levels.last_key_value().map(|(_, l)| l)
    }
    fn best_mut(&mut self) -> Option<&mut Level> {
        self.levels.last_entry().map(|e| e.into_mut())
    }
    fn pop_best(&mut self) {
        self.levels.pop_last();
    }
    fn get(&self, price: Price) -> Option<&Level> {
        self.levels.get(&key(self.side, price))
    }
    fn get_mut(&mut self, price: Price) -> Option<&mut Level> {
        self.levels.get_mut(&key(self.side, price))
    }
    fn get_or_insert(&mut self, price: Price) -> &mut Level {
        self.levels.entry(key(self.side, price)).or_insert_with(|| Level::empty(price))
    }
    fn remove(&mut self, price: Price) {
        self.levels.remove(&key(self.side, price));
    }
    fn iter_best(&self) -> impl Iterator<Item = &Level> {
        self.levels.values().rev()
    }
    fn clear(&mut self) {
        self.levels.clear();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::book::MAX_ABS_PRICE as MAX;

    fn price() -> impl Strategy<Value = Price> {
        prop_oneof![
            8 => 990i64..1010,
            1 => (0i64..20).prop_map(|k| 1000 + 7 * k),
            1 => prop_oneof![Just(MAX), Just(-MAX), Just(MAX - 1), Just(-MAX + 1), -MAX..=MAX],
        ]
    }

    proptest! {
        /// The sorted vector and the B-tree hold the same levels in the same order and find the
        /// same ones, on dense, sparse and extreme prices.
        #[test]
        fn vec_levels_agree_with_btree(
            buy in any::<bool>(),
            ops in prop::collection::vec((0u8..3, price()), 1..200),
        ) {
            let side = if buy { Side::Buy } else { Side::Sell };
            let (mut v, mut b) = (VecLevels::new(side), BtreeLevels::new(side));
            for (op, p) in ops {
                match op {
                    0 => {
                        v.get_or_insert(p).total += 1;
                        b.get_or_insert(p).total += 1;
                    }
                    1 => {
                        v.remove(p);
                        b.remove(p);
                    }
                    _ => prop_assert_eq!(v.get(p), b.get(p)),
                }
                prop_assert!(v.iter_best().eq(b.iter_best()));
                prop_assert_eq!(v.best(), b.best());
            }
        }
    }
}
