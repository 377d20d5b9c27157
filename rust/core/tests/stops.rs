//! One stop engine: the order book and the simulator trigger the same stops in the same order
//! (buy stops, then sell stops; nearest stop first, then submission order).

use fillforge_core::sim::{event, kind, Engine, Feed, FeedMsg};
use fillforge_core::{OrderBook, OrderRequest, Side, Status, TimeInForce};

/// A recorded bid of 1000 at 98; then a trade prints at 98. Stops are `(id, side, stop)`.
fn book_triggers(stops: &[(u64, Side, i64)]) -> Vec<u64> {
    let mut book = OrderBook::default();
    book.add_resting(1_000, Side::Buy, 98, 1_000).unwrap();
    for &(id, side, stop) in stops {
        book.submit_stop(id, side, stop, None, 1, TimeInForce::Gtc).unwrap();
    }
    book.submit(OrderRequest::market(2_000, Side::Sell, 10)).unwrap();
    book.events().iter().filter(|e| e.status == Status::Triggered).map(|e| e.order_id).collect()
}

fn sim_triggers(stops: &[(u64, Side, i64)]) -> Vec<u64> {
    let m = |t, k, id, side, price, qty| FeedMsg { time_ns: t, kind: k, order_id: id, side, price, qty };
    let feed = Feed::from_rows(vec![
        m(1, kind::ADD, 1_000, Side::Buy, 98, 1_000),
        m(2, kind::EXECUTE, 1_000, Side::Buy, 98, 10),
    ])
    .unwrap();
    let mut e = Engine::new(feed, false);
    e.run(1, i64::MAX, false);
    for &(id, side, stop) in stops {
        e.submit_stop(id, side, stop, None, 1, TimeInForce::Gtc).unwrap();
    }
    e.run(usize::MAX, i64::MAX, false);
    e.take_events().iter().filter(|x| x.kind == event::TRIGGERED).map(|x| x.order_id).collect()
}

#[test]
fn the_book_and_the_simulator_trigger_two_stops_in_the_same_order() {
    // Submitted far stop first: the nearer stop (100) still triggers first in both.
    let stops = [(1, Side::Sell, 99), (2, Side::Sell, 100)];
    assert_eq!(book_triggers(&stops), [2, 1]);
    assert_eq!(sim_triggers(&stops), [2, 1]);
}

#[test]
fn the_book_and_the_simulator_agree_on_many_stop_sets() {
    // A small linear congruential generator: deterministic sets of stops on both sides.
    let mut x: u64 = 12345;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    for _ in 0..200 {
        let count = 1 + next(8);
        let stops: Vec<_> = (0..count)
            .map(|i| {
                let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
                // Buy stops at or below 98 and sell stops at or above 98 trigger on the print.
                let stop = 95 + next(7) as i64;
                (i + 1, side, stop)
            })
            .collect();
        let book = book_triggers(&stops);
        assert_eq!(book, sim_triggers(&stops), "{stops:?}");
        let mut want: Vec<_> = stops
            .iter()
            .filter(|&&(_, side, stop)| if side == Side::Buy { stop <= 98 } else { stop >= 98 })
            .map(|&(id, side, stop)| {
                ((side == Side::Sell, if side == Side::Buy { stop } else { -stop }, id), id)
            })
            .collect();
        want.sort();
        assert_eq!(book, want.iter().map(|w| w.1).collect::<Vec<_>>(), "{stops:?}");
    }
}
