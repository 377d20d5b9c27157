//! Replay entry points: read, parse and replay venue files in the core, return plain dicts.

use std::path::PathBuf;

use fillforge_core::replay::{cme, lobster};
use fillforge_core::Side;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::dicts::set_fields;
use crate::errors::CoreErr;

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "bid",
        Side::Sell => "ask",
    }
}

/// Replay a LOBSTER message/orderbook pair (plain or gzip) and check the book after every event.
#[pyfunction]
fn replay_lobster<'py>(
    py: Python<'py>,
    message_path: PathBuf,
    orderbook_path: PathBuf,
) -> PyResult<Bound<'py, PyDict>> {
    let s = py.detach(|| lobster::replay_files(&message_path, &orderbook_path)).map_err(CoreErr::Replay)?;
    let d = PyDict::new(py);
    let total = s.parse_seconds + s.replay_seconds;
    set_fields!(d, s; events, checked_levels, adopted_levels, mismatches, mismatched_events);
    set_fields!(d, s; unknown_order_refs, hidden_executions, known_executions, executions_at_queue_head);
    set_fields!(d, s; parse_seconds, replay_seconds);
    d.set_item("msgs_per_s", if total > 0.0 { s.events as f64 / total } else { 0.0 })?;
    d.set_item(
        "replay_msgs_per_s",
        if s.replay_seconds > 0.0 { s.events as f64 / s.replay_seconds } else { 0.0 },
    )?;
    let list = PyList::empty(py);
    for m in &s.first_mismatches {
        let e = PyDict::new(py);
        set_fields!(e, m; event);
        e.set_item("side", side_name(m.side))?;
        set_fields!(e, m; price, expected, got);
        list.append(e)?;
    }
    d.set_item("first_mismatches", list)?;
    Ok(d)
}

/// Replay a Databento CME MBO CSV (plain or gzip) and compare engine fills with the exchange's.
#[pyfunction]
fn replay_cme<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let s = py.detach(|| cme::replay_file(&path)).map_err(CoreErr::Replay)?;
    let d = PyDict::new(py);
    set_fields!(d, s; records, snapshot_orders, adds, cancels, modifies, auction_trades, trades, agreed);
    d.set_item("agreement", s.agreement())?;
    set_fields!(d, s; unambiguous_trades, unambiguous_agreed);
    d.set_item(
        "unambiguous_agreement",
        if s.unambiguous_trades > 0 {
            s.unambiguous_agreed as f64 / s.unambiguous_trades as f64
        } else {
            1.0
        },
    )?;
    let residue = PyDict::new(py);
    for (k, v) in &s.residue {
        residue.set_item(*k, *v)?;
    }
    d.set_item("residue", residue)?;
    set_fields!(d, s; unknown_order_refs, crossed_after_open, final_best_bid, final_best_ask);
    d.set_item("price_scale", cme::PRICE_SCALE)?;
    let ex = PyList::empty(py);
    for x in &s.examples {
        let e = PyDict::new(py);
        set_fields!(e, x; record, cause, expected, engine);
        ex.append(e)?;
    }
    d.set_item("examples", ex)?;
    set_fields!(d, s; seconds);
    d.set_item("msgs_per_s", if s.seconds > 0.0 { s.records as f64 / s.seconds } else { 0.0 })?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(replay_lobster, m)?)?;
    m.add_function(wrap_pyfunction!(replay_cme, m)?)?;
    Ok(())
}
