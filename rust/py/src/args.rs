//! Argument conversion for every binding, in one place: a Python argument becomes a Rust value or
//! a typed fillforge error whose message names the field and shows the value. Nothing is ever
//! raised as a bare `TypeError` or `OverflowError`.
//!
//! An integer argument takes a Python `int` (or anything with `__index__`, such as an `IntEnum`
//! member or a numpy integer) within the Rust type's range. A `bool` is refused where an integer
//! is expected (`cancel(True)` must not cancel order 1), and a flag takes only `True` or `False`.
//! Floats, None (where not optional), strings and integers out of range are refused.
//!
//! The order-shaped arguments shared by `OrderBook` and `SimEngine` (order ids, sides, prices,
//! quantities, time in force) have their converters here too, so both raise the same classes:
//! `InvalidOrderError` (id, side, tif, flags), `InvalidPriceError`, `InvalidQuantityError`. Each
//! method names the converter of each parameter in its signature (`from_py_with`), so an
//! argument's conversion is written once, here, and not again in every method body.

use fillforge_core::{BookError, Side, TimeInForce};
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::errors::{CapacityError, CoreErr, InvalidOrderError, InvalidPriceError, InvalidQuantityError};

/// Builds the Python exception for a refused argument from its message.
pub type ErrFn = fn(String) -> PyErr;

