//! `Feed` and `SimEngine`: the Python face of `fillforge_core::sim`.

use std::path::Path;

use fillforge_core::sim::{Engine, Feed, FeedMsg, SimError, UserEvent};
use fillforge_core::{Report, Side, TimeInForce};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::columns::{array, column};
use crate::errors::CoreErr;
use crate::guard::guarded;
use crate::trailing::trail_of;

const POISONED: &str = "this SimEngine hit an internal error earlier and refuses further use until reset()";

/// `(kind, order_id, price, qty, remaining, taker, reason, time_ns, msg)`; `msg` is -1 for
/// events of the user's own request.
type EventTuple = (u8, u64, i64, u64, u64, bool, u8, i64, i64);
type Outcome = (u8, u8, i64, i64);
type Columns = (
    Py<PyArray1<i64>>,
    Py<PyArray1<u8>>,
    Py<PyArray1<u64>>,
    Py<PyArray1<i8>>,
    Py<PyArray1<i64>>,
    Py<PyArray1<i64>>,
);

impl From<SimError> for CoreErr {
    fn from(e: SimError) -> Self {
        match e {
            SimError::Book(b) => CoreErr::Book(b),
            SimError::Trailing(t) => CoreErr::Trailing(t),
        }
    }
}

fn side_of(v: i64) -> Result<Side, CoreErr> {
    Ok(Side::from_sign(v)?)
}

fn tif_of(v: i64) -> Result<TimeInForce, CoreErr> {
    Ok(TimeInForce::from_code(v)?)
}

fn qty_of(v: i64) -> Result<u64, CoreErr> {
    u64::try_from(v).ok().filter(|&q| q > 0).ok_or(CoreErr::Book(
        fillforge_core::BookError::InvalidQuantity {
            field: "qty",
            value: i128::from(v),
            why: "must be positive",
        },
    ))
}

fn outcome(r: Report) -> Outcome {
    (r.status as u8, r.reason as u8, r.filled as i64, r.remaining as i64)
}

fn event_tuple(e: &UserEvent) -> EventTuple {
    let msg = if e.msg == u64::MAX { -1 } else { e.msg as i64 };
    (e.kind, e.order_id, e.price, e.qty, e.remaining, e.taker, e.reason as u8, e.time_ns, msg)
}

/// A replay's market data: normalised messages (and, for LOBSTER, the true book per message),
/// shared by every engine built on it.
#[pyclass(module = "fillforge._core", name = "Feed", frozen)]
pub struct PyFeed {
    feed: Feed,
}

#[pymethods]
impl PyFeed {
    /// Read a LOBSTER message/orderbook pair (plain or gzip); `time_offset_ns` is the day's
    /// midnight (New York) as UNIX epoch nanoseconds; prices become ticks of `price_div` units.
    #[staticmethod]
    #[pyo3(signature = (message_path, orderbook_path, time_offset_ns = 0, price_div = 1))]
    fn lobster(
        py: Python<'_>,
        message_path: &str,
        orderbook_path: &str,
        time_offset_ns: i64,
        price_div: i64,
    ) -> PyResult<Self> {
        let (m, o) = (Path::new(message_path), Path::new(orderbook_path));
        let feed =
            py.detach(|| Feed::lobster_files(m, o, time_offset_ns, price_div)).map_err(CoreErr::Replay)?;
        Ok(PyFeed { feed })
    }

    /// Build from equal-length columns (see `fillforge.sim.feeds` for the message kinds).
    #[staticmethod]
    fn from_columns(
        time_ns: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyAny>,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let wrap = CoreErr::Replay;
        let t = column::<i64>(time_ns, "time_ns", "int64", wrap)?;
        let k = column::<u8>(kind, "kind", "uint8", wrap)?;
        let id = column::<u64>(order_id, "order_id", "uint64", wrap)?;
        let s = column::<i8>(side, "side", "int8", wrap)?;
        let p = column::<i64>(price, "price", "int64", wrap)?;
        let q = column::<i64>(qty, "qty", "int64", wrap)?;
        let (t, k, id, s, p, q) =
            (t.as_slice()?, k.as_slice()?, id.as_slice()?, s.as_slice()?, p.as_slice()?, q.as_slice()?);
        let n = t.len();
        for (name, len) in [
            ("kind", k.len()),
            ("order_id", id.len()),
            ("side", s.len()),
            ("price", p.len()),
            ("qty", q.len()),
        ] {
            if len != n {
                return Err(CoreErr::Replay(format!("{name} has {len} rows but time_ns has {n}")).into());
            }
        }
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            let side = match s[i] {
                1 => Side::Buy,
                -1 => Side::Sell,
                // Quotes and trades of kinds that ignore the side may carry 0.
                0 => Side::Buy,
                v => return Err(CoreErr::Replay(format!("row {i}: side={v}: expected 1, -1 or 0")).into()),
            };
            let qty = u64::try_from(q[i])
                .map_err(|_| CoreErr::Replay(format!("row {i}: qty={}: negative", q[i])))?;
            rows.push(FeedMsg { time_ns: t[i], kind: k[i], order_id: id[i], side, price: p[i], qty });
        }
        let feed = Feed::from_rows(rows).map_err(|e| CoreErr::Replay(e.to_string()))?;
        Ok(PyFeed { feed })
    }

    fn __len__(&self) -> usize {
        self.feed.len()
    }

    /// Depth of the true-book snapshots (0 without them).
    #[getter]
    fn levels(&self) -> usize {
        self.feed.snapshots.as_ref().map_or(0, |s| s.levels)
    }

    /// The messages as columns `(time_ns, kind, order_id, side, price, qty)`.
    fn columns(&self, py: Python<'_>) -> Columns {
        let m = &self.feed.msgs;
        (
            array(py, m.iter().map(|x| x.time_ns).collect()),
            array(py, m.iter().map(|x| x.kind).collect()),
            array(py, m.iter().map(|x| x.order_id).collect()),
            array(py, m.iter().map(|x| x.side.sign()).collect()),
            array(py, m.iter().map(|x| x.price).collect()),
            array(py, m.iter().map(|x| x.qty as i64).collect()),
        )
    }
}

