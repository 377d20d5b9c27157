//! `fillforge._core`: thin PyO3 bindings over `fillforge-core`. Each wrapper converts its
//! arguments, makes one core call and reshapes the result; all logic lives in the core crate.

mod args;
mod book;
mod columns;
mod dicts;
mod errors;
mod guard;
mod markets;
mod outcome;
mod replay;
mod sim;
mod throttle;
mod trailing;

use fillforge_core::batch::OpKind;
use fillforge_core::sim::{AuctionPrint, EventKind, FeedFlag, FeedKind};
use fillforge_core::{Codes, Reason, Status};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// mimalloc keeps freed pages for reuse: a batch's output columns (handed to numpy, freed when
/// the arrays die) then come back without page faults, which cost ~20% of a large batch under
/// the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The name -> code dict of one code enum.
fn codes<C: Codes>(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for c in C::ALL {
        d.set_item(c.name(), c.code())?;
    }
    Ok(d)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    errors::register(m)?;
    m.add_class::<book::PyOrderBook>()?;
    m.add_class::<book::PyBatchResult>()?;
    replay::register(m)?;
    sim::register(m)?;
    m.add_class::<markets::PyMarketsLoop>()?;
    m.add_class::<throttle::PyThrottle>()?;
    m.add_class::<trailing::PyTrailingStops>()?;
    m.add("STATUS_CODES", codes::<Status>(py)?)?;
    m.add("REASON_CODES", codes::<Reason>(py)?)?;
    m.add("OP_CODES", codes::<OpKind>(py)?)?;
    m.add("FEED_KIND_CODES", codes::<FeedKind>(py)?)?;
    m.add("FEED_FLAG_CODES", codes::<FeedFlag>(py)?)?;
    m.add("AUCTION_PRINT_CODES", codes::<AuctionPrint>(py)?)?;
    m.add("EVENT_CODES", codes::<EventKind>(py)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
