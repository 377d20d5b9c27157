//! The exception hierarchy, declared here and re-exported from `fillforge.errors`, and the one
//! conversion from core errors to it.

use fillforge_core::sim::SimError;
use fillforge_core::{
    BookError, CapacityError as CoreCapacityError, Reason, ThrottleError as CoreThrottleError, TrailingError,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyLookupError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

/// Like `create_exception!`, with a second base: the built-in that says what kind of refusal it
/// is (`ValueError` for a bad value, `LookupError` for an id that names nothing). The class is
/// `fillforge._core.<name>` with bases `(base, builtin)`, made once per interpreter, and pickles
/// like any exception class of a module (by its qualified name).
macro_rules! exception {
    ($name:ident, $base:ty, $builtin:ty, $doc:expr) => {
        #[repr(transparent)]
        #[doc = $doc]
        pub struct $name(pyo3::PyAny);

        pyo3::impl_exception_boilerplate!($name);
        pyo3::pyobject_native_type_named!($name);

        // SAFETY: the type object is an exception class made by `two_base_type`, kept alive
        // for the interpreter's life by the static cell.
        unsafe impl pyo3::type_object::PyTypeInfo for $name {
            fn type_object_raw(py: Python<'_>) -> *mut pyo3::ffi::PyTypeObject {
                static TYPE_OBJECT: pyo3::sync::PyOnceLock<Py<PyType>> = pyo3::sync::PyOnceLock::new();
                TYPE_OBJECT
                    .get_or_init(py, || {
                        two_base_type(
                            py,
                            pyo3::ffi::c_str!(concat!("fillforge._core.", stringify!($name))),
                            pyo3::ffi::c_str!($doc),
                            &py.get_type::<$base>(),
                            &py.get_type::<$builtin>(),
                        )
                    })
                    .as_ptr()
                    .cast()
            }
        }
    };
}

/// A new exception class `name` deriving from `base` and `builtin`, in that order.
fn two_base_type(
    py: Python<'_>,
    name: &std::ffi::CStr,
    doc: &std::ffi::CStr,
    base: &Bound<'_, PyType>,
    builtin: &Bound<'_, PyType>,
) -> Py<PyType> {
    let bases = PyTuple::new(py, [base, builtin]).expect("a tuple of two types");
    // SAFETY: `PyErr_NewExceptionWithDoc` takes a class or a tuple of classes as its base and
    // returns a new reference to a class, or null with an exception set.
    let made = unsafe {
        let ptr = pyo3::ffi::PyErr_NewExceptionWithDoc(
            name.as_ptr(),
            doc.as_ptr(),
            bases.as_ptr(),
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(py, ptr)
    };
    made.and_then(|t| Ok(t.cast_into::<PyType>()?.unbind()))
        .expect("Failed to initialize new exception type.")
}

create_exception!(fillforge._core, FillforgeError, PyException, "Base class of every fillforge error.");
create_exception!(
    fillforge._core,
    OrderBookError,
    FillforgeError,
    "An order book refused an operation; the book is unchanged."
);
exception!(UnknownOrderError, OrderBookError, PyLookupError, "No live order has this id.");
exception!(DuplicateOrderIdError, OrderBookError, PyValueError, "An order with this id is already live.");
exception!(
    InvalidQuantityError,
    OrderBookError,
    PyValueError,
    "A quantity is zero, negative, too large or exceeds what it applies to."
);
exception!(
    PriceOffGridError,
    OrderBookError,
    PyValueError,
    "A price is not a multiple of the book's tick (or a tick that is not a positive integer)."
);
exception!(
    InvalidPriceError,
    OrderBookError,
    PyValueError,
    "A price is not an integer or is outside the supported range of +/-2^62 ticks."
);
exception!(
    QuantityOffGridError,
    OrderBookError,
    PyValueError,
    "A quantity is not a multiple of the book's lot size."
);
exception!(
    InvalidOrderError,
    OrderBookError,
    PyValueError,
    "An order's fields do not make a valid order (side, time in force, combination)."
);
exception!(BatchInputError, OrderBookError, PyValueError, "A batch column has the wrong dtype or length.");
exception!(
    CapacityError,
    FillforgeError,
    PyValueError,
    "A capacity or size given to a constructor is not a non-negative integer, is past its documented \
     maximum, or its memory could not be reserved; nothing was allocated."
);
exception!(ReplayError, FillforgeError, PyValueError, "A market-data file could not be read or parsed.");
exception!(
    InternalError,
    FillforgeError,
    PyRuntimeError,
    "A bug inside fillforge's compiled core; the object that raised it refuses further use."
);

exception!(
    ThrottleError,
    FillforgeError,
    PyValueError,
    "A throttle refused a call (bad limit, bad batch column
); its state is unchanged."
);
exception!(
    ClockWentBackwardsError,
    ThrottleError,
    PyValueError,
    "A time earlier than one the throttle has already seen; its state is unchanged."
);
exception!(
    RequestTooLargeError,
    ThrottleError,
    PyValueError,
    "A request for more units than the tightest limit can ever admit at once."
);

exception!(
    TrailingStopError,
    FillforgeError,
    PyValueError,
    "A trailing-stop engine refused a call (bad trail, price, instrument or column
); it is unchanged."
);
exception!(
    UnknownStopError,
    TrailingStopError,
    PyLookupError,
    "No live trailing stop has this id (never added, removed, or already triggered)."
);
exception!(
    DuplicateStopIdError,
    TrailingStopError,
    PyValueError,
    "A live trailing stop already has this id."
);