/// One instrument's simulated market: the feed replayed into a book, the user's orders in it.
#[pyclass(module = "fillforge._core", name = "SimEngine")]
pub struct PySimEngine {
    engine: Engine,
    poisoned: bool,
}

impl PySimEngine {
    fn alive(&self) -> PyResult<&Engine> {
        if self.poisoned {
            return Err(CoreErr::Internal(POISONED.into()).into());
        }
        Ok(&self.engine)
    }

    /// Run one core call; a panic poisons this object and surfaces as `InternalError`.
    fn guard<T>(&mut self, f: impl FnOnce(&mut Engine) -> Result<T, CoreErr>) -> PyResult<T> {
        self.alive()?;
        guarded(&mut self.engine, &mut self.poisoned, "simulator", f)
    }
}

#[pymethods]
impl PySimEngine {
    #[new]
    #[pyo3(signature = (feed, *, check = true))]
    fn new(feed: &PyFeed, check: bool) -> Self {
        PySimEngine { engine: Engine::new(feed.feed.clone(), check), poisoned: false }
    }

    /// Apply up to `max_messages` messages timed before `until_ns`; with `stop_on_user`, stop
    /// after the first that changed a user order. Returns how many were applied.
    #[pyo3(signature = (max_messages = u64::MAX, until_ns = i64::MAX, stop_on_user = true))]
    fn run(&mut self, max_messages: u64, until_ns: i64, stop_on_user: bool) -> PyResult<usize> {
        let n = usize::try_from(max_messages).unwrap_or(usize::MAX);
        self.guard(|e| Ok(e.run(n, until_ns, stop_on_user)))
    }

    #[getter]
    fn position(&self) -> PyResult<usize> {
        Ok(self.alive()?.position())
    }

    #[getter]
    fn done(&self) -> PyResult<bool> {
        Ok(self.alive()?.is_done())
    }

    #[getter]
    fn now(&self) -> PyResult<i64> {
        Ok(self.alive()?.now())
    }

    #[getter]
    fn next_time(&self) -> PyResult<Option<i64>> {
        Ok(self.alive()?.next_time())
    }

    #[getter]
    fn last_trade(&self) -> PyResult<Option<i64>> {
        Ok(self.alive()?.last_trade())
    }

    fn advance_to(&mut self, t: i64) -> PyResult<()> {
        self.guard(|e| {
            e.advance_to(t);
            Ok(())
        })
    }

    /// Apply one message that is not in the feed (a scripted price feed) at `time_ns`.
    fn apply(
        &mut self,
        time_ns: i64,
        kind: u8,
        order_id: u64,
        side: i64,
        price: i64,
        qty: i64,
    ) -> PyResult<()> {
        let side = if side == 0 { Side::Buy } else { side_of(side)? };
        let qty = u64::try_from(qty).map_err(|_| CoreErr::Replay(format!("qty={qty}: negative")))?;
        let m = FeedMsg { time_ns, kind, order_id, side, price, qty };
        self.guard(|e| e.apply_live(m).map_err(|err| CoreErr::Replay(err.to_string())))
    }

    /// Submit a market (`price` None) or limit order; returns `(status, reason, filled, remaining)`.
    #[pyo3(signature = (order_id, side, price, qty, tif = 0, post_only = false))]
    fn submit(
        &mut self,
        order_id: u64,
        side: i64,
        price: Option<i64>,
        qty: i64,
        tif: i64,
        post_only: bool,
    ) -> PyResult<Outcome> {
        self.guard(|e| {
            Ok(outcome(e.submit(order_id, side_of(side)?, price, qty_of(qty)?, tif_of(tif)?, post_only)?))
        })
    }

