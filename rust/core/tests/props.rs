//! Property tests: the book against a small, obviously correct reference model (linear scans
//! over a flat list of orders), plus invariants checked after every operation.

use fillforge_core::{
    BookConfig, BookError, Fill, OrderBook, OrderRequest, OrderType, Reason, Report, Side, Status,
    TimeInForce,
};
use proptest::prelude::*;

// ----- the reference model ------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct RefOrder {
    id: u64,
    side: Side,
    price: i64,
    qty: u64,
    seq: u64,
    tif: TimeInForce,
    post_only: bool,
}

#[derive(Clone, Copy, Debug)]
struct RefStop {
    id: u64,
    side: Side,
    stop: i64,
    limit: Option<i64>,
    qty: u64,
    tif: TimeInForce,
    seq: u64,
}

#[derive(Default)]
struct RefBook {
    orders: Vec<RefOrder>,
    stops: Vec<RefStop>,
    seq: u64,
    last: Option<i64>,
    fills: Vec<Fill>,
    events: Vec<(u64, Report)>,
}

fn better(side: Side, a: i64, b: i64) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

fn accepts(side: Side, limit: Option<i64>, price: i64) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some(l)) => price <= l,
        (Side::Sell, Some(l)) => price >= l,
    }
}

fn fires(side: Side, stop: i64, print: i64) -> bool {
    match side {
        Side::Buy => print >= stop,
        Side::Sell => print <= stop,
    }
}

impl RefBook {
    fn live(&self, id: u64) -> bool {
        self.orders.iter().any(|o| o.id == id) || self.stops.iter().any(|s| s.id == id)
    }

