//! Plain value types shared by the book, the batch API and the replays.

use crate::error::{BookError, Reason};

pub type Price = i64;
pub type Qty = u64;
pub type OrderId = u64;

/// Largest magnitude accepted for a price, so that negating it (the ask-side sort key) cannot
/// overflow.
pub const MAX_ABS_PRICE: i64 = 1 << 62;
/// Largest accepted quantity, so that every quantity also fits an `i64` numpy column.
pub const MAX_QTY: u64 = (1 << 62) - 1;

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Buy = 0,
    Sell = 1,
}

impl Side {
    /// Parse the public encoding: `1` buy, `-1` sell (the LOBSTER convention).
    pub fn from_sign(value: i64) -> Result<Side, BookError> {
        match value {
            1 => Ok(Side::Buy),
            -1 => Ok(Side::Sell),
            _ => Err(BookError::InvalidSide { value }),
        }
    }

    pub fn sign(self) -> i8 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }

    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Does a taker on this side with `limit` accept a maker at `price`?
    #[inline]
    pub fn accepts(self, limit: Price, price: Price) -> bool {
        match self {
            Side::Buy => price <= limit,
            Side::Sell => price >= limit,
        }
    }
}

crate::codes::codes! {
    pub enum TimeInForce: u8 {
        Gtc = 0 => GTC,
        Day = 1 => DAY,
        Ioc = 2 => IOC,
        Fok = 3 => FOK,
    }
}

impl TimeInForce {
    /// Parse the public encoding (`0` GTC, `1` DAY, `2` IOC, `3` FOK).
    pub fn parse(value: i64) -> Result<TimeInForce, BookError> {
        u8::try_from(value)
            .ok()
            .and_then(TimeInForce::from_code)
            .ok_or(BookError::InvalidTimeInForce { value })
    }

    /// Whether an unfilled remainder may rest on the book.
    pub fn rests(self) -> bool {
        matches!(self, TimeInForce::Gtc | TimeInForce::Day)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderType {
    Limit(Price),
    Market,
}

/// A new order for [`crate::OrderBook::submit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    pub id: OrderId,
    pub side: Side,
    pub order_type: OrderType,
    pub qty: Qty,
    pub tif: TimeInForce,
    pub post_only: bool,
}

impl OrderRequest {
    pub fn limit(id: OrderId, side: Side, price: Price, qty: Qty, tif: TimeInForce) -> Self {
        OrderRequest { id, side, order_type: OrderType::Limit(price), qty, tif, post_only: false }
    }

    pub fn market(id: OrderId, side: Side, qty: Qty) -> Self {
        OrderRequest { id, side, order_type: OrderType::Market, qty, tif: TimeInForce::Ioc, post_only: false }
    }

    pub fn post_only(mut self) -> Self {
        self.post_only = true;
        self
    }
}

crate::codes::codes! {
    /// What an order is after an operation. Stable numeric codes (they cross into numpy).
    pub enum Status: u8 {
        /// Rests on the book (possibly after partial fills). After a modify: re-queued, priority
        /// lost.
        Resting = 1 => RESTING,
        Filled = 2 => FILLED,
        /// Canceled; `remaining` is the quantity canceled.
        Canceled = 3 => CANCELED,
        Rejected = 4 => REJECTED,
        /// A stop order held off book until its trigger.
        Pending = 5 => PENDING,
        /// A held stop triggered (event only; its outcome follows as a second event).
        Triggered = 6 => TRIGGERED,
        /// Reduced in place, queue priority kept.
        Reduced = 7 => REDUCED,
        Expired = 8 => EXPIRED,
        /// Modified in place (quantity decrease at the same price), queue priority kept.
        Amended = 9 => AMENDED,
    }
}

/// The outcome of one operation for the order it addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub status: Status,
    pub reason: Reason,
    /// Quantity filled by this operation (the order as taker).
    pub filled: Qty,
    /// Quantity left open on the book, or canceled when `status` is `Canceled`/`Expired`.
    pub remaining: Qty,
}

impl Report {
    pub(crate) fn new(status: Status, reason: Reason, filled: Qty, remaining: Qty) -> Self {
        Report { status, reason, filled, remaining }
    }

    pub(crate) fn rejected(reason: Reason, qty: Qty) -> Self {
        Report::new(Status::Rejected, reason, 0, qty)
    }
}

/// One match between an incoming (taker) order and a resting (maker) order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub taker: OrderId,
    pub maker: OrderId,
    pub price: Price,
    pub qty: Qty,
    pub maker_remaining: Qty,
}

/// A status change of an order other than the one an operation addressed: a triggered stop and
/// its outcome, or a DAY order expiring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub order_id: OrderId,
    pub status: Status,
    pub reason: Reason,
    pub filled: Qty,
    pub remaining: Qty,
}

/// A resting order as seen by [`crate::OrderBook::order`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderInfo {
    pub side: Side,
    pub price: Price,
    pub remaining: Qty,
    /// Zero-based position in its price level's FIFO queue.
    pub queue_position: u32,
    /// Quantity resting ahead of it at the same price.
    pub qty_ahead: Qty,
    pub tif: TimeInForce,
}
