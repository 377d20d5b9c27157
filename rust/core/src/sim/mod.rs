//! The simulated venue's engine for one instrument: recorded market data replayed into the order
//! book, the user's orders resting and matching in the same book.
//!
//! Recorded orders keep their recorded lifecycle (an execution in the data executes that order),
//! and the user's orders take their place in the queues: a recorded trade at a price fills the
//! user's orders the trade's aggressor would have reached first (better prices, or the same price
//! earlier in the queue), on top of the recorded volume. A user order that takes liquidity
//! matches the book like any order. With LOBSTER snapshots the recorded liquidity is held to the
//! true book after every message (so liquidity the user took is back at the next message). The
//! rules per message kind are in `docs/simulator.md`.
//!
//! User order ids are `0..2^62` in the API; inside the book they carry [`USER_TAG`]. The engine
//! never calls back: [`Engine::run`] stops after the first message that changed a user order and
//! the caller drains [`Engine::take_events`].

pub mod feed;
pub(crate) mod ids;
pub mod markets;
pub(crate) mod truebook;
mod watch;

pub use feed::{flag, kind, AuctionPrint, Feed, FeedError, FeedFlag, FeedKind, FeedMsg};
pub use markets::{run_merged, MergedRun};
pub use watch::{Top, WATCH_PRINT, WATCH_QUOTE, WATCH_USER};

use crate::book::{OrderId, OrderRequest, OrderType, Price, Qty, Report, Side, Status, TimeInForce};
use crate::error::{BookError, Reason, TrailingError};
use crate::stops::{self, Fired, StopQueue};
use crate::trailing::{StopSide, StopSpec, Trail, TrailingStops, Trigger};
use ids::{is_user, PLACEHOLDER_BASE, USER_TAG};
use truebook::{key, Replayer};

/// Ids of the engine's own book entries (sweeping aggressors, quote liquidity): both tag bits.
const SYNTH_BASE: OrderId = PLACEHOLDER_BASE | USER_TAG;
const WASH: &str = "would trade against the user's own resting order (wash trade)";

crate::codes::codes! {
    /// What happened to one of the user's orders (`UserEvent::kind`).
    pub enum EventKind: u8 {
        /// `qty` filled at `price` (`taker` says which side of the trade it was).
        Fill = 1 => FILL,
        /// A stop's trigger price was reached (`price`): it is now a market or limit order.
        Triggered = 2 => TRIGGERED,
        /// The rest of the order (`remaining`) was canceled by the venue (`reason`).
        Canceled = 3 => CANCELED,
        /// A DAY order expired at the session close.
        Expired = 4 => EXPIRED,
        /// The order now rests on the book (after a trigger or a submit) at `price`.
        Rested = 5 => RESTED,
    }
    /// [`EventKind`] codes as constants.
    pub mod event;
}

/// One event of a user order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserEvent {
    pub kind: u8,
    /// The user's id (without the tag).
    pub order_id: OrderId,
    pub price: Price,
    pub qty: Qty,
    pub remaining: Qty,
    pub taker: bool,
    pub reason: Reason,
    pub time_ns: i64,
    /// Index of the message that caused it; `u64::MAX` for the user's own request.
    pub msg: u64,
}

/// Why the engine refused a request (nothing changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    Book(BookError),
    Trailing(TrailingError),
}

impl From<BookError> for SimError {
    fn from(e: BookError) -> Self {
        SimError::Book(e)
    }
}

impl From<TrailingError> for SimError {
    fn from(e: TrailingError) -> Self {
        SimError::Trailing(e)
    }
}

/// The order a stop becomes when it triggers: a market (`limit` None) or limit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StopOrder {
    limit: Option<Price>,
    qty: Qty,
    tif: TimeInForce,
}

#[derive(Clone, Copy, Debug)]
struct Trailer {
    side: Side,
    qty: Qty,
    tif: TimeInForce,
    /// Submission number, from the stop queue's counter (its place in the trigger order).
    seq: u64,
}

/// A market order on modelled (bar) liquidity that found no displayed size: it fills at the
/// next print.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    id: OrderId,
    qty: Qty,
    tif: TimeInForce,
}

/// The prints one step made: the first, the last, and the range between.
#[derive(Clone, Copy, Debug)]
struct Prints {
    first: Price,
    last: Price,
    lo: Price,
    hi: Price,
}

#[derive(Clone, Copy, Debug)]
struct AuctionOrder {
    id: OrderId,
    side: Side,
    qty: Qty,
    limit: Option<Price>,
    close: bool,
}

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub messages: u64,
    pub user_fills: u64,
    pub user_filled_qty: u64,
    pub unknown_order_refs: u64,
    /// Snapshot checks: levels compared, recorded levels that disagreed (and were repaired),
    /// levels adopted as they came into view.
    pub checked_levels: u64,
    pub mismatches: u64,
    pub adopted_levels: u64,
}