    /// Index of the best maker for a taker on `side` within `limit`.
    fn best_maker(&self, side: Side, limit: Option<i64>) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, o) in self.orders.iter().enumerate() {
            if o.side == side || !accepts(side, limit, o.price) {
                continue;
            }
            best = match best {
                None => Some(i),
                Some(b) => {
                    let ob = &self.orders[b];
                    if better(o.side, o.price, ob.price) || (o.price == ob.price && o.seq < ob.seq) {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
            };
        }
        best
    }

    fn take(&mut self, taker: u64, side: Side, limit: Option<i64>, mut qty: u64) -> (u64, Vec<i64>) {
        let start = qty;
        let mut prints = Vec::new();
        while qty > 0 {
            let Some(i) = self.best_maker(side, limit) else { break };
            let q = qty.min(self.orders[i].qty);
            self.orders[i].qty -= q;
            qty -= q;
            let m = self.orders[i];
            self.fills.push(Fill { taker, maker: m.id, price: m.price, qty: q, maker_remaining: m.qty });
            prints.push(m.price);
            if m.qty == 0 {
                self.orders.remove(i);
            }
        }
        if let Some(&p) = prints.last() {
            self.last = Some(p);
        }
        (start - qty, prints)
    }

    fn rest(&mut self, id: u64, side: Side, price: i64, qty: u64, tif: TimeInForce, post_only: bool) {
        self.seq += 1;
        self.orders.push(RefOrder { id, side, price, qty, seq: self.seq, tif, post_only });
    }

    #[allow(clippy::too_many_arguments)]
    fn execute(
        &mut self,
        id: u64,
        side: Side,
        limit: Option<i64>,
        qty: u64,
        tif: TimeInForce,
        post_only: bool,
        queue: &mut Vec<u64>,
    ) -> Report {
        let rests = matches!(tif, TimeInForce::Gtc | TimeInForce::Day);
        if post_only && self.best_maker(side, limit).is_some() {
            return Report {
                status: Status::Rejected,
                reason: Reason::PostOnlyWouldCross,
                filled: 0,
                remaining: qty,
            };
        }
        if tif == TimeInForce::Fok {
            let avail: u64 = self
                .orders
                .iter()
                .filter(|o| o.side != side && accepts(side, limit, o.price))
                .map(|o| o.qty)
                .sum();
            if avail < qty {
                return Report {
                    status: Status::Canceled,
                    reason: Reason::FokUnfillable,
                    filled: 0,
                    remaining: qty,
                };
            }
        }
        let (filled, prints) = self.take(id, side, limit, qty);
        self.trigger(&prints, queue);
        let remaining = qty - filled;
        if remaining == 0 {
            Report { status: Status::Filled, reason: Reason::None, filled, remaining: 0 }
        } else if let (Some(p), true) = (limit, rests) {
            self.rest(id, side, p, remaining, tif, post_only);
            Report { status: Status::Resting, reason: Reason::None, filled, remaining }
        } else {
            Report { status: Status::Canceled, reason: Reason::IocRemainder, filled, remaining }
        }
    }

    /// Queue every stop a print fires: buy stops (nearest first), then sell stops.
    fn trigger(&mut self, prints: &[i64], queue: &mut Vec<u64>) {
        for side in [Side::Buy, Side::Sell] {
            let mut hit: Vec<RefStop> = self
                .stops
                .iter()
                .filter(|s| {
                    s.side == side && !queue.contains(&s.id) && prints.iter().any(|&p| fires(side, s.stop, p))
                })
                .copied()
                .collect();
            hit.sort_by_key(|s| (if side == Side::Buy { s.stop } else { -s.stop }, s.seq));
            queue.extend(hit.iter().map(|s| s.id));
        }
    }

    fn run(&mut self, queue: &mut Vec<u64>) {
        while !queue.is_empty() {
            let id = queue.remove(0);
            let i = self.stops.iter().position(|s| s.id == id).unwrap();
            let s = self.stops.remove(i);
            let triggered =
                Report { status: Status::Triggered, reason: Reason::None, filled: 0, remaining: s.qty };
            self.events.push((id, triggered));
            let r = self.execute(id, s.side, s.limit, s.qty, s.tif, false, queue);
            self.events.push((id, r));
        }
    }

    fn submit(&mut self, req: OrderRequest) -> Result<Report, BookError> {
        if req.qty == 0 {
            return Err(BookError::InvalidQuantity { field: "qty", value: 0, why: "" });
        }
        let limit = match req.order_type {
            OrderType::Limit(p) => Some(p),
            OrderType::Market => None,
        };
        // Static checks come before the duplicate-id check, as in the book.
        if req.post_only && (limit.is_none() || !matches!(req.tif, TimeInForce::Gtc | TimeInForce::Day)) {
            return Err(BookError::InvalidOrder { order_id: req.id, why: "" });
        }
        if self.live(req.id) {
            return Err(BookError::DuplicateOrderId { order_id: req.id });
        }
        let mut queue = Vec::new();
        let r = self.execute(req.id, req.side, limit, req.qty, req.tif, req.post_only, &mut queue);
        self.run(&mut queue);
        Ok(r)
    }

    fn submit_stop(
        &mut self,
        id: u64,
        side: Side,
        stop: i64,
        limit: Option<i64>,
        qty: u64,
    ) -> Result<Report, BookError> {
        if qty == 0 {
            return Err(BookError::InvalidQuantity { field: "qty", value: 0, why: "" });
        }
        if self.live(id) {
            return Err(BookError::DuplicateOrderId { order_id: id });
        }
        self.seq += 1;
        self.stops.push(RefStop { id, side, stop, limit, qty, tif: TimeInForce::Gtc, seq: self.seq });
        if !self.last.is_some_and(|l| fires(side, stop, l)) {
            return Ok(Report { status: Status::Pending, reason: Reason::None, filled: 0, remaining: qty });
        }
        let before = self.events.len();
        let mut queue = vec![id];
        self.run(&mut queue);
        Ok(self.events[before + 1].1)
    }

    fn cancel(&mut self, id: u64) -> Result<Report, BookError> {
        if let Some(i) = self.orders.iter().position(|o| o.id == id) {
            let o = self.orders.remove(i);
            return Ok(Report {
                status: Status::Canceled,
                reason: Reason::User,
                filled: 0,
                remaining: o.qty,
            });
        }
        if let Some(i) = self.stops.iter().position(|s| s.id == id) {
            let s = self.stops.remove(i);
            return Ok(Report {
                status: Status::Canceled,
                reason: Reason::User,
                filled: 0,
                remaining: s.qty,
            });
        }
        Err(BookError::UnknownOrder { order_id: id })
    }

    fn reduce(&mut self, id: u64, by: u64) -> Result<Report, BookError> {
        if by == 0 {
            return Err(BookError::InvalidQuantity { field: "qty", value: 0, why: "" });
        }
        let open = if let Some(o) = self.orders.iter().find(|o| o.id == id) {
            o.qty
        } else if let Some(s) = self.stops.iter().find(|s| s.id == id) {
            s.qty
        } else {
            return Err(BookError::UnknownOrder { order_id: id });
        };
        if by > open {
            return Err(BookError::InvalidQuantity { field: "qty", value: by.into(), why: "" });
        }
        if by == open {
            return self.cancel(id);
        }
        if let Some(o) = self.orders.iter_mut().find(|o| o.id == id) {
            o.qty -= by;
        } else if let Some(s) = self.stops.iter_mut().find(|s| s.id == id) {
            s.qty -= by;
        }
        Ok(Report { status: Status::Reduced, reason: Reason::User, filled: 0, remaining: open - by })
    }

    fn modify(&mut self, id: u64, price: i64, qty: u64) -> Result<Report, BookError> {
        if qty == 0 {
            return Err(BookError::InvalidQuantity { field: "qty", value: 0, why: "" });
        }
        let Some(i) = self.orders.iter().position(|o| o.id == id) else {
            if self.stops.iter().any(|s| s.id == id) {
                return Err(BookError::InvalidOrder { order_id: id, why: "" });
            }
            return Err(BookError::UnknownOrder { order_id: id });
        };
        let o = self.orders[i];
        if price == o.price && qty <= o.qty {
            self.orders[i].qty = qty;
            let reason = if qty == o.qty { Reason::NoChange } else { Reason::None };
            return Ok(Report { status: Status::Amended, reason, filled: 0, remaining: qty });
        }
        if o.post_only && self.best_maker(o.side, Some(price)).is_some() {
            return Ok(Report {
                status: Status::Rejected,
                reason: Reason::PostOnlyWouldCross,
                filled: 0,
                remaining: o.qty,
            });
        }
        self.orders.remove(i);
        let mut queue = Vec::new();
        let r = self.execute(id, o.side, Some(price), qty, o.tif, o.post_only, &mut queue);
        self.run(&mut queue);
        Ok(r)
    }

    /// Levels of one side, best first, as (price, total, count).
    fn depth(&self, side: Side) -> Vec<(i64, u64, u32)> {
        let mut prices: Vec<i64> = self.orders.iter().filter(|o| o.side == side).map(|o| o.price).collect();
        prices.sort_unstable();
        prices.dedup();
        if side == Side::Buy {
            prices.reverse();
        }
        prices
            .into_iter()
            .map(|p| {
                let at = self.orders.iter().filter(|o| o.side == side && o.price == p);
                (p, at.clone().map(|o| o.qty).sum(), at.count() as u32)
            })
            .collect()
    }

    /// (queue position, qty ahead) of a resting order.
    fn queue(&self, id: u64) -> Option<(u32, u64)> {
        let o = self.orders.iter().find(|o| o.id == id)?;
        let ahead = self.orders.iter().filter(|x| x.side == o.side && x.price == o.price && x.seq < o.seq);
        Some((ahead.clone().count() as u32, ahead.map(|x| x.qty).sum()))
    }
}