/// The value as the message shows it (its `repr`, cut short).
fn shown(obj: &Bound<'_, PyAny>) -> String {
    let mut s = obj.repr().map_or_else(|_| "?".to_owned(), |r| r.to_string());
    if s.len() > 80 {
        let mut cut = 77;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// `obj` as an integer of type `T`; `range` describes the accepted values for the message.
pub fn int<'py, T: FromPyObjectOwned<'py>>(
    obj: &Bound<'py, PyAny>,
    field: &str,
    range: &str,
    err: ErrFn,
) -> PyResult<T> {
    if obj.is_instance_of::<PyBool>() {
        return Err(err(format!("{field}={}: expected an integer in {range}, not a bool", shown(obj))));
    }
    obj.extract::<T>().map_err(|_| err(format!("{field}={}: expected an integer in {range}", shown(obj))))
}

/// A positive integer in `[1, 2^63)` (a grid step: `tick`, `lot`).
pub fn positive(obj: &Bound<'_, PyAny>, field: &str, err: ErrFn) -> PyResult<i64> {
    let v: i64 = int(obj, field, "[1, 2^63)", err)?;
    if v <= 0 {
        return Err(err(format!("{field}={v}: must be a positive integer")));
    }
    Ok(v)
}

/// An optional integer: None (or the argument left out) is `None`.
pub fn opt_int<'py, T: FromPyObjectOwned<'py>>(
    obj: Option<&Bound<'py, PyAny>>,
    field: &str,
    range: &str,
    err: ErrFn,
) -> PyResult<Option<T>> {
    match obj {
        Some(o) if !o.is_none() => int(o, field, range, err).map(Some),
        _ => Ok(None),
    }
}

/// A flag: `True` or `False` (or a `numpy.bool_`); not 0/1, not None.
pub fn flag(obj: &Bound<'_, PyAny>, field: &str, err: ErrFn) -> PyResult<bool> {
    obj.extract::<bool>().map_err(|_| err(format!("{field}={}: expected True or False", shown(obj))))
}

/// Declares converters for `from_py_with`: each takes the one argument pyo3 gives it and converts
/// it with one of the functions of this module, naming its parameter and range, so that a method
/// declares a parameter's conversion in its signature and the name and range are written once.
/// `fn name -> T = int("field", "range", ERR);` makes `fn name(obj) -> PyResult<T>`.
macro_rules! converters {
    ($($(#[$meta:meta])* $vis:vis fn $name:ident -> $t:ty = $conv:ident($($arg:expr),* $(,)?);)*) => {$(
        $(#[$meta])*
        $vis fn $name(obj: &pyo3::Bound<'_, pyo3::PyAny>) -> pyo3::PyResult<$t> {
            $crate::args::$conv(obj, $($arg),*)
        }
    )*};
}
pub(crate) use converters;

/// A capacity or size given to a constructor: an integer in `[0, 2^64)` that fits `T`; the
/// constructor then checks its documented maximum. Anything else raises `CapacityError`.
pub fn size<'py, T: FromPyObjectOwned<'py>>(
    obj: &Bound<'py, PyAny>,
    field: &str,
    range: &str,
) -> PyResult<T> {
    int(obj, field, range, CapacityError::new_err)
}

// ----- order-shaped arguments (OrderBook, SimEngine) -----------------------------------------

pub const ORDER_ERR: ErrFn = InvalidOrderError::new_err;

/// Prices in ticks: only the type is checked here; the core checks the range (+/-2^62) and the
/// grid, so the per-call and batch paths refuse the same prices with the same reason.
const PRICE_RANGE: &str = "[-2^62, 2^62]";
const PRICE_ERR: ErrFn = InvalidPriceError::new_err;

// The converters below take one argument and name the parameter they convert, so that a method
// can declare a parameter's conversion in its signature (`#[pyo3(from_py_with = args::...)]`).
// pyo3 converts those with the arguments, before the body runs: a method whose checks must come
// in another order (`tif` and `post_only` first, then the order's id, side, price and quantity,
// as the book has always checked them) converts the rest in its body, in that order. The
// optional ones take the argument as pyo3 gives an `Option` parameter (None for Python's None).
converters! {
    pub fn order_id -> u64 = int("order_id", "[0, 2^64)", ORDER_ERR);
    pub fn post_only -> bool = flag("post_only", ORDER_ERR);
    /// `price`: a limit price.
    pub fn price -> i64 = int("price", PRICE_RANGE, PRICE_ERR);
    /// `stop_price`: a stop's trigger price.
    pub fn stop_price -> i64 = int("stop_price", PRICE_RANGE, PRICE_ERR);
    /// A number of price levels to read (`depth`).
    pub fn levels -> usize = int("levels", "[0, 2^64)", ORDER_ERR);
}

pub fn side(obj: &Bound<'_, PyAny>) -> PyResult<Side> {
    let v: i64 = int(obj, "side", "{1, -1}", ORDER_ERR)?;
    Ok(Side::from_sign(v).map_err(CoreErr::from)?)
}

pub fn tif(obj: &Bound<'_, PyAny>) -> PyResult<TimeInForce> {
    let v: i64 = int(obj, "tif", "{0, 1, 2, 3}", ORDER_ERR)?;
    Ok(TimeInForce::parse(v).map_err(CoreErr::from)?)
}

/// `price`, None for a market order.
pub fn opt_price(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    opt_int(obj, "price", PRICE_RANGE, PRICE_ERR)
}

/// `limit_price`, None for none.
pub fn limit_price(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    opt_int(obj, "limit_price", PRICE_RANGE, PRICE_ERR)
}

/// `qty`: a quantity in lots, a positive integer (the core checks the maximum 2^62-1 and the lot).
pub fn qty(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    let field = "qty";
    let v: i64 = int(obj, field, "[1, 2^62)", InvalidQuantityError::new_err)?;
    u64::try_from(v).map_err(|_| {
        CoreErr::Book(BookError::InvalidQuantity { field, value: i128::from(v), why: "must be positive" })
            .into()
    })
}

/// The id, side and quantity of a new order, converted in that order (the methods whose order has
/// nothing between its side and its quantity: `OrderBook.submit_market`, `SimEngine.submit_trailing`
/// and `SimEngine.submit_auction`).
pub fn new_order(
    order_id: &Bound<'_, PyAny>,
    side: &Bound<'_, PyAny>,
    qty: &Bound<'_, PyAny>,
) -> PyResult<(u64, Side, u64)> {
    Ok((self::order_id(order_id)?, self::side(side)?, self::qty(qty)?))
}

/// The arguments of a stop order, as `OrderBook.submit_stop` and `SimEngine.submit_stop` take
/// them; [`stop_order`] checks them in this order.
pub struct StopOrder {
    pub id: u64,
    pub side: Side,
    pub stop: i64,
    pub limit: Option<i64>,
    pub qty: u64,
}

pub fn stop_order(
    order_id: &Bound<'_, PyAny>,
    side: &Bound<'_, PyAny>,
    stop_price: &Bound<'_, PyAny>,
    qty: &Bound<'_, PyAny>,
    limit_price: Option<&Bound<'_, PyAny>>,
) -> PyResult<StopOrder> {
    Ok(StopOrder {
        id: self::order_id(order_id)?,
        side: self::side(side)?,
        stop: self::stop_price(stop_price)?,
        limit: self::limit_price(limit_price)?,
        qty: self::qty(qty)?,
    })
}
