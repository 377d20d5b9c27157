//! `Throttle`: the Python face of `fillforge_core::Throttle` (keyed sliding-window and GCRA limits).

use fillforge_core::{Limit, Throttle};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::args;
use crate::columns::{column, opt_column, Column};
use crate::errors::{CoreErr, ThrottleError};
use crate::guard::Guarded;

type Bools = Py<PyArray1<bool>>;
type I64s = Py<PyArray1<i64>>;

const THROTTLE_ERR: args::ErrFn = ThrottleError::new_err;

args::converters! {
    fn key_arg -> u64 = int("key", "[0, 2^64)", THROTTLE_ERR);
    fn now_arg -> i64 = int("now", "[-2^63, 2^63)", THROTTLE_ERR);
    fn n_arg -> u32 = int("n", "[0, 2^32)", THROTTLE_ERR);
    fn limit_index_arg -> usize = int("limit", "[0, number of limits)", THROTTLE_ERR);
}

/// The items of a `windows` or `gcra` argument, each a tuple of `N` fields; a wrong shape raises
/// `ThrottleError` naming the argument and the item.
fn tuples<'py, const N: usize>(
    obj: &Bound<'py, PyAny>,
    arg: &str,
    names: [&str; N],
) -> PyResult<Vec<[Bound<'py, PyAny>; N]>> {
    let shape = format!("({})", names.join(", "));
    let bad = |what: String| ThrottleError::new_err(format!("{what}: expected a sequence of {shape} tuples"));
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(bad(format!("{arg}={}", obj.repr()?)));
    }
    let items = obj
        .try_iter()
        .map_err(|_| bad(format!("{arg}={}", obj.repr().map_or_else(|_| "?".into(), |r| r.to_string()))))?;
    let mut out = Vec::new();
    for (i, item) in items.enumerate() {
        let item = item?;
        let fields: Vec<Bound<'py, PyAny>> = match item.cast::<PyTuple>() {
            Ok(t) if t.len() == N => t.iter().collect(),
            _ => return Err(bad(format!("{arg}[{i}]={}", item.repr()?))),
        };
        out.push(fields.try_into().map_err(|_| bad(format!("{arg}[{i}]")))?);
    }
    Ok(out)
}

fn limits_of(windows: Option<&Bound<'_, PyAny>>, gcra: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Limit>> {
    let mut limits = Vec::new();
    if let Some(w) = windows {
        for (i, [limit, window]) in tuples(w, "windows", ["limit", "window_ns"])?.iter().enumerate() {
            let limit = args::int(limit, &format!("windows[{i}].limit"), "[1, 2^24]", THROTTLE_ERR)?;
            let window = args::int(window, &format!("windows[{i}].window_ns"), "[1, 2^63)", THROTTLE_ERR)?;
            limits.push(Limit::Window { limit, window });
        }
    }
    if let Some(g) = gcra {
        for (i, [rate, period, burst]) in
            tuples(g, "gcra", ["rate", "period_ns", "burst"])?.iter().enumerate()
        {
            let rate = args::int(rate, &format!("gcra[{i}].rate"), "[1, 2^32)", THROTTLE_ERR)?;
            let period = args::int(period, &format!("gcra[{i}].period_ns"), "[1, 2^63)", THROTTLE_ERR)?;
            let burst = args::int(burst, &format!("gcra[{i}].burst"), "[1, 2^32)", THROTTLE_ERR)?;
            limits.push(Limit::gcra_rate(rate, period, burst));
        }
    }
    Ok(limits)
}

/// A keyed rate limiter enforcing every one of its limits at once.
#[pyclass(module = "fillforge._core", name = "Throttle")]
pub struct PyThrottle {
    inner: Guarded<Throttle>,
}

