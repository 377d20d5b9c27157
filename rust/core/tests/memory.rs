//! Replaying the same workload on a reset book allocates nothing more: capacities are reused.

use fillforge_core::{BookConfig, OrderBook, OrderRequest, Side, TimeInForce};

fn workload(book: &mut OrderBook) {
    for i in 0..50_000u64 {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let price = if side == Side::Buy { 999 - (i % 50) as i64 } else { 1001 + (i % 50) as i64 };
        book.submit(OrderRequest::limit(i, side, price, 1 + i % 7, TimeInForce::Gtc)).unwrap();
        if i % 3 == 0 {
            book.cancel(i).unwrap();
        }
        if i % 1000 == 999 {
            book.submit(OrderRequest::market(1_000_000 + i, side.opposite(), 500)).unwrap();
        }
    }
}

#[test]
fn no_growth_on_a_reset_book() {
    let mut book = OrderBook::new(BookConfig::default());
    workload(&mut book);
    book.clear_fills();
    let caps = (book.arena_capacity(), book.index_capacity());
    for _ in 0..3 {
        book.reset();
        workload(&mut book);
        book.clear_fills();
        assert_eq!((book.arena_capacity(), book.index_capacity()), caps);
    }
}
