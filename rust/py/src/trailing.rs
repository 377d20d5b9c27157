//! `TrailingStops`: the Python face of `fillforge_core::TrailingStops`.

use fillforge_core::trailing::MAX_INSTRUMENTS;
use fillforge_core::{
    BreakEven, StopSide, StopSpec, StopState, Trail, TrailingError, TrailingStops, Trigger,
};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::args;
use crate::columns::{array, column};
use crate::errors::{CoreErr, TrailingStopError};
use crate::guard::Guarded;

type U64s = Py<PyArray1<u64>>;
type I64s = Py<PyArray1<i64>>;

const TRAILING_ERR: args::ErrFn = TrailingStopError::new_err;
const PRICE_RANGE: &str = "[-2^61, 2^61]";
/// Builds the error of an update column with the wrong dtype or shape.
const WRAP: fn(String) -> CoreErr = CoreErr::TrailingBatch;

fn side_arg(obj: &Bound<'_, PyAny>) -> PyResult<StopSide> {
    match args::int::<i64>(obj, "side", "{-1, 1}", TRAILING_ERR)? {
        -1 => Ok(StopSide::Sell),
        1 => Ok(StopSide::Buy),
        side => {
            Err(TrailingStopError::new_err(format!("side={side}: expected -1 (sell stop) or 1 (buy stop)")))
        }
    }
}

args::converters! {
    fn id_arg -> u64 = int("id", "[0, 2^64)", TRAILING_ERR);
    fn lock_from_py -> i64 = int("breakeven_lock", "[0, breakeven_profit)", TRAILING_ERR);
}

