//! Panic containment for the stateful wrappers: a panic inside a core call poisons the object
//! (its state may be half-updated) and surfaces as `InternalError` instead of crashing Python.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

use crate::errors::CoreErr;

/// Run `f` on `state`; on a panic set `poisoned` and report it as an internal error in `what`.
pub fn guarded<S, T>(
    state: &mut S,
    poisoned: &mut bool,
    what: &str,
    f: impl FnOnce(&mut S) -> Result<T, CoreErr>,
) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(|| f(state))) {
        Ok(r) => r.map_err(PyErr::from),
        Err(payload) => {
            *poisoned = true;
            Err(panic_error(what, payload.as_ref()))
        }
    }
}

/// The `InternalError` a caught panic in `what` surfaces as.
pub fn panic_error(what: &str, payload: &(dyn std::any::Any + Send)) -> PyErr {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    CoreErr::Internal(format!("internal error in the {what}: {msg}")).into()
}
