//! The batch API: a whole sequence of operations as columns in, outcomes and fills as columns
//! out, so a caller pays its language boundary once per batch. An operation that fails
//! validation is rejected with its [`Reason`] code and changes nothing; the batch goes on.

use crate::book::{Book, LevelMap, OrderRequest, OrderType, Report, Side, Status, TimeInForce};
use crate::error::BookError;

crate::codes::codes! {
    /// Operation codes of the `op` column.
    pub enum OpKind: u8 {
        /// New limit order: `side`, `price`, `qty`, `tif`, `post_only`.
        Limit = 0 => LIMIT,
        /// New market order: `side`, `qty`, `tif` (FOK all-or-none; any other tif cancels the
        /// rest).
        Market = 1 => MARKET,
        /// Cancel `order_id`.
        Cancel = 2 => CANCEL,
        /// Reduce `order_id` by `qty`.
        Reduce = 3 => REDUCE,
        /// Modify `order_id` to `price` and open quantity `qty`.
        Modify = 4 => MODIFY,
        /// New stop order: `side`, `stop_price`, `qty`, `tif`.
        Stop = 5 => STOP,
        /// New stop-limit order: `side`, `stop_price`, limit `price`, `qty`, `tif`.
        StopLimit = 6 => STOP_LIMIT,
    }
}

/// Column views of a batch. All present columns have the same length (checked by [`BatchInput::len`]).
#[derive(Clone, Copy, Debug)]
pub struct BatchInput<'a> {
    pub op: &'a [u8],
    pub order_id: &'a [u64],
    pub side: &'a [i8],
    pub price: &'a [i64],
    pub qty: &'a [i64],
    /// Time in force per op; GTC (limit, stops) and IOC (market) when absent.
    pub tif: Option<&'a [u8]>,
    /// Needed when the batch has stop or stop-limit ops.
    pub stop_price: Option<&'a [i64]>,
    pub post_only: Option<&'a [bool]>,
}

impl BatchInput<'_> {
    /// The common length, or the first column whose length differs: `(name, len, expected)`.
    pub fn len(&self) -> Result<usize, (&'static str, usize, usize)> {
        let n = self.op.len();
        let cols = [
            ("order_id", Some(self.order_id.len())),
            ("side", Some(self.side.len())),
            ("price", Some(self.price.len())),
            ("qty", Some(self.qty.len())),
            ("tif", self.tif.map(<[u8]>::len)),
            ("stop_price", self.stop_price.map(<[i64]>::len)),
            ("post_only", self.post_only.map(<[bool]>::len)),
        ];
        for (name, len) in cols {
            if let Some(len) = len {
                if len != n {
                    return Err((name, len, n));
                }
            }
        }
        Ok(n)
    }

    pub fn is_empty(&self) -> bool {
        self.op.is_empty()
    }
}

/// Outcomes per op, and every fill of the batch with the index of the op that caused it.
#[derive(Clone, Debug, Default)]
pub struct BatchOutput {
    pub status: Vec<u8>,
    pub reason: Vec<u8>,
    pub filled: Vec<i64>,
    pub remaining: Vec<i64>,
    pub fill_op: Vec<u32>,
    pub fill_taker: Vec<u64>,
    pub fill_maker: Vec<u64>,
    pub fill_price: Vec<i64>,
    pub fill_qty: Vec<i64>,
    pub fill_maker_remaining: Vec<i64>,
    pub event_op: Vec<u32>,
    pub event_order_id: Vec<u64>,
    pub event_status: Vec<u8>,
    pub event_reason: Vec<u8>,
    pub event_filled: Vec<i64>,
    pub event_remaining: Vec<i64>,
}

impl BatchOutput {
    /// Room for `n` ops and, so that fill columns rarely reallocate mid-batch, `n` fills.
    pub fn with_capacity(n: usize) -> Self {
        BatchOutput {
            status: Vec::with_capacity(n),
            reason: Vec::with_capacity(n),
            filled: Vec::with_capacity(n),
            remaining: Vec::with_capacity(n),
            fill_op: Vec::with_capacity(n),
            fill_taker: Vec::with_capacity(n),
            fill_maker: Vec::with_capacity(n),
            fill_price: Vec::with_capacity(n),
            fill_qty: Vec::with_capacity(n),
            fill_maker_remaining: Vec::with_capacity(n),
            ..Default::default()
        }
    }
}

fn qty_arg(value: i64) -> Result<u64, BookError> {
    u64::try_from(value).map_err(|_| BookError::InvalidQuantity {
        field: "qty",
        value: i128::from(value),
        why: "must be positive",
    })
}