/// An optional price in ticks (the core checks the range +/-2^61).
fn trail_price(obj: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Option<i64>> {
    args::opt_int(obj, field, PRICE_RANGE, TRAILING_ERR)
}

/// Exactly one of `trail_ticks` and `trail_bps` (the core checks their ranges).
pub(crate) fn trail_args(
    trail_ticks: Option<&Bound<'_, PyAny>>,
    trail_bps: Option<&Bound<'_, PyAny>>,
) -> PyResult<Trail> {
    let ticks: Option<i64> = args::opt_int(trail_ticks, "trail_ticks", "[1, 2^61]", TRAILING_ERR)?;
    let bps: Option<u32> = args::opt_int(trail_bps, "trail_bps", "[1, 10000]", TRAILING_ERR)?;
    match (ticks, bps) {
        (Some(t), None) => Ok(Trail::Ticks(t)),
        (None, Some(b)) => Ok(Trail::Bps(b)),
        _ => Err(TrailingStopError::new_err(format!(
            "trail_ticks={ticks:?}, trail_bps={bps:?}: give exactly one of trail_ticks and trail_bps"
        ))),
    }
}

/// The terms of a trailing stop that `TrailingStops.add` and `SimEngine.submit_trailing` share:
/// its trail (exactly one of `trail_ticks` and `trail_bps`), `activation` and `limit_offset`.
pub(crate) struct TrailTerms {
    pub trail: Trail,
    pub activation: Option<i64>,
    pub limit_offset: Option<i64>,
}

impl TrailTerms {
    pub fn from_py(
        trail_ticks: Option<&Bound<'_, PyAny>>,
        trail_bps: Option<&Bound<'_, PyAny>>,
        activation: Option<&Bound<'_, PyAny>>,
        limit_offset: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Ok(TrailTerms {
            trail: trail_args(trail_ticks, trail_bps)?,
            activation: trail_price(activation, "activation")?,
            limit_offset: args::opt_int(limit_offset, "limit_offset", "[0, 2^61]", TRAILING_ERR)?,
        })
    }
}

fn breakeven_of(entry: Option<i64>, profit: Option<i64>, lock: i64) -> Result<Option<BreakEven>, CoreErr> {
    match (entry, profit) {
        (Some(entry), Some(profit)) => Ok(Some(BreakEven { entry, profit, lock })),
        (None, None) if lock == 0 => Ok(None),
        _ => Err(CoreErr::TrailingBatch(format!(
            "breakeven_entry={entry:?}, breakeven_profit={profit:?}, breakeven_lock={lock}: \
             give breakeven_entry and breakeven_profit together (breakeven_lock only with them)"
        ))),
    }
}

fn n_instruments_from_py(obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    args::size(obj, "n_instruments", &format!("[0, {MAX_INSTRUMENTS}]"))
}

/// `(id, instrument, side, trail_ticks, trail_bps, activation, limit_offset, breakeven, armed, hwm,
/// stop, breakeven_active)`, `breakeven` being `(entry, profit, lock)` or None.
type StateTuple = (
    u64,
    u32,
    i8,
    Option<i64>,
    Option<u32>,
    Option<i64>,
    Option<i64>,
    Option<(i64, i64, i64)>,
    bool,
    Option<i64>,
    Option<i64>,
    bool,
);

fn state_tuple(s: StopState) -> StateTuple {
    let (t, b) = match s.spec.trail {
        Trail::Ticks(t) => (Some(t), None),
        Trail::Bps(b) => (None, Some(b)),
    };
    let side = if s.spec.side == StopSide::Sell { -1 } else { 1 };
    let be = s.spec.breakeven.map(|b| (b.entry, b.profit, b.lock));
    let spec = s.spec;
    (
        spec.id,
        spec.instrument,
        side,
        t,
        b,
        spec.activation,
        spec.limit_offset,
        be,
        s.armed,
        s.hwm,
        s.stop,
        s.breakeven_active,
    )
}

/// Many trailing stops over integer-tick prices, updated in bulk from numpy arrays.
#[pyclass(module = "fillforge._core", name = "TrailingStops")]
pub struct PyTrailingStops {
    inner: Guarded<TrailingStops>,
    out: Vec<Trigger>,
    /// Limit prices of the stop-limits among the last update's triggers (id order as returned).
    last_limits: Vec<i64>,
    last_has_limit: Vec<bool>,
}

/// The core's refusal of one row of an update.
type RowResult = Result<(), (usize, TrailingError)>;

impl PyTrailingStops {
    /// Run one update (`f`, over the stops and the trigger buffer) without the GIL, then hand
    /// its triggers to Python.
    fn update<F>(&mut self, py: Python<'_>, f: F) -> PyResult<(U64s, I64s)>
    where
        F: FnOnce(&mut TrailingStops, &mut Vec<Trigger>) -> RowResult + Send,
    {
        let out = &mut self.out;
        self.inner.detached(py, |stops| f(stops, out).map_err(|(r, e)| CoreErr::TrailingRow(r, e)))?;
        Ok(self.emit(py))
    }

    fn emit(&mut self, py: Python<'_>) -> (U64s, I64s) {
        let ids: Vec<u64> = self.out.iter().map(|t| t.id).collect();
        let stops: Vec<i64> = self.out.iter().map(|t| t.stop).collect();
        self.last_limits = self.out.iter().map(|t| t.limit.unwrap_or(t.stop)).collect();
        self.last_has_limit = self.out.iter().map(|t| t.limit.is_some()).collect();
        self.out.clear();
        (array(py, ids), array(py, stops))
    }
}

#[pymethods]
impl PyTrailingStops {
    #[new]
    fn new(#[pyo3(from_py_with = n_instruments_from_py)] n_instruments: u32) -> PyResult<Self> {
        let stops = TrailingStops::try_new(n_instruments).map_err(CoreErr::from)?;
        Ok(PyTrailingStops {
            inner: Guarded::new(stops, "TrailingStops", "trailing stops").without_reset(),
            out: Vec::new(),
            last_limits: Vec::new(),
            last_has_limit: Vec::new(),
        })
    }

    #[getter]
    fn n_instruments(&self) -> u32 {
        self.inner.peek().n_instruments()
    }

    /// The compiled kernel in use: "generic", "avx2" or "avx512".
    #[getter]
    fn kernel(&self) -> &'static str {
        self.inner.peek().kernel()
    }

    /// Add a stop. `side`: -1 sell stop (protects a long), 1 buy stop (protects a short).
    /// Exactly one of `trail_ticks`, `trail_bps`. With `price` it is armed at once (if its
    /// activation allows) with that water mark. `breakeven_entry` and `breakeven_profit` (with an
    /// optional `breakeven_lock`) hold the stop at `entry +/- lock` once the water mark is
    /// `profit` ticks in the money.
    #[pyo3(
        signature = (id, instrument, side, *, trail_ticks = None, trail_bps = None, activation = None, limit_offset = None, price = None, breakeven_entry = None, breakeven_profit = None, breakeven_lock = 0)
    )]
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        id: &Bound<'_, PyAny>,
        instrument: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        trail_ticks: Option<&Bound<'_, PyAny>>,
        trail_bps: Option<&Bound<'_, PyAny>>,
        activation: Option<&Bound<'_, PyAny>>,
        limit_offset: Option<&Bound<'_, PyAny>>,
        price: Option<&Bound<'_, PyAny>>,
        breakeven_entry: Option<&Bound<'_, PyAny>>,
        breakeven_profit: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = lock_from_py)] breakeven_lock: i64,
    ) -> PyResult<()> {
        let id = id_arg(id)?;
        let instrument: u32 = args::int(instrument, "instrument", "[0, n_instruments)", TRAILING_ERR)?;
        let side = side_arg(side)?;
        let t = TrailTerms::from_py(trail_ticks, trail_bps, activation, limit_offset)?;
        let price = trail_price(price, "price")?;
        let entry = trail_price(breakeven_entry, "breakeven_entry")?;
        let profit = args::opt_int(breakeven_profit, "breakeven_profit", "[1, 2^61]", TRAILING_ERR)?;
        let spec = StopSpec {
            id,
            instrument,
            side,
            trail: t.trail,
            activation: t.activation,
            limit_offset: t.limit_offset,
            breakeven: breakeven_of(entry, profit, breakeven_lock)?,
        };
        self.inner.guard(|s| Ok(s.add(spec, price)?))
    }

    /// Remove a live stop; returns its last state tuple.
    fn remove(&mut self, #[pyo3(from_py_with = id_arg)] id: u64) -> PyResult<StateTuple> {
        self.inner.guard(|s| Ok(state_tuple(s.remove(id)?)))
    }

    /// Change the trail of a live stop (same kind); an armed stop is recomputed from its water mark.
    #[pyo3(signature = (id, *, trail_ticks = None, trail_bps = None))]
    fn amend(
        &mut self,
        #[pyo3(from_py_with = id_arg)] id: u64,
        trail_ticks: Option<&Bound<'_, PyAny>>,
        trail_bps: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let trail = trail_args(trail_ticks, trail_bps)?;
        self.inner.guard(|s| Ok(s.amend(id, trail)?))
    }

    /// The state tuple (see `StopState` in Python) or None.
    fn get(&self, #[pyo3(from_py_with = id_arg)] id: u64) -> PyResult<Option<StateTuple>> {
        self.inner.read(|s| s.get(id).map(state_tuple))
    }

    fn __contains__(&self, #[pyo3(from_py_with = id_arg)] id: u64) -> PyResult<bool> {
        self.inner.read(|s| s.contains(id))
    }

    fn __len__(&self) -> PyResult<usize> {
        self.inner.read(TrailingStops::len)
    }

    /// Last prices row by row; returns `(triggered_ids, stop_prices)`.
    fn update_last<'py>(
        &mut self,
        py: Python<'py>,
        instruments: &Bound<'py, PyAny>,
        prices: &Bound<'py, PyAny>,
    ) -> PyResult<(U64s, I64s)> {
        let (i, p) =
            (column::<u32>(instruments, "instruments", WRAP)?, column::<i64>(prices, "prices", WRAP)?);
        let (i, p) = (i.slice(), p.slice());
        self.update(py, |inner, out| inner.update_last(i, p, out))
    }

    /// Quotes row by row (sell stops on the bid, buy stops on the ask).
    fn update_quotes<'py>(
        &mut self,
        py: Python<'py>,
        instruments: &Bound<'py, PyAny>,
        bids: &Bound<'py, PyAny>,
        asks: &Bound<'py, PyAny>,
    ) -> PyResult<(U64s, I64s)> {
        let i = column::<u32>(instruments, "instruments", WRAP)?;
        let (b, a) = (column::<i64>(bids, "bids", WRAP)?, column::<i64>(asks, "asks", WRAP)?);
        let (i, b, a) = (i.slice(), b.slice(), a.slice());
        self.update(py, |inner, out| inner.update_quotes(i, b, a, out))
    }

    /// One last price per instrument (`len(prices) == n_instruments`).
    fn update_dense<'py>(&mut self, py: Python<'py>, prices: &Bound<'py, PyAny>) -> PyResult<(U64s, I64s)> {
        let p = column::<i64>(prices, "prices", WRAP)?;
        let p = p.slice();
        self.update(py, |inner, out| inner.update_dense(p, out))
    }

    /// One quote per instrument.
    fn update_dense_quotes<'py>(
        &mut self,
        py: Python<'py>,
        bids: &Bound<'py, PyAny>,
        asks: &Bound<'py, PyAny>,
    ) -> PyResult<(U64s, I64s)> {
        let (b, a) = (column::<i64>(bids, "bids", WRAP)?, column::<i64>(asks, "asks", WRAP)?);
        let (b, a) = (b.slice(), a.slice());
        self.update(py, |inner, out| inner.update_dense_quotes(b, a, out))
    }

    /// For the last update's triggers (same order): `(limit_prices, is_stop_limit)`; a plain
    /// trailing stop (a market order once triggered) has `is_stop_limit` False and its stop price.
    fn last_limit_prices(&self, py: Python<'_>) -> (I64s, Py<PyArray1<bool>>) {
        (
            PyArray1::from_slice(py, &self.last_limits).unbind(),
            PyArray1::from_slice(py, &self.last_has_limit).unbind(),
        )
    }

    /// Test hook: make the next core call panic, to prove a panic becomes `InternalError`.
    fn _panic_for_test(&mut self) -> PyResult<()> {
        self.inner.panic_for_test()
    }

    fn __repr__(&self) -> String {
        let s = self.inner.peek();
        format!("TrailingStops(n_instruments={}, stops={})", s.n_instruments(), s.len())
    }
}