/// The engine of one instrument on one feed.
pub struct Engine {
    r: Replayer,
    feed: Feed,
    check: bool,
    pos: usize,
    now: i64,
    last_trade: Option<Price>,
    traded: Option<Prints>,
    /// The last recorded print, where a continuous path ([`flag::PATH`]) continues from.
    path_last: Option<Price>,
    /// While a path message applies: where its continuous segment started.
    path_from: Option<Price>,
    /// The last quote or trade was modelled liquidity ([`flag::WAIT`]).
    wait_for_print: bool,
    stops: StopQueue<StopOrder>,
    trailing: TrailingStops,
    trailers: rustc_hash::FxHashMap<OrderId, Trailer>,
    waiting: Vec<Waiting>,
    auctions: Vec<AuctionOrder>,
    /// Message indices of opening (`[0]`) and closing (`[1]`) auction prints.
    auction_at: [Vec<usize>; 2],
    events: Vec<UserEvent>,
    scratch: Vec<(OrderId, Qty, Price)>,
    triggers: Vec<Trigger>,
    next_synth: OrderId,
    msg: u64,
    stats: SimStats,
    /// Refuse a user order that would trade with the user's own resting order (on by default).
    prevent_wash: bool,
    /// The top of the book last handed to a quote subscriber ([`Engine::run_watched`]).
    watched_top: Top,
}

#[inline]
fn tag(user: OrderId) -> Result<OrderId, BookError> {
    if user >= USER_TAG {
        return Err(BookError::InvalidOrder { order_id: user, why: "user order ids must be below 2^62" });
    }
    Ok(user | USER_TAG)
}

#[inline]
fn untag(id: OrderId) -> OrderId {
    id & !USER_TAG
}

fn stop_side(side: Side) -> StopSide {
    match side {
        Side::Buy => StopSide::Buy,
        Side::Sell => StopSide::Sell,
    }
}

impl Engine {
    /// An engine at the start of `feed`. With `check` and snapshots, the recorded liquidity is
    /// repaired to the true book after every message.
    pub fn new(feed: Feed, check: bool) -> Engine {
        let levels = feed.snapshots.as_ref().map_or(0, |s| s.levels);
        let mut auction_at = [Vec::new(), Vec::new()];
        for (i, m) in feed.msgs.iter().enumerate() {
            if m.kind == kind::AUCTION {
                match AuctionPrint::from_code(m.order_id) {
                    Some(AuctionPrint::Open) => auction_at[0].push(i),
                    Some(AuctionPrint::Close) => auction_at[1].push(i),
                    _ => {}
                }
            }
        }
        let mut engine = Engine {
            r: Replayer::new(levels),
            feed,
            check,
            pos: 0,
            now: i64::MIN,
            last_trade: None,
            traded: None,
            path_last: None,
            path_from: None,
            wait_for_print: false,
            stops: StopQueue::new(),
            trailing: TrailingStops::new(1),
            trailers: Default::default(),
            waiting: Vec::new(),
            auctions: Vec::new(),
            auction_at,
            events: Vec::with_capacity(64),
            scratch: Vec::with_capacity(16),
            triggers: Vec::new(),
            next_synth: SYNTH_BASE,
            msg: u64::MAX,
            stats: SimStats::default(),
            prevent_wash: true,
            watched_top: (None, None),
        };
        engine.seed();
        engine
    }

    /// The first snapshot row stands for message 0 (the book right after it).
    fn seed(&mut self) {
        let feed = self.feed.clone();
        if let (Some(snaps), Some(first)) = (feed.snapshots.as_ref(), feed.msgs.first()) {
            if snaps.rows() > 0 {
                self.r.seed(snaps.row(0));
                self.pos = 1;
                self.now = first.time_ns;
            }
        }
    }

    /// Back to the start of the feed with no user orders (allocations are reused where the
    /// parts allow; the feed is shared, not copied).
    pub fn reset(&mut self) {
        let prevent_wash = self.prevent_wash;
        *self = Engine::new(self.feed.clone(), self.check);
        self.prevent_wash = prevent_wash;
    }

    /// Wash-trade prevention (on by default): a user order that would reach one of the user's
    /// own resting orders on the other side is refused (a stop that would is canceled when it
    /// triggers). Off, the user's orders trade with each other like any orders: both sides get
    /// their fill, the resting one as maker at its own price, the incoming one as taker.
    pub fn set_prevent_wash(&mut self, on: bool) {
        self.prevent_wash = on;
    }

