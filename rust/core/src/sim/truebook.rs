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
use crate::book::{OrderBook, OrderId, Price, Qty, Side};
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
    /// Column offset of this side's (price, size) within each level's four columns.
    fn offset(&self) -> usize {
        match self.side {
            Side::Sell => 0,
            Side::Buy => 2,
        }
    }

    fn levels(&self) -> impl Iterator<Item = (Price, Qty)> + '_ {
        let off = self.offset();
        self.row
            .chunks_exact(4)
            .map(move |c| (c[off], c[off + 1]))
            .filter(|&(p, q)| q > 0 && p != DUMMY_ASK && p != DUMMY_BID)
            .map(|(p, q)| (p, q as Qty))
    }

    /// Same prices and sizes on this side as `other`.
    fn side_eq(&self, other: &View<'_>) -> bool {
        let off = self.offset();
        self.row
            .chunks_exact(4)
            .zip(other.row.chunks_exact(4))
            .all(|(a, b)| a[off] == b[off] && a[off + 1] == b[off + 1])
    }
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

/// Book state kept equal to the true book: placeholders for unknown orders, and the per-side
/// bookkeeping of the checks. A simulator's user orders (see [`is_user`]) live in the same book;
/// `user` holds their quantity per level so the checks compare recorded liquidity only.
pub(crate) struct Replayer {
    pub(crate) book: OrderBook,
    pub(crate) user: FxHashMap<(Side, Price), Qty>,
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
            user: FxHashMap::default(),
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
            let seed: Vec<(Price, Qty)> = (View { row, side }).levels().collect();
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

    /// Recorded (non-user) quantity of a level whose total is `total`.
    #[inline]
    fn recorded(&self, side: Side, price: Price, total: Qty) -> Qty {
        if self.user.is_empty() {
            total
        } else {
            total - self.user.get(&(side, price)).copied().unwrap_or(0)
        }
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
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend(self.book.level_orders(side, price).map(|(id, _)| id).filter(|&id| !is_user(id)));
        for &id in &ids {
            self.book.cancel(id).expect("listed order is live");
        }
        self.ids = ids;
        self.placeholders.remove(&(side, price));
        if target > 0 {
            let id = self.next_placeholder;
            self.next_placeholder += 1;
            self.book.add_resting(id, side, price, target).expect("fresh placeholder");
            self.placeholders.insert((side, price), id);
        }
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
        visible.extend(now.levels());
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
        let mut diffs = std::mem::take(&mut self.diffs);
        diffs.clear();
        // `now` is best first, so the levels with keys in [lo, hi) are one run of it.
        let start = now.iter().position(|l| key(side, l.0) < hi).unwrap_or(now.len());
        let len = now[start..].iter().position(|l| key(side, l.0) < lo).unwrap_or(now.len() - start);
        let expected = &now[start..start + len];
        let mut i = 0;
        let mut checked = 0;
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
            let total = self.recorded(side, level.price, level.total);
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