/// Errors of the bindings layer; `?` converts core errors into it.
pub enum CoreErr {
    Book(BookError),
    Batch(String),
    Replay(String),
    Throttle(CoreThrottleError),
    /// A throttle error found at one row of a batch.
    ThrottleRow(usize, CoreThrottleError),
    /// A throttle batch column with the wrong dtype, shape or length.
    ThrottleBatch(String),
    Trailing(TrailingError),
    /// A trailing-stop error found at one row of an update.
    TrailingRow(usize, TrailingError),
    /// A trailing-stop argument or column with the wrong dtype, shape, length or combination.
    TrailingBatch(String),
    /// A constructor's capacity or size refused (too large, or memory not reserved).
    Capacity(CoreCapacityError),
    Internal(String),
    /// An already-typed Python exception (argument conversion).
    Py(PyErr),
}

impl From<BookError> for CoreErr {
    fn from(e: BookError) -> Self {
        CoreErr::Book(e)
    }
}

impl From<CoreCapacityError> for CoreErr {
    fn from(e: CoreCapacityError) -> Self {
        CoreErr::Capacity(e)
    }
}

impl From<CoreThrottleError> for CoreErr {
    fn from(e: CoreThrottleError) -> Self {
        CoreErr::Throttle(e)
    }
}

impl From<TrailingError> for CoreErr {
    fn from(e: TrailingError) -> Self {
        CoreErr::Trailing(e)
    }
}

impl From<SimError> for CoreErr {
    fn from(e: SimError) -> Self {
        match e {
            SimError::Book(b) => CoreErr::Book(b),
            SimError::Trailing(t) => CoreErr::Trailing(t),
        }
    }
}

fn throttle_err(e: &CoreThrottleError, msg: String) -> PyErr {
    match e {
        CoreThrottleError::ClockWentBackwards { .. } => ClockWentBackwardsError::new_err(msg),
        CoreThrottleError::RequestTooLarge { .. } => RequestTooLargeError::new_err(msg),
        CoreThrottleError::InvalidLimit { .. } => ThrottleError::new_err(msg),
    }
}

fn trailing_err(e: &TrailingError, msg: String) -> PyErr {
    match e {
        TrailingError::UnknownId { .. } => UnknownStopError::new_err(msg),
        TrailingError::DuplicateId { .. } => DuplicateStopIdError::new_err(msg),
        _ => TrailingStopError::new_err(msg),
    }
}

