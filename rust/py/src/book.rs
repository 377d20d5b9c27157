//! `OrderBook` and `BatchResult`: the Python face of `fillforge_core::OrderBook`.

use fillforge_core::batch::{apply_batch, BatchInput, BatchOutput};
use fillforge_core::book::MAX_CAPACITY;
use fillforge_core::{
    BookConfig, BookError, OrderBook, OrderRequest, OrderType, Reason, Side, Status, TimeInForce,
};
use numpy::{PyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::args;
use crate::columns::{array, column, opt_column, Column};
use crate::errors::{CoreErr, InvalidQuantityError, PriceOffGridError};
use crate::guard::Guarded;
use crate::outcome::{outcome, Outcome};

type I64s = Py<PyArray1<i64>>;
type U64s = Py<PyArray1<u64>>;
type U8s = Py<PyArray1<u8>>;
/// `(side, price, remaining, queue_position, qty_ahead)`.
type OrderTuple = (i8, i64, i64, u32, i64);

args::converters! {
    fn tick_from_py -> i64 = positive("tick", PriceOffGridError::new_err);
}

fn lot_from_py(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    Ok(args::positive(obj, "lot", InvalidQuantityError::new_err)? as u64)
}

/// Any non-negative integer that fits; `try_with_capacity` refuses more than `MAX_CAPACITY`.
fn capacity_from_py(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    args::size(obj, "capacity", &format!("[0, {MAX_CAPACITY}]"))
}

/// The request `submit_limit` makes from its arguments, converted in the order the book checks
/// them (after `tif` and `post_only`, which pyo3 converts with the arguments).
fn limit_request(
    order_id: &Bound<'_, PyAny>,
    side: &Bound<'_, PyAny>,
    price: &Bound<'_, PyAny>,
    qty: &Bound<'_, PyAny>,
    tif: TimeInForce,
    post_only: bool,
) -> PyResult<OrderRequest> {
    Ok(OrderRequest {
        id: args::order_id(order_id)?,
        side: args::side(side)?,
        order_type: OrderType::Limit(args::price(price)?),
        qty: args::qty(qty)?,
        tif,
        post_only,
    })
}

/// An L3 price-time order book over integer ticks and lots.
#[pyclass(module = "fillforge._core", name = "OrderBook")]
pub struct PyOrderBook {
    book: Guarded<OrderBook>,
}

/// Outcomes and fills of one `OrderBook.apply_batch` call, as numpy arrays.
#[pyclass(module = "fillforge._core", name = "BatchResult", frozen, get_all)]
pub struct PyBatchResult {
    status: Py<PyArray1<u8>>,
    reason: Py<PyArray1<u8>>,
    filled: Py<PyArray1<i64>>,
    remaining: Py<PyArray1<i64>>,
    fill_op: Py<PyArray1<u32>>,
    fill_taker: Py<PyArray1<u64>>,
    fill_maker: Py<PyArray1<u64>>,
    fill_price: Py<PyArray1<i64>>,
    fill_qty: Py<PyArray1<i64>>,
    fill_maker_remaining: Py<PyArray1<i64>>,
    event_op: Py<PyArray1<u32>>,
    event_order_id: Py<PyArray1<u64>>,
    event_status: Py<PyArray1<u8>>,
    event_reason: Py<PyArray1<u8>>,
    event_filled: Py<PyArray1<i64>>,
    event_remaining: Py<PyArray1<i64>>,
}

impl PyBatchResult {
    fn from_output(py: Python<'_>, o: BatchOutput) -> Self {
        PyBatchResult {
            status: array(py, o.status),
            reason: array(py, o.reason),
            filled: array(py, o.filled),
            remaining: array(py, o.remaining),
            fill_op: array(py, o.fill_op),
            fill_taker: array(py, o.fill_taker),
            fill_maker: array(py, o.fill_maker),
            fill_price: array(py, o.fill_price),
            fill_qty: array(py, o.fill_qty),
            fill_maker_remaining: array(py, o.fill_maker_remaining),
            event_op: array(py, o.event_op),
            event_order_id: array(py, o.event_order_id),
            event_status: array(py, o.event_status),
            event_reason: array(py, o.event_reason),
            event_filled: array(py, o.event_filled),
            event_remaining: array(py, o.event_remaining),
        }
    }
}

#[pymethods]
impl PyBatchResult {
    fn __len__(&self, py: Python<'_>) -> usize {
        self.status.bind(py).len()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "BatchResult(ops={}, fills={}, events={})",
            self.status.bind(py).len(),
            self.fill_qty.bind(py).len(),
            self.event_status.bind(py).len()
        )
    }
}

