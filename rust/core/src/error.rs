//! Errors and reason codes. Errors are plain enums; the bindings map each variant to a Python
//! exception, and the batch API turns each into a rejection with its [`Reason`] code.

use std::fmt;

crate::codes::codes! {
    /// Why an order ended the way it did, or why an operation was refused. Stable numeric codes:
    /// they cross the Python boundary in numpy arrays.
    pub enum Reason: u8 {
        None = 0 => NONE,
        /// Canceled on request (cancel, reduce to zero).
        User = 1 => USER,
        /// IOC or market remainder canceled after matching what it could.
        IocRemainder = 2 => IOC_REMAINDER,
        /// FOK order could not fill completely, so nothing filled.
        FokUnfillable = 3 => FOK_UNFILLABLE,
        /// Post-only order would have taken liquidity.
        PostOnlyWouldCross = 4 => POST_ONLY_WOULD_CROSS,
        /// Matching is disabled (book-building phase): IOC, FOK and market orders are refused.
        MatchingHalted = 5 => MATCHING_HALTED,
        /// DAY order expired at the session end.
        DayExpired = 6 => DAY_EXPIRED,
        UnknownOrder = 7 => UNKNOWN_ORDER,
        DuplicateOrderId = 8 => DUPLICATE_ORDER_ID,
        InvalidQuantity = 9 => INVALID_QUANTITY,
        PriceOffGrid = 10 => PRICE_OFF_GRID,
        QuantityOffGrid = 11 => QUANTITY_OFF_GRID,
        InvalidSide = 12 => INVALID_SIDE,
        InvalidTimeInForce = 13 => INVALID_TIME_IN_FORCE,
        InvalidOp = 14 => INVALID_OP,
        InvalidOrder = 15 => INVALID_ORDER,
        InvalidPrice = 16 => INVALID_PRICE,
        /// Modify asked for the order's current price and quantity: nothing changed.
        NoChange = 17 => NO_CHANGE,
    }
}

/// A refused operation. The book is unchanged whenever one of these is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookError {
    UnknownOrder {
        order_id: u64,
    },
    DuplicateOrderId {
        order_id: u64,
    },
    /// A quantity that is zero, negative, too large, or larger than what it applies to.
    InvalidQuantity {
        field: &'static str,
        value: i128,
        why: &'static str,
    },
    PriceOffGrid {
        field: &'static str,
        price: i64,
        tick: i64,
    },
    QuantityOffGrid {
        field: &'static str,
        qty: u64,
        lot: u64,
    },
    InvalidPrice {
        field: &'static str,
        price: i64,
    },
    InvalidSide {
        value: i64,
    },
    InvalidTimeInForce {
        value: i64,
    },
    InvalidOp {
        value: i64,
    },
    /// A combination the book does not accept (for example post-only with IOC).
    InvalidOrder {
        order_id: u64,
        why: &'static str,
    },
}

impl BookError {
    pub fn reason(&self) -> Reason {
        match self {
            BookError::UnknownOrder { .. } => Reason::UnknownOrder,
            BookError::DuplicateOrderId { .. } => Reason::DuplicateOrderId,
            BookError::InvalidQuantity { .. } => Reason::InvalidQuantity,
            BookError::PriceOffGrid { .. } => Reason::PriceOffGrid,
            BookError::QuantityOffGrid { .. } => Reason::QuantityOffGrid,
            BookError::InvalidPrice { .. } => Reason::InvalidPrice,
            BookError::InvalidSide { .. } => Reason::InvalidSide,
            BookError::InvalidTimeInForce { .. } => Reason::InvalidTimeInForce,
            BookError::InvalidOp { .. } => Reason::InvalidOp,
            BookError::InvalidOrder { .. } => Reason::InvalidOrder,
        }
    }
}

impl fmt::Display for BookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BookError::UnknownOrder { order_id } => {
                write!(f, "order_id={order_id}: no live order with this id")
            }
            BookError::DuplicateOrderId { order_id } => {
                write!(f, "order_id={order_id}: an order with this id is already live")
            }
            BookError::InvalidQuantity { field, value, why } => write!(f, "{field}={value}: {why}"),
            BookError::PriceOffGrid { field, price, tick } => {
                write!(f, "{field}={price}: not a multiple of the price tick {tick}")
            }
            BookError::QuantityOffGrid { field, qty, lot } => {
                write!(f, "{field}={qty}: not a multiple of the lot size {lot}")
            }
            BookError::InvalidPrice { field, price } => {
                write!(f, "{field}={price}: outside the supported range +/-2^62")
            }
            BookError::InvalidSide { value } => {
                write!(f, "side={value}: expected 1 (buy) or -1 (sell)")
            }
            BookError::InvalidTimeInForce { value } => {
                write!(f, "tif={value}: expected 0 (GTC), 1 (DAY), 2 (IOC) or 3 (FOK)")
            }
            BookError::InvalidOp { value } => write!(f, "op={value}: not a known operation code"),
            BookError::InvalidOrder { order_id, why } => write!(f, "order_id={order_id}: {why}"),
        }
    }
}

