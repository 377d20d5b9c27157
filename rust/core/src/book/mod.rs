//! The L3 order book: price-time priority matching over an arena of orders.
//!
//! Layout: every resting order is a fixed-size node in one arena (`Vec<Node>`) with a free list,
//! so steady-state operation allocates nothing per order. An id-to-slot hash index (of bare
//! slots, see `index.rs`) finds an order in O(1); each price level holds an intrusive doubly linked FIFO of slots, so cancel is O(1)
//! once the level is found. Levels per side live in a [`LevelMap`] (a sorted vector by default).
//!
//! Rules (also in `docs/book.md`):
//! - Matching is price-time: best price first, then first-come-first-served within a level. Fills
//!   print at the maker's price.
//! - Market and IOC orders fill what they can and cancel the rest; FOK fills completely or not at
//!   all; post-only limit orders are rejected (never repriced) if they would take liquidity.
//! - Stop and stop-limit orders are held off book in the stop engine shared with the simulator
//!   ([`crate::stops`]). A buy stop triggers when a trade prints at a price >= its stop price, a
//!   sell stop when a trade prints at <= its stop price (equality triggers). Every print of a
//!   sweep counts, not only the last. A stop submitted when the last trade already satisfies its
//!   condition triggers at once. Stops triggered by the same taker run in trigger order (buy stops
//!   then sell stops, nearest stop price first, then time), and their own prints may trigger more.
//! - Modify (cancel/replace) follows CME and Nasdaq: decreasing quantity at the same price keeps
//!   queue priority; a price change or a quantity increase loses it (the order goes to the back of
//!   the queue at its new price and may match as a taker first).

mod index;
mod levels;
mod types;

use index::IdIndex;

pub use levels::{BtreeLevels, Level, LevelMap, VecLevels, NIL};
pub use types::{
    Event, Fill, OrderId, OrderInfo, OrderRequest, OrderType, Price, Qty, Report, Side, Status, TimeInForce,
    MAX_ABS_PRICE, MAX_QTY,
};

use crate::error::{BookError, CapacityError, Reason};
use crate::stops::{self, StopQueue};

/// Most orders a book reserves room for in advance (`capacity`): 2^24, about 1.2 GB of arena
/// and index. A larger capacity is refused with [`CapacityError`] rather than committing tens
/// of GB up front; the book itself still grows past it as orders arrive.
pub const MAX_CAPACITY: usize = 1 << 24;

/// Grid of a book's instrument, in the book's integer units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookConfig {
    /// Every price must be a multiple of this (1 = every integer is a valid price).
    pub tick: i64,
    /// Every quantity must be a multiple of this.
    pub lot: u64,
}

impl Default for BookConfig {
    fn default() -> Self {
        BookConfig { tick: 1, lot: 1 }
    }
}

#[derive(Clone, Copy, Debug)]
struct Node {
    id: OrderId,
    price: Price,
    qty: Qty,
    prev: u32,
    next: u32,
    side: Side,
    tif: TimeInForce,
    post_only: bool,
}

/// The order a held stop becomes when it triggers: market (`limit` None) or limit.
#[derive(Clone, Copy, Debug)]
struct StopOrder {
    limit: Option<Price>,
    qty: Qty,
    tif: TimeInForce,
}

/// An L3 price-time order book, generic over its level storage.
#[derive(Clone, Debug)]
pub struct Book<L: LevelMap = VecLevels> {
    cfg: BookConfig,
    bids: L,
    asks: L,
    arena: Vec<Node>,
    free: u32,
    index: IdIndex,
    stops: StopQueue<StopOrder>,
    last_trade: Option<Price>,
    matching: bool,
    /// Sum of every quantity ever linked (saturating): an upper bound on any level's total, so
    /// the level-overflow check can skip its lookup until totals get near `MAX_QTY`.
    linked_total: u64,
    /// Bumped on every change to a side's resting orders (index `Side as usize`).
    versions: [u64; 2],
    fills: Vec<Fill>,
    events: Vec<Event>,
}

/// The default book: sorted-vector levels (see `benches/README.md` for the measurement).
pub type OrderBook = Book<VecLevels>;

impl<L: LevelMap> Default for Book<L> {
    fn default() -> Self {
        Self::new(BookConfig::default())
    }
}

