//! CME market-by-order replay (filled in next).