impl std::error::Error for BookError {}

/// A refused throttle operation. The throttle's state is unchanged whenever one is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThrottleError {
    /// `now` is earlier than a time the throttle has already seen (time is monotonic per throttle).
    ClockWentBackwards { now: i64, last: i64 },
    /// A request for more units than some limit could ever admit at once.
    RequestTooLarge { n: u64, max: u64 },
    /// A limit with an impossible parameter (zero count, non-positive window, overflow).
    InvalidLimit { index: usize, why: &'static str },
}

impl fmt::Display for ThrottleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThrottleError::ClockWentBackwards { now, last } => write!(
                f,
                "now={now}: time went backwards (this throttle has already seen t={last}; times must never decrease)"
            ),
            ThrottleError::RequestTooLarge { n, max } => {
                write!(f, "n={n}: more than the {max} units the tightest limit can ever admit at once")
            }
            ThrottleError::InvalidLimit { index, why } => write!(f, "limit {index}: {why}"),
        }
    }
}

impl std::error::Error for ThrottleError {}

/// A refused trailing-stop operation. The engine is unchanged whenever one is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrailingError {
    /// A live stop already has this id.
    DuplicateId { id: u64 },
    /// No live stop has this id (never added, removed, or already triggered).
    UnknownId { id: u64 },
    /// An instrument index outside `0..count`.
    InvalidInstrument { instrument: u64, count: u32 },
    /// A price outside +/-2^61 ticks.
    InvalidPrice { field: &'static str, price: i64 },
    /// A trail (`trail_ticks`, `trail_bps`) or limit offset out of range.
    InvalidTrail { field: &'static str, value: i64, why: &'static str },
    /// A break-even rule with a value out of range.
    InvalidBreakEven { field: &'static str, value: i64, why: &'static str },
    /// `amend` tried to switch a stop between a tick and a percent trail.
    TrailKindChange { id: u64 },
    /// An update column of the wrong length.
    LengthMismatch { field: &'static str, len: usize, expected: usize },
}

impl fmt::Display for TrailingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrailingError::DuplicateId { id } => {
                write!(f, "id={id}: a live trailing stop already has this id")
            }
            TrailingError::UnknownId { id } => {
                write!(f, "id={id}: no live trailing stop with this id (never added, removed or triggered)")
            }
            TrailingError::InvalidInstrument { instrument, count } => {
                write!(f, "instrument={instrument}: outside 0..{count}")
            }
            TrailingError::InvalidPrice { field, price } => {
                write!(f, "{field}={price}: outside the supported range +/-2^61 ticks")
            }
            TrailingError::InvalidTrail { field, value, why } => write!(f, "{field}={value}: {why}"),
            TrailingError::InvalidBreakEven { field, value, why } => write!(f, "{field}={value}: {why}"),
            TrailingError::TrailKindChange { id } => {
                write!(f, "id={id}: cannot switch a trail between ticks and percent (remove and re-add)")
            }
            TrailingError::LengthMismatch { field, len, expected } => {
                write!(f, "{field}: length {len}, expected {expected}")
            }
        }
    }
}

impl std::error::Error for TrailingError {}

/// A size asked of a constructor (an order book's `capacity`, a trailing-stop engine's
/// `n_instruments`) that is past its documented maximum, or whose memory could not be reserved.
/// Nothing was allocated when one of these is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapacityError {
    /// `value` is more than `max` (a documented bound that keeps every reservation to a few GB).
    TooLarge { field: &'static str, value: u64, max: u64, unit: &'static str },
    /// The allocator refused the reservation (`try_reserve` failed).
    OutOfMemory { field: &'static str, value: u64, unit: &'static str },
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapacityError::TooLarge { field, value, max, unit } => {
                write!(f, "{field}={value}: more than the maximum of {max} {unit}")
            }
            CapacityError::OutOfMemory { field, value, unit } => {
                write!(f, "{field}={value}: could not reserve memory for {value} {unit}")
            }
        }
    }
}

impl std::error::Error for CapacityError {}