#[pymethods]
impl PyOrderBook {
    #[new]
    #[pyo3(signature = (*, tick = 1, lot = 1, capacity = 0))]
    fn new(
        #[pyo3(from_py_with = tick_from_py)] tick: i64,
        #[pyo3(from_py_with = lot_from_py)] lot: u64,
        #[pyo3(from_py_with = capacity_from_py)] capacity: usize,
    ) -> PyResult<Self> {
        let cfg = BookConfig { tick, lot };
        let book = OrderBook::try_with_capacity(cfg, capacity).map_err(CoreErr::from)?;
        Ok(PyOrderBook { book: Guarded::new(book, "OrderBook", "order book") })
    }

    #[getter]
    fn tick(&self) -> i64 {
        self.book.peek().config().tick
    }

    #[getter]
    fn lot(&self) -> i64 {
        self.book.peek().config().lot as i64
    }

    #[pyo3(
        signature = (order_id, side, price, qty, tif = TimeInForce::Gtc, post_only = false),
        text_signature = "(self, order_id, side, price, qty, tif=0, post_only=False)"
    )]
    fn submit_limit(
        &mut self,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::tif)] tif: TimeInForce,
        #[pyo3(from_py_with = args::post_only)] post_only: bool,
    ) -> PyResult<Outcome> {
        let req = limit_request(order_id, side, price, qty, tif, post_only)?;
        self.book.guard(|b| Ok(outcome(b.submit(req)?)))
    }

    #[pyo3(
        signature = (order_id, side, qty, tif = TimeInForce::Ioc),
        text_signature = "(self, order_id, side, qty, tif=2)"
    )]
    fn submit_market(
        &mut self,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::tif)] tif: TimeInForce,
    ) -> PyResult<Outcome> {
        let (id, side, qty) = args::new_order(order_id, side, qty)?;
        let req = OrderRequest { id, side, order_type: OrderType::Market, qty, tif, post_only: false };
        self.book.guard(|b| Ok(outcome(b.submit(req)?)))
    }

    #[pyo3(
        signature = (order_id, side, stop_price, qty, limit_price = None, tif = TimeInForce::Gtc),
        text_signature = "(self, order_id, side, stop_price, qty, limit_price=None, tif=0)"
    )]
    fn submit_stop(
        &mut self,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        stop_price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        limit_price: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = args::tif)] tif: TimeInForce,
    ) -> PyResult<Outcome> {
        let s = args::stop_order(order_id, side, stop_price, qty, limit_price)?;
        self.book.guard(|b| Ok(outcome(b.submit_stop(s.id, s.side, s.stop, s.limit, s.qty, tif)?)))
    }

    fn cancel(&mut self, #[pyo3(from_py_with = args::order_id)] order_id: u64) -> PyResult<Outcome> {
        self.book.guard(|b| Ok(outcome(b.cancel(order_id)?)))
    }

    /// `cancel` for hot loops: an unknown id gives the outcome `(REJECTED, UNKNOWN_ORDER, 0, 0)`
    /// instead of raising (raising costs more than the cancel itself).
    fn try_cancel(&mut self, #[pyo3(from_py_with = args::order_id)] order_id: u64) -> PyResult<Outcome> {
        self.book.guard(|b| match b.cancel(order_id) {
            Ok(r) => Ok(outcome(r)),
            Err(BookError::UnknownOrder { .. }) => {
                Ok((Status::Rejected as u8, Reason::UnknownOrder as u8, 0, 0))
            }
            Err(e) => Err(e.into()),
        })
    }

    fn reduce(
        &mut self,
        #[pyo3(from_py_with = args::order_id)] order_id: u64,
        #[pyo3(from_py_with = args::qty)] qty: u64,
    ) -> PyResult<Outcome> {
        self.book.guard(|b| Ok(outcome(b.reduce(order_id, qty)?)))
    }

    fn modify(
        &mut self,
        #[pyo3(from_py_with = args::order_id)] order_id: u64,
        #[pyo3(from_py_with = args::price)] price: i64,
        #[pyo3(from_py_with = args::qty)] qty: u64,
    ) -> PyResult<Outcome> {
        self.book.guard(|b| Ok(outcome(b.modify(order_id, price, qty)?)))
    }

    fn add_resting(
        &mut self,
        #[pyo3(from_py_with = args::order_id)] order_id: u64,
        #[pyo3(from_py_with = args::side)] side: Side,
        #[pyo3(from_py_with = args::price)] price: i64,
        #[pyo3(from_py_with = args::qty)] qty: u64,
    ) -> PyResult<()> {
        self.book.guard(|b| Ok(b.add_resting(order_id, side, price, qty)?))
    }

    fn expire_day(&mut self) -> PyResult<usize> {
        self.book.guard(|b| Ok(b.expire_day()))
    }

    #[getter]
    fn get_matching(&self) -> bool {
        self.book.peek().matching()
    }

    #[setter]
    fn set_matching(&mut self, on: &Bound<'_, PyAny>) -> PyResult<()> {
        let on = args::flag(on, "matching", args::ORDER_ERR)?;
        self.book.guard(|b| {
            b.set_matching(on);
            Ok(())
        })
    }

    fn best_bid(&self) -> PyResult<Option<(i64, i64)>> {
        self.book.read(|x| x.best(Side::Buy).map(|(p, q)| (p, q as i64)))
    }

    fn best_ask(&self) -> PyResult<Option<(i64, i64)>> {
        self.book.read(|x| x.best(Side::Sell).map(|(p, q)| (p, q as i64)))
    }

    /// Top `levels` price levels of `side`: (prices, quantities, order counts) as int64 arrays.
    fn depth(
        &self,
        py: Python<'_>,
        side: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::levels)] levels: usize,
    ) -> PyResult<(I64s, I64s, I64s)> {
        let side = args::side(side)?;
        let (p, q, c) = self.book.read(|book| {
            let n = levels.min(book.level_count(side));
            let (mut p, mut q, mut c) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            for l in book.depth(side).take(n) {
                p.push(l.price);
                q.push(l.total as i64);
                c.push(i64::from(l.count));
            }
            (p, q, c)
        })?;
        Ok((array(py, p), array(py, q), array(py, c)))
    }

    /// `(side, price, remaining, queue_position, qty_ahead)` of a resting order, or None.
    fn order(&self, #[pyo3(from_py_with = args::order_id)] order_id: u64) -> PyResult<Option<OrderTuple>> {
        self.book.read(|b| {
            b.order(order_id)
                .map(|o| (o.side.sign(), o.price, o.remaining as i64, o.queue_position, o.qty_ahead as i64))
        })
    }

    fn volume_at(
        &self,
        side: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::price)] price: i64,
    ) -> PyResult<i64> {
        let side = args::side(side)?;
        self.book.read(|x| x.volume_at(side, price) as i64)
    }

    fn level_count(&self, #[pyo3(from_py_with = args::side)] side: Side) -> PyResult<usize> {
        self.book.read(|x| x.level_count(side))
    }

    fn is_stop_pending(&self, #[pyo3(from_py_with = args::order_id)] order_id: u64) -> PyResult<bool> {
        self.book.read(|x| x.is_stop_pending(order_id))
    }

    fn __len__(&self) -> PyResult<usize> {
        self.book.read(OrderBook::len)
    }

    #[getter]
    fn order_count(&self) -> PyResult<usize> {
        self.book.read(OrderBook::len)
    }

    #[getter]
    fn stop_count(&self) -> PyResult<usize> {
        self.book.read(OrderBook::stop_count)
    }

    #[getter]
    fn last_trade_price(&self) -> PyResult<Option<i64>> {
        self.book.read(OrderBook::last_trade_price)
    }

    #[getter]
    fn fill_count(&self) -> PyResult<usize> {
        self.book.read(|x| x.fills().len())
    }

    /// Fills since the last call as (taker, maker, price, qty, maker_remaining) arrays; clears them.
    fn take_fills(&mut self, py: Python<'_>) -> PyResult<(U64s, U64s, I64s, I64s, I64s)> {
        self.book.guard(|b| {
            let f = b.fills();
            let out = (
                array(py, f.iter().map(|x| x.taker).collect()),
                array(py, f.iter().map(|x| x.maker).collect()),
                array(py, f.iter().map(|x| x.price).collect()),
                array(py, f.iter().map(|x| x.qty as i64).collect()),
                array(py, f.iter().map(|x| x.maker_remaining as i64).collect()),
            );
            b.clear_fills();
            Ok(out)
        })
    }

    /// Events since the last call as (order_id, status, reason, filled, remaining) arrays; clears them.
    fn take_events(&mut self, py: Python<'_>) -> PyResult<(U64s, U8s, U8s, I64s, I64s)> {
        self.book.guard(|b| {
            let e = b.events();
            let out = (
                array(py, e.iter().map(|x| x.order_id).collect()),
                array(py, e.iter().map(|x| x.status as u8).collect()),
                array(py, e.iter().map(|x| x.reason as u8).collect()),
                array(py, e.iter().map(|x| x.filled as i64).collect()),
                array(py, e.iter().map(|x| x.remaining as i64).collect()),
            );
            b.clear_events();
            Ok(out)
        })
    }

    /// Apply a whole batch of operations given as numpy columns (see the stub for dtypes).
    #[pyo3(signature = (op, order_id, side, price, qty, *, tif = None, stop_price = None, post_only = None))]
    #[allow(clippy::too_many_arguments)]
    fn apply_batch<'py>(
        &mut self,
        py: Python<'py>,
        op: &Bound<'py, PyAny>,
        order_id: &Bound<'py, PyAny>,
        side: &Bound<'py, PyAny>,
        price: &Bound<'py, PyAny>,
        qty: &Bound<'py, PyAny>,
        tif: Option<&Bound<'py, PyAny>>,
        stop_price: Option<&Bound<'py, PyAny>>,
        post_only: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyBatchResult> {
        let wrap = CoreErr::Batch;
        let op = column::<u8>(op, "op", wrap)?;
        let order_id = column::<u64>(order_id, "order_id", wrap)?;
        let side = column::<i8>(side, "side", wrap)?;
        let price = column::<i64>(price, "price", wrap)?;
        let qty = column::<i64>(qty, "qty", wrap)?;
        let tif = opt_column::<u8>(tif, "tif", wrap)?;
        let stop_price = opt_column::<i64>(stop_price, "stop_price", wrap)?;
        let post_only = opt_column::<bool>(post_only, "post_only", wrap)?;
        let input = BatchInput {
            op: op.slice(),
            order_id: order_id.slice(),
            side: side.slice(),
            price: price.slice(),
            qty: qty.slice(),
            tif: tif.as_ref().map(Column::slice),
            stop_price: stop_price.as_ref().map(Column::slice),
            post_only: post_only.as_ref().map(Column::slice),
        };
        let n = input.len().map_err(|(name, len, want)| {
            CoreErr::Batch(format!("{name}: length {len} differs from op's length {want}"))
        })?;
        let output = self.book.detached(py, |b| {
            let mut out = BatchOutput::with_capacity(n);
            apply_batch(b, &input, &mut out);
            Ok(out)
        })?;
        Ok(PyBatchResult::from_output(py, output))
    }

    /// Remove every order, fill and event (keeps allocated capacity).
    fn reset(&mut self) -> PyResult<()> {
        self.book.reset(OrderBook::reset);
        Ok(())
    }

    /// Baseline for benchmarks: a method call that does nothing.
    fn _noop(&self) {}

    /// Baseline for benchmarks: the same arguments and result shape as `submit_limit`, no work.
    #[pyo3(
        signature = (order_id, side, price, qty, tif = TimeInForce::Gtc, post_only = false),
        text_signature = "(self, order_id, side, price, qty, tif=0, post_only=False)"
    )]
    fn _noop_args(
        &self,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::tif)] tif: TimeInForce,
        #[pyo3(from_py_with = args::post_only)] post_only: bool,
    ) -> PyResult<Outcome> {
        let req = limit_request(order_id, side, price, qty, tif, post_only)?;
        Ok((req.side as u8, 0, req.id as i64, req.qty as i64))
    }

    /// Test hook: make the next core call panic, to prove a panic becomes `InternalError`.
    fn _panic_for_test(&mut self) -> PyResult<()> {
        self.book.panic_for_test()
    }

    fn __repr__(&self) -> String {
        format!(
            "OrderBook(orders={}, bid={:?}, ask={:?})",
            self.book.peek().len(),
            self.book.peek().best(Side::Buy),
            self.book.peek().best(Side::Sell)
        )
    }
}
