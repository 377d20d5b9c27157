//! The one stop engine: held stop orders, the order they trigger in, and the cascade queue.
//!
//! The order book ([`crate::book`]) and the simulator ([`crate::sim`]) both hold their stops in
//! a [`StopQueue`]; trailing stops ([`crate::trailing`]) compute their own stop prices and join
//! the same firing queue when they trigger. Rules (also in `docs/book.md` and
//! `docs/simulator.md`):
//!
//! - A buy stop triggers on a print at or above its stop price, a sell stop on a print at or
//!   below it (equality triggers).
//! - **Trigger order.** Stops triggered by the same prints fire buy stops first, then sell stops;
//!   within a side the nearest stop first (the one the move reached first: the lowest buy stop,
//!   the highest sell stop), then submission order. A trailing stop ranks by its stop price when
//!   it triggered and its own submission number, drawn from the same counter.
//! - **Cascade.** Triggered stops run one at a time, first in, first out. The prints a stop's
//!   order makes trigger more stops, which queue behind those already triggered.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap;

use crate::book::{OrderId, Price, Side};

/// Buy stops trigger on prints >= stop, sell stops on prints <= stop; negating the sell side makes
/// both "trigger every key <= trigger_key(side, print)", nearest stop first.
#[inline]
pub fn trigger_key(side: Side, price: Price) -> i64 {
    match side {
        Side::Buy => price,
        Side::Sell => -price,
    }
}

/// Whether a print at `print` triggers a `side` stop at `stop`.
#[inline]
pub fn reaches(side: Side, stop: Price, print: Price) -> bool {
    trigger_key(side, stop) <= trigger_key(side, print)
}

/// The price a triggered stop is filled at where the displayed book cannot fill it, and whether
/// the market passed through the stop continuously.
///
/// `from` is where a continuous price path started (the previous print of a bar's intrabar path),
/// `None` for discrete prints (trade by trade, full depth, a bar's open). On a continuous path
/// the market traded through every price between `from` and `print`, so the stop fills at its
/// own price (held inside the segment); otherwise at the first print that reached it.
#[inline]
pub fn trigger_price(stop: Price, print: Price, from: Option<Price>) -> (Price, bool) {
    match from {
        Some(f) => (stop.clamp(f.min(print), f.max(print)), true),
        None => (print, false),
    }
}

/// A stop that triggered: its id, side, stop price, the print that reached it, its submission
/// number and the order it becomes (`T`, the holder's terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired<T> {
    pub id: OrderId,
    pub side: Side,
    pub stop: Price,
    pub print: Price,
    pub seq: u64,
    pub order: T,
}

impl<T> Fired<T> {
    /// Place in the trigger order (smallest first): buys before sells, nearest stop, submission.
    #[inline]
    pub fn rank(&self) -> (u8, i64, u64) {
        (u8::from(self.side == Side::Sell), trigger_key(self.side, self.stop), self.seq)
    }
}

/// A held (untriggered) stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held<T> {
    pub side: Side,
    pub stop: Price,
    pub seq: u64,
    pub order: T,
}

impl<T> Held<T> {
    #[inline]
    fn key(&self) -> (i64, u64) {
        (trigger_key(self.side, self.stop), self.seq)
    }
}

/// Held stops keyed for triggering, and the first-in-first-out queue of triggered ones.
#[derive(Clone, Debug)]
pub struct StopQueue<T> {
    held: FxHashMap<OrderId, Held<T>>,
    queues: [BTreeMap<(i64, u64), OrderId>; 2],
    seq: u64,
    fired: VecDeque<Fired<T>>,
    batch: Vec<Fired<T>>,
}

impl<T: Copy> Default for StopQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy> StopQueue<T> {
    pub fn new() -> Self {
        StopQueue {
            held: FxHashMap::default(),
            queues: [BTreeMap::new(), BTreeMap::new()],
            seq: 0,
            fired: VecDeque::new(),
            batch: Vec::new(),
        }
    }

    /// Forget every stop and restart the submission numbers.
    pub fn clear(&mut self) {
        self.held.clear();
        self.queues[0].clear();
        self.queues[1].clear();
        self.seq = 0;
        self.fired.clear();
        self.batch.clear();
    }

