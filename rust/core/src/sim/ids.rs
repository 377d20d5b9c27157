//! The simulator's order id space, shared by the recorded orders, the reconciler's placeholders,
//! the user's orders and the engine's own entries in one book.

use crate::book::OrderId;

/// Placeholder orders take ids from here up, far above Nasdaq order reference numbers.
pub(crate) const PLACEHOLDER_BASE: OrderId = 1 << 63;
/// A simulator's own orders carry this tag (bit 62 without bit 63); replayed orders are below it.
pub(crate) const USER_TAG: OrderId = 1 << 62;

/// Whether `id` is a simulator user's order (never reset or counted as recorded liquidity).
#[inline]
pub(crate) fn is_user(id: OrderId) -> bool {
    id & (PLACEHOLDER_BASE | USER_TAG) == USER_TAG
}
