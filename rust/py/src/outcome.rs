//! The outcome of one request to `OrderBook` or `SimEngine`, as both return it to Python.

use fillforge_core::Report;

/// `(status, reason, filled, remaining)`: status and reason codes, quantities in lots.
pub type Outcome = (u8, u8, i64, i64);

pub fn outcome(r: Report) -> Outcome {
    (r.status as u8, r.reason as u8, r.filled as i64, r.remaining as i64)
}
