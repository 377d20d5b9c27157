//! numpy columns in and out, shared by every batch entry point.

use numpy::{Element, IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::CoreErr;

/// A borrowed 1-D, C-contiguous numpy array of `T`, as [`column`] checked it.
pub struct Column<'py, T: Element>(PyReadonlyArray1<'py, T>);

impl<T: Element> Column<'_, T> {
    /// The elements (contiguity was checked when the column was borrowed).
    pub fn slice(&self) -> &[T] {
        self.0.as_slice().expect("column() checked contiguity")
    }
}

/// Borrow `obj` as a 1-D, C-contiguous numpy array of `T`; anything else is an error built by
/// `wrap` whose message names the column, the dtype wanted and what came instead.
pub fn column<'py, T: Element>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    wrap: fn(String) -> CoreErr,
) -> Result<Column<'py, T>, CoreErr> {
    let arr = obj.cast::<PyArray1<T>>().map_err(|_| {
        let dtype = T::get_dtype(obj.py());
        let got = obj.getattr("dtype").map_or_else(|_| obj.get_type().to_string(), |d| format!("dtype {d}"));
        let ndim = obj.getattr("ndim").map_or_else(|_| String::new(), |d| format!(" with ndim {d}"));
        wrap(format!("{name}: expected a 1-D numpy array of {dtype}, got {got}{ndim}"))
    })?;
    let ro = arr.try_readonly().map_err(|e| wrap(format!("{name}: {e}")))?;
    if !ro.is_contiguous() {
        return Err(wrap(format!("{name}: array must be C-contiguous")));
    }
    Ok(Column(ro))
}

/// [`column`] for an optional column (None: absent).
pub fn opt_column<'py, T: Element>(
    obj: Option<&Bound<'py, PyAny>>,
    name: &str,
    wrap: fn(String) -> CoreErr,
) -> Result<Option<Column<'py, T>>, CoreErr> {
    obj.map(|o| column(o, name, wrap)).transpose()
}

/// Hand a vector to numpy without copying.
pub fn array<T: Element>(py: Python<'_>, v: Vec<T>) -> Py<PyArray1<T>> {
    v.into_pyarray(py).unbind()
}
