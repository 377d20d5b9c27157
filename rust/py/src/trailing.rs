//! `TrailingStops`: the Python face of `fillforge_core::TrailingStops`.

use fillforge_core::{
    BreakEven, StopSide, StopSpec, StopState, Trail, TrailingError, TrailingStops, Trigger,
};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::columns::column;
use crate::errors::CoreErr;

type U64s = Py<PyArray1<u64>>;
type I64s = Py<PyArray1<i64>>;

fn side_of(side: i64) -> Result<StopSide, CoreErr> {
    match side {
        -1 => Ok(StopSide::Sell),
        1 => Ok(StopSide::Buy),
        _ => Err(CoreErr::TrailingBatch(format!("side={side}: expected -1 (sell stop) or 1 (buy stop)"))),
    }
}

pub(crate) fn trail_of(trail_ticks: Option<i64>, trail_bps: Option<u32>) -> Result<Trail, CoreErr> {
    match (trail_ticks, trail_bps) {
        (Some(t), None) => Ok(Trail::Ticks(t)),
        (None, Some(b)) => Ok(Trail::Bps(b)),
        _ => Err(CoreErr::TrailingBatch("give exactly one of trail_ticks and trail_bps".into())),
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
    inner: TrailingStops,
    out: Vec<Trigger>,
    /// Limit prices of the stop-limits among the last update's triggers (id order as returned).
    last_limits: Vec<i64>,
    last_has_limit: Vec<bool>,
}

impl PyTrailingStops {
    fn emit(&mut self, py: Python<'_>) -> (U64s, I64s) {
        let ids: Vec<u64> = self.out.iter().map(|t| t.id).collect();
        let stops: Vec<i64> = self.out.iter().map(|t| t.stop).collect();
        self.last_limits = self.out.iter().map(|t| t.limit.unwrap_or(t.stop)).collect();
        self.last_has_limit = self.out.iter().map(|t| t.limit.is_some()).collect();
        self.out.clear();
        (PyArray1::from_vec(py, ids).unbind(), PyArray1::from_vec(py, stops).unbind())
    }
}

#[pymethods]
impl PyTrailingStops {
    #[new]
    fn new(n_instruments: u32) -> Self {
        PyTrailingStops {
            inner: TrailingStops::new(n_instruments),
            out: Vec::new(),
            last_limits: Vec::new(),
            last_has_limit: Vec::new(),
        }
    }

    #[getter]
    fn n_instruments(&self) -> u32 {
        self.inner.n_instruments()
    }

    /// The compiled kernel in use: "generic", "avx2" or "avx512".
    #[getter]
    fn kernel(&self) -> &'static str {
        self.inner.kernel()
    }

    /// Add a stop. `side`: -1 sell stop (protects a long), 1 buy stop (protects a short).
    /// Exactly one of `trail_ticks`, `trail_bps`. With `price` it is armed at once (if its
    /// activation allows) with that water mark. `breakeven_entry` and `breakeven_profit` (with an
    /// optional `breakeven_lock`) hold the stop at `entry +/- lock` once the water mark is
    /// `profit` ticks in the money.
    #[pyo3(signature = (id, instrument, side, *, trail_ticks = None, trail_bps = None, activation = None, limit_offset = None, price = None, breakeven_entry = None, breakeven_profit = None, breakeven_lock = 0))]
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        id: u64,
        instrument: u32,
        side: i64,
        trail_ticks: Option<i64>,
        trail_bps: Option<u32>,
        activation: Option<i64>,
        limit_offset: Option<i64>,
        price: Option<i64>,
        breakeven_entry: Option<i64>,
        breakeven_profit: Option<i64>,
        breakeven_lock: i64,
    ) -> PyResult<()> {
        let spec = StopSpec {
            id,
            instrument,
            side: side_of(side)?,
            trail: trail_of(trail_ticks, trail_bps)?,
            activation,
            limit_offset,
            breakeven: breakeven_of(breakeven_entry, breakeven_profit, breakeven_lock)?,
        };
        Ok(self.inner.add(spec, price).map_err(CoreErr::from)?)
    }

    /// Remove a live stop; returns its last state tuple.
    fn remove(&mut self, id: u64) -> PyResult<StateTuple> {
        Ok(state_tuple(self.inner.remove(id).map_err(CoreErr::from)?))
    }

    /// Change the trail of a live stop (same kind); an armed stop is recomputed from its water mark.
    #[pyo3(signature = (id, *, trail_ticks = None, trail_bps = None))]
    fn amend(&mut self, id: u64, trail_ticks: Option<i64>, trail_bps: Option<u32>) -> PyResult<()> {
        let trail = trail_of(trail_ticks, trail_bps)?;
        Ok(self.inner.amend(id, trail).map_err(CoreErr::from)?)
    }

    /// The state tuple (see `StopState` in Python) or None.
    fn get(&self, id: u64) -> Option<StateTuple> {
        self.inner.get(id).map(state_tuple)
    }

    fn __contains__(&self, id: u64) -> bool {
        self.inner.contains(id)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Last prices row by row; returns `(triggered_ids, stop_prices)`.
    fn update_last<'py>(
        &mut self,
        py: Python<'py>,
        instruments: &Bound<'py, PyAny>,
        prices: &Bound<'py, PyAny>,
    ) -> PyResult<(U64s, I64s)> {
        let i = column::<u32>(instruments, "instruments", "uint32", CoreErr::TrailingBatch)?;
        let p = column::<i64>(prices, "prices", "int64", CoreErr::TrailingBatch)?;
        let (i, p) = (i.as_slice().expect("contiguous"), p.as_slice().expect("contiguous"));
        let (inner, out) = (&mut self.inner, &mut self.out);
        py.detach(|| inner.update_last(i, p, out)).map_err(|(r, e)| CoreErr::TrailingRow(r, e))?;
        Ok(self.emit(py))
    }

    /// Quotes row by row (sell stops on the bid, buy stops on the ask).
    fn update_quotes<'py>(
        &mut self,
        py: Python<'py>,
        instruments: &Bound<'py, PyAny>,
        bids: &Bound<'py, PyAny>,
        asks: &Bound<'py, PyAny>,
    ) -> PyResult<(U64s, I64s)> {
        let i = column::<u32>(instruments, "instruments", "uint32", CoreErr::TrailingBatch)?;
        let b = column::<i64>(bids, "bids", "int64", CoreErr::TrailingBatch)?;
        let a = column::<i64>(asks, "asks", "int64", CoreErr::TrailingBatch)?;
        let (i, b, a) = (
            i.as_slice().expect("contiguous"),
            b.as_slice().expect("contiguous"),
            a.as_slice().expect("contiguous"),
        );
        let (inner, out) = (&mut self.inner, &mut self.out);
        py.detach(|| inner.update_quotes(i, b, a, out)).map_err(|(r, e)| CoreErr::TrailingRow(r, e))?;
        Ok(self.emit(py))
    }

    /// One last price per instrument (`len(prices) == n_instruments`).
    fn update_dense<'py>(&mut self, py: Python<'py>, prices: &Bound<'py, PyAny>) -> PyResult<(U64s, I64s)> {
        let p = column::<i64>(prices, "prices", "int64", CoreErr::TrailingBatch)?;
        let p = p.as_slice().expect("contiguous");
        let (inner, out) = (&mut self.inner, &mut self.out);
        py.detach(|| inner.update_dense(p, out)).map_err(|(r, e)| CoreErr::TrailingRow(r, e))?;
        Ok(self.emit(py))
    }

    /// One quote per instrument.
    fn update_dense_quotes<'py>(
        &mut self,
        py: Python<'py>,
        bids: &Bound<'py, PyAny>,
        asks: &Bound<'py, PyAny>,
    ) -> PyResult<(U64s, I64s)> {
        let b = column::<i64>(bids, "bids", "int64", CoreErr::TrailingBatch)?;
        let a = column::<i64>(asks, "asks", "int64", CoreErr::TrailingBatch)?;
        let (b, a) = (b.as_slice().expect("contiguous"), a.as_slice().expect("contiguous"));
        let (inner, out) = (&mut self.inner, &mut self.out);
        py.detach(|| inner.update_dense_quotes(b, a, out)).map_err(|(r, e)| CoreErr::TrailingRow(r, e))?;
        Ok(self.emit(py))
    }

    /// For the last update's triggers (same order): `(limit_prices, is_stop_limit)`; a plain
    /// trailing stop (a market order once triggered) has `is_stop_limit` False and its stop price.
    fn last_limit_prices(&self, py: Python<'_>) -> (I64s, Py<PyArray1<bool>>) {
        (
            PyArray1::from_slice(py, &self.last_limits).unbind(),
            PyArray1::from_slice(py, &self.last_has_limit).unbind(),
        )
    }

    fn __repr__(&self) -> String {
        format!("TrailingStops(n_instruments={}, stops={})", self.inner.n_instruments(), self.inner.len())
    }
}

impl From<TrailingError> for CoreErr {
    fn from(e: TrailingError) -> Self {
        CoreErr::Trailing(e)
    }
}
