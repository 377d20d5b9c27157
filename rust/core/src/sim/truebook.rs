//! The simulator's true-book reconciler: a book kept equal to the true book of a LOBSTER
//! orderbook file (its snapshots after every message), recorded liquidity only.
//!
//! A level-N file only carries messages that touch the top N levels, so orders resting before the
//! file starts, or deeper than N, are unknown. The replay seeds each visible level from the first
//! snapshot with one placeholder order, and reasons per side with the *horizon* (the worst visible
//! price of a full N-level view; none if fewer than N levels show, since then the whole side shows):
//!
//! - prices at or better than the previous row's horizon were fully known before message k, and
//!   message k is the only change, so after it they must equal row k exactly: they are *checked*
//!   (only as far as row k still shows them);
//! - prices visible in row k but beyond the previous horizon have just come into view (a level
//!   above them went away): they are *adopted*, the book's quantity there set to the snapshot's, its
//!   composition reset to one placeholder holding the snapshot's quantity (orders the replay knew
//!   there may have left while the level was out of view, and others arrived);
//! - a checked level that disagrees counts as a mismatch and is then repaired, so one error is
//!   counted once rather than cascading.
//!
//! A simulator's user orders (see [`super::ids::is_user`]) live in the same book; `user` holds
//! their quantity per level, so the checks compare recorded liquidity only and a repair keeps them.

use rustc_hash::FxHashMap;

use super::ids::{is_user, PLACEHOLDER_BASE};
use crate::book::{Level, OrderBook, OrderId, Price, Qty, Side};
use crate::replay::lobster::{Mismatch, Snapshots, Stats};

/// Prices LOBSTER uses for empty levels.
const DUMMY_ASK: i64 = 9_999_999_999;
const DUMMY_BID: i64 = -9_999_999_999;

/// The side-normalised key: larger is better.
#[inline]
pub(crate) fn key(side: Side, price: Price) -> i64 {
    match side {
        Side::Buy => price,
        Side::Sell => -price,
    }
}

/// One side's visible levels in a snapshot row, best first, dummies dropped.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) row: &'a [i64],
    pub(crate) side: Side,
}

impl View<'_> {
    /// Append this side's levels to `out` (a plain loop over the row, the side's columns fixed
    /// at compile time).
    fn extend_levels(&self, out: &mut Vec<(Price, Qty)>) {
        match self.side {
            Side::Sell => extend_side::<0>(self.row, out),
            Side::Buy => extend_side::<2>(self.row, out),
        }
    }

    /// Same prices and sizes on this side as `other`.
    fn side_eq(&self, other: &View<'_>) -> bool {
        match self.side {
            Side::Sell => side_eq::<0>(self.row, other.row),
            Side::Buy => side_eq::<2>(self.row, other.row),
        }
    }
}

/// [`View::extend_levels`] for the side whose (price, size) columns start at `OFF` in each
/// level's four.
#[inline(always)]
fn extend_side<const OFF: usize>(row: &[i64], out: &mut Vec<(Price, Qty)>) {
    out.reserve(row.len() / 4);
    for c in row.chunks_exact(4) {
        let (p, q) = (c[OFF], c[OFF + 1]);
        if q > 0 && p != DUMMY_ASK && p != DUMMY_BID {
            out.push((p, q as Qty));
        }
    }
}

/// [`View::side_eq`] for the side whose columns start at `OFF`: every level compared, without
/// an early exit (the rows almost always agree, and a straight loop is cheaper).
#[inline(always)]
fn side_eq<const OFF: usize>(a: &[i64], b: &[i64]) -> bool {
    a.chunks_exact(4)
        .zip(b.chunks_exact(4))
        .fold(true, |eq, (x, y)| eq & (x[OFF] == y[OFF]) & (x[OFF + 1] == y[OFF + 1]))
}

/// Key of the worst visible price when all `n` levels are occupied (`None`: the whole side is
/// visible). `visible` is one side's levels, best first.
fn horizon(side: Side, visible: &[(Price, Qty)], n: usize) -> Option<i64> {
    if visible.len() == n {
        visible.last().map(|l| key(side, l.0))
    } else {
        None
    }
}

/// The user's resting quantity per level (see [`is_user`]): a map for lookups by level, and the
/// same levels per side (index `Side as usize`) sorted best first, so that the checks walk them
/// alongside the book's depth instead of looking every level up. Both change together, only
/// through [`UserLevels::insert`] and [`UserLevels::remove`].
#[derive(Default)]
pub(crate) struct UserLevels {
    map: FxHashMap<(Side, Price), Qty>,
    sides: [Vec<(Price, Qty)>; 2],
}