impl<L: LevelMap> Book<L> {
    pub fn new(cfg: BookConfig) -> Self {
        assert!(cfg.tick > 0 && cfg.lot > 0, "tick and lot must be positive");
        Book {
            cfg,
            bids: L::new(Side::Buy),
            asks: L::new(Side::Sell),
            arena: Vec::new(),
            free: NIL,
            index: IdIndex::default(),
            stops: StopQueue::new(),
            last_trade: None,
            matching: true,
            linked_total: 0,
            versions: [0; 2],
            fills: Vec::new(),
            events: Vec::new(),
        }
    }

    /// A book with room for `orders` resting orders before any reallocation.
    ///
    /// # Panics
    /// If `orders` is refused by [`Book::try_with_capacity`] (more than [`MAX_CAPACITY`], or the
    /// memory cannot be reserved); the bindings call `try_with_capacity` instead.
    pub fn with_capacity(cfg: BookConfig, orders: usize) -> Self {
        Self::try_with_capacity(cfg, orders).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Book::with_capacity`] that refuses, instead of aborting the process, a capacity above
    /// [`MAX_CAPACITY`] or one the allocator cannot reserve (fallible `try_reserve`). A book
    /// still grows past its capacity as orders arrive; the capacity only reserves in advance.
    pub fn try_with_capacity(cfg: BookConfig, orders: usize) -> Result<Self, CapacityError> {
        let value = orders as u64;
        if orders > MAX_CAPACITY {
            return Err(CapacityError::TooLarge {
                field: "capacity",
                value,
                max: MAX_CAPACITY as u64,
                unit: "orders reserved in advance",
            });
        }
        let oom = || CapacityError::OutOfMemory { field: "capacity", value, unit: "orders" };
        let mut book = Self::new(cfg);
        book.arena.try_reserve(orders).map_err(|_| oom())?;
        book.index.try_reserve(orders, &book.arena).map_err(|_| oom())?;
        Ok(book)
    }

    pub fn config(&self) -> BookConfig {
        self.cfg
    }

    /// Remove every order, fill and event; keeps allocated capacity for reuse.
    pub fn reset(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.arena.clear();
        self.free = NIL;
        self.index.clear();
        self.stops.clear();
        self.last_trade = None;
        self.matching = true;
        self.linked_total = 0;
        self.versions[0] += 1;
        self.versions[1] += 1;
        self.fills.clear();
        self.events.clear();
    }

    // ----- validation (never mutates) -------------------------------------------------------

    pub(crate) fn check_qty(&self, field: &'static str, qty: Qty) -> Result<(), BookError> {
        if qty == 0 {
            return Err(BookError::InvalidQuantity { field, value: 0, why: "must be positive" });
        }
        if qty > MAX_QTY {
            return Err(BookError::InvalidQuantity {
                field,
                value: i128::from(qty),
                why: "exceeds the maximum 2^62-1",
            });
        }
        // A 64-bit division costs more than the rest of the check: skip it on a unit grid.
        if self.cfg.lot != 1 && qty % self.cfg.lot != 0 {
            return Err(BookError::QuantityOffGrid { field, qty, lot: self.cfg.lot });
        }
        Ok(())
    }

    pub(crate) fn check_price(&self, field: &'static str, price: Price) -> Result<(), BookError> {
        if !(-MAX_ABS_PRICE..=MAX_ABS_PRICE).contains(&price) {
            return Err(BookError::InvalidPrice { field, price });
        }
        if self.cfg.tick != 1 && price % self.cfg.tick != 0 {
            return Err(BookError::PriceOffGrid { field, price, tick: self.cfg.tick });
        }
        Ok(())
    }

    fn check_new_id(&self, id: OrderId) -> Result<(), BookError> {
        if self.index.contains(id, &self.arena) || self.stops.contains(id) {
            return Err(BookError::DuplicateOrderId { order_id: id });
        }
        Ok(())
    }

    /// A level's total must stay within `MAX_QTY` so every aggregate fits an `i64` column.
    fn check_level_room(&self, side: Side, price: Price, qty: Qty) -> Result<(), BookError> {
        if self.linked_total.saturating_add(qty) <= MAX_QTY {
            return Ok(());
        }
        if self.volume_at(side, price) + qty > MAX_QTY {
            return Err(BookError::InvalidQuantity {
                field: "qty",
                value: i128::from(qty),
                why: "would make the price level's total exceed 2^62-1",
            });
        }
        Ok(())
    }

    fn validate(&self, req: &OrderRequest) -> Result<(), BookError> {
        self.check_qty("qty", req.qty)?;
        if let OrderType::Limit(p) = req.order_type {
            self.check_price("price", p)?;
            self.check_level_room(req.side, p, req.qty)?;
        }
        if req.post_only && (req.order_type == OrderType::Market || !req.tif.rests()) {
            return Err(BookError::InvalidOrder {
                order_id: req.id,
                why: "post_only needs a limit order with GTC or DAY",
            });
        }
        self.check_new_id(req.id)
    }

    // ----- arena and levels ----------------------------------------------------------------

    #[inline]
    fn side_levels(&mut self, side: Side) -> &mut L {
        self.versions[side as usize] += 1;
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    #[inline]
    fn levels(&self, side: Side) -> &L {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Append an order to the back of its level's queue. Caller has validated it.
    fn link(&mut self, id: OrderId, side: Side, price: Price, qty: Qty, tif: TimeInForce, po: bool) {
        self.versions[side as usize] += 1;
        let node = Node { id, price, qty, prev: NIL, next: NIL, side, tif, post_only: po };
        let slot = if self.free != NIL {
            let s = self.free;
            self.free = self.arena[s as usize].next;
            self.arena[s as usize] = node;
            s
        } else {
            assert!(self.arena.len() < NIL as usize, "order arena full (2^32-1 resting orders)");
            self.arena.push(node);
            (self.arena.len() - 1) as u32
        };
        let level = match side {
            Side::Buy => self.bids.get_or_insert(price),
            Side::Sell => self.asks.get_or_insert(price),
        };
        let tail = level.tail;
        level.tail = slot;
        if tail == NIL {
            level.head = slot;
        }
        level.total += qty;
        level.count += 1;
        self.linked_total = self.linked_total.saturating_add(qty);
        if tail != NIL {
            self.arena[tail as usize].next = slot;
            self.arena[slot as usize].prev = tail;
        }
        self.index.insert(slot, &self.arena);
    }

    /// Take a resting order out of the book (and its id out of the index) and return it.
    fn unlink(&mut self, slot: u32) -> Node {
        self.index.remove_slot(self.arena[slot as usize].id, slot);
        self.unlink_slot(slot)
    }

    /// [`Book::unlink`] for a slot whose id the caller already took out of the index.
    fn unlink_slot(&mut self, slot: u32) -> Node {
        let node = self.arena[slot as usize];
        self.versions[node.side as usize] += 1;
        if node.prev != NIL {
            self.arena[node.prev as usize].next = node.next;
        }
        if node.next != NIL {
            self.arena[node.next as usize].prev = node.prev;
        }
        let levels = match node.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let level = levels.get_mut(node.price).expect("resting order has a level");
        if level.head == slot {
            level.head = node.next;
        }
        if level.tail == slot {
            level.tail = node.prev;
        }
        level.total -= node.qty;
        level.count -= 1;
        if level.count == 0 {
            levels.remove(node.price);
        }
        self.release(slot);
        node
    }

    #[inline]
    fn release(&mut self, slot: u32) {
        self.arena[slot as usize].next = self.free;
        self.free = slot;
    }

    // ----- matching ------------------------------------------------------------------------

    /// Quantity a taker could fill against the opposite side within `limit`, capped at `cap`.
    pub fn available(&self, side: Side, limit: Option<Price>, cap: Qty) -> Qty {
        let mut sum = 0;
        for level in self.levels(side.opposite()).iter_best() {
            if let Some(l) = limit {
                if !side.accepts(l, level.price) {
                    break;
                }
            }
            sum = level.total.saturating_add(sum);
            if sum >= cap {
                return cap;
            }
        }
        sum
    }

    fn would_cross(&self, side: Side, price: Price) -> bool {
        self.levels(side.opposite()).best().is_some_and(|b| side.accepts(price, b.price))
    }

    /// Match a taker against the opposite side; returns the quantity filled.
    fn match_taker(&mut self, taker: OrderId, side: Side, limit: Option<Price>, qty: Qty) -> Qty {
        let mut remaining = qty;
        let (mut lo, mut hi) = (Price::MAX, Price::MIN);
        self.versions[side.opposite() as usize] += 1;
        let opp = match side {
            Side::Buy => &mut self.asks,
            Side::Sell => &mut self.bids,
        };
        while remaining > 0 {
            let Some(level) = opp.best_mut() else { break };
            if let Some(l) = limit {
                if !side.accepts(l, level.price) {
                    break;
                }
            }
            let price = level.price;
            lo = lo.min(price);
            hi = hi.max(price);
            let mut slot = level.head;
            while remaining > 0 && slot != NIL {
                let node = &mut self.arena[slot as usize];
                let q = node.qty.min(remaining);
                node.qty -= q;
                remaining -= q;
                level.total -= q;
                self.fills.push(Fill { taker, maker: node.id, price, qty: q, maker_remaining: node.qty });
                if node.qty == 0 {
                    let (id, next) = (node.id, node.next);
                    self.index.remove_slot(id, slot);
                    self.arena[slot as usize].next = self.free;
                    self.free = slot;
                    level.count -= 1;
                    level.head = next;
                    if next != NIL {
                        self.arena[next as usize].prev = NIL;
                    }
                    slot = next;
                }
            }
            if level.count == 0 {
                opp.pop_best();
            }
        }
        let filled = qty - remaining;
        if filled > 0 {
            self.last_trade = Some(self.fills.last().expect("a fill was recorded").price);
            if !self.stops.is_empty() {
                // Every stop the prints in [lo, hi] reach joins the trigger queue.
                self.stops.trigger(lo, hi, std::iter::empty());
            }
        }
        filled
    }

    /// Match then rest or cancel the remainder. Caller has validated `req`.
    fn execute(&mut self, req: OrderRequest) -> Report {
        let limit = match req.order_type {
            OrderType::Limit(p) => Some(p),
            OrderType::Market => None,
        };
        if !self.matching {
            if limit.is_none() || !req.tif.rests() {
                return Report::rejected(Reason::MatchingHalted, req.qty);
            }
        } else {
            if req.post_only && limit.is_some_and(|p| self.would_cross(req.side, p)) {
                return Report::rejected(Reason::PostOnlyWouldCross, req.qty);
            }
            if req.tif == TimeInForce::Fok && self.available(req.side, limit, req.qty) < req.qty {
                return Report::new(Status::Canceled, Reason::FokUnfillable, 0, req.qty);
            }
        }
        let filled = if self.matching { self.match_taker(req.id, req.side, limit, req.qty) } else { 0 };
        let remaining = req.qty - filled;
        match limit {
            _ if remaining == 0 => Report::new(Status::Filled, Reason::None, filled, 0),
            // Only a triggered stop can get here without room (checked at submission otherwise).
            Some(price) if req.tif.rests() && self.check_level_room(req.side, price, remaining).is_err() => {
                Report::new(Status::Canceled, Reason::InvalidQuantity, filled, remaining)
            }
            Some(price) if req.tif.rests() => {
                self.link(req.id, req.side, price, remaining, req.tif, req.post_only);
                Report::new(Status::Resting, Reason::None, filled, remaining)
            }
            _ => Report::new(Status::Canceled, Reason::IocRemainder, filled, remaining),
        }
    }

    /// Run triggered stops until no more trigger.
    #[inline]
    fn run_triggers(&mut self) {
        if !self.stops.has_fired() {
            return;
        }
        while let Some(fired) = self.stops.pop_fired() {
            let (id, stop) = (fired.id, fired.order);
            self.events.push(Event {
                order_id: id,
                status: Status::Triggered,
                reason: Reason::None,
                filled: 0,
                remaining: stop.qty,
            });
            let order_type = match stop.limit {
                Some(p) => OrderType::Limit(p),
                None => OrderType::Market,
            };
            let req = OrderRequest {
                id,
                side: fired.side,
                order_type,
                qty: stop.qty,
                tif: stop.tif,
                post_only: false,
            };
            let r = self.execute(req);
            self.events.push(Event {
                order_id: id,
                status: r.status,
                reason: r.reason,
                filled: r.filled,
                remaining: r.remaining,
            });
        }
    }

    // ----- operations ----------------------------------------------------------------------

    /// Submit a limit or market order.
    pub fn submit(&mut self, req: OrderRequest) -> Result<Report, BookError> {
        self.validate(&req)?;
        let report = self.execute(req);
        self.run_triggers();
        Ok(report)
    }

    /// Submit a stop (`limit = None`) or stop-limit order, held off book until triggered.
    pub fn submit_stop(
        &mut self,
        id: OrderId,
        side: Side,
        stop: Price,
        limit: Option<Price>,
        qty: Qty,
        tif: TimeInForce,
    ) -> Result<Report, BookError> {
        self.check_qty("qty", qty)?;
        self.check_price("stop_price", stop)?;
        if let Some(p) = limit {
            self.check_price("limit_price", p)?;
        }
        self.check_new_id(id)?;
        let order = StopOrder { limit, qty, tif };
        let fires_at = self.last_trade.filter(|&t| self.matching && stops::reaches(side, stop, t));
        let Some(print) = fires_at else {
            self.stops.hold(id, side, stop, order);
            return Ok(Report::new(Status::Pending, Reason::None, 0, qty));
        };
        let events_before = self.events.len();
        self.stops.fire_now(id, side, stop, print, order);
        self.run_triggers();
        // The submitted order's own outcome is the event right after its Triggered event.
        let own = self.events[events_before + 1];
        Ok(Report::new(own.status, own.reason, own.filled, own.remaining))
    }

    /// Cancel a resting order or a held stop, whole.
    pub fn cancel(&mut self, id: OrderId) -> Result<Report, BookError> {
        if let Some(slot) = self.index.remove(id, &self.arena) {
            let node = self.unlink_slot(slot);
            return Ok(Report::new(Status::Canceled, Reason::User, 0, node.qty));
        }
        if let Some(held) = self.stops.remove(id) {
            return Ok(Report::new(Status::Canceled, Reason::User, 0, held.order.qty));
        }
        Err(BookError::UnknownOrder { order_id: id })
    }

    /// Partial cancel: remove `by` from an order's open quantity, keeping its queue priority.
    /// Reducing by the whole open quantity cancels the order; by more is an error.
    pub fn reduce(&mut self, id: OrderId, by: Qty) -> Result<Report, BookError> {
        self.check_qty("qty", by)?;
        let open = if let Some(slot) = self.index.get(id, &self.arena) {
            self.arena[slot as usize].qty
        } else if let Some(held) = self.stops.get(id) {
            held.order.qty
        } else {
            return Err(BookError::UnknownOrder { order_id: id });
        };
        if by > open {
            return Err(BookError::InvalidQuantity {
                field: "qty",
                value: i128::from(by),
                why: "reduce exceeds the order's open quantity",
            });
        }
        if by == open {
            return self.cancel(id);
        }
        if let Some(slot) = self.index.get(id, &self.arena) {
            let node = &mut self.arena[slot as usize];
            node.qty -= by;
            let (side, price, left) = (node.side, node.price, node.qty);
            self.side_levels(side).get_mut(price).expect("level").total -= by;
            return Ok(Report::new(Status::Reduced, Reason::User, 0, left));
        }
        let stop = self.stops.order_mut(id).expect("checked above");
        stop.qty -= by;
        Ok(Report::new(Status::Reduced, Reason::User, 0, stop.qty))
    }

    /// Cancel/replace a resting order to a new price and open quantity (see the module rules).
    pub fn modify(&mut self, id: OrderId, price: Price, qty: Qty) -> Result<Report, BookError> {
        let report = self.replace(id, price, qty, self.matching)?;
        self.run_triggers();
        Ok(report)
    }

    /// Book-building modify, as a market-data feed reports it: the priority rule of
    /// [`Book::modify`] but never matching, even if the new price crosses.
    pub fn restate(&mut self, id: OrderId, price: Price, qty: Qty) -> Result<Report, BookError> {
        self.replace(id, price, qty, false)
    }

    fn replace(&mut self, id: OrderId, price: Price, qty: Qty, matching: bool) -> Result<Report, BookError> {
        self.check_qty("qty", qty)?;
        self.check_price("price", price)?;
        let Some(slot) = self.index.get(id, &self.arena) else {
            if self.stops.contains(id) {
                return Err(BookError::InvalidOrder {
                    order_id: id,
                    why: "a held stop cannot be modified; cancel it and submit a new one",
                });
            }
            return Err(BookError::UnknownOrder { order_id: id });
        };
        let node = self.arena[slot as usize];
        if price != node.price || qty > node.qty {
            let stays = if price == node.price { node.qty } else { 0 };
            self.check_level_room(node.side, price, qty - stays.min(qty))?;
        }
        if price == node.price && qty <= node.qty {
            if qty == node.qty {
                return Ok(Report::new(Status::Amended, Reason::NoChange, 0, qty));
            }
            let by = node.qty - qty;
            self.arena[slot as usize].qty = qty;
            self.side_levels(node.side).get_mut(price).expect("level").total -= by;
            return Ok(Report::new(Status::Amended, Reason::None, 0, qty));
        }
        if matching && node.post_only && self.would_cross(node.side, price) {
            return Ok(Report::rejected(Reason::PostOnlyWouldCross, node.qty));
        }
        self.unlink(slot);
        if !matching {
            self.link(id, node.side, price, qty, node.tif, node.post_only);
            return Ok(Report::new(Status::Resting, Reason::None, 0, qty));
        }
        let req = OrderRequest {
            id,
            side: node.side,
            order_type: OrderType::Limit(price),
            qty,
            tif: node.tif,
            post_only: node.post_only,
        };
        Ok(self.execute(req))
    }

    /// Book-building add, as a market-data feed reports it: rests without matching, even if it
    /// crosses (pre-open books cross).
    pub fn add_resting(&mut self, id: OrderId, side: Side, price: Price, qty: Qty) -> Result<(), BookError> {
        self.check_qty("qty", qty)?;
        self.check_price("price", price)?;
        self.check_level_room(side, price, qty)?;
        self.check_new_id(id)?;
        self.link(id, side, price, qty, TimeInForce::Gtc, false);
        Ok(())
    }

    /// Expire every DAY order (resting and held stops), recording an `Expired` event for each in
    /// book order (bids best-first, then asks, then stops in trigger order). Returns how many.
    pub fn expire_day(&mut self) -> usize {
        let mut expired: Vec<OrderId> = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            for level in self.levels(side).iter_best() {
                let mut slot = level.head;
                while slot != NIL {
                    let node = &self.arena[slot as usize];
                    if node.tif == TimeInForce::Day {
                        expired.push(node.id);
                    }
                    slot = node.next;
                }
            }
        }
        for (id, held) in self.stops.in_order() {
            if held.order.tif == TimeInForce::Day {
                expired.push(id);
            }
        }
        for &id in &expired {
            let r = self.cancel(id).expect("listed order is live");
            self.events.push(Event {
                order_id: id,
                status: Status::Expired,
                reason: Reason::DayExpired,
                filled: 0,
                remaining: r.remaining,
            });
        }
        expired.len()
    }

    /// Turn matching off (book-building: orders rest even if they cross; market, IOC and FOK are
    /// rejected) or back on. Turning it on does not uncross a crossed book.
    pub fn set_matching(&mut self, on: bool) {
        self.matching = on;
    }

    pub fn matching(&self) -> bool {
        self.matching
    }

    // ----- queries -------------------------------------------------------------------------

    /// Best price and its total quantity on `side`.
    pub fn best(&self, side: Side) -> Option<(Price, Qty)> {
        self.levels(side).best().map(|l| (l.price, l.total))
    }

    /// Levels of `side` from the best outward.
    pub fn depth(&self, side: Side) -> impl Iterator<Item = &Level> {
        self.levels(side).iter_best()
    }

    pub fn level_count(&self, side: Side) -> usize {
        self.levels(side).len()
    }

    /// Total resting quantity at `price` on `side` (0 if no level).
    pub fn volume_at(&self, side: Side, price: Price) -> Qty {
        self.levels(side).get(price).map_or(0, |l| l.total)
    }

    /// Resting orders at one level in queue order, as `(id, open qty)`.
    pub fn level_orders(&self, side: Side, price: Price) -> impl Iterator<Item = (OrderId, Qty)> + '_ {
        let mut slot = self.levels(side).get(price).map_or(NIL, |l| l.head);
        std::iter::from_fn(move || {
            if slot == NIL {
                return None;
            }
            let node = &self.arena[slot as usize];
            slot = node.next;
            Some((node.id, node.qty))
        })
    }

    /// A resting order's side, price, open quantity and place in its queue.
    pub fn order(&self, id: OrderId) -> Option<OrderInfo> {
        let slot = self.index.get(id, &self.arena)?;
        let node = &self.arena[slot as usize];
        let level = self.levels(node.side).get(node.price).expect("level");
        let (mut pos, mut ahead, mut s) = (0u32, 0u64, level.head);
        while s != slot {
            let n = &self.arena[s as usize];
            pos += 1;
            ahead += n.qty;
            s = n.next;
        }
        Some(OrderInfo {
            side: node.side,
            price: node.price,
            remaining: node.qty,
            queue_position: pos,
            qty_ahead: ahead,
            tif: node.tif,
        })
    }

    /// A resting order's open quantity and whether it is at the head of its queue: the O(1) part
    /// of [`Book::order`], for hot loops.
    #[inline]
    pub fn open_order(&self, id: OrderId) -> Option<(Qty, bool)> {
        let slot = self.index.get(id, &self.arena)?;
        let node = &self.arena[slot as usize];
        Some((node.qty, node.prev == NIL))
    }

    /// A counter that changes whenever `side`'s resting orders change: equal values mean the side
    /// is unchanged in between.
    pub fn side_version(&self, side: Side) -> u64 {
        self.versions[side as usize]
    }

    /// Whether `id` is a held (untriggered) stop order.
    pub fn is_stop_pending(&self, id: OrderId) -> bool {
        self.stops.contains(id)
    }

    /// Number of resting orders (held stops excluded).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.len() == 0
    }

    pub fn stop_count(&self) -> usize {
        self.stops.len()
    }

    pub fn last_trade_price(&self) -> Option<Price> {
        self.last_trade
    }

    /// Fills recorded since the last [`Book::clear_fills`], oldest first.
    pub fn fills(&self) -> &[Fill] {
        &self.fills
    }

    pub fn clear_fills(&mut self) {
        self.fills.clear();
    }

    /// Drop fills recorded after the first `len`.
    pub fn truncate_fills(&mut self, len: usize) {
        self.fills.truncate(len);
    }

    /// Drop events recorded after the first `len`.
    pub fn truncate_events(&mut self, len: usize) {
        self.events.truncate(len);
    }

    /// Events (triggered stops, expiries) recorded since the last [`Book::clear_events`].
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Order slots allocated (resting orders fit without reallocating), for memory checks.
    pub fn arena_capacity(&self) -> usize {
        self.arena.capacity()
    }

    /// Orders the id index holds room for, for memory checks.
    pub fn index_capacity(&self) -> usize {
        self.index.capacity()
    }

    /// Verify every internal invariant (level order, queue links, totals, index). For tests and
    /// fuzzing; O(orders).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = 0usize;
        for side in [Side::Buy, Side::Sell] {
            let mut prev: Option<Price> = None;
            for level in self.levels(side).iter_best() {
                if let Some(p) = prev {
                    let worse = match side {
                        Side::Buy => level.price < p,
                        Side::Sell => level.price > p,
                    };
                    if !worse {
                        return Err(format!("{side:?} levels out of order at {}", level.price));
                    }
                }
                prev = Some(level.price);
                let (mut slot, mut back, mut total, mut count) = (level.head, NIL, 0u64, 0u32);
                while slot != NIL {
                    let n = &self.arena[slot as usize];
                    if n.prev != back || n.side != side || n.price != level.price || n.qty == 0 {
                        return Err(format!("bad node {} in level {}", n.id, level.price));
                    }
                    if self.index.get(n.id, &self.arena) != Some(slot) {
                        return Err(format!("index does not map {} to its slot", n.id));
                    }
                    total += n.qty;
                    count += 1;
                    back = slot;
                    slot = n.next;
                }
                if back != level.tail || total != level.total || count != level.count || count == 0 {
                    return Err(format!("level {} totals or tail inconsistent", level.price));
                }
                seen += count as usize;
            }
        }
        if seen != self.index.len() {
            return Err(format!("{} orders in levels, {} in the index", seen, self.index.len()));
        }
        self.stops.check_invariants()?;
        if let Some((id, _)) = self.stops.in_order().find(|&(id, _)| self.index.contains(id, &self.arena)) {
            return Err(format!("stop {id} is also resting"));
        }
        Ok(())
    }
}