    #[pyo3(signature = (order_id, side, stop_price, qty, limit_price = None, tif = 0))]
    fn submit_stop(
        &mut self,
        order_id: u64,
        side: i64,
        stop_price: i64,
        qty: i64,
        limit_price: Option<i64>,
        tif: i64,
    ) -> PyResult<()> {
        self.guard(|e| {
            Ok(e.submit_stop(order_id, side_of(side)?, stop_price, limit_price, qty_of(qty)?, tif_of(tif)?)?)
        })
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (order_id, side, qty, *, trail_ticks = None, trail_bps = None, activation = None, limit_offset = None, tif = 0))]
    fn submit_trailing(
        &mut self,
        order_id: u64,
        side: i64,
        qty: i64,
        trail_ticks: Option<i64>,
        trail_bps: Option<u32>,
        activation: Option<i64>,
        limit_offset: Option<i64>,
        tif: i64,
    ) -> PyResult<()> {
        let trail = trail_of(trail_ticks, trail_bps)?;
        self.guard(|e| {
            Ok(e.submit_trailing(
                order_id,
                side_of(side)?,
                qty_of(qty)?,
                trail,
                activation,
                limit_offset,
                tif_of(tif)?,
            )?)
        })
    }

    /// Change a live trailing stop's trail (same kind), keeping its water mark.
    #[pyo3(signature = (order_id, *, trail_ticks = None, trail_bps = None))]
    fn amend_trailing(
        &mut self,
        order_id: u64,
        trail_ticks: Option<i64>,
        trail_bps: Option<u32>,
    ) -> PyResult<()> {
        let trail = trail_of(trail_ticks, trail_bps)?;
        self.guard(|e| Ok(e.amend_trailing(order_id, trail)?))
    }

    #[pyo3(signature = (order_id, side, qty, limit_price = None, *, close = false))]
    fn submit_auction(
        &mut self,
        order_id: u64,
        side: i64,
        qty: i64,
        limit_price: Option<i64>,
        close: bool,
    ) -> PyResult<()> {
        self.guard(|e| Ok(e.submit_auction(order_id, side_of(side)?, qty_of(qty)?, limit_price, close)?))
    }

    /// Cancel a live user order; returns its open quantity.
    fn cancel(&mut self, order_id: u64) -> PyResult<u64> {
        self.guard(|e| Ok(e.cancel(order_id)?))
    }

    fn modify(&mut self, order_id: u64, price: i64, qty: i64) -> PyResult<Outcome> {
        self.guard(|e| Ok(outcome(e.modify(order_id, price, qty_of(qty)?)?)))
    }

    fn expire_day(&mut self) -> PyResult<usize> {
        self.guard(|e| Ok(e.expire_day()))
    }

    /// User events since the last call, oldest first.
    fn take_events(&mut self) -> PyResult<Vec<EventTuple>> {
        self.guard(|e| Ok(e.take_events().iter().map(event_tuple).collect()))
    }

    #[pyo3(signature = (recorded_only = true))]
    fn best_bid(&self, recorded_only: bool) -> PyResult<Option<(i64, u64)>> {
        Ok(self.alive()?.best(Side::Buy, recorded_only))
    }

    #[pyo3(signature = (recorded_only = true))]
    fn best_ask(&self, recorded_only: bool) -> PyResult<Option<(i64, u64)>> {
        Ok(self.alive()?.best(Side::Sell, recorded_only))
    }

    #[pyo3(signature = (side, levels, recorded_only = true))]
    fn depth(&self, side: i64, levels: usize, recorded_only: bool) -> PyResult<Vec<(i64, u64)>> {
        Ok(self.alive()?.depth(side_of(side)?, levels, recorded_only))
    }

    /// `(side, price, open qty, qty ahead in its queue)` of a resting user order.
    fn user_order(&self, order_id: u64) -> PyResult<Option<(i8, i64, u64, u64)>> {
        Ok(self.alive()?.user_order(order_id).map(|(s, p, q, a)| (s.sign(), p, q, a)))
    }

    /// `(stop, water mark)` of a live trailing stop.
    fn trailing_state(&self, order_id: u64) -> PyResult<Option<(Option<i64>, Option<i64>)>> {
        Ok(self.alive()?.trailing_state(order_id))
    }

    #[getter]
    fn user_order_count(&self) -> PyResult<usize> {
        Ok(self.alive()?.user_order_count())
    }

    #[getter]
    fn book_len(&self) -> PyResult<usize> {
        Ok(self.alive()?.book_len())
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.alive()?.stats();
        let d = PyDict::new(py);
        d.set_item("messages", s.messages)?;
        d.set_item("user_fills", s.user_fills)?;
        d.set_item("user_filled_qty", s.user_filled_qty)?;
        d.set_item("unknown_order_refs", s.unknown_order_refs)?;
        d.set_item("checked_levels", s.checked_levels)?;
        d.set_item("mismatches", s.mismatches)?;
        d.set_item("adopted_levels", s.adopted_levels)?;
        Ok(d)
    }

    /// Back to the start of the feed, no user orders (also clears an internal-error state).
    fn reset(&mut self) {
        self.engine.reset();
        self.poisoned = false;
    }

    fn check_invariants(&self) -> PyResult<()> {
        self.alive()?.check_invariants().map_err(|m| CoreErr::Internal(m).into())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFeed>()?;
    m.add_class::<PySimEngine>()?;
    Ok(())
}
