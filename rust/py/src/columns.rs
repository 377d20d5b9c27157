//! numpy columns in and out, shared by every batch entry point.

use numpy::{Element, IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::CoreErr;

/// Borrow a 1-D, C-contiguous numpy array of `T`; anything else is an error built by `wrap`
/// whose message names the column, the dtype wanted and what came instead.
pub fn column<'py, T: Element>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    dtype: &str,
    wrap: fn(String) -> CoreErr,
) -> Result<PyReadonlyArray1<'py, T>, CoreErr> {
    let arr = obj.cast::<PyArray1<T>>().map_err(|_| {
        let got = obj.getattr("dtype").map_or_else(|_| obj.get_type().to_string(), |d| format!("dtype {d}"));
        let ndim = obj.getattr("ndim").map_or_else(|_| String::new(), |d| format!(" with ndim {d}"));
        wrap(format!("{name}: expected a 1-D numpy array of {dtype}, got {got}{ndim}"))
    })?;
    let ro = arr.try_readonly().map_err(|e| wrap(format!("{name}: {e}")))?;
    if !ro.is_contiguous() {
        return Err(wrap(format!("{name}: array must be C-contiguous")));
    }
    Ok(ro)
}

/// Hand a vector to numpy without copying.
pub fn array<T: Element>(py: Python<'_>, v: Vec<T>) -> Py<PyArray1<T>> {
    v.into_pyarray(py).unbind()
}