// ----- operations ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Limit { id: u64, buy: bool, price: i64, qty: u64, tif: u8, post_only: bool },
    Market { id: u64, buy: bool, qty: u64, fok: bool },
    Stop { id: u64, buy: bool, stop: i64, limit: Option<i64>, qty: u64 },
    Cancel { id: u64 },
    Reduce { id: u64, by: u64 },
    Modify { id: u64, price: i64, qty: u64 },
    ExpireDay,
}

fn side(buy: bool) -> Side {
    if buy {
        Side::Buy
    } else {
        Side::Sell
    }
}

fn tif(code: u8) -> TimeInForce {
    TimeInForce::from_code(code).unwrap()
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let id = 0u64..24;
    let price = 95i64..106;
    let qty = 0u64..12;
    prop_oneof![
        6 => (id.clone(), any::<bool>(), price.clone(), qty.clone(), 0u8..4, prop::bool::weighted(0.15))
            .prop_map(|(id, buy, price, qty, tif, post_only)| Op::Limit { id, buy, price, qty, tif, post_only }),
        1 => (id.clone(), any::<bool>(), qty.clone(), any::<bool>()).prop_map(|(id, buy, qty, fok)| Op::Market { id, buy, qty, fok }),
        1 => (id.clone(), any::<bool>(), price.clone(), prop::option::of(price.clone()), qty.clone())
            .prop_map(|(id, buy, stop, limit, qty)| Op::Stop { id, buy, stop, limit, qty }),
        3 => id.clone().prop_map(|id| Op::Cancel { id }),
        1 => (id.clone(), qty.clone()).prop_map(|(id, by)| Op::Reduce { id, by }),
        2 => (id, price, qty).prop_map(|(id, price, qty)| Op::Modify { id, price, qty }),
        1 => Just(Op::ExpireDay),
    ]
}