    pub fn prevent_wash(&self) -> bool {
        self.prevent_wash
    }

    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// Index of the next message.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_done(&self) -> bool {
        self.pos >= self.feed.msgs.len()
    }

    /// Time of the last message applied (or set by [`Engine::advance_to`]).
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Time of the next message, if any.
    #[inline]
    pub fn next_time(&self) -> Option<i64> {
        self.feed.msgs.get(self.pos).map(|m| m.time_ns)
    }

    /// Move the clock forward to `t` without applying messages (for user actions that arrive
    /// between messages). Earlier times are ignored: the clock never goes back.
    pub fn advance_to(&mut self, t: i64) {
        self.now = self.now.max(t);
    }

    pub fn last_trade(&self) -> Option<Price> {
        self.last_trade
    }

    pub fn stats(&self) -> SimStats {
        let s = &self.r.stats;
        SimStats {
            unknown_order_refs: self.stats.unknown_order_refs,
            checked_levels: s.checked_levels,
            mismatches: s.mismatches,
            adopted_levels: s.adopted_levels,
            ..self.stats
        }
    }

    /// Apply up to `max_msgs` messages with times before `until_ns`; with `stop_on_user`, stop
    /// right after a message that produced a user event. Returns how many were applied.
    pub fn run(&mut self, max_msgs: usize, until_ns: i64, stop_on_user: bool) -> usize {
        // No Arc clones per call: the markets loop calls this once per stretch of one market's
        // messages, often a single message. A message is copied out; the snapshots and the
        // replayer are disjoint fields.
        let end = self.pos.saturating_add(max_msgs).min(self.feed.msgs.len());
        let start = self.pos;
        while self.pos < end && self.feed.msgs[self.pos].time_ns < until_ns {
            let (_, changed) = self.step();
            if stop_on_user && changed {
                break;
            }
        }
        self.ran(start)
    }

    /// Apply the feed's next message (the caller checked there is one, timed before its bound)
    /// and move past it. Returns the message and whether it changed a user order.
    #[inline(always)]
    fn step(&mut self) -> (FeedMsg, bool) {
        let m = self.feed.msgs[self.pos];
        self.now = self.now.max(m.time_ns);
        self.msg = self.pos as u64;
        let before = self.events.len();
        self.apply(&m);
        if self.check {
            if let Some(s) = &self.feed.snapshots {
                self.r.check(self.pos, s);
            }
        }
        self.pos += 1;
        (m, self.events.len() > before)
    }

    /// After a run that started at message `start`: count what it applied.
    #[inline]
    fn ran(&mut self, start: usize) -> usize {
        self.msg = u64::MAX;
        let applied = self.pos - start;
        self.stats.messages += applied as u64;
        applied
    }

    /// Apply one message that is not in the feed (a scripted or live price feed), now. Its time
    /// must not be before the clock; nothing changes on an error.
    pub fn apply_live(&mut self, m: FeedMsg) -> Result<(), FeedError> {
        feed::check_row(0, &m, self.now)?;
        self.now = m.time_ns;
        self.msg = u64::MAX;
        self.apply(&m);
        self.stats.messages += 1;
        Ok(())
    }

    fn apply(&mut self, m: &FeedMsg) {
        let flags = if matches!(m.kind, kind::QUOTE | kind::TRADE) { m.order_id } else { 0 };
        if matches!(m.kind, kind::QUOTE | kind::TRADE) {
            self.wait_for_print = flags & flag::WAIT != 0;
        }
        self.path_from = if flags & flag::PATH != 0 { self.path_last } else { None };
        let prints =
            matches!(m.kind, kind::EXECUTE | kind::HIDDEN | kind::PASS | kind::TRADE | kind::AUCTION);
        if prints && !self.waiting.is_empty() {
            self.fill_waiting(m.price);
        }
        match m.kind {
            kind::ADD => {
                self.users_ahead(m.side.opposite(), m.price, m.qty, None, None);
                // A reused id is a data error; the snapshot check repairs its effect.
                let _ = self.r.book.add_resting(m.order_id, m.side, m.price, m.qty);
            }
            kind::REDUCE => self.take_recorded(m, false),
            kind::DELETE => self.take_recorded(m, true),
            kind::EXECUTE => {
                self.users_ahead(m.side, m.price, m.qty, Some(m.order_id), None);
                self.take_recorded(m, false);
                self.print(m.price);
            }
            kind::HIDDEN | kind::PASS => {
                let named = (m.kind == kind::PASS).then_some(m.order_id);
                self.users_ahead(m.side, m.price, m.qty, named, None);
                self.print(m.price);
            }
            kind::MODIFY => {
                self.users_ahead(m.side.opposite(), m.price, m.qty, None, None);
                if self.r.book.open_order(m.order_id).is_some() {
                    let _ = self.r.book.restate(m.order_id, m.price, m.qty);
                } else {
                    let _ = self.r.book.add_resting(m.order_id, m.side, m.price, m.qty);
                }
            }
            kind::QUOTE => self.quote(m.side, m.price, m.qty),
            kind::TRADE => self.sweep(m.side, m.price, m.qty),
            kind::AUCTION => self.auction(m),
            _ => {}
        }
        self.settle_trades();
        if prints {
            self.path_last = Some(m.price);
        }
        self.path_from = None;
    }

    /// Market orders waiting on modelled liquidity fill at a print, whole (on top of the
    /// recorded volume, which keeps its size).
    fn fill_waiting(&mut self, price: Price) {
        for w in std::mem::take(&mut self.waiting) {
            self.push_fill(w.id, price, w.qty, 0, true);
        }
    }

    /// Note a print at `price` (stops may fire when the step ends).
    fn print(&mut self, price: Price) {
        self.traded = Some(match self.traded {
            None => Prints { first: price, last: price, lo: price, hi: price },
            Some(t) => Prints { last: price, lo: t.lo.min(price), hi: t.hi.max(price), ..t },
        });
    }

    /// A recorded order loses `qty` (or everything, `whole`).
    fn take_recorded(&mut self, m: &FeedMsg, whole: bool) {
        match self.r.book.open_order(m.order_id) {
            Some((open, _)) => {
                if whole || m.qty >= open {
                    self.r.book.cancel(m.order_id).expect("open order");
                } else {
                    self.r.book.reduce(m.order_id, m.qty).expect("reduce below open");
                }
            }
            None => {
                self.stats.unknown_order_refs += 1;
                self.r.placeholder_take(m.side, m.price, m.qty);
            }
        }
    }

    /// Fill, up to `qty`, the user orders on `side` that a trade reaching `price` takes first:
    /// better prices, then the queue at `price` up to the recorded order `stop_at` (all of it
    /// when `None`). Fills are at each order's own price, or at `at` (an auction).
    fn users_ahead(
        &mut self,
        side: Side,
        price: Price,
        qty: Qty,
        stop_at: Option<OrderId>,
        at: Option<Price>,
    ) {
        if self.r.user.is_empty() {
            return;
        }
        let k = key(side, price);
        if !self.r.user.keys().any(|&(s, p)| s == side && key(side, p) >= k) {
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut budget = qty;
        'levels: for level in self.r.book.depth(side) {
            if key(side, level.price) < k {
                break;
            }
            if !self.r.user.contains_key(&(side, level.price)) {
                continue;
            }
            for (id, open) in self.r.book.level_orders(side, level.price) {
                if Some(id) == stop_at {
                    break 'levels;
                }
                if is_user(id) {
                    let take = open.min(budget);
                    scratch.push((id, take, level.price));
                    budget -= take;
                    if budget == 0 {
                        break 'levels;
                    }
                }
            }
        }
        for &(id, q, p) in &scratch {
            let remaining = self.r.book.open_order(id).expect("user order rests").0 - q;
            self.r.book.reduce(id, q).expect("within open");
            self.refresh_level(side, p);
            let px = at.unwrap_or(p);
            self.push_fill(id, px, q, remaining, false);
            self.print(px);
        }
        self.scratch = scratch;
    }

    /// Top-of-book data: `side`'s recorded liquidity becomes `qty` at `price`. Quantity leaves
    /// from the back of the queue (a user order keeps its place) and joins at the back.
    fn quote(&mut self, side: Side, price: Price, qty: Qty) {
        let mut stale = std::mem::take(&mut self.scratch);
        stale.clear();
        for level in self.r.book.depth(side) {
            let at = level.price;
            for (id, open) in self.r.book.level_orders(side, at) {
                if !is_user(id) && (at != price || qty == 0) {
                    stale.push((id, open, at));
                }
            }
        }
        for &(id, _, _) in &stale {
            self.r.book.cancel(id).expect("listed order");
        }
        stale.clear();
        if qty > 0 {
            let ids: Vec<(OrderId, Qty)> =
                self.r.book.level_orders(side, price).filter(|&(id, _)| !is_user(id)).collect();
            let recorded: Qty = ids.iter().map(|&(_, q)| q).sum();
            if qty > recorded {
                let id = self.synth();
                // Cannot fail: fresh id, sizes within the feed's validated range.
                let _ = self.r.book.add_resting(id, side, price, qty - recorded);
            } else {
                let mut excess = recorded - qty;
                for &(id, open) in ids.iter().rev() {
                    if excess == 0 {
                        break;
                    }
                    let cut = open.min(excess);
                    self.r.book.reduce(id, cut).expect("within open");
                    excess -= cut;
                }
            }
            // A quote through a user order fills it at the quote: on top-of-book and bar data
            // that is the price that traded (a trade print through it fills it at its own).
            self.users_ahead(side.opposite(), price, qty, None, Some(price));
        }
        self.scratch = stale;
    }

    /// A trade taking `qty` resting on `side` through `price`: matched by the book, in priority
    /// order, against recorded and user liquidity alike.
    fn sweep(&mut self, side: Side, price: Price, qty: Qty) {
        let id = self.synth();
        let mark = self.r.book.fills().len();
        let req = OrderRequest::limit(id, side.opposite(), price, qty, TimeInForce::Ioc);
        // The recorded trade is one print at its price, whatever stale levels the sweep met.
        let before = self.traded;
        if self.r.book.submit(req).is_ok() {
            self.take_fills(mark, None, side);
        }
        self.traded = before;
        self.print(price);
    }

    /// An auction or gap print: at-the-open (`order_id` 0) or at-the-close (1) orders fill at
    /// its price, and resting orders it crosses fill there too (2: a gap print, no auction).
    fn auction(&mut self, m: &FeedMsg) {
        let print = AuctionPrint::from_code(m.order_id);
        let close = print == Some(AuctionPrint::Close);
        let (price, mut left) = (m.price, m.qty);
        let mut i = 0;
        while i < self.auctions.len() {
            if !matches!(print, Some(AuctionPrint::Open | AuctionPrint::Close))
                || self.auctions[i].close != close
            {
                i += 1;
                continue;
            }
            let a = self.auctions.remove(i);
            let crosses = a.limit.is_none_or(|l| a.side.accepts(l, price));
            if crosses && a.qty <= left {
                left -= a.qty;
                self.push_fill(a.id, price, a.qty, 0, true);
            } else {
                let reason = if crosses { Reason::FokUnfillable } else { Reason::IocRemainder };
                self.push(event::CANCELED, a.id, price, 0, a.qty, false, reason);
            }
        }
        for side in [Side::Buy, Side::Sell] {
            self.users_ahead(side, price, m.qty, None, Some(price));
        }
        self.print(price);
    }

    fn synth(&mut self) -> OrderId {
        self.next_synth += 1;
        self.next_synth
    }

    /// Recompute the user quantity resting at one level.
    fn refresh_level(&mut self, side: Side, price: Price) {
        let q: Qty =
            self.r.book.level_orders(side, price).filter(|&(id, _)| is_user(id)).map(|(_, q)| q).sum();
        if q == 0 {
            self.r.user.remove(&(side, price));
        } else {
            self.r.user.insert((side, price), q);
        }
    }

    /// Turn the book's fills since `mark` into user events (the user's taking order `taker`,
    /// with its quantity, and user orders resting on `maker_side`), note the last trade price,
    /// and drop the fills from the book's log.
    fn take_fills(&mut self, mark: usize, taker: Option<(OrderId, Qty)>, maker_side: Side) {
        let fills: Vec<_> = self.r.book.fills()[mark..].to_vec();
        self.r.book.truncate_fills(mark);
        for f in &fills {
            self.print(f.price);
        }
        let mut left = taker.map_or(0, |t| t.1);
        for f in fills {
            if taker.is_some_and(|t| t.0 == f.taker) {
                left -= f.qty;
                self.push_fill(f.taker, f.price, f.qty, left, true);
            }
            if is_user(f.maker) {
                self.push_fill(f.maker, f.price, f.qty, f.maker_remaining, false);
                self.refresh_level(maker_side, f.price);
            }
        }
    }

    fn push_fill(&mut self, id: OrderId, price: Price, qty: Qty, remaining: Qty, taker: bool) {
        self.stats.user_fills += 1;
        self.stats.user_filled_qty += qty;
        self.push(event::FILL, id, price, qty, remaining, taker, Reason::None);
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: u8,
        id: OrderId,
        price: Price,
        qty: Qty,
        remaining: Qty,
        taker: bool,
        reason: Reason,
    ) {
        self.events.push(UserEvent {
            kind,
            order_id: untag(id),
            price,
            qty,
            remaining,
            taker,
            reason,
            time_ns: self.now,
            msg: self.msg,
        });
    }

    /// Events since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<UserEvent> {
        std::mem::take(&mut self.events)
    }

    pub fn events(&self) -> &[UserEvent] {
        &self.events
    }

    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    // ----- the user's orders ---------------------------------------------------------------

    /// The tagged id of a new user order, refused if out of range or live in any form.
    fn new_id(&self, user: OrderId) -> Result<OrderId, BookError> {
        let id = tag(user)?;
        let live = self.r.book.open_order(id).is_some()
            || self.stops.contains(id)
            || self.trailers.contains_key(&id)
            || self.waiting.iter().any(|w| w.id == id)
            || self.auctions.iter().any(|a| a.id == id);
        if live {
            return Err(BookError::DuplicateOrderId { order_id: untag(id) });
        }
        Ok(id)
    }

    /// Submit a market (`price` None) or limit order that matches now.
    pub fn submit(
        &mut self,
        user: OrderId,
        side: Side,
        price: Option<Price>,
        qty: Qty,
        tif: TimeInForce,
        post_only: bool,
    ) -> Result<Report, SimError> {
        let id = self.new_id(user)?;
        if self.would_wash(side, price) {
            return Err(BookError::InvalidOrder { order_id: user, why: WASH }.into());
        }
        let report = if price.is_none() && self.wait_for_print && tif.rests() {
            self.enter_or_wait(id, side, qty, tif)?
        } else {
            self.enter(id, side, price, qty, tif, post_only)?
        };
        self.settle_trades();
        Ok(report)
    }

    /// A market order on modelled (bar) liquidity: it takes the displayed size, and what that
    /// cannot fill waits for the next print instead of being canceled.
    fn enter_or_wait(
        &mut self,
        id: OrderId,
        side: Side,
        qty: Qty,
        tif: TimeInForce,
    ) -> Result<Report, BookError> {
        let req = OrderRequest {
            id,
            side,
            order_type: OrderType::Market,
            qty,
            tif: TimeInForce::Ioc,
            post_only: false,
        };
        let mark = self.r.book.fills().len();
        let report = self.r.book.submit(req)?;
        self.take_fills(mark, Some((id, qty)), side.opposite());
        if report.remaining == 0 {
            return Ok(report);
        }
        self.waiting.push(Waiting { id, qty: report.remaining, tif });
        Ok(Report::new(Status::Pending, Reason::None, report.filled, report.remaining))
    }

    /// Whether an order would reach one of the user's own resting orders on the other side
    /// (a wash trade: refused, as brokers refuse it).
    fn would_wash(&self, side: Side, price: Option<Price>) -> bool {
        if !self.prevent_wash {
            return false;
        }
        let other = side.opposite();
        self.r.user.keys().any(|&(s, p)| s == other && price.is_none_or(|l| side.accepts(l, p)))
    }

    /// Put an order into the book and record what happened to it.
    fn enter(
        &mut self,
        id: OrderId,
        side: Side,
        price: Option<Price>,
        qty: Qty,
        tif: TimeInForce,
        post_only: bool,
    ) -> Result<Report, BookError> {
        let order_type = price.map_or(OrderType::Market, OrderType::Limit);
        let req = OrderRequest {
            id,
            side,
            order_type,
            qty,
            tif: if price.is_none() { TimeInForce::Ioc } else { tif },
            post_only,
        };
        let mark = self.r.book.fills().len();
        let report = self.r.book.submit(req)?;
        self.take_fills(mark, Some((id, qty)), side.opposite());
        match report.status {
            Status::Resting => {
                let p = price.expect("only limits rest");
                self.refresh_level(side, p);
                self.push(event::RESTED, id, p, 0, report.remaining, false, Reason::None);
            }
            Status::Canceled | Status::Rejected if report.remaining > 0 => {
                self.push(event::CANCELED, id, price.unwrap_or(0), 0, report.remaining, false, report.reason);
            }
            _ => {}
        }
        Ok(report)
    }

    /// Trades made by a user request move the last price: stops may fire.
    fn settle_trades(&mut self) {
        if let Some(t) = self.traded.take() {
            self.last_trade = Some(t.last);
            self.fire_stops(t);
        }
    }

    /// Hold a stop (`limit` None) or stop-limit until a trade reaches `stop`.
    pub fn submit_stop(
        &mut self,
        user: OrderId,
        side: Side,
        stop: Price,
        limit: Option<Price>,
        qty: Qty,
        tif: TimeInForce,
    ) -> Result<(), SimError> {
        let id = self.new_id(user)?;
        self.r.book.check_qty("qty", qty)?;
        self.r.book.check_price("stop_price", stop)?;
        if let Some(l) = limit {
            self.r.book.check_price("limit_price", l)?;
        }
        let order = StopOrder { limit, qty, tif };
        match self.last_trade {
            Some(p) if stops::reaches(side, stop, p) => {
                self.stops.fire_now(id, side, stop, p, order);
                self.run_fired();
            }
            _ => {
                self.stops.hold(id, side, stop, order);
            }
        }
        Ok(())
    }

    /// A trailing stop on the trailing-stop engine. Its water mark starts at the last trade;
    /// with no trade yet, at the side of the market it protects (a sell stop, protecting a long,
    /// from the best bid; a buy stop, protecting a short, from the best ask, recorded liquidity
    /// only); with neither, it arms at the first trade.
    #[allow(clippy::too_many_arguments)]
    pub fn submit_trailing(
        &mut self,
        user: OrderId,
        side: Side,
        qty: Qty,
        trail: Trail,
        activation: Option<Price>,
        limit_offset: Option<i64>,
        tif: TimeInForce,
    ) -> Result<(), SimError> {
        let id = self.new_id(user)?;
        self.r.book.check_qty("qty", qty)?;
        let spec = StopSpec {
            id,
            instrument: 0,
            side: stop_side(side),
            trail,
            activation,
            limit_offset,
            breakeven: None,
        };
        // A sell stop protects a long: it would sell into the bids (and a buy stop into the asks).
        let protected = match side {
            Side::Sell => Side::Buy,
            Side::Buy => Side::Sell,
        };
        let anchor = self.last_trade.or_else(|| self.best(protected, true).map(|(p, _)| p));
        self.trailing.add(spec, anchor)?;
        let seq = self.stops.next_seq();
        self.trailers.insert(id, Trailer { side, qty, tif, seq });
        Ok(())
    }

    /// Change a live trailing stop's trail, keeping its water mark (price and percent trails
    /// cannot be swapped for one another).
    pub fn amend_trailing(&mut self, user: OrderId, trail: Trail) -> Result<(), SimError> {
        let id = tag(user)?;
        if !self.trailers.contains_key(&id) {
            return Err(BookError::UnknownOrder { order_id: user }.into());
        }
        let same_kind = matches!(
            (self.trailing.get(id).map(|s| s.spec.trail), trail),
            (Some(Trail::Ticks(_)), Trail::Ticks(_)) | (Some(Trail::Bps(_)), Trail::Bps(_))
        );
        if !same_kind {
            return Err(BookError::InvalidOrder {
                order_id: user,
                why: "a trailing stop's trail cannot switch between price and percent",
            }
            .into());
        }
        self.trailing.amend(id, trail)?;
        Ok(())
    }

    /// The stop and water mark of a live trailing stop.
    pub fn trailing_state(&self, user: OrderId) -> Option<(Option<Price>, Option<Price>)> {
        let s = self.trailing.get(user | USER_TAG)?;
        Some((s.stop, s.hwm))
    }

    /// An at-the-open (`close` false) or at-the-close order: filled at the next auction print of
    /// that kind in the feed, or refused if the feed has none ahead.
    pub fn submit_auction(
        &mut self,
        user: OrderId,
        side: Side,
        qty: Qty,
        limit: Option<Price>,
        close: bool,
    ) -> Result<(), SimError> {
        let id = self.new_id(user)?;
        self.r.book.check_qty("qty", qty)?;
        if !self.auction_at[usize::from(close)].iter().any(|&i| i >= self.pos) {
            let why = if close {
                "the replayed data has no closing auction price ahead"
            } else {
                "the replayed data has no opening auction price ahead"
            };
            return Err(BookError::InvalidOrder { order_id: user, why }.into());
        }
        self.auctions.push(AuctionOrder { id, side, qty, limit, close });
        Ok(())
    }

    /// Cancel a live user order; returns its open quantity.
    pub fn cancel(&mut self, user: OrderId) -> Result<Qty, SimError> {
        let id = tag(user)?;
        if let Some(info) = self.r.book.order(id) {
            let r = self.r.book.cancel(id)?;
            self.refresh_level(info.side, info.price);
            return Ok(r.remaining);
        }
        if let Some(s) = self.stops.remove(id) {
            return Ok(s.order.qty);
        }
        if let Some(i) = self.waiting.iter().position(|w| w.id == id) {
            return Ok(self.waiting.remove(i).qty);
        }
        if let Some(t) = self.trailers.remove(&id) {
            self.trailing.remove(id)?;
            return Ok(t.qty);
        }
        if let Some(i) = self.auctions.iter().position(|a| a.id == id) {
            return Ok(self.auctions.remove(i).qty);
        }
        Err(BookError::UnknownOrder { order_id: user }.into())
    }

    /// Change a resting user order's price and open quantity (priority as the book's modify).
    pub fn modify(&mut self, user: OrderId, price: Price, qty: Qty) -> Result<Report, SimError> {
        let id = tag(user)?;
        let Some(info) = self.r.book.order(id) else {
            return Err(BookError::UnknownOrder { order_id: user }.into());
        };
        let mark = self.r.book.fills().len();
        let report = self.r.book.modify(id, price, qty)?;
        self.take_fills(mark, Some((id, qty)), info.side.opposite());
        self.refresh_level(info.side, info.price);
        self.refresh_level(info.side, price);
        self.settle_trades();
        Ok(report)
    }

    /// Expire every DAY order (resting, held stops, trailing stops, auction orders).
    pub fn expire_day(&mut self) -> usize {
        let mark = self.r.book.events().len();
        self.r.book.expire_day();
        let expired: Vec<_> = self.r.book.events()[mark..].to_vec();
        self.r.book.truncate_events(mark);
        let mut n = 0;
        for e in expired {
            if is_user(e.order_id) {
                self.push(event::EXPIRED, e.order_id, 0, 0, e.remaining, false, Reason::DayExpired);
                n += 1;
            }
        }
        let levels: Vec<_> = self.r.user.keys().copied().collect();
        for (side, price) in levels {
            self.refresh_level(side, price);
        }
        let day: Vec<_> = self
            .stops
            .in_order()
            .filter(|(_, h)| h.order.tif == TimeInForce::Day)
            .map(|(id, _)| id)
            .collect();
        for id in day {
            let h = self.stops.remove(id).expect("listed stop is held");
            self.push(event::EXPIRED, id, 0, 0, h.order.qty, false, Reason::DayExpired);
            n += 1;
        }
        for w in std::mem::take(&mut self.waiting) {
            if w.tif == TimeInForce::Day {
                self.push(event::EXPIRED, w.id, 0, 0, w.qty, false, Reason::DayExpired);
                n += 1;
            } else {
                self.waiting.push(w);
            }
        }
        let mut day: Vec<_> = self
            .trailers
            .iter()
            .filter(|(_, t)| t.tif == TimeInForce::Day)
            .map(|(&id, t)| (id, t.qty))
            .collect();
        day.sort_unstable();
        for (id, qty) in day {
            self.trailers.remove(&id);
            let _ = self.trailing.remove(id);
            self.push(event::EXPIRED, id, 0, 0, qty, false, Reason::DayExpired);
            n += 1;
        }
        n
    }

    /// Trigger the held and trailing stops that `prints` reached and run them, with what their
    /// orders trade in turn (the cascade and its order: [`crate::stops`]).
    fn fire_stops(&mut self, prints: Prints) {
        self.trigger(prints);
        self.run_fired();
    }

    fn run_fired(&mut self) {
        while let Some(f) = self.stops.pop_fired() {
            self.run_stop(f);
            if let Some(t) = self.traded.take() {
                self.last_trade = Some(t.last);
                self.trigger(t);
            }
        }
    }

    /// Queue the stops `t` reaches: held stops, and trailing stops updated by its prints (first,
    /// then last) in the same trigger order.
    fn trigger(&mut self, t: Prints) {
        let mut also: Vec<Fired<StopOrder>> = Vec::new();
        if !self.trailers.is_empty() {
            let mut triggers = std::mem::take(&mut self.triggers);
            triggers.clear();
            // Cannot fail: instrument 0 exists and prices come from the book's range.
            let _ = self.trailing.update_last(&[0], &[t.first], &mut triggers);
            if t.last != t.first {
                let _ = self.trailing.update_last(&[0], &[t.last], &mut triggers);
            }
            for g in &triggers {
                if let Some(tr) = self.trailers.remove(&g.id) {
                    let order = StopOrder { limit: g.limit, qty: tr.qty, tif: tr.tif };
                    also.push(Fired {
                        id: g.id,
                        side: tr.side,
                        stop: g.stop,
                        print: g.price,
                        seq: tr.seq,
                        order,
                    });
                }
            }
            self.triggers = triggers;
        }
        self.stops.trigger(t.lo, t.hi, also);
    }

    /// A triggered stop. A stop-limit becomes its limit order. A stop takes the displayed
    /// liquidity, and what that cannot cover fills at its trigger price, on top of the recorded
    /// volume (never canceled for want of size): the stop price where the market moved through
    /// it continuously (a bar's path; there the displayed book is past the stop, so only size at
    /// the stop or better is taken), else the first print that reached it.
    fn run_stop(&mut self, f: Fired<StopOrder>) {
        let o = f.order;
        self.push(event::TRIGGERED, f.id, f.stop, 0, o.qty, false, Reason::None);
        let (at, continuous) = stops::trigger_price(f.stop, f.print, self.path_from);
        let cap = o.limit.or(continuous.then_some(at));
        if self.would_wash(f.side, cap) {
            self.push(event::CANCELED, f.id, f.stop, 0, o.qty, false, Reason::InvalidOrder);
            return;
        }
        if o.limit.is_some() {
            // The id is free (the stop left the queue) and the request was validated.
            let _ = self.enter(f.id, f.side, o.limit, o.qty, o.tif, false);
            return;
        }
        let order_type = cap.map_or(OrderType::Market, OrderType::Limit);
        let req = OrderRequest {
            id: f.id,
            side: f.side,
            order_type,
            qty: o.qty,
            tif: TimeInForce::Ioc,
            post_only: false,
        };
        let mark = self.r.book.fills().len();
        let remaining = match self.r.book.submit(req) {
            Ok(report) => {
                self.take_fills(mark, Some((f.id, o.qty)), f.side.opposite());
                report.remaining
            }
            Err(_) => o.qty,
        };
        if remaining > 0 {
            self.push_fill(f.id, at, remaining, 0, true);
        }
    }

    // ----- the market ----------------------------------------------------------------------

    /// Best price and quantity of `side`; `recorded_only` leaves the user's orders out.
    pub fn best(&self, side: Side, recorded_only: bool) -> Option<(Price, Qty)> {
        self.depth(side, 1, recorded_only).first().copied()
    }

    /// Up to `levels` levels of `side`, best first.
    pub fn depth(&self, side: Side, levels: usize, recorded_only: bool) -> Vec<(Price, Qty)> {
        let mut out = Vec::with_capacity(levels.min(64));
        for level in self.r.book.depth(side) {
            if out.len() >= levels {
                break;
            }
            let user =
                if recorded_only { self.r.user.get(&(side, level.price)).copied().unwrap_or(0) } else { 0 };
            let q = level.total - user;
            if q > 0 {
                out.push((level.price, q));
            }
        }
        out
    }

    /// A live user order: (side, price, open qty, qty ahead in its queue).
    pub fn user_order(&self, user: OrderId) -> Option<(Side, Price, Qty, Qty)> {
        let info = self.r.book.order(user | USER_TAG)?;
        Some((info.side, info.price, info.remaining, info.qty_ahead))
    }

    /// Live user orders in the book, stops held and auction orders waiting.
    pub fn user_order_count(&self) -> usize {
        self.r.user.len() + self.stops.len() + self.trailers.len() + self.waiting.len() + self.auctions.len()
    }

    /// Orders in the book (recorded and user).
    pub fn book_len(&self) -> usize {
        self.r.book.len()
    }

    pub fn check_invariants(&self) -> Result<(), String> {
        self.r.book.check_invariants()?;
        for (&(side, price), &q) in &self.r.user {
            let actual: Qty =
                self.r.book.level_orders(side, price).filter(|&(id, _)| is_user(id)).map(|(_, q)| q).sum();
            if actual != q {
                return Err(format!("user level {side:?} {price}: map {q}, book {actual}"));
            }
        }
        Ok(())
    }
}