    /// The next submission number, for a stop kept elsewhere (a trailing stop).
    pub fn next_seq(&mut self) -> u64 {
        let s = self.seq;
        self.seq += 1;
        s
    }

    /// Hold a stop until a print reaches it; returns its submission number.
    pub fn hold(&mut self, id: OrderId, side: Side, stop: Price, order: T) -> u64 {
        let seq = self.next_seq();
        let h = Held { side, stop, seq, order };
        self.queues[side as usize].insert(h.key(), id);
        self.held.insert(id, h);
        seq
    }

    /// A stop that triggers as it is submitted (the last print already reached it): queued to
    /// fire behind those already triggered.
    pub fn fire_now(&mut self, id: OrderId, side: Side, stop: Price, print: Price, order: T) {
        let seq = self.next_seq();
        self.fired.push_back(Fired { id, side, stop, print, seq, order });
    }

    pub fn remove(&mut self, id: OrderId) -> Option<Held<T>> {
        let h = self.held.remove(&id)?;
        self.queues[h.side as usize].remove(&h.key());
        Some(h)
    }

    pub fn get(&self, id: OrderId) -> Option<&Held<T>> {
        self.held.get(&id)
    }

    /// A held stop's order terms, to change (its side and stop price cannot change).
    pub fn order_mut(&mut self, id: OrderId) -> Option<&mut T> {
        self.held.get_mut(&id).map(|h| &mut h.order)
    }

    pub fn contains(&self, id: OrderId) -> bool {
        !self.held.is_empty() && self.held.contains_key(&id)
    }

    /// Held stops (triggered ones waiting to run excluded).
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Trigger every held stop reached by prints in `[lo, hi]` (buy stops at or below `hi`, sell
    /// stops at or above `lo`), together with `also` (trailing stops that triggered on the same
    /// prints), and queue them in trigger order behind those already triggered. Returns how
    /// many were queued.
    pub fn trigger(&mut self, lo: Price, hi: Price, also: impl IntoIterator<Item = Fired<T>>) -> usize {
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        if !self.held.is_empty() {
            for (side, print) in [(Side::Buy, hi), (Side::Sell, lo)] {
                let limit = trigger_key(side, print);
                let queue = &mut self.queues[side as usize];
                while let Some(entry) = queue.first_entry() {
                    if entry.key().0 > limit {
                        break;
                    }
                    let id = entry.remove();
                    let h = self.held.remove(&id).expect("queued stop is held");
                    batch.push(Fired { id, side, stop: h.stop, print, seq: h.seq, order: h.order });
                }
            }
        }
        let held_only = batch.len();
        batch.extend(also);
        if batch.len() > held_only {
            batch.sort_by_key(Fired::rank);
        }
        let n = batch.len();
        self.fired.extend(batch.drain(..));
        self.batch = batch;
        n
    }

    /// Whether triggered stops wait to run.
    #[inline]
    pub fn has_fired(&self) -> bool {
        !self.fired.is_empty()
    }

    /// The next triggered stop to run.
    pub fn pop_fired(&mut self) -> Option<Fired<T>> {
        self.fired.pop_front()
    }

    /// Held stops in trigger order: buy stops (nearest first), then sell stops.
    pub fn in_order(&self) -> impl Iterator<Item = (OrderId, &Held<T>)> + '_ {
        self.queues.iter().flat_map(|q| q.values()).map(move |id| (*id, &self.held[id]))
    }