type Outcome = Result<Report, std::mem::Discriminant<BookError>>;

/// What both the book and the reference model answer to.
trait Target {
    fn submit(&mut self, req: OrderRequest) -> Result<Report, BookError>;
    fn submit_stop(
        &mut self,
        id: u64,
        side: Side,
        stop: i64,
        limit: Option<i64>,
        qty: u64,
    ) -> Result<Report, BookError>;
    fn cancel(&mut self, id: u64) -> Result<Report, BookError>;
    fn reduce(&mut self, id: u64, by: u64) -> Result<Report, BookError>;
    fn modify(&mut self, id: u64, price: i64, qty: u64) -> Result<Report, BookError>;
    /// Expire DAY orders; returns how many.
    fn expire_day(&mut self) -> usize;
}

impl Target for OrderBook {
    fn submit(&mut self, req: OrderRequest) -> Result<Report, BookError> {
        OrderBook::submit(self, req)
    }
    fn submit_stop(
        &mut self,
        id: u64,
        side: Side,
        stop: i64,
        limit: Option<i64>,
        qty: u64,
    ) -> Result<Report, BookError> {
        OrderBook::submit_stop(self, id, side, stop, limit, qty, TimeInForce::Gtc)
    }
    fn cancel(&mut self, id: u64) -> Result<Report, BookError> {
        OrderBook::cancel(self, id)
    }
    fn reduce(&mut self, id: u64, by: u64) -> Result<Report, BookError> {
        OrderBook::reduce(self, id, by)
    }
    fn modify(&mut self, id: u64, price: i64, qty: u64) -> Result<Report, BookError> {
        OrderBook::modify(self, id, price, qty)
    }
    fn expire_day(&mut self) -> usize {
        OrderBook::expire_day(self)
    }
}

impl Target for RefBook {
    fn submit(&mut self, req: OrderRequest) -> Result<Report, BookError> {
        RefBook::submit(self, req)
    }
    fn submit_stop(
        &mut self,
        id: u64,
        side: Side,
        stop: i64,
        limit: Option<i64>,
        qty: u64,
    ) -> Result<Report, BookError> {
        RefBook::submit_stop(self, id, side, stop, limit, qty)
    }
    fn cancel(&mut self, id: u64) -> Result<Report, BookError> {
        RefBook::cancel(self, id)
    }
    fn reduce(&mut self, id: u64, by: u64) -> Result<Report, BookError> {
        RefBook::reduce(self, id, by)
    }
    fn modify(&mut self, id: u64, price: i64, qty: u64) -> Result<Report, BookError> {
        RefBook::modify(self, id, price, qty)
    }
    /// Bids best-first, then asks best-first, each level in queue order.
    fn expire_day(&mut self) -> usize {
        let mut day: Vec<RefOrder> =
            self.orders.iter().filter(|o| o.tif == TimeInForce::Day).copied().collect();
        day.sort_by_key(|o| {
            (o.side == Side::Sell, if o.side == Side::Buy { -o.price } else { o.price }, o.seq)
        });
        for o in &day {
            self.cancel(o.id).unwrap();
            let r =
                Report { status: Status::Expired, reason: Reason::DayExpired, filled: 0, remaining: o.qty };
            self.events.push((o.id, r));
        }
        day.len()
    }
}

