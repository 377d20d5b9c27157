//! `Feed` and `SimEngine`: the Python face of `fillforge_core::sim`.

use std::path::Path;

use fillforge_core::book::MAX_ABS_PRICE;
use fillforge_core::sim::{Engine, Feed, FeedMsg, Top, UserEvent, WATCH_PRINT, WATCH_QUOTE, WATCH_USER};
use fillforge_core::{BookError, Side, TimeInForce};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::args;
use crate::columns::{array, column};
use crate::dicts::set_fields;
use crate::errors::{CoreErr, ReplayError};
use crate::guard::Guarded;
use crate::outcome::{outcome, Outcome};
use crate::trailing::{trail_args, TrailTerms};

/// `(kind, order_id, price, qty, remaining, taker, reason, time_ns, msg)`; `msg` is -1 for
/// events of the user's own request.
type EventTuple = (u8, u64, i64, u64, u64, bool, u8, i64, i64);
type Columns = (
    Py<PyArray1<i64>>,
    Py<PyArray1<u8>>,
    Py<PyArray1<u64>>,
    Py<PyArray1<i8>>,
    Py<PyArray1<i64>>,
    Py<PyArray1<i64>>,
);

const REPLAY_ERR: args::ErrFn = ReplayError::new_err;
const TIME_RANGE: &str = "[-2^63, 2^63)";

/// What `run_watched` answers: applied, now, changed, printed, moved, and the top's four numbers.
type Watched = (usize, i64, bool, bool, bool, i64, u64, i64, u64);

/// A watched run applies up to this many messages holding the GIL, then releases it.
const WATCHED_WITH_GIL: usize = 1024;

args::converters! {
    fn t_from_py -> i64 = int("t", TIME_RANGE, REPLAY_ERR);
    pub(crate) fn until_from_py -> i64 = int("until_ns", TIME_RANGE, REPLAY_ERR);
    fn stop_on_user_from_py -> bool = flag("stop_on_user", REPLAY_ERR);
    fn quotes_from_py -> bool = flag("quotes", REPLAY_ERR);
    fn prints_from_py -> bool = flag("prints", REPLAY_ERR);
    fn recorded_only_from_py -> bool = flag("recorded_only", REPLAY_ERR);
    fn check_from_py -> bool = flag("check", REPLAY_ERR);
    fn prevent_wash_from_py -> bool = flag("prevent_wash", REPLAY_ERR);
    fn close_from_py -> bool = flag("close", args::ORDER_ERR);
}