    /// Every held stop is queued once under its own key.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (id, h) in &self.held {
            if self.queues[h.side as usize].get(&h.key()) != Some(id) {
                return Err(format!("stop {id} not queued under its key"));
            }
        }
        if self.queues[0].len() + self.queues[1].len() != self.held.len() {
            return Err("stop queues and held stops differ".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(q: &mut StopQueue<()>) -> Vec<OrderId> {
        std::iter::from_fn(|| q.pop_fired()).map(|f| f.id).collect()
    }

    #[test]
    fn nearest_stop_first_then_submission_order() {
        let mut q = StopQueue::new();
        q.hold(1, Side::Sell, 100, ());
        q.hold(2, Side::Sell, 101, ());
        q.hold(3, Side::Sell, 101, ());
        q.hold(4, Side::Sell, 98, ());
        assert_eq!(q.trigger(99, 99, []), 3);
        assert_eq!(ids(&mut q), [2, 3, 1]);
        assert_eq!(q.len(), 1);
        q.check_invariants().unwrap();
    }

    #[test]
    fn buy_stops_before_sell_stops_and_the_print_that_reached_them() {
        let mut q = StopQueue::new();
        q.hold(1, Side::Sell, 105, ());
        q.hold(2, Side::Buy, 102, ());
        q.hold(3, Side::Buy, 101, ());
        q.trigger(100, 103, []);
        let fired: Vec<_> = std::iter::from_fn(|| q.pop_fired()).map(|f| (f.id, f.print)).collect();
        assert_eq!(fired, [(3, 103), (2, 103), (1, 100)]);
    }

    #[test]
    fn equality_triggers_and_a_print_short_of_the_stop_does_not() {
        let mut q = StopQueue::new();
        q.hold(1, Side::Buy, 100, ());
        q.hold(2, Side::Sell, 90, ());
        assert_eq!(q.trigger(91, 99, []), 0);
        assert_eq!(q.trigger(90, 100, []), 2);
        assert!(reaches(Side::Buy, 100, 100) && !reaches(Side::Buy, 100, 99));
        assert!(reaches(Side::Sell, 90, 90) && !reaches(Side::Sell, 90, 91));
    }

    #[test]
    fn trailing_stops_take_their_place_by_stop_and_submission() {
        let mut q = StopQueue::new();
        q.hold(1, Side::Sell, 100, ());
        let trailing_seq = q.next_seq();
        q.hold(3, Side::Sell, 99, ());
        let trailing = Fired { id: 2, side: Side::Sell, stop: 100, print: 97, seq: trailing_seq, order: () };
        let near = Fired { id: 4, side: Side::Sell, stop: 102, print: 97, seq: 99, order: () };
        q.trigger(97, 97, [near, trailing]);
        assert_eq!(ids(&mut q), [4, 1, 2, 3]);
    }

    #[test]
    fn cascade_queues_behind_what_already_fired() {
        let mut q = StopQueue::new();
        q.hold(1, Side::Sell, 100, ());
        q.hold(2, Side::Sell, 95, ());
        q.fire_now(3, Side::Sell, 110, 105, ());
        q.trigger(100, 100, []);
        assert_eq!(q.pop_fired().map(|f| f.id), Some(3));
        q.trigger(95, 95, []); // stop 3's own prints
        assert_eq!(ids(&mut q), [1, 2]);
    }

    #[test]
    fn remove_and_expiry_order() {
        let mut q = StopQueue::new();
        q.hold(1, Side::Sell, 100, 7u64);
        q.hold(2, Side::Buy, 110, 8u64);
        q.hold(3, Side::Buy, 105, 9u64);
        *q.order_mut(3).unwrap() = 10;
        let order: Vec<_> = q.in_order().map(|(id, h)| (id, h.order)).collect();
        assert_eq!(order, [(3, 10), (2, 8), (1, 7)]);
        assert_eq!(q.remove(2).map(|h| h.stop), Some(110));
        assert!(q.remove(2).is_none() && !q.contains(2) && q.contains(1));
        q.check_invariants().unwrap();
    }

    #[test]
    fn trigger_price_on_a_path_and_on_prints() {
        // Continuous fall from 105 to 95 through a sell stop at 100: filled at the stop.
        assert_eq!(trigger_price(100, 95, Some(105)), (100, true));
        // A stop already behind the segment's start is held inside it.
        assert_eq!(trigger_price(107, 95, Some(105)), (105, true));
        // Discrete prints (a gap, a trade print): the first print past the stop.
        assert_eq!(trigger_price(100, 95, None), (95, false));
        assert_eq!(trigger_price(100, 103, Some(98)), (100, true));
    }
}