fn apply(book: &mut impl Target, op: &Op) -> Outcome {
    let r = match *op {
        Op::Limit { id, buy, price, qty, tif: t, post_only } => book.submit(OrderRequest {
            id,
            side: side(buy),
            order_type: OrderType::Limit(price),
            qty,
            tif: tif(t),
            post_only,
        }),
        Op::Market { id, buy, qty, fok } => {
            let mut req = OrderRequest::market(id, side(buy), qty);
            if fok {
                req.tif = TimeInForce::Fok;
            }
            book.submit(req)
        }
        Op::Stop { id, buy, stop, limit, qty } => book.submit_stop(id, side(buy), stop, limit, qty),
        Op::Cancel { id } => book.cancel(id),
        Op::Reduce { id, by } => book.reduce(id, by),
        Op::Modify { id, price, qty } => book.modify(id, price, qty),
        Op::ExpireDay => {
            let n = book.expire_day() as u64;
            Ok(Report { status: Status::Expired, reason: Reason::DayExpired, filled: 0, remaining: n })
        }
    };
    r.map_err(|e| std::mem::discriminant(&e))
}

fn submitted_qty(op: &Op, r: &Outcome) -> u64 {
    match (op, r) {
        (Op::Limit { qty, .. } | Op::Market { qty, .. }, Ok(_)) => *qty,
        _ => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The book and the reference agree on every outcome, fill, event and the final book.
    #[test]
    fn book_matches_reference(ops in prop::collection::vec(op_strategy(), 1..120)) {
        let mut book = OrderBook::new(BookConfig::default());
        let mut reference = RefBook::default();
        for (i, op) in ops.iter().enumerate() {
            let got = apply(&mut book, op);
            let want = apply(&mut reference, op);
            prop_assert_eq!(got, want, "op {} {:?}", i, op);
            prop_assert_eq!(book.fills(), &reference.fills[..], "fills after op {} {:?}", i, op);
            let events: Vec<(u64, Report)> = book
                .events()
                .iter()
                .map(|e| (e.order_id, Report { status: e.status, reason: e.reason, filled: e.filled, remaining: e.remaining }))
                .collect();
            prop_assert_eq!(events, reference.events.clone(), "events after op {} {:?}", i, op);
            book.check_invariants().map_err(TestCaseError::fail)?;
        }
        for s in [Side::Buy, Side::Sell] {
            let d: Vec<(i64, u64, u32)> = book.depth(s).map(|l| (l.price, l.total, l.count)).collect();
            prop_assert_eq!(d, reference.depth(s));
        }
        for id in 0..24 {
            let got = book.order(id).map(|o| (o.queue_position, o.qty_ahead));
            prop_assert_eq!(got, reference.queue(id), "order {}", id);
            prop_assert_eq!(book.is_stop_pending(id), reference.stops.iter().any(|s| s.id == id));
        }
    }

    /// Invariants on the book alone: never crossed after matching, FOK never partial, post-only
    /// never takes, and quantity is conserved: submitted = filled + resting + canceled.
    #[test]
    fn invariants_hold(ops in prop::collection::vec(op_strategy(), 1..200)) {
        let mut book = OrderBook::new(BookConfig::default());
        let mut post_only_ids = std::collections::HashSet::new();
        for op in &ops {
            let before = book.fills().len();
            // The order this op may make a taker of, if it is post-only.
            let post_only_taker = match *op {
                Op::Limit { id, post_only: true, .. } => Some(id),
                Op::Modify { id, .. } if post_only_ids.contains(&id) && book.order(id).is_some() => Some(id),
                _ => None,
            };
            let r = apply(&mut book, op);
            match (op, &r) {
                (Op::Limit { id, post_only: true, .. }, Ok(_)) => {
                    post_only_ids.insert(*id);
                }
                (Op::Limit { id, .. } | Op::Market { id, .. } | Op::Stop { id, .. }, Ok(_)) => {
                    post_only_ids.remove(id);
                }
                _ => {}
            }
            if let (Op::Market { fok: true, qty, .. }, Ok(rep)) = (op, &r) {
                prop_assert!(rep.filled == 0 || rep.filled == *qty, "FOK filled {} of {}", rep.filled, qty);
            }
            if let (Op::Limit { tif: 3, qty, .. }, Ok(rep)) = (op, &r) {
                prop_assert!(rep.filled == 0 || rep.filled == *qty);
            }
            if let Some(id) = post_only_taker {
                prop_assert!(book.fills()[before..].iter().all(|f| f.taker != id), "post-only {} took", id);
            }
            if let (Some((b, _)), Some((a, _))) = (book.best(Side::Buy), book.best(Side::Sell)) {
                prop_assert!(b < a, "crossed: bid {} ask {}", b, a);
            }
            book.check_invariants().map_err(TestCaseError::fail)?;
        }
    }

    /// Conservation, counted per order: what each order was given equals what it filled, what
    /// rests or is held, and what was canceled, expired or reduced away.
    #[test]
    fn quantity_is_conserved(ops in prop::collection::vec(op_strategy(), 1..200)) {
        let mut book = OrderBook::new(BookConfig::default());
        let mut given: i128 = 0;
        let mut removed: i128 = 0;
        for op in &ops {
            let open_before = open_qty(&book, op);
            let r = apply(&mut book, op);
            given += i128::from(submitted_qty(op, &r));
            if let (Op::Stop { qty, .. }, Ok(_)) = (op, &r) {
                given += i128::from(*qty);
            }
            match (op, &r) {
                (Op::Modify { qty, .. }, Ok(rep)) if rep.status != Status::Rejected => {
                    given += i128::from(*qty) - i128::from(open_before);
                }
                (Op::Reduce { by, .. }, Ok(_)) => removed += i128::from(*by),
                (Op::Cancel { .. }, Ok(rep)) => removed += i128::from(rep.remaining),
                (Op::Limit { .. } | Op::Market { .. }, Ok(rep)) if matches!(rep.status, Status::Canceled | Status::Rejected) => {
                    removed += i128::from(rep.remaining)
                }
                // A stop that triggers at once reports its outcome as an event too (counted below).
                _ => {}
            }
        }
        for e in book.events() {
            if matches!(e.status, Status::Canceled | Status::Rejected | Status::Expired) {
                removed += i128::from(e.remaining);
            }
        }
        let taker_filled: i128 = book.fills().iter().map(|f| i128::from(f.qty)).sum();
        // Every fill consumes the same quantity from a taker and from a maker.
        let resting: i128 = [Side::Buy, Side::Sell].iter().flat_map(|&s| book.depth(s).map(|l| i128::from(l.total)).collect::<Vec<_>>()).sum();
        let held: i128 = (0..24).filter(|&id| book.is_stop_pending(id)).map(|id| i128::from(stop_qty(&book, id))).sum();
        prop_assert_eq!(given, 2 * taker_filled + resting + held + removed);
    }
}

/// Open quantity the op's order had before it ran (for modify accounting).
fn open_qty(book: &OrderBook, op: &Op) -> u64 {
    match op {
        Op::Modify { id, .. } => book.order(*id).map_or(0, |o| o.remaining),
        _ => 0,
    }
}

/// A held stop's quantity, read by reducing nothing: the book exposes it through `reduce`'s
/// error path, so count it from a clone.
fn stop_qty(book: &OrderBook, id: u64) -> u64 {
    let mut b = book.clone();
    b.cancel(id).map_or(0, |r| r.remaining)
}
