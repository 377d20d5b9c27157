//! fillforge-core: the pure-Rust heart of fillforge.
//!
//! An L3 (order-by-order) limit order book with price-time priority, and replay drivers that
//! check it against real venue data. No Python here: `cargo test` runs without an interpreter.
//! Prices are integer ticks (`i64`), quantities integer lots (`u64`), order ids caller-chosen `u64`.

pub mod batch;
pub mod book;
pub mod codes;
pub mod error;
pub mod replay;
pub mod sim;
pub mod stops;
pub mod throttle;
pub mod trailing;

pub use batch::{BatchInput, BatchOutput, OpKind};
pub use book::{
    Book, BookConfig, BtreeLevels, Event, Fill, Level, LevelMap, OrderBook, OrderId, OrderInfo, OrderRequest,
    OrderType, Price, Qty, Report, Side, Status, TimeInForce, VecLevels,
};
pub use codes::Codes;
pub use error::{BookError, CapacityError, Reason, ThrottleError, TrailingError};
pub use throttle::{Decision, Limit, Throttle};
pub use trailing::{BreakEven, StopSide, StopSpec, StopState, Trail, TrailingStops, Trigger};
