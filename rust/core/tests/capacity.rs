//! Hostile sizes (Issue #14): constructors refuse absurd capacities with a typed error instead of
//! aborting or committing tens of GB, and range errors name their field.

use fillforge_core::book::MAX_CAPACITY;
use fillforge_core::sim::feed::check_row;
use fillforge_core::sim::{kind, FeedMsg};
use fillforge_core::throttle::MAX_KEY_WORDS;
use fillforge_core::trailing::MAX_INSTRUMENTS;
use fillforge_core::{
    BookConfig, CapacityError, Limit, OrderBook, Side, StopSide, StopSpec, Throttle, ThrottleError, Trail,
    TrailingError, TrailingStops,
};

#[test]
fn book_capacity_past_the_bound_is_refused() {
    for orders in [MAX_CAPACITY + 1, 1 << 40, usize::MAX / 2, usize::MAX] {
        let err = OrderBook::try_with_capacity(BookConfig::default(), orders).unwrap_err();
        assert_eq!(
            err,
            CapacityError::TooLarge {
                field: "capacity",
                value: orders as u64,
                max: MAX_CAPACITY as u64,
                unit: "orders reserved in advance",
            }
        );
        assert!(err.to_string().starts_with(&format!("capacity={orders}: more than the maximum")));
    }
}

#[test]
fn book_capacity_within_the_bound_is_reserved() {
    let book = OrderBook::try_with_capacity(BookConfig::default(), 10_000).unwrap();
    assert!(book.arena_capacity() >= 10_000);
    assert!(book.index_capacity() >= 10_000);
    assert!(OrderBook::try_with_capacity(BookConfig::default(), 0).is_ok());
}

#[test]
fn trailing_instruments_past_the_bound_are_refused() {
    for n in [MAX_INSTRUMENTS + 1, 1 << 31, u32::MAX] {
        let err = TrailingStops::try_new(n).unwrap_err();
        assert!(
            matches!(err, CapacityError::TooLarge { field: "n_instruments", value, .. } if value == u64::from(n))
        );
    }
    assert_eq!(TrailingStops::try_new(100).unwrap().n_instruments(), 100);
    assert_eq!(TrailingStops::try_new(0).unwrap().n_instruments(), 0);
}

#[test]
fn throttle_state_per_key_is_bounded() {
    let big = Limit::Window { limit: 1 << 24, window: 10 };
    assert!(Throttle::new(&[big]).is_ok());
    let err = Throttle::new(&[big, big, big]).unwrap_err();
    assert!(matches!(err, ThrottleError::InvalidLimit { index: 1, .. }), "{err}");
    assert!(err.to_string().contains("per key"));
    // GCRA cells are one value each: many fit, but not more than the bound.
    let gcra = Limit::gcra_rate(1, 1_000, 1);
    assert!(Throttle::new(&vec![gcra; 1000]).is_ok());
    const { assert!(MAX_KEY_WORDS >= 1 << 24) };
}

#[test]
fn trail_errors_name_their_field() {
    let mut t = TrailingStops::new(1);
    let spec = |trail, limit_offset| StopSpec {
        id: 1,
        instrument: 0,
        side: StopSide::Sell,
        trail,
        activation: None,
        limit_offset,
        breakeven: None,
    };
    let e = t.add(spec(Trail::Ticks(0), None), None).unwrap_err();
    assert!(matches!(e, TrailingError::InvalidTrail { field: "trail_ticks", .. }));
    assert!(e.to_string().starts_with("trail_ticks=0: "));
    let e = t.add(spec(Trail::Bps(20_000), None), None).unwrap_err();
    assert!(e.to_string().starts_with("trail_bps=20000: "));
    let e = t.add(spec(Trail::Ticks(5), Some(-1)), None).unwrap_err();
    assert!(e.to_string().starts_with("limit_offset=-1: "));
    assert!(t.is_empty());
}

#[test]
fn a_feed_price_of_i64_min_is_out_of_range() {
    // `i64::MIN.abs()` overflows: the range check must not rely on it.
    for price in [i64::MIN, i64::MAX, (1 << 62) + 1, -(1 << 62) - 1] {
        let m = FeedMsg { time_ns: 0, kind: kind::ADD, order_id: 1, side: Side::Buy, price, qty: 1 };
        let e = check_row(0, &m, 0).unwrap_err();
        assert_eq!(e.field, "price");
    }
}