impl UserLevels {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    #[inline]
    pub(crate) fn get(&self, level: &(Side, Price)) -> Option<&Qty> {
        self.map.get(level)
    }

    #[inline]
    pub(crate) fn contains_key(&self, level: &(Side, Price)) -> bool {
        self.map.contains_key(level)
    }

    /// The levels, in the map's order.
    pub(crate) fn keys(&self) -> std::collections::hash_map::Keys<'_, (Side, Price), Qty> {
        self.map.keys()
    }

    /// One side's levels with their quantities, best first.
    #[inline]
    pub(crate) fn side(&self, side: Side) -> &[(Price, Qty)] {
        &self.sides[side as usize]
    }

    /// Where `price` is (or would go) in `side`'s best-first list.
    fn find(&self, side: Side, price: Price) -> Result<usize, usize> {
        let k = key(side, price);
        self.sides[side as usize].binary_search_by(|&(p, _)| k.cmp(&key(side, p)))
    }

    pub(crate) fn insert(&mut self, level: (Side, Price), qty: Qty) {
        self.map.insert(level, qty);
        let (side, price) = level;
        match self.find(side, price) {
            Ok(i) => self.sides[side as usize][i].1 = qty,
            Err(i) => self.sides[side as usize].insert(i, (price, qty)),
        }
    }

    pub(crate) fn remove(&mut self, level: &(Side, Price)) {
        if self.map.remove(level).is_some() {
            let (side, price) = *level;
            if let Ok(i) = self.find(side, price) {
                self.sides[side as usize].remove(i);
            }
        }
    }
}

impl<'a> IntoIterator for &'a UserLevels {
    type Item = (&'a (Side, Price), &'a Qty);
    type IntoIter = std::collections::hash_map::Iter<'a, (Side, Price), Qty>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

/// [`key`] for a side known at compile time (`BUY`: bids).
#[inline(always)]
fn side_key<const BUY: bool>(price: Price) -> i64 {
    if BUY {
        price
    } else {
        -price
    }
}

/// The common case of a check, without side effects: whether the book's `levels` (best first)
/// with keys in `[lo, hi)` agree one for one with `expected` (the snapshot's levels in that
/// range, best first), comparing recorded quantity (the total less the user's, from `users`,
/// best first) and counting a book level the snapshot lacks as agreeing only if it holds no
/// recorded quantity. `Some(levels compared)` exactly when [`Replayer::reconcile`] would find no
/// difference and count that many checked levels; `None` sends the caller to it.
#[inline(always)]
fn agree<'a, const BUY: bool>(
    levels: impl Iterator<Item = &'a Level>,
    users: &[(Price, Qty)],
    expected: &[(Price, Qty)],
    lo: i64,
    hi: i64,
) -> Option<u64> {
    let (mut i, mut u, mut checked) = (0, 0, 0);
    for level in levels {
        let k = side_key::<BUY>(level.price);
        if k >= hi {
            continue;
        }
        if k < lo {
            break;
        }
        let want = match expected.get(i) {
            // An expected level better than this one is missing from the book.
            Some(&(p, _)) if side_key::<BUY>(p) > k => return None,
            Some(&(p, q)) if p == level.price => {
                i += 1;
                q
            }
            _ => 0,
        };
        while u < users.len() && side_key::<BUY>(users[u].0) > k {
            u += 1;
        }
        let total = match users.get(u) {
            Some(&(p, q)) if p == level.price => level.total - q,
            _ => level.total,
        };
        if want != total {
            return None;
        }
        checked += 1;
    }
    // Expected levels beyond the book's are missing from it.
    (i == expected.len()).then_some(checked)
}

/// Book state kept equal to the true book: placeholders for unknown orders, and the per-side
/// bookkeeping of the checks. A simulator's user orders (see [`is_user`]) live in the same book;
/// `user` holds their quantity per level so the checks compare recorded liquidity only.
pub(crate) struct Replayer {
    pub(crate) book: OrderBook,
    pub(crate) user: UserLevels,
    /// Scratch for the checks (the true side's visible levels; level differences), reused.
    visible: Vec<(Price, Qty)>,
    diffs: Vec<(Price, Qty, Qty)>,
    ids: Vec<OrderId>,
    /// Horizon of the previous row per side (index `Side as usize`), carried to the next event.
    horizons: [Option<i64>; 2],
    /// Book side version right after the previous check, and the levels in view then.
    verified: [(u64, u64); 2],
    placeholders: FxHashMap<(Side, Price), OrderId>,
    next_placeholder: OrderId,
    levels: usize,
    pub(crate) stats: Stats,
}

