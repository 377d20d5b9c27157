//! Market-data feeds for the simulator: one normalised message type for every source.
//!
//! Full-depth feeds (LOBSTER, market-by-order) name recorded orders; top-of-book, trade and bar
//! feeds carry quotes, trades and auction prints. The kinds and what each does to the book and to
//! the user's orders are documented in `docs/simulator.md`.

use std::path::Path;
use std::sync::Arc;

use super::super::replay::lobster::{check_pair, parse_messages, parse_snapshots, Message, Snapshots};
use super::super::replay::read_maybe_gz;
use super::ids::USER_TAG;
use crate::book::{OrderId, Price, Qty, Side};

/// LOBSTER's price for an empty level (negated on the bid side).
const DUMMY_PRICE: i64 = 9_999_999_999;

crate::codes::codes! {
    /// Message kinds (what each does to the book and the user's orders: `docs/simulator.md`).
    pub enum FeedKind: u8 {
        /// No effect (halts, cross trades without a print).
        Noop = 0 => NOOP,
        /// A recorded order rests.
        Add = 1 => ADD,
        /// A recorded order loses `qty` (partial cancel).
        Reduce = 2 => REDUCE,
        /// A recorded order is removed.
        Delete = 3 => DELETE,
        /// A recorded resting order (`side`) is executed for `qty` at `price`.
        Execute = 4 => EXECUTE,
        /// A trade of `qty` at `price` against hidden liquidity resting on `side`.
        Hidden = 5 => HIDDEN,
        /// A recorded order now rests at `price` for `qty`.
        Modify = 6 => MODIFY,
        /// A recorded order is reported filled for `qty` at `price`; it changes by a later message.
        Pass = 7 => PASS,
        /// The best level of `side` is now `qty` at `price` (`qty` 0: the side is empty);
        /// `order_id` holds [`FeedFlag`]s.
        Quote = 8 => QUOTE,
        /// A trade of `qty` at `price` taking liquidity resting on `side`; `order_id` holds
        /// [`FeedFlag`]s.
        Trade = 9 => TRADE,
        /// A print at `price` for up to `qty` that crossing orders fill at; `order_id` is an
        /// [`AuctionPrint`].
        Auction = 10 => AUCTION,
    }
    /// [`FeedKind`] codes as constants (for matching on `FeedMsg::kind`).
    pub mod kind;
}

crate::codes::codes! {
    /// Flags carried in `order_id` of QUOTE and TRADE messages (which name no recorded order).
    pub enum FeedFlag: u64 {
        /// The price moved continuously from the previous print to this message's price (points
        /// of a bar's intrabar path after its open). A stop this move passes through fills at its
        /// own stop price; without the flag prints are discrete, and a stop fills at the first
        /// print that reached it.
        Path = 1 => PATH,
        /// Modelled liquidity (bar data): a market order (day or gtc) that finds no displayed size
        /// waits for the next print and fills there instead of being canceled.
        Wait = 2 => WAIT,
    }
    /// [`FeedFlag`] bits as constants.
    pub mod flag;
}

crate::codes::codes! {
    /// What an AUCTION message is (its `order_id`).
    pub enum AuctionPrint: u64 {
        /// The opening auction: at-the-open orders fill at its price.
        Open = 0 => OPEN,
        /// The closing auction: at-the-close orders fill at its price.
        Close = 1 => CLOSE,
        /// A gap print (a bar opening away from the last price): no auction orders fill.
        Gap = 2 => GAP,
    }
}

/// One normalised market-data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedMsg {
    /// UNIX epoch nanoseconds.
    pub time_ns: i64,
    pub kind: u8,
    pub order_id: OrderId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
}

/// A whole replay: its messages and, for LOBSTER, the true book after every message.
#[derive(Clone, Debug, Default)]
pub struct Feed {
    pub msgs: Arc<Vec<FeedMsg>>,
    pub snapshots: Option<Arc<Snapshots>>,
}

/// A feed that cannot be built: which row and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedError {
    pub row: usize,
    pub field: &'static str,
    pub value: i128,
    pub why: String,
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}: {}={}: {}", self.row, self.field, self.value, self.why)
    }
}

