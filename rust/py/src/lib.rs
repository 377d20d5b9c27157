//! `fillforge._core`: thin PyO3 bindings over `fillforge-core`. Each wrapper converts its
//! arguments, makes one core call and reshapes the result; all logic lives in the core crate.

mod args;
mod book;
mod columns;
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
use fillforge_core::{Reason, Status};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// mimalloc keeps freed pages for reuse: a batch's output columns (handed to numpy, freed when
/// the arrays die) then come back without page faults, which cost ~20% of a large batch under
/// the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn codes<'py, V: IntoPyObject<'py>>(
    py: Python<'py>,
    items: impl Iterator<Item = (&'static str, V)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in items {
        d.set_item(k, v)?;
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
    m.add("STATUS_CODES", codes(py, Status::ALL.iter().map(|s| (s.name(), *s as u8)))?)?;
    m.add("REASON_CODES", codes(py, Reason::ALL.iter().map(|r| (r.name(), *r as u8)))?)?;
    m.add("OP_CODES", codes(py, OpKind::ALL.iter().map(|o| (o.name(), *o as u8)))?)?;
    m.add("FEED_KIND_CODES", codes(py, FeedKind::ALL.iter().map(|k| (k.name(), *k as u8)))?)?;
    m.add("FEED_FLAG_CODES", codes(py, FeedFlag::ALL.iter().map(|f| (f.name(), *f as u64)))?)?;
    m.add("AUCTION_PRINT_CODES", codes(py, AuctionPrint::ALL.iter().map(|a| (a.name(), *a as u64)))?)?;
    m.add("EVENT_CODES", codes(py, EventKind::ALL.iter().map(|e| (e.name(), *e as u8)))?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