/// `max_messages`: a count in `[0, 2^64)`, as a `usize` (a count past its range: no limit).
pub(crate) fn max_messages_from_py(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    let n: u64 = args::int(obj, "max_messages", "[0, 2^64)", REPLAY_ERR)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The side of a feed message (`Feed.from_columns`, `SimEngine.apply`): 1 buy, -1 sell; 0, which
/// quotes and trades of kinds that ignore the side may carry, reads as buy.
fn feed_side(v: i64) -> Result<Side, String> {
    match v {
        0 | 1 => Ok(Side::Buy),
        -1 => Ok(Side::Sell),
        v => Err(format!("side={v}: expected 1, -1 or 0")),
    }
}

/// The quantity of a feed message, which may be 0 but not negative.
fn feed_qty(q: i64) -> Result<u64, String> {
    u64::try_from(q).map_err(|_| format!("qty={q}: negative"))
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
        let t = column::<i64>(time_ns, "time_ns", wrap)?;
        let k = column::<u8>(kind, "kind", wrap)?;
        let id = column::<u64>(order_id, "order_id", wrap)?;
        let s = column::<i8>(side, "side", wrap)?;
        let p = column::<i64>(price, "price", wrap)?;
        let q = column::<i64>(qty, "qty", wrap)?;
        let (t, k, id, s, p, q) = (t.slice(), k.slice(), id.slice(), s.slice(), p.slice(), q.slice());
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
            let row = |why: String| CoreErr::Replay(format!("row {i}: {why}"));
            let side = feed_side(i64::from(s[i])).map_err(row)?;
            let qty = feed_qty(q[i]).map_err(row)?;
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
    pub(crate) engine: Guarded<Engine>,
}

/// Names the component in the message of a panic caught in an engine (also in `MarketsLoop`).
pub(crate) const WHAT: &str = "simulator";

#[pymethods]
impl PySimEngine {
    /// Builds the engine (a pass over the feed) without holding the GIL.
    /// `prevent_wash` (default on) refuses a user order that would trade with the user's own
    /// resting order; off, they trade like any orders and both report their fill.
    #[new]
    #[pyo3(signature = (feed, *, check = true, prevent_wash = true))]
    fn new(
        py: Python<'_>,
        feed: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = check_from_py)] check: bool,
        #[pyo3(from_py_with = prevent_wash_from_py)] prevent_wash: bool,
    ) -> PyResult<Self> {
        let feed = feed.cast::<PyFeed>().map_err(|_| {
            ReplayError::new_err(format!("feed={}: expected a fillforge._core.Feed", feed.get_type()))
        })?;
        let feed = feed.get().feed.clone();
        let mut engine = py.detach(|| Engine::new(feed, check));
        engine.set_prevent_wash(prevent_wash);
        Ok(PySimEngine { engine: Guarded::new(engine, "SimEngine", WHAT) })
    }

    #[getter]
    fn prevent_wash(&self) -> PyResult<bool> {
        self.engine.read(Engine::prevent_wash)
    }

    /// Apply up to `max_messages` messages timed before `until_ns`; with `stop_on_user`, stop
    /// after the first that changed a user order. Returns how many were applied. The replay runs
    /// without the GIL: other Python threads run meanwhile (this engine stays borrowed).
    #[pyo3(signature = (max_messages = usize::MAX, until_ns = i64::MAX, stop_on_user = true))]
    fn run(
        &mut self,
        py: Python<'_>,
        #[pyo3(from_py_with = max_messages_from_py)] max_messages: usize,
        #[pyo3(from_py_with = until_from_py)] until_ns: i64,
        #[pyo3(from_py_with = stop_on_user_from_py)] stop_on_user: bool,
    ) -> PyResult<usize> {
        self.engine.detached(py, |e| Ok(e.run(max_messages, until_ns, stop_on_user)))
    }

    /// Apply up to `max_messages` messages timed before `until_ns`, stopping after the first
    /// that changed a user order, printed (with `prints`), or ended an instant with a recorded
    /// top of the book other than the one last handed out (with `quotes`). Returns `(applied,
    /// now, changed, printed, moved, bid_price, bid_qty, ask_price, ask_qty)`: the engine's
    /// clock after the run, `changed` when the last message changed a user order (its events
    /// wait), `printed` when it printed, `moved` when it moved the top, and then the new top
    /// (a side with qty 0 is empty; all four are 0 when not `moved`). Flat, so a quote costs
    /// one tuple. A long run releases the GIL.
    #[pyo3(signature = (max_messages = usize::MAX, until_ns = i64::MAX, quotes = true, prints = true))]
    fn run_watched(
        &mut self,
        py: Python<'_>,
        #[pyo3(from_py_with = max_messages_from_py)] max_messages: usize,
        #[pyo3(from_py_with = until_from_py)] until_ns: i64,
        #[pyo3(from_py_with = quotes_from_py)] quotes: bool,
        #[pyo3(from_py_with = prints_from_py)] prints: bool,
    ) -> PyResult<Watched> {
        // Most watched runs stop within a few messages (a quote stream moves the top at nearly
        // every instant): those keep the GIL, which costs less than releasing it. A run that
        // goes on past WATCHED_WITH_GIL messages releases it for the rest.
        let first = max_messages.min(WATCHED_WITH_GIL);
        let (mut applied, mut flags) =
            self.engine.guard(|e| Ok(e.run_watched(first, until_ns, quotes, prints)))?;
        if flags == 0 && applied == first && first < max_messages {
            let rest = max_messages - first;
            let (more, f) =
                self.engine.detached(py, |e| Ok(e.run_watched(rest, until_ns, quotes, prints)))?;
            applied += more;
            flags = f;
        }
        let moved = flags & WATCH_QUOTE != 0;
        let (now, ((bp, bq), (ap, aq))) = self.engine.read(|e| {
            let top = if moved {
                let (bid, ask) = e.top();
                (bid.unwrap_or((0, 0)), ask.unwrap_or((0, 0)))
            } else {
                ((0, 0), (0, 0))
            };
            (e.now(), top)
        })?;
        Ok((applied, now, flags & WATCH_USER != 0, flags & WATCH_PRINT != 0, moved, bp, bq, ap, aq))
    }

    /// The recorded top of the book `(bid, ask)` if it moved since it was last handed out (by
    /// `run_watched` or this call), else None.
    fn take_top_change(&mut self) -> PyResult<Option<Top>> {
        self.engine.guard(|e| Ok(e.take_top_change()))
    }

    /// Take the recorded top as it stands as handed out: report changes from now on.
    fn reset_watched_top(&mut self) -> PyResult<()> {
        self.engine.guard(|e| {
            e.reset_watched_top();
            Ok(())
        })
    }

    #[getter]
    fn position(&self) -> PyResult<usize> {
        self.engine.read(Engine::position)
    }

    #[getter]
    fn done(&self) -> PyResult<bool> {
        self.engine.read(Engine::is_done)
    }

    #[getter]
    fn now(&self) -> PyResult<i64> {
        self.engine.read(Engine::now)
    }

    #[getter]
    fn next_time(&self) -> PyResult<Option<i64>> {
        self.engine.read(Engine::next_time)
    }

    #[getter]
    fn last_trade(&self) -> PyResult<Option<i64>> {
        self.engine.read(Engine::last_trade)
    }

    fn advance_to(&mut self, #[pyo3(from_py_with = t_from_py)] t: i64) -> PyResult<()> {
        self.engine.guard(|e| {
            e.advance_to(t);
            Ok(())
        })
    }

    /// Apply one message that is not in the feed (a scripted price feed) at `time_ns`.
    fn apply(
        &mut self,
        time_ns: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyAny>,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let time_ns = args::int(time_ns, "time_ns", TIME_RANGE, REPLAY_ERR)?;
        let kind: u8 = args::int(kind, "kind", "[0, 256)", REPLAY_ERR)?;
        let order_id: u64 = args::int(order_id, "order_id", "[0, 2^64)", REPLAY_ERR)?;
        let side = feed_side(args::int(side, "side", "{1, -1, 0}", REPLAY_ERR)?).map_err(CoreErr::Replay)?;
        let price: i64 = args::int(price, "price", "[-2^62, 2^62]", REPLAY_ERR)?;
        let qty = feed_qty(args::int(qty, "qty", "[0, 2^62)", REPLAY_ERR)?).map_err(CoreErr::Replay)?;
        let m = FeedMsg { time_ns, kind, order_id, side, price, qty };
        self.engine.guard(|e| e.apply_live(m).map_err(|err| CoreErr::Replay(err.to_string())))
    }

    /// Submit a market (`price` None) or limit order; returns `(status, reason, filled, remaining)`.
    #[pyo3(
        signature = (order_id, side, price, qty, tif = TimeInForce::Gtc, post_only = false),
        text_signature = "(self, order_id, side, price, qty, tif=0, post_only=False)"
    )]
    fn submit(
        &mut self,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        price: Option<&Bound<'_, PyAny>>,
        qty: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::tif)] tif: TimeInForce,
        #[pyo3(from_py_with = args::post_only)] post_only: bool,
    ) -> PyResult<Outcome> {
        let id = args::order_id(order_id)?;
        let side = args::side(side)?;
        let price = args::opt_price(price)?;
        let qty = args::qty(qty)?;
        self.engine.guard(|e| Ok(outcome(e.submit(id, side, price, qty, tif, post_only)?)))
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
    ) -> PyResult<()> {
        let s = args::stop_order(order_id, side, stop_price, qty, limit_price)?;
        self.engine.guard(|e| Ok(e.submit_stop(s.id, s.side, s.stop, s.limit, s.qty, tif)?))
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(
        signature = (order_id, side, qty, *, trail_ticks = None, trail_bps = None, activation = None, limit_offset = None, tif = TimeInForce::Gtc),
        text_signature = "(self, order_id, side, qty, *, trail_ticks=None, trail_bps=None, activation=None, limit_offset=None, tif=0)"
    )]
    fn submit_trailing(
        &mut self,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        trail_ticks: Option<&Bound<'_, PyAny>>,
        trail_bps: Option<&Bound<'_, PyAny>>,
        activation: Option<&Bound<'_, PyAny>>,
        limit_offset: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = args::tif)] tif: TimeInForce,
    ) -> PyResult<()> {
        let (id, side, qty) = args::new_order(order_id, side, qty)?;
        let t = TrailTerms::from_py(trail_ticks, trail_bps, activation, limit_offset)?;
        self.engine
            .guard(|e| Ok(e.submit_trailing(id, side, qty, t.trail, t.activation, t.limit_offset, tif)?))
    }

    /// Change a live trailing stop's trail (same kind), keeping its water mark.
    #[pyo3(signature = (order_id, *, trail_ticks = None, trail_bps = None))]
    fn amend_trailing(
        &mut self,
        #[pyo3(from_py_with = args::order_id)] order_id: u64,
        trail_ticks: Option<&Bound<'_, PyAny>>,
        trail_bps: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let trail = trail_args(trail_ticks, trail_bps)?;
        self.engine.guard(|e| Ok(e.amend_trailing(order_id, trail)?))
    }

    #[pyo3(signature = (order_id, side, qty, limit_price = None, *, close = false))]
    fn submit_auction(
        &mut self,
        order_id: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        limit_price: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = close_from_py)] close: bool,
    ) -> PyResult<()> {
        let (id, side, qty) = args::new_order(order_id, side, qty)?;
        let limit = args::limit_price(limit_price)?;
        if let Some(price) = limit.filter(|p| !(-MAX_ABS_PRICE..=MAX_ABS_PRICE).contains(p)) {
            return Err(CoreErr::Book(BookError::InvalidPrice { field: "limit_price", price }).into());
        }
        self.engine.guard(|e| Ok(e.submit_auction(id, side, qty, limit, close)?))
    }

    /// Cancel a live user order; returns its open quantity.
    fn cancel(&mut self, #[pyo3(from_py_with = args::order_id)] order_id: u64) -> PyResult<u64> {
        self.engine.guard(|e| Ok(e.cancel(order_id)?))
    }

    fn modify(
        &mut self,
        #[pyo3(from_py_with = args::order_id)] order_id: u64,
        #[pyo3(from_py_with = args::price)] price: i64,
        #[pyo3(from_py_with = args::qty)] qty: u64,
    ) -> PyResult<Outcome> {
        self.engine.guard(|e| Ok(outcome(e.modify(order_id, price, qty)?)))
    }

    fn expire_day(&mut self) -> PyResult<usize> {
        self.engine.guard(|e| Ok(e.expire_day()))
    }

    /// User events since the last call, oldest first.
    fn take_events(&mut self) -> PyResult<Vec<EventTuple>> {
        self.engine.guard(|e| Ok(e.take_events().iter().map(event_tuple).collect()))
    }

    #[pyo3(signature = (recorded_only = true))]
    fn best_bid(
        &self,
        #[pyo3(from_py_with = recorded_only_from_py)] recorded_only: bool,
    ) -> PyResult<Option<(i64, u64)>> {
        self.engine.read(|x| x.best(Side::Buy, recorded_only))
    }

    #[pyo3(signature = (recorded_only = true))]
    fn best_ask(
        &self,
        #[pyo3(from_py_with = recorded_only_from_py)] recorded_only: bool,
    ) -> PyResult<Option<(i64, u64)>> {
        self.engine.read(|x| x.best(Side::Sell, recorded_only))
    }

    #[pyo3(signature = (side, levels, recorded_only = true))]
    fn depth(
        &self,
        side: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::levels)] levels: usize,
        #[pyo3(from_py_with = recorded_only_from_py)] recorded_only: bool,
    ) -> PyResult<Vec<(i64, u64)>> {
        let side = args::side(side)?;
        self.engine.read(|x| x.depth(side, levels, recorded_only))
    }

    /// `(side, price, open qty, qty ahead in its queue)` of a resting user order.
    fn user_order(
        &self,
        #[pyo3(from_py_with = args::order_id)] order_id: u64,
    ) -> PyResult<Option<(i8, i64, u64, u64)>> {
        self.engine.read(|x| x.user_order(order_id).map(|(s, p, q, a)| (s.sign(), p, q, a)))
    }

    /// `(stop, water mark)` of a live trailing stop.
    fn trailing_state(
        &self,
        #[pyo3(from_py_with = args::order_id)] order_id: u64,
    ) -> PyResult<Option<(Option<i64>, Option<i64>)>> {
        self.engine.read(|x| x.trailing_state(order_id))
    }

    #[getter]
    fn user_order_count(&self) -> PyResult<usize> {
        self.engine.read(Engine::user_order_count)
    }

    #[getter]
    fn book_len(&self) -> PyResult<usize> {
        self.engine.read(Engine::book_len)
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.engine.read(Engine::stats)?;
        let d = PyDict::new(py);
        set_fields!(d, s; messages, user_fills, user_filled_qty, unknown_order_refs);
        set_fields!(d, s; checked_levels, mismatches, adopted_levels);
        Ok(d)
    }

    /// Back to the start of the feed, no user orders (also clears an internal-error state).
    /// Rebuilds the engine without holding the GIL.
    fn reset(&mut self, py: Python<'_>) {
        py.detach(|| self.engine.reset(Engine::reset));
    }

    fn check_invariants(&self) -> PyResult<()> {
        self.engine.read(Engine::check_invariants)?.map_err(|m| CoreErr::Internal(m).into())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFeed>()?;
    m.add_class::<PySimEngine>()?;
    Ok(())
}