/// Validate one message (`last`: the time of the message before it).
pub fn check_row(row: usize, m: &FeedMsg, last: i64) -> Result<(), FeedError> {
    let err = |field, value: i128, why: &str| FeedError { row, field, value, why: why.into() };
    if m.time_ns < last {
        return Err(err("time_ns", m.time_ns.into(), "times must not decrease"));
    }
    if FeedKind::from_code(m.kind).is_none() {
        return Err(err("kind", m.kind.into(), "unknown message kind"));
    }
    if m.order_id >= USER_TAG {
        return Err(err("order_id", m.order_id.into(), "recorded order ids must be below 2^62"));
    }
    let sized = !matches!(m.kind, kind::NOOP | kind::DELETE | kind::QUOTE);
    if sized && m.qty == 0 {
        return Err(err("qty", 0, "must be positive"));
    }
    if m.qty > crate::book::MAX_QTY {
        return Err(err("qty", m.qty.into(), "too large"));
    }
    // Not `abs()`: i64::MIN has no absolute value.
    if !(-crate::book::MAX_ABS_PRICE..=crate::book::MAX_ABS_PRICE).contains(&m.price) {
        return Err(err("price", m.price.into(), "out of range"));
    }
    Ok(())
}

fn lobster_kind(m: &Message) -> u8 {
    match m.kind {
        1 => kind::ADD,
        2 => kind::REDUCE,
        3 => kind::DELETE,
        4 => kind::EXECUTE,
        5 => kind::HIDDEN,
        _ => kind::NOOP,
    }
}

impl Feed {
    /// Build from LOBSTER messages and snapshots (`time_offset_ns`: the day's midnight in the
    /// file's time zone, as UNIX epoch nanoseconds). Prices (USD x 10000) become ticks of
    /// `price_div` units each (100 for a cent tick); a price off that grid is an error.
    pub fn lobster(
        messages: &[Message],
        mut snapshots: Snapshots,
        time_offset_ns: i64,
        price_div: i64,
    ) -> Result<Feed, String> {
        if price_div < 1 {
            return Err(format!("price_div={price_div}: must be 1 or more"));
        }
        check_pair(messages, &snapshots)?;
        let tick = |row: usize, file: &str, p: i64| {
            if p % price_div == 0 {
                Ok(p / price_div)
            } else {
                Err(format!("{file} row {}: price {p} is not a multiple of {price_div}", row + 1))
            }
        };
        let mut msgs = Vec::with_capacity(messages.len());
        for (row, m) in messages.iter().enumerate() {
            msgs.push(FeedMsg {
                time_ns: m.time_ns + time_offset_ns,
                kind: lobster_kind(m),
                order_id: m.order_id,
                side: m.side,
                price: if m.kind == 5 && m.price % price_div != 0 {
                    // A midpoint (hidden) execution between ticks: the user orders it reaches
                    // are those at the next tick on the resting side.
                    match m.side {
                        Side::Buy => m.price.div_euclid(price_div) + 1,
                        Side::Sell => m.price.div_euclid(price_div),
                    }
                } else {
                    tick(row, "message", m.price)?
                },
                qty: m.size,
            });
        }
        if price_div > 1 {
            let width = 4 * snapshots.levels;
            for (i, v) in snapshots.data.iter_mut().enumerate() {
                // Columns 0 and 2 of each level are prices; empty levels keep their dummies.
                if i % 2 == 0 && v.abs() != DUMMY_PRICE {
                    *v = tick(i / width, "orderbook", *v)?;
                }
            }
        }
        Ok(Feed { msgs: Arc::new(msgs), snapshots: Some(Arc::new(snapshots)) })
    }

    /// Read and parse a LOBSTER message/orderbook pair (plain or gzip).
    pub fn lobster_files(
        message: &Path,
        orderbook: &Path,
        time_offset_ns: i64,
        price_div: i64,
    ) -> Result<Feed, String> {
        let read = |p: &Path| read_maybe_gz(p).map_err(|e| format!("{}: {e}", p.display()));
        let messages = parse_messages(&read(message)?).map_err(|e| format!("{}: {e}", message.display()))?;
        let snaps =
            parse_snapshots(&read(orderbook)?).map_err(|e| format!("{}: {e}", orderbook.display()))?;
        Feed::lobster(&messages, snaps, time_offset_ns, price_div)
    }

    /// Build from columns, validating every row (times never decrease, known kinds, recorded
    /// order ids below the user range, positive sizes where a size matters).
    pub fn from_rows(rows: Vec<FeedMsg>) -> Result<Feed, FeedError> {
        let mut last = i64::MIN;
        for (row, m) in rows.iter().enumerate() {
            check_row(row, m, last)?;
            last = m.time_ns;
        }
        Ok(Feed { msgs: Arc::new(rows), snapshots: None })
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }
}