impl Replayer {
    pub(crate) fn new(levels: usize) -> Self {
        Replayer {
            book: OrderBook::with_capacity(Default::default(), 1024),
            user: UserLevels::default(),
            visible: Vec::with_capacity(64),
            diffs: Vec::with_capacity(64),
            ids: Vec::with_capacity(64),
            horizons: [None; 2],
            verified: [(u64::MAX, 0); 2],
            placeholders: FxHashMap::default(),
            next_placeholder: PLACEHOLDER_BASE,
            levels,
            stats: Stats::default(),
        }
    }

    /// Seed every visible level of `row` with one placeholder.
    pub(crate) fn seed(&mut self, row: &[i64]) {
        for side in [Side::Buy, Side::Sell] {
            let mut seed = Vec::new();
            (View { row, side }).extend_levels(&mut seed);
            for &(p, q) in &seed {
                self.reset_level(side, p, q);
            }
            self.horizons[side as usize] = horizon(side, &seed, self.levels);
        }
    }

    /// Check both sides after message `k` against snapshot rows `k - 1` and `k`.
    pub(crate) fn check(&mut self, k: usize, snaps: &Snapshots) {
        let before = self.stats.mismatches;
        let (prev, now) = (snaps.row(k - 1), snaps.row(k));
        for side in [Side::Buy, Side::Sell] {
            self.check_side(k, side, View { row: prev, side }, View { row: now, side });
        }
        if self.stats.mismatches != before {
            self.stats.mismatched_events += 1;
        }
        self.stats.events += 1;
    }

    /// A recorded order the book does not know (resting before the file or beyond its depth)
    /// loses `size`: take it from the level's placeholder.
    pub(crate) fn placeholder_take(&mut self, side: Side, price: Price, size: Qty) {
        let Some(&id) = self.placeholders.get(&(side, price)) else { return };
        let Some((open, _)) = self.book.open_order(id) else {
            // A user's taker consumed the whole placeholder: it left the book with its last lot,
            // so there is nothing recorded left here to take.
            self.placeholders.remove(&(side, price));
            return;
        };
        if size >= open {
            self.book.cancel(id).expect("placeholder is live");
            self.placeholders.remove(&(side, price));
        } else {
            self.book.reduce(id, size).expect("reduce below open");
        }
    }

    /// Replace whatever recorded liquidity the book holds at one level by a single placeholder of
    /// `target`: the level's composition is unknown (it was out of view, or disagreed with the
    /// true book). User orders stay, ahead of the placeholder.
    pub(crate) fn reset_level(&mut self, side: Side, price: Price, target: Qty) {
        if target > 0 && self.resize_sole_placeholder(side, price, target) {
            return;
        }
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend(self.book.level_orders(side, price).map(|(id, _)| id).filter(|&id| !is_user(id)));
        for &id in &ids {
            self.book.cancel(id).expect("listed order is live");
        }
        self.ids = ids;
        if target > 0 {
            let id = self.next_placeholder;
            self.next_placeholder += 1;
            self.book.add_resting(id, side, price, target).expect("fresh placeholder");
            // Replaces the level's previous placeholder, if any.
            self.placeholders.insert((side, price), id);
        } else {
            self.placeholders.remove(&(side, price));
        }
    }

    /// [`Replayer::reset_level`] when the level holds nothing but its placeholder (no user order,
    /// no recorded order): the placeholder itself takes `target`, in place, instead of being
    /// canceled and replaced by a new one (the level's removal and reinsertion, two order-index
    /// and two placeholder-map updates). The outcome is the same level, one placeholder of
    /// `target` alone in its queue; only the placeholder's id differs, and no id from the
    /// placeholder range is ever seen outside the reconciler (replayed ids are below it, user
    /// ids tagged), so the new id is drawn all the same to keep the later ones unchanged.
    /// Returns whether it applied.
    fn resize_sole_placeholder(&mut self, side: Side, price: Price, target: Qty) -> bool {
        let (first, second) = {
            let mut orders = self.book.level_orders(side, price);
            (orders.next(), orders.next())
        };
        let (Some((id, open)), None) = (first, second) else { return false };
        if self.placeholders.get(&(side, price)) != Some(&id) {
            return false;
        }
        if open > target {
            self.book.reduce(id, open - target).expect("reduce below open");
        } else if open < target {
            // Alone in its queue, so losing its place changes nothing.
            self.book.restate(id, price, target).expect("placeholder is live");
        }
        self.next_placeholder += 1;
        true
    }