#[pymethods]
impl PyThrottle {
    /// `windows`: `(limit, window_ns)` pairs; `gcra`: `(rate, period_ns, burst)` triples.
    /// Limits are numbered windows first, then GCRA, in the order given.
    #[new]
    #[pyo3(signature = (*, windows = None, gcra = None))]
    fn new(windows: Option<&Bound<'_, PyAny>>, gcra: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let limits = limits_of(windows, gcra)?;
        let throttle = Throttle::new(&limits).map_err(CoreErr::from)?;
        Ok(PyThrottle { inner: Guarded::new(throttle, "Throttle", "throttle") })
    }

    /// The limits as `("window", limit, window_ns)` or `("gcra", interval_ns, burst)` tuples.
    #[getter]
    fn limits(&self) -> Vec<(&'static str, i64, i64)> {
        // The limits are the configuration given at construction: a panic cannot change them.
        self.inner
            .peek()
            .limits()
            .into_iter()
            .map(|l| match l {
                Limit::Window { limit, window } => ("window", i64::from(limit), window),
                Limit::Gcra { interval, burst } => ("gcra", interval, i64::from(burst)),
            })
            .collect()
    }

    #[getter]
    fn max_request(&self) -> u32 {
        self.inner.peek().max_request()
    }

    #[getter]
    fn last_time(&self) -> PyResult<Option<i64>> {
        self.inner.read(Throttle::last_time)
    }

    /// True if all `n` units passed (and were recorded in every limit); False if none did.
    #[pyo3(signature = (key, now, n = 1))]
    fn try_acquire(
        &mut self,
        #[pyo3(from_py_with = key_arg)] key: u64,
        #[pyo3(from_py_with = now_arg)] now: i64,
        #[pyo3(from_py_with = n_arg)] n: u32,
    ) -> PyResult<bool> {
        self.inner.guard(|t| Ok(t.try_acquire(key, now, n)?))
    }

    /// Queue policy in one call: 0 if all `n` units passed, else nanoseconds until they would.
    #[pyo3(signature = (key, now, n = 1))]
    fn poll(
        &mut self,
        #[pyo3(from_py_with = key_arg)] key: u64,
        #[pyo3(from_py_with = now_arg)] now: i64,
        #[pyo3(from_py_with = n_arg)] n: u32,
    ) -> PyResult<i64> {
        self.inner.guard(|t| Ok(t.acquire(key, now, n)?.wait))
    }

    /// `(allowed, wait_ns, limit_index)`; `limit_index` is the binding limit, -1 when allowed.
    #[pyo3(signature = (key, now, n = 1))]
    fn check(
        &mut self,
        #[pyo3(from_py_with = key_arg)] key: u64,
        #[pyo3(from_py_with = now_arg)] now: i64,
        #[pyo3(from_py_with = n_arg)] n: u32,
    ) -> PyResult<(bool, i64, i64)> {
        let d = self.inner.guard(|t| Ok(t.acquire(key, now, n)?))?;
        Ok((d.allowed, d.wait, if d.allowed { -1 } else { d.limit as i64 }))
    }

    /// Nanoseconds until `n` units for `key` would pass (0: now). Records nothing.
    #[pyo3(signature = (key, now, n = 1))]
    fn wait_time(
        &mut self,
        #[pyo3(from_py_with = key_arg)] key: u64,
        #[pyo3(from_py_with = now_arg)] now: i64,
        #[pyo3(from_py_with = n_arg)] n: u32,
    ) -> PyResult<i64> {
        self.inner.guard(|t| Ok(t.wait_time(key, now, n)?))
    }

    /// Units `key` holds in limit `limit` at `now` (events in the window, or GCRA tokens in use).
    #[pyo3(signature = (key, now, limit = 0))]
    fn count_in_window(
        &mut self,
        #[pyo3(from_py_with = key_arg)] key: u64,
        #[pyo3(from_py_with = now_arg)] now: i64,
        #[pyo3(from_py_with = limit_index_arg)] limit: usize,
    ) -> PyResult<u64> {
        self.inner.guard(|t| Ok(t.count_in_window(key, now, limit)?))
    }

