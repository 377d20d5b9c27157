//! `MarketsLoop`: several `SimEngine`s replayed as one stream in time order, in one call without
//! the GIL (`fillforge_core::sim::run_merged`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use fillforge_core::sim::run_merged;
use pyo3::prelude::*;

use crate::errors::ReplayError;
use crate::guard::panic_error;
use crate::sim::{max_messages_from_py, until_from_py, PySimEngine, WHAT};

/// The markets of one venue, merged: the engines are shared with their owners (the loop only
/// borrows them during `run`).
#[pyclass(module = "fillforge._core", name = "MarketsLoop", frozen)]
pub struct PyMarketsLoop {
    engines: Vec<Py<PySimEngine>>,
}

#[pymethods]
impl PyMarketsLoop {
    #[new]
    fn new(engines: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut out: Vec<Py<PySimEngine>> = Vec::new();
        for (i, item) in engines.try_iter()?.enumerate() {
            let item = item?;
            let e = item.cast::<PySimEngine>().map_err(|_| {
                ReplayError::new_err(format!(
                    "engines[{i}]={}: expected a fillforge._core.SimEngine",
                    item.get_type()
                ))
            })?;
            if out.iter().any(|o| o.as_ptr() == e.as_ptr()) {
                return Err(ReplayError::new_err(format!("engines[{i}]: this SimEngine is listed twice")));
            }
            out.push(e.clone().unbind());
        }
        Ok(PyMarketsLoop { engines: out })
    }

    fn __len__(&self) -> usize {
        self.engines.len()
    }

    /// Apply up to `max_messages` messages timed before `until_ns`, over all markets in time
    /// order (equal times: the market listed first), stopping after the first message that
    /// changed a user order. Returns `(applied, market, changed)`: the index of the market that
    /// applied the last message (None if none) and whether that message changed a user order
    /// (its events wait in that engine). Runs without the GIL.
    #[pyo3(signature = (max_messages = usize::MAX, until_ns = i64::MAX))]
    fn run(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = max_messages_from_py)] max_messages: usize,
        #[pyo3(from_py_with = until_from_py)] until_ns: i64,
    ) -> PyResult<(usize, Option<usize>, bool)> {
        let mut refs = Vec::with_capacity(self.engines.len());
        for e in &self.engines {
            refs.push(e.bind(py).try_borrow_mut()?);
        }
        let mut engines = Vec::with_capacity(refs.len());
        for r in &mut refs {
            engines.push(r.engine.alive_mut()?);
        }
        let done =
            py.detach(|| catch_unwind(AssertUnwindSafe(|| run_merged(&mut engines, max_messages, until_ns))));
        drop(engines);
        match done {
            Ok(r) => Ok((r.applied, r.market, r.changed)),
            Err(payload) => {
                // Which engine was mid-message is not known: none of them is trusted further.
                for r in &mut refs {
                    r.engine.poison();
                }
                Err(panic_error(WHAT, payload.as_ref()))
            }
        }
    }
}