    /// Check and reconcile one side after message `event` (see the module docs). When neither
    /// the book side (same version) nor the true side (same row content) changed since the last
    /// check, they still agree level for level, so the previous check's levels count as checked.
    fn check_side(&mut self, event: usize, side: Side, prev: View<'_>, now: View<'_>) {
        let s = side as usize;
        if self.book.side_version(side) == self.verified[s].0 && prev.side_eq(&now) {
            // Same true side as the previous row, so the same horizon carries over.
            self.stats.checked_levels += self.verified[s].1;
            return;
        }
        let mut visible = std::mem::take(&mut self.visible);
        visible.clear();
        now.extend_levels(&mut visible);
        let count = visible.len() as u64;
        let horizon = horizon(side, &visible, self.levels);
        self.check_side_fully(event, side, &visible, horizon);
        self.visible = visible;
        if let Some(h) = horizon {
            self.prune(side, h);
        }
        // The whole view now equals the book (checked or adopted).
        self.verified[s] = (self.book.side_version(side), count);
    }

    /// Drop levels beyond the view once they pile up: their content is unknown, and a level is
    /// reset anyway when it comes back into view; keeping the book small keeps lookups fast.
    fn prune(&mut self, side: Side, horizon: i64) {
        if self.book.level_count(side) <= 2 * self.levels + 16 {
            return;
        }
        let deep: Vec<Price> = self
            .book
            .depth(side)
            .map(|l| l.price)
            .filter(|&p| key(side, p) < horizon && !self.user.contains_key(&(side, p)))
            .collect();
        for price in deep {
            self.reset_level(side, price, 0);
        }
    }

    /// `levels`: the true side's levels in row k, best first, with their horizon.
    fn check_side_fully(
        &mut self,
        event: usize,
        side: Side,
        levels: &[(Price, Qty)],
        now_horizon: Option<i64>,
    ) {
        let known = self.horizons[side as usize].unwrap_or(i64::MIN);
        self.horizons[side as usize] = now_horizon;
        let visible = now_horizon.unwrap_or(i64::MIN);
        if visible >= known {
            // Nothing came into view beyond the known region: one pass over the visible part.
            self.reconcile(event, side, levels, visible, i64::MAX, true);
        } else {
            self.reconcile(event, side, levels, known, i64::MAX, true);
            self.reconcile(event, side, levels, visible, known, false);
        }
    }