    /// Forget one key (returns whether it was remembered), or with no key everything.
    #[pyo3(signature = (key = None))]
    fn reset(&mut self, key: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        match key.filter(|k| !k.is_none()) {
            Some(k) => {
                let key = key_arg(k)?;
                self.inner.guard(|t| Ok(t.reset_key(key)))
            }
            None => {
                self.inner.reset(Throttle::reset);
                Ok(true)
            }
        }
    }

    /// Forget every idle key now; returns how many were forgotten.
    fn sweep(&mut self, #[pyo3(from_py_with = now_arg)] now: i64) -> PyResult<usize> {
        self.inner.guard(|t| Ok(t.sweep(now)?))
    }

    /// Remembered keys.
    fn __len__(&self) -> PyResult<usize> {
        self.inner.read(Throttle::len)
    }

    /// Slots allocated (the memory high-water mark in keys).
    #[getter]
    fn slot_capacity(&self) -> PyResult<usize> {
        self.inner.read(Throttle::slot_capacity)
    }

    /// Row by row `try_acquire(keys[i], times[i], n[i])`; returns `(allowed, wait_ns)` arrays.
    /// Every row is validated first: on an error nothing is recorded.
    #[pyo3(signature = (keys, times, n = None))]
    fn try_acquire_batch<'py>(
        &mut self,
        py: Python<'py>,
        keys: &Bound<'py, PyAny>,
        times: &Bound<'py, PyAny>,
        n: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bools, I64s)> {
        let wrap = CoreErr::ThrottleBatch;
        let keys = column::<u64>(keys, "keys", wrap)?;
        let times = column::<i64>(times, "times", wrap)?;
        let ns = opt_column::<u32>(n, "n", wrap)?;
        let (k, t, nv) = (keys.slice(), times.slice(), ns.as_ref().map(Column::slice));
        if t.len() != k.len() {
            return Err(CoreErr::ThrottleBatch(format!(
                "times: length {} differs from keys' {}",
                t.len(),
                k.len()
            ))
            .into());
        }
        if let Some(nv) = nv {
            if nv.len() != k.len() {
                return Err(CoreErr::ThrottleBatch(format!(
                    "n: length {} differs from keys' {}",
                    nv.len(),
                    k.len()
                ))
                .into());
            }
        }
        let len = k.len();
        let allowed = PyArray1::<bool>::zeros(py, len, false);
        let wait = PyArray1::<i64>::zeros(py, len, false);
        {
            let mut a = allowed.try_readwrite().expect("fresh array");
            let mut w = wait.try_readwrite().expect("fresh array");
            let (a, w) = (a.as_slice_mut().expect("contiguous"), w.as_slice_mut().expect("contiguous"));
            self.inner.detached(py, |th| {
                th.acquire_batch(k, t, nv, a, w).map_err(|(i, e)| CoreErr::ThrottleRow(i, e))
            })?;
        }
        Ok((allowed.unbind(), wait.unbind()))
    }

    /// Baseline for benchmarks: `try_acquire`'s arguments and result, no work.
    #[pyo3(signature = (key, now, n = 1))]
    fn _noop(
        &mut self,
        #[pyo3(from_py_with = key_arg)] key: u64,
        #[pyo3(from_py_with = now_arg)] now: i64,
        #[pyo3(from_py_with = n_arg)] n: u32,
    ) -> bool {
        key ^ (now as u64) ^ u64::from(n) != 1
    }

    /// Test hook: make the next core call panic, to prove a panic becomes `InternalError`.
    fn _panic_for_test(&mut self) -> PyResult<()> {
        self.inner.panic_for_test()
    }

    fn __repr__(&self) -> String {
        let t = self.inner.peek();
        format!("Throttle(limits={:?}, keys={})", t.limits(), t.len())
    }
}