impl From<CoreErr> for PyErr {
    fn from(e: CoreErr) -> PyErr {
        match e {
            CoreErr::Book(e) => {
                let msg = e.to_string();
                Python::attach(|py| match reason_error(py, e.reason()) {
                    Some(ty) => PyErr::from_type(ty, msg),
                    None => InternalError::new_err(format!("no exception class for reason {e:?}: {msg}")),
                })
            }
            CoreErr::Batch(msg) => BatchInputError::new_err(msg),
            CoreErr::Replay(msg) => ReplayError::new_err(msg),
            CoreErr::Throttle(e) => throttle_err(&e, e.to_string()),
            CoreErr::ThrottleRow(i, e) => throttle_err(&e, format!("row {i}: {e}")),
            CoreErr::ThrottleBatch(msg) => ThrottleError::new_err(msg),
            CoreErr::Trailing(e) => trailing_err(&e, e.to_string()),
            CoreErr::TrailingRow(i, e) => trailing_err(&e, format!("row {i}: {e}")),
            CoreErr::TrailingBatch(msg) => TrailingStopError::new_err(msg),
            CoreErr::Capacity(e) => CapacityError::new_err(e.to_string()),
            CoreErr::Internal(msg) => InternalError::new_err(msg),
            CoreErr::Py(e) => e,
        }
    }
}

/// The exception class of a refusal with this reason code: the one per-call methods raise, and
/// the one a batch row rejected with this code stands for (`REASON_ERRORS` in Python). None for
/// the codes that are outcomes rather than refusals.
pub fn reason_error(py: Python<'_>, reason: Reason) -> Option<Bound<'_, PyType>> {
    Some(match reason {
        Reason::UnknownOrder => py.get_type::<UnknownOrderError>(),
        Reason::DuplicateOrderId => py.get_type::<DuplicateOrderIdError>(),
        Reason::InvalidQuantity => py.get_type::<InvalidQuantityError>(),
        Reason::PriceOffGrid => py.get_type::<PriceOffGridError>(),
        Reason::QuantityOffGrid => py.get_type::<QuantityOffGridError>(),
        Reason::InvalidPrice => py.get_type::<InvalidPriceError>(),
        Reason::InvalidSide | Reason::InvalidTimeInForce | Reason::InvalidOp | Reason::InvalidOrder => {
            py.get_type::<InvalidOrderError>()
        }
        Reason::None
        | Reason::User
        | Reason::IocRemainder
        | Reason::FokUnfillable
        | Reason::PostOnlyWouldCross
        | Reason::MatchingHalted
        | Reason::DayExpired
        | Reason::NoChange => return None,
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FillforgeError", py.get_type::<FillforgeError>())?;
    m.add("OrderBookError", py.get_type::<OrderBookError>())?;
    m.add("UnknownOrderError", py.get_type::<UnknownOrderError>())?;
    m.add("DuplicateOrderIdError", py.get_type::<DuplicateOrderIdError>())?;
    m.add("InvalidQuantityError", py.get_type::<InvalidQuantityError>())?;
    m.add("PriceOffGridError", py.get_type::<PriceOffGridError>())?;
    m.add("InvalidPriceError", py.get_type::<InvalidPriceError>())?;
    m.add("CapacityError", py.get_type::<CapacityError>())?;
    m.add("QuantityOffGridError", py.get_type::<QuantityOffGridError>())?;
    m.add("InvalidOrderError", py.get_type::<InvalidOrderError>())?;
    m.add("BatchInputError", py.get_type::<BatchInputError>())?;
    m.add("ReplayError", py.get_type::<ReplayError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("ThrottleError", py.get_type::<ThrottleError>())?;
    m.add("ClockWentBackwardsError", py.get_type::<ClockWentBackwardsError>())?;
    m.add("RequestTooLargeError", py.get_type::<RequestTooLargeError>())?;
    m.add("TrailingStopError", py.get_type::<TrailingStopError>())?;
    m.add("UnknownStopError", py.get_type::<UnknownStopError>())?;
    m.add("DuplicateStopIdError", py.get_type::<DuplicateStopIdError>())?;
    let reason_errors = PyDict::new(py);
    for r in Reason::ALL {
        if let Some(ty) = reason_error(py, r) {
            reason_errors.set_item(r as u8, ty)?;
        }
    }
    m.add("REASON_ERRORS", reason_errors)?;
    Ok(())
}
