//! Replays of real venue data through the book, with checks against the venue's own record.

pub mod cme;
pub mod lobster;
mod text;

pub use text::read_maybe_gz;