    /// Compare (`check`) or adopt the levels with keys in `[lo, hi)`.
    fn reconcile(&mut self, event: usize, side: Side, now: &[(Price, Qty)], lo: i64, hi: i64, check: bool) {
        // `now` is best first, so the levels with keys in [lo, hi) are one run of it.
        let start = now.iter().position(|l| key(side, l.0) < hi).unwrap_or(now.len());
        let len = now[start..].iter().position(|l| key(side, l.0) < lo).unwrap_or(now.len() - start);
        let expected = &now[start..start + len];
        if check {
            let (levels, users) = (self.book.depth(side), self.user.side(side));
            let agreed = match side {
                Side::Buy => agree::<true>(levels, users, expected, lo, hi),
                Side::Sell => agree::<false>(levels, users, expected, lo, hi),
            };
            if let Some(checked) = agreed {
                self.stats.checked_levels += checked;
                return;
            }
        }
        let mut diffs = std::mem::take(&mut self.diffs);
        diffs.clear();
        let mut i = 0;
        let mut checked = 0;
        // The side's user levels, best first, walked alongside the book's levels.
        let users = self.user.side(side);
        let mut u = 0;
        for level in self.book.depth(side) {
            let k = key(side, level.price);
            if k >= hi {
                continue;
            }
            if k < lo {
                break;
            }
            // Expected levels better than this one are missing from the book.
            while i < expected.len() && key(side, expected[i].0) > k {
                diffs.push((expected[i].0, expected[i].1, 0));
                i += 1;
            }
            let want = if i < expected.len() && expected[i].0 == level.price {
                i += 1;
                expected[i - 1].1
            } else {
                0
            };
            // Recorded (non-user) quantity: the level's total less the user's there.
            while u < users.len() && key(side, users[u].0) > k {
                u += 1;
            }
            let total = match users.get(u) {
                Some(&(p, q)) if p == level.price => level.total - q,
                _ => level.total,
            };
            if want != total || !check {
                diffs.push((level.price, want, total));
            }
            checked += 1;
        }
        diffs.extend(expected[i..].iter().map(|&(p, q)| (p, q, 0)));
        for &(price, want, got) in &diffs {
            if check {
                if got == 0 {
                    checked += 1;
                }
                self.stats.mismatches += 1;
                if self.stats.first_mismatches.len() < 20 {
                    self.stats.first_mismatches.push(Mismatch { event, side, price, expected: want, got });
                }
            } else {
                self.stats.adopted_levels += 1;
            }
            self.reset_level(side, price, want);
        }
        if check {
            self.stats.checked_levels += checked;
        }
        self.diffs = diffs;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// After any inserts and removes, each side's best-first list holds exactly the map's
        /// levels of that side, with the map's quantities, sorted best first without duplicates.
        #[test]
        fn user_levels_sides_match_the_map(
            ops in prop::collection::vec((any::<bool>(), any::<bool>(), 990i64..1010, 0u64..4), 1..200),
        ) {
            let mut u = UserLevels::default();
            for (buy, insert, price, qty) in ops {
                let side = if buy { Side::Buy } else { Side::Sell };
                if insert {
                    u.insert((side, price), qty + 1);
                } else {
                    u.remove(&(side, price));
                }
                for side in [Side::Buy, Side::Sell] {
                    let mut want: Vec<(Price, Qty)> =
                        (&u).into_iter().filter(|(l, _)| l.0 == side).map(|(l, &q)| (l.1, q)).collect();
                    want.sort_by_key(|&(p, _)| std::cmp::Reverse(key(side, p)));
                    prop_assert_eq!(u.side(side), &want[..]);
                }
                prop_assert_eq!(u.len(), u.side(Side::Buy).len() + u.side(Side::Sell).len());
                prop_assert_eq!(u.is_empty(), u.side(Side::Buy).is_empty() && u.side(Side::Sell).is_empty());
            }
        }
    }

    /// A placeholder alone at its level is resized in place (a new id drawn all the same);
    /// beside a user order it is replaced behind the user's, which keeps its place.
    #[test]
    fn reset_level_keeps_one_placeholder_and_the_users_place() {
        let mut r = Replayer::new(1);
        r.seed(&[101, 5, 100, 7]);
        let drawn = r.next_placeholder;
        for target in [9, 4, 4, 12] {
            r.reset_level(Side::Buy, 100, target);
            let orders: Vec<_> = r.book.level_orders(Side::Buy, 100).collect();
            assert_eq!(orders.len(), 1);
            assert_eq!(orders[0].1, target);
            assert_eq!(r.placeholders.get(&(Side::Buy, 100)), Some(&orders[0].0));
        }
        assert_eq!(r.next_placeholder, drawn + 4);
        let user = super::super::ids::USER_TAG | 1;
        r.book.add_resting(user, Side::Buy, 100, 3).unwrap();
        r.reset_level(Side::Buy, 100, 6);
        let orders: Vec<_> = r.book.level_orders(Side::Buy, 100).collect();
        assert_eq!(orders, [(user, 3), (drawn + 4, 6)]);
        assert_eq!(r.placeholders.get(&(Side::Buy, 100)), Some(&(drawn + 4)));
        r.reset_level(Side::Buy, 100, 0);
        assert_eq!(r.book.level_orders(Side::Buy, 100).collect::<Vec<_>>(), [(user, 3)]);
        assert_eq!(r.placeholders.get(&(Side::Buy, 100)), None);
    }

    /// The row's levels of each side, best first, dummies and empty sizes dropped.
    #[test]
    fn view_levels_drop_dummies() {
        let row = [101, 5, 100, 7, 102, 0, 99, 3, DUMMY_ASK, 0, DUMMY_BID, 0];
        let mut out = Vec::new();
        View { row: &row, side: Side::Sell }.extend_levels(&mut out);
        assert_eq!(out, [(101, 5)]);
        out.clear();
        View { row: &row, side: Side::Buy }.extend_levels(&mut out);
        assert_eq!(out, [(100, 7), (99, 3)]);
    }
}