fn tif_arg(tif: Option<&[u8]>, i: usize, default: TimeInForce) -> Result<TimeInForce, BookError> {
    tif.map_or(Ok(default), |t| TimeInForce::parse(i64::from(t[i])))
}

fn one<L: LevelMap>(book: &mut Book<L>, b: &BatchInput<'_>, i: usize) -> Result<Report, BookError> {
    let op = OpKind::from_code(b.op[i]).ok_or(BookError::InvalidOp { value: i64::from(b.op[i]) })?;
    let id = b.order_id[i];
    match op {
        OpKind::Cancel => return book.cancel(id),
        OpKind::Reduce => return book.reduce(id, qty_arg(b.qty[i])?),
        OpKind::Modify => return book.modify(id, b.price[i], qty_arg(b.qty[i])?),
        _ => {}
    }
    // Same check order as the per-call API: time in force, side, then quantity.
    let tif = tif_arg(b.tif, i, if op == OpKind::Market { TimeInForce::Ioc } else { TimeInForce::Gtc })?;
    let side = Side::from_sign(i64::from(b.side[i]))?;
    let qty = qty_arg(b.qty[i])?;
    match op {
        OpKind::Limit => book.submit(OrderRequest {
            id,
            side,
            order_type: OrderType::Limit(b.price[i]),
            qty,
            tif,
            post_only: b.post_only.is_some_and(|p| p[i]),
        }),
        OpKind::Market => {
            book.submit(OrderRequest { id, side, order_type: OrderType::Market, qty, tif, post_only: false })
        }
        OpKind::Stop | OpKind::StopLimit => {
            let stop = b.stop_price.ok_or(BookError::InvalidOrder {
                order_id: id,
                why: "stop orders need the stop_price column",
            })?[i];
            let limit = (op == OpKind::StopLimit).then_some(b.price[i]);
            book.submit_stop(id, side, stop, limit, qty, tif)
        }
        OpKind::Cancel | OpKind::Reduce | OpKind::Modify => unreachable!("handled above"),
    }
}

/// Apply every op of `input` in order, appending outcomes, fills and events to `out`.
/// Fills and events of the batch are moved out of the book's own buffers.
pub fn apply_batch<L: LevelMap>(book: &mut Book<L>, input: &BatchInput<'_>, out: &mut BatchOutput) {
    let n = input.op.len();
    let fills_start = book.fills().len();
    let events_start = book.events().len();
    let mut fill_mark = fills_start;
    for i in 0..n {
        let r = one(book, input, i).unwrap_or_else(|e| {
            let qty = input.qty[i].max(0) as u64;
            Report { status: Status::Rejected, reason: e.reason(), filled: 0, remaining: qty }
        });
        out.status.push(r.status as u8);
        out.reason.push(r.reason as u8);
        out.filled.push(r.filled as i64);
        out.remaining.push(r.remaining as i64);
        // Only stamp the op index here; the fill columns are copied in bulk below.
        let nf = book.fills().len();
        if nf != fill_mark {
            out.fill_op.extend(std::iter::repeat_n(i as u32, nf - fill_mark));
            fill_mark = nf;
            if nf - fills_start > 4096 {
                drain_fills(book, fills_start, out);
                fill_mark = fills_start;
            }
        }
        let events = &book.events()[events_start + out.event_op.len()..];
        if !events.is_empty() {
            for e in events {
                out.event_op.push(i as u32);
                out.event_order_id.push(e.order_id);
                out.event_status.push(e.status as u8);
                out.event_reason.push(e.reason as u8);
                out.event_filled.push(e.filled as i64);
                out.event_remaining.push(e.remaining as i64);
            }
        }
    }
    drain_fills(book, fills_start, out);
    book.truncate_events(events_start);
}

/// Move the book's fills recorded since `start` into the output's fill columns.
fn drain_fills<L: LevelMap>(book: &mut Book<L>, start: usize, out: &mut BatchOutput) {
    let fills = &book.fills()[start..];
    out.fill_taker.extend(fills.iter().map(|f| f.taker));
    out.fill_maker.extend(fills.iter().map(|f| f.maker));
    out.fill_price.extend(fills.iter().map(|f| f.price));
    out.fill_qty.extend(fills.iter().map(|f| f.qty as i64));
    out.fill_maker_remaining.extend(fills.iter().map(|f| f.maker_remaining as i64));
    book.truncate_fills(start);
}
