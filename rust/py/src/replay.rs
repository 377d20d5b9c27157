//! Replay entry points: read, parse and replay venue files in the core, return plain dicts.

use std::path::PathBuf;

use fillforge_core::replay::{cme, lobster};
use fillforge_core::Side;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

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
    d.set_item("events", s.events)?;
    d.set_item("checked_levels", s.checked_levels)?;
    d.set_item("adopted_levels", s.adopted_levels)?;
    d.set_item("mismatches", s.mismatches)?;
    d.set_item("mismatched_events", s.mismatched_events)?;
    d.set_item("unknown_order_refs", s.unknown_order_refs)?;
    d.set_item("hidden_executions", s.hidden_executions)?;
    d.set_item("known_executions", s.known_executions)?;
    d.set_item("executions_at_queue_head", s.executions_at_queue_head)?;
    d.set_item("parse_seconds", s.parse_seconds)?;
    d.set_item("replay_seconds", s.replay_seconds)?;
    d.set_item("msgs_per_s", if total > 0.0 { s.events as f64 / total } else { 0.0 })?;
    d.set_item(
        "replay_msgs_per_s",
        if s.replay_seconds > 0.0 { s.events as f64 / s.replay_seconds } else { 0.0 },
    )?;
    let list = PyList::empty(py);
    for m in &s.first_mismatches {
        let e = PyDict::new(py);
        e.set_item("event", m.event)?;
        e.set_item("side", side_name(m.side))?;
        e.set_item("price", m.price)?;
        e.set_item("expected", m.expected)?;
        e.set_item("got", m.got)?;
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
    d.set_item("records", s.records)?;
    d.set_item("snapshot_orders", s.snapshot_orders)?;
    d.set_item("adds", s.adds)?;
    d.set_item("cancels", s.cancels)?;
    d.set_item("modifies", s.modifies)?;
    d.set_item("auction_trades", s.auction_trades)?;
    d.set_item("trades", s.trades)?;
    d.set_item("agreed", s.agreed)?;
    d.set_item("agreement", s.agreement())?;
    d.set_item("unambiguous_trades", s.unambiguous_trades)?;
    d.set_item("unambiguous_agreed", s.unambiguous_agreed)?;
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
    d.set_item("unknown_order_refs", s.unknown_order_refs)?;
    d.set_item("crossed_after_open", s.crossed_after_open)?;
    d.set_item("final_best_bid", s.final_best_bid)?;
    d.set_item("final_best_ask", s.final_best_ask)?;
    d.set_item("price_scale", cme::PRICE_SCALE)?;
    let ex = PyList::empty(py);
    for x in &s.examples {
        let e = PyDict::new(py);
        e.set_item("record", x.record)?;
        e.set_item("cause", x.cause)?;
        e.set_item("expected", x.expected.clone())?;
        e.set_item("engine", x.engine.clone())?;
        ex.append(e)?;
    }
    d.set_item("examples", ex)?;
    d.set_item("seconds", s.seconds)?;
    d.set_item("msgs_per_s", if s.seconds > 0.0 { s.records as f64 / s.seconds } else { 0.0 })?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(replay_lobster, m)?)?;
    m.add_function(wrap_pyfunction!(replay_cme, m)?)?;
    Ok(())
}
