//! The simulator engine's rules: queue position, passive fills from recorded trades, top-of-book
//! sweeps, stops, auctions, and a LOBSTER day with no user orders equal to the plain replay.

use fillforge_core::sim::{event, flag, kind, Engine, Feed, FeedMsg};
use fillforge_core::{Side, TimeInForce, Trail};

fn msg(t: i64, k: u8, id: u64, side: Side, price: i64, qty: u64) -> FeedMsg {
    FeedMsg { time_ns: t, kind: k, order_id: id, side, price, qty }
}

fn engine(rows: Vec<FeedMsg>) -> Engine {
    Engine::new(Feed::from_rows(rows).expect("valid feed"), false)
}

fn fills(e: &mut Engine) -> Vec<(u64, i64, u64, bool)> {
    e.take_events()
        .into_iter()
        .filter(|x| x.kind == event::FILL)
        .map(|x| (x.order_id, x.price, x.qty, x.taker))
        .collect()
}

#[test]
fn a_user_order_behind_displayed_size_fills_only_after_it_trades() {
    let mut e = engine(vec![
        msg(1, kind::ADD, 1, Side::Buy, 100, 50),
        msg(2, kind::EXECUTE, 1, Side::Buy, 100, 30),
        msg(3, kind::EXECUTE, 1, Side::Buy, 100, 20),
        msg(4, kind::ADD, 2, Side::Buy, 100, 40),
        msg(5, kind::EXECUTE, 2, Side::Buy, 100, 5),
    ]);
    e.run(1, i64::MAX, true);
    e.submit(7, Side::Buy, Some(100), 10, TimeInForce::Gtc, false).unwrap();
    assert_eq!(e.user_order(7), Some((Side::Buy, 100, 10, 50)));
    e.take_events();
    e.run(2, i64::MAX, true);
    assert!(fills(&mut e).is_empty(), "order 1 was ahead and took both executions");
    assert_eq!(e.user_order(7).map(|o| o.3), Some(0), "now at the head");
    e.run(usize::MAX, i64::MAX, true);
    // Order 2 arrived behind the user: the trade that reached it passed the user first.
    assert_eq!(fills(&mut e), vec![(7, 100, 5, false)]);
    assert_eq!(e.user_order(7), Some((Side::Buy, 100, 5, 0)));
    e.check_invariants().unwrap();
}

#[test]
fn a_better_priced_user_order_fills_first_at_its_own_price() {
    let mut e = engine(vec![
        msg(1, kind::ADD, 1, Side::Sell, 105, 50),
        msg(2, kind::EXECUTE, 1, Side::Sell, 105, 30),
    ]);
    e.run(1, i64::MAX, false);
    e.submit(9, Side::Sell, Some(104), 20, TimeInForce::Day, false).unwrap();
    e.take_events();
    e.run(5, i64::MAX, false);
    assert_eq!(fills(&mut e), vec![(9, 104, 20, false)]);
    // The recorded order still lost what the data says it lost.
    assert_eq!(e.best(Side::Sell, false), Some((105, 20)));
}

#[test]
fn hidden_executions_and_crossing_adds_reach_user_orders() {
    let mut e = engine(vec![
        msg(1, kind::HIDDEN, 0, Side::Buy, 100, 4),
        msg(2, kind::ADD, 3, Side::Sell, 99, 6),
        msg(3, kind::ADD, 4, Side::Sell, 99, 6),
    ]);
    e.submit(1, Side::Buy, Some(100), 10, TimeInForce::Gtc, false).unwrap();
    e.take_events();
    e.run(usize::MAX, i64::MAX, false);
    assert_eq!(fills(&mut e), vec![(1, 100, 4, false), (1, 100, 6, false)]);
    assert_eq!(e.user_order(1), None);
    e.check_invariants().unwrap();
}

#[test]
fn user_market_orders_take_recorded_liquidity_and_report_the_rest() {
    let mut e =
        engine(vec![msg(1, kind::ADD, 1, Side::Sell, 101, 5), msg(2, kind::ADD, 2, Side::Sell, 102, 5)]);
    e.run(usize::MAX, i64::MAX, false);
    let r = e.submit(1, Side::Buy, None, 12, TimeInForce::Ioc, false).unwrap();
    assert_eq!((r.filled, r.remaining), (10, 2));
    let evs = e.take_events();
    let got: Vec<_> = evs.iter().map(|x| (x.kind, x.price, x.qty, x.remaining, x.taker)).collect();
    assert_eq!(
        got,
        vec![
            (event::FILL, 101, 5, 7, true),
            (event::FILL, 102, 5, 2, true),
            (event::CANCELED, 0, 0, 2, false)
        ]
    );
    assert_eq!(e.last_trade(), Some(102));
}

#[test]
fn quotes_set_the_top_and_trades_sweep_the_queue_in_order() {
    let mut e = engine(vec![
        msg(1, kind::QUOTE, 0, Side::Buy, 100, 30),
        msg(2, kind::TRADE, 0, Side::Buy, 100, 20),
        msg(3, kind::QUOTE, 0, Side::Buy, 100, 50),
        msg(4, kind::TRADE, 0, Side::Buy, 100, 15),
        msg(5, kind::QUOTE, 0, Side::Buy, 99, 10),
    ]);
    e.run(1, i64::MAX, false);
    e.submit(5, Side::Buy, Some(100), 10, TimeInForce::Gtc, false).unwrap();
    e.take_events();
    e.run(1, i64::MAX, false);
    assert!(fills(&mut e).is_empty(), "30 displayed ahead, 20 traded");
    e.run(1, i64::MAX, false);
    assert_eq!(e.user_order(5).map(|o| o.3), Some(10), "size added joins behind the user");
    e.run(1, i64::MAX, false);
    assert_eq!(fills(&mut e), vec![(5, 100, 5, false)]);
    e.run(1, i64::MAX, false);
    assert_eq!(e.best(Side::Buy, true), Some((100, 0)).filter(|_| false).or(Some((99, 10))));
    assert_eq!(e.best(Side::Buy, false), Some((100, 5)), "the user's order stays above the new quote");
    e.check_invariants().unwrap();
}

#[test]
fn stops_fire_on_recorded_trades_and_trailing_stops_track_them() {
    let mut e = engine(vec![
        msg(1, kind::ADD, 1, Side::Buy, 95, 100),
        msg(2, kind::HIDDEN, 0, Side::Sell, 110, 1),
        msg(3, kind::HIDDEN, 0, Side::Sell, 104, 1),
    ]);
    e.run(1, i64::MAX, false);
    e.submit_stop(1, Side::Sell, 100, None, 10, TimeInForce::Gtc).unwrap();
    e.submit_trailing(2, Side::Sell, 5, Trail::Ticks(5), None, None, TimeInForce::Gtc).unwrap();
    e.run(1, i64::MAX, false);
    assert!(e.take_events().is_empty());
    assert_eq!(e.trailing_state(2), Some((Some(105), Some(110))));
    e.run(1, i64::MAX, false);
    let evs: Vec<_> = e.take_events().iter().map(|x| (x.kind, x.order_id, x.price, x.qty)).collect();
    // The trailing stop's own fill at 95 is a trade through 100: the plain stop fires next.
    let want = [
        (event::TRIGGERED, 2, 105, 0),
        (event::FILL, 2, 95, 5),
        (event::TRIGGERED, 1, 100, 0),
        (event::FILL, 1, 95, 10),
    ];
    assert_eq!(evs, want);
    assert_eq!(e.user_order_count(), 0);
}

#[test]
fn auction_orders_fill_at_the_print_or_are_refused_without_one() {
    let mut e = engine(vec![
        msg(1, kind::AUCTION, 0, Side::Buy, 100, 1000),
        msg(2, kind::HIDDEN, 0, Side::Buy, 99, 1),
    ]);
    e.submit_auction(1, Side::Buy, 10, Some(101), false).unwrap();
    e.submit_auction(2, Side::Sell, 10, Some(101), false).unwrap();
    assert!(e.submit_auction(3, Side::Buy, 10, None, true).is_err(), "no closing print");
    e.run(1, i64::MAX, false);
    let evs: Vec<_> =
        e.take_events().iter().map(|x| (x.kind, x.order_id, x.price, x.qty, x.remaining)).collect();
    assert_eq!(evs, vec![(event::FILL, 1, 100, 10, 0), (event::CANCELED, 2, 100, 0, 10)]);
    assert!(e.submit_auction(4, Side::Buy, 10, None, false).is_err(), "the opening print is behind");
}

#[test]
fn day_orders_expire_and_bad_requests_change_nothing() {
    let mut e = engine(vec![msg(1, kind::ADD, 1, Side::Buy, 95, 100)]);
    e.run(1, i64::MAX, false);
    e.submit(1, Side::Sell, Some(120), 3, TimeInForce::Day, false).unwrap();
    e.submit(2, Side::Sell, Some(121), 3, TimeInForce::Gtc, false).unwrap();
    e.submit_stop(3, Side::Sell, 90, None, 3, TimeInForce::Day).unwrap();
    assert!(e.submit(1, Side::Sell, Some(122), 3, TimeInForce::Day, false).is_err(), "live id");
    assert!(e.submit(1 << 62, Side::Sell, Some(122), 3, TimeInForce::Day, false).is_err(), "id range");
    assert!(e.submit(4, Side::Sell, Some(122), 0, TimeInForce::Day, false).is_err(), "qty");
    assert!(e.cancel(99).is_err());
    e.take_events();
    assert_eq!(e.expire_day(), 2);
    assert_eq!(e.user_order(2).map(|o| o.2), Some(3));
    assert_eq!(e.user_order_count(), 1);
    e.check_invariants().unwrap();
}

#[test]
fn feeds_refuse_bad_rows() {
    let bad =
        Feed::from_rows(vec![msg(2, kind::ADD, 1, Side::Buy, 1, 1), msg(1, kind::ADD, 2, Side::Buy, 1, 1)]);
    assert_eq!(bad.unwrap_err().field, "time_ns");
    assert_eq!(Feed::from_rows(vec![msg(1, 42, 1, Side::Buy, 1, 1)]).unwrap_err().field, "kind");
    assert_eq!(
        Feed::from_rows(vec![msg(1, kind::ADD, 1 << 62, Side::Buy, 1, 1)]).unwrap_err().field,
        "order_id"
    );
    assert_eq!(Feed::from_rows(vec![msg(1, kind::ADD, 1, Side::Buy, 1, 0)]).unwrap_err().field, "qty");
}

fn shared(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/lobster").join(name)
}

#[test]
fn a_lobster_day_without_user_orders_matches_the_plain_replay() {
    let m = shared("GOOG_2012-06-21_34200000_57600000_message_10.csv");
    let o = shared("GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.gz");
    let feed = Feed::lobster_files(&m, &o, 0, 1).expect("shared data");
    let plain = fillforge_core::replay::lobster::replay_files(&m, &o).unwrap();
    let mut e = Engine::new(feed, true);
    let n = e.run(usize::MAX, i64::MAX, false);
    assert_eq!(n as u64, plain.events);
    let s = e.stats();
    assert_eq!(s.checked_levels, plain.checked_levels);
    assert_eq!((s.mismatches, s.adopted_levels), (plain.mismatches, plain.adopted_levels));
    assert_eq!(plain.mismatches, 0);
    assert_eq!(s.user_fills, 0);
}

#[test]
fn a_lobster_day_with_a_resting_user_order_keeps_the_true_book() {
    let m = shared("GOOG_2012-06-21_34200000_57600000_message_10.csv");
    let o = shared("GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.gz");
    let mut e = Engine::new(Feed::lobster_files(&m, &o, 0, 1).unwrap(), true);
    let mut id = 0;
    let mut filled = 0;
    while !e.is_done() {
        e.run(1000, i64::MAX, false);
        filled += e.take_events().iter().filter(|x| x.kind == event::FILL).map(|x| x.qty).sum::<u64>();
        if let (Some((bid, _)), Some(_)) = (e.best(Side::Buy, true), e.best(Side::Sell, true)) {
            let _ = e.cancel(id);
            id += 1;
            e.submit(id, Side::Buy, Some(bid), 100, TimeInForce::Gtc, false).unwrap();
        }
        e.check_invariants().unwrap();
    }
    assert!(filled > 0, "a bid joined at the best bid every 1000 events fills sometimes");
    // Recorded liquidity was held to the true book all day (user orders excluded from checks).
    assert_eq!(e.stats().mismatches, 0, "resting user orders never disturb the recorded book");
    assert!(e.stats().checked_levels > 1_000_000);
}

#[test]
fn orders_that_would_trade_with_the_users_own_orders_are_refused() {
    let mut e = engine(vec![msg(1, kind::ADD, 1, Side::Sell, 110, 100)]);
    e.run(1, i64::MAX, false);
    e.submit(1, Side::Buy, Some(100), 10, TimeInForce::Gtc, false).unwrap();
    assert!(e.submit(2, Side::Sell, Some(100), 10, TimeInForce::Gtc, false).is_err());
    assert!(e.submit(3, Side::Sell, None, 10, TimeInForce::Ioc, false).is_err());
    e.submit(4, Side::Sell, Some(101), 10, TimeInForce::Gtc, false).unwrap();
    assert_eq!(e.user_order(1).map(|o| o.2), Some(10));
    e.check_invariants().unwrap();
}

#[test]
fn a_quote_through_a_resting_user_order_fills_it_at_the_quote() {
    let mut e = engine(vec![msg(1, kind::QUOTE, 0, Side::Sell, 97, 10)]);
    e.submit(1, Side::Buy, Some(100), 5, TimeInForce::Gtc, false).unwrap();
    e.take_events();
    e.run(1, i64::MAX, false);
    assert_eq!(fills(&mut e), vec![(1, 97, 5, false)]);
}

#[test]
fn a_trailing_stops_trail_can_change_and_keeps_its_water_mark() {
    let mut e = engine(vec![msg(1, kind::HIDDEN, 0, Side::Sell, 110, 1)]);
    e.submit_trailing(2, Side::Sell, 5, Trail::Ticks(5), None, None, TimeInForce::Gtc).unwrap();
    e.run(1, i64::MAX, false);
    assert_eq!(e.trailing_state(2), Some((Some(105), Some(110))));
    e.amend_trailing(2, Trail::Ticks(2)).unwrap();
    assert_eq!(e.trailing_state(2), Some((Some(108), Some(110))));
    assert!(e.amend_trailing(2, Trail::Bps(100)).is_err(), "no switch to percent");
    assert!(e.amend_trailing(3, Trail::Ticks(2)).is_err(), "unknown");
    assert_eq!(e.trailing_state(2), Some((Some(108), Some(110))));
}

/// One point of a bar path: quotes of `qty` at `p` and a trade sweeping the side it came from.
fn point(t: i64, p: i64, from: i64, flags: u64, qty: u64) -> [FeedMsg; 3] {
    let swept = if p < from { Side::Buy } else { Side::Sell };
    [
        msg(t, kind::QUOTE, flags, Side::Buy, p, qty),
        msg(t, kind::QUOTE, flags, Side::Sell, p, qty),
        msg(t, kind::TRADE, flags, swept, p, qty),
    ]
}

const BAR: u64 = flag::PATH | flag::WAIT;

#[test]
fn a_stop_crossed_on_a_continuous_path_fills_at_its_stop_never_canceled() {
    // A bar 105 -> 95 -> 96: the sell stop at 100 is crossed between two points of the path.
    let mut rows = Vec::new();
    rows.extend(point(1, 105, 105, flag::WAIT, 10));
    rows.extend(point(2, 95, 105, BAR, 10));
    rows.extend(point(3, 96, 95, BAR, 10));
    let mut e = engine(rows);
    e.run(3, i64::MAX, false);
    e.submit_stop(1, Side::Sell, 100, None, 25, TimeInForce::Gtc).unwrap();
    e.submit_trailing(2, Side::Sell, 5, Trail::Ticks(3), None, None, TimeInForce::Gtc).unwrap();
    e.run(usize::MAX, i64::MAX, false);
    let evs: Vec<_> = e.take_events().iter().map(|x| (x.kind, x.order_id, x.price, x.qty, x.taker)).collect();
    // The trailing stop (102) is nearer than the stop (100): it fires first; both at their stops.
    assert_eq!(
        evs,
        [
            (event::TRIGGERED, 2, 102, 0, false),
            (event::FILL, 2, 102, 5, true),
            (event::TRIGGERED, 1, 100, 0, false),
            (event::FILL, 1, 100, 25, true),
        ]
    );
    assert_eq!(e.user_order_count(), 0);
}

#[test]
fn a_gapped_stop_takes_displayed_size_then_fills_at_the_first_print_past_it() {
    // The next bar opens at 95 (a discrete print) below the sell stop at 100.
    let mut rows = Vec::new();
    rows.extend(point(1, 105, 105, flag::WAIT, 10));
    rows.push(msg(2, kind::QUOTE, flag::WAIT, Side::Buy, 95, 10));
    rows.push(msg(2, kind::QUOTE, flag::WAIT, Side::Sell, 95, 10));
    rows.push(msg(2, kind::AUCTION, 2, Side::Buy, 95, 10));
    let mut e = engine(rows);
    e.run(3, i64::MAX, false);
    e.submit_stop(1, Side::Sell, 100, None, 25, TimeInForce::Gtc).unwrap();
    e.run(usize::MAX, i64::MAX, false);
    let evs: Vec<_> = e.take_events().iter().map(|x| (x.kind, x.price, x.qty, x.remaining)).collect();
    // 10 displayed at the open, the other 15 at the open print: never canceled.
    assert_eq!(evs, [(event::TRIGGERED, 100, 0, 25), (event::FILL, 95, 10, 15), (event::FILL, 95, 15, 0)]);
}

#[test]
fn a_trade_print_through_a_stop_with_no_displayed_size_fills_it_at_the_print() {
    let mut e = engine(vec![
        msg(1, kind::QUOTE, 0, Side::Buy, 100, 5),
        msg(1, kind::QUOTE, 0, Side::Sell, 101, 5),
        msg(2, kind::TRADE, 0, Side::Buy, 98, 50),
    ]);
    e.run(2, i64::MAX, false);
    e.submit_stop(1, Side::Sell, 99, None, 8, TimeInForce::Gtc).unwrap();
    e.submit_stop(2, Side::Sell, 97, Some(97), 8, TimeInForce::Gtc).unwrap();
    e.submit_stop(3, Side::Sell, 99, Some(99), 8, TimeInForce::Gtc).unwrap();
    e.run(usize::MAX, i64::MAX, false);
    let evs: Vec<_> = e.take_events().iter().map(|x| (x.kind, x.order_id, x.price, x.qty)).collect();
    // The stop fills at the print (98); the stop-limit at 99 becomes a limit and rests.
    assert_eq!(
        evs,
        [
            (event::TRIGGERED, 1, 99, 0),
            (event::FILL, 1, 98, 8),
            (event::TRIGGERED, 3, 99, 0),
            (event::RESTED, 3, 99, 0),
        ]
    );
    assert_eq!(e.user_order_count(), 2, "the stop-limit rests, the stop at 97 is held");
}

#[test]
fn a_market_order_on_bar_liquidity_waits_for_the_next_print() {
    let mut rows = Vec::new();
    rows.extend(point(1, 100, 100, flag::WAIT, 10));
    rows.push(msg(1, kind::QUOTE, flag::WAIT, Side::Buy, 100, 0));
    rows.push(msg(1, kind::QUOTE, flag::WAIT, Side::Sell, 100, 0));
    rows.extend(point(5, 103, 100, flag::WAIT, 10));
    let mut e = engine(rows);
    e.run(5, i64::MAX, false);
    let r = e.submit(1, Side::Buy, None, 7, TimeInForce::Day, false).unwrap();
    assert_eq!((r.status, r.remaining), (fillforge_core::Status::Pending, 7));
    // An IOC market order still cancels what it cannot fill.
    e.submit(2, Side::Buy, None, 7, TimeInForce::Ioc, false).unwrap();
    assert_eq!(
        e.take_events().iter().map(|x| (x.kind, x.order_id)).collect::<Vec<_>>(),
        [(event::CANCELED, 2)]
    );
    e.run(usize::MAX, i64::MAX, false);
    let evs: Vec<_> =
        e.take_events().iter().map(|x| (x.kind, x.order_id, x.price, x.qty, x.time_ns)).collect();
    assert_eq!(evs, [(event::FILL, 1, 103, 7, 5)]);
}

#[test]
fn wash_prevention_refuses_a_self_trade_and_off_both_sides_fill() {
    let rows = vec![msg(1, kind::ADD, 1, Side::Sell, 105, 10), msg(2, kind::ADD, 2, Side::Buy, 95, 10)];
    let mut on = engine(rows.clone());
    on.run(usize::MAX, i64::MAX, false);
    on.submit(1, Side::Buy, Some(100), 5, TimeInForce::Gtc, false).unwrap();
    assert!(on.prevent_wash(), "on by default");
    assert!(on.submit(2, Side::Sell, Some(100), 3, TimeInForce::Gtc, false).is_err());
    assert!(on.submit(3, Side::Sell, None, 3, TimeInForce::Gtc, false).is_err());
    assert_eq!(on.user_order(1), Some((Side::Buy, 100, 5, 0)), "unchanged");

    let mut off = engine(rows);
    off.set_prevent_wash(false);
    off.reset();
    assert!(!off.prevent_wash(), "reset keeps the switch");
    off.run(usize::MAX, i64::MAX, false);
    off.submit(1, Side::Buy, Some(100), 5, TimeInForce::Gtc, false).unwrap();
    off.take_events();
    off.submit(2, Side::Sell, Some(100), 3, TimeInForce::Gtc, false).unwrap();
    // The incoming sell takes as any taker; the resting buy fills as maker at its own price.
    assert_eq!(fills(&mut off), vec![(2, 100, 3, true), (1, 100, 3, false)]);
    assert_eq!(off.user_order(1), Some((Side::Buy, 100, 2, 0)));
    off.check_invariants().unwrap();
}

/// Events of every market, in the order a loop over the merged feeds reports them.
type Tagged = Vec<(usize, fillforge_core::sim::UserEvent)>;

fn two_markets() -> (Vec<FeedMsg>, Vec<FeedMsg>) {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for i in 0..60u64 {
        let t = (i / 3) as i64 * 10; // three messages per time: ties inside and across markets
        let price = 100 + (i % 5) as i64;
        a.push(msg(t, kind::TRADE, 0, if i % 2 == 0 { Side::Buy } else { Side::Sell }, price, 2));
        b.push(msg(t + (i % 2) as i64 * 5, kind::TRADE, 0, Side::Sell, 200 - (i % 4) as i64, 1));
    }
    b.sort_by_key(|m| m.time_ns);
    (a, b)
}

fn with_orders(rows: Vec<FeedMsg>, price: i64) -> Engine {
    let mut e = engine(rows);
    for k in 0..4 {
        e.submit(k, Side::Buy, Some(price - k as i64), 50, TimeInForce::Gtc, false).unwrap();
        e.submit(10 + k, Side::Sell, Some(price + 2 + k as i64), 50, TimeInForce::Gtc, false).unwrap();
    }
    e.take_events();
    e
}

/// The markets' positions each time a user order changed.
type Stops = Vec<Vec<usize>>;

fn three_markets() -> [Engine; 3] {
    let (a, b) = two_markets();
    // The third has no user orders: it cannot change one, and need not interleave.
    let c: Vec<FeedMsg> = a.iter().map(|m| FeedMsg { time_ns: m.time_ns + 1, ..*m }).collect();
    [with_orders(a, 102), with_orders(b, 198), engine(c)]
}

#[test]
fn merged_markets_replay_in_time_order_as_one_message_at_a_time() {
    // Reference: every message on its own, in (time, market, position) order.
    let mut refs = three_markets();
    let mut order: Vec<(i64, usize, usize)> = Vec::new();
    for (i, e) in refs.iter().enumerate() {
        order.extend(e.feed().msgs.iter().enumerate().map(|(p, m)| (m.time_ns, i, p)));
    }
    order.sort_unstable();
    let mut expected: Tagged = Vec::new();
    let mut expected_stops: Stops = Vec::new();
    for &(_, i, _) in &order {
        assert_eq!(refs[i].run(1, i64::MAX, true), 1);
        let events = refs[i].take_events();
        if !events.is_empty() {
            expected_stops.push(refs.iter().map(|e| e.position()).collect());
        }
        expected.extend(events.into_iter().map(|e| (i, e)));
    }
    assert!(expected.len() > 10, "the feeds reach the user orders");

    // Budgets that bind (message by message) and that cannot (the idle market in one stretch).
    for budget in [7, usize::MAX] {
        let [mut x, mut y, mut z] = three_markets();
        let mut got: Tagged = Vec::new();
        let mut stops: Stops = Vec::new();
        let mut total = 0;
        loop {
            let mut engines = [&mut x, &mut y, &mut z];
            let r = fillforge_core::sim::run_merged(&mut engines, budget, i64::MAX);
            total += r.applied;
            if let Some(i) = r.market {
                let events = engines[i].take_events();
                assert_eq!(r.changed, !events.is_empty(), "it stops at a user change, and only there");
                if r.changed {
                    stops.push(engines.iter().map(|e| e.position()).collect());
                }
                got.extend(events.into_iter().map(|e| (i, e)));
            }
            if r.applied == 0 {
                break;
            }
        }
        assert_eq!(total, 180);
        assert_eq!(got, expected);
        assert_eq!(stops, expected_stops, "every market stood where it should at each change");
    }
}

#[test]
fn merged_markets_stop_before_the_bound_and_at_a_user_change() {
    let a = vec![msg(10, kind::TRADE, 0, Side::Buy, 100, 1), msg(30, kind::TRADE, 0, Side::Buy, 100, 1)];
    let b = vec![msg(20, kind::TRADE, 0, Side::Buy, 99, 1), msg(40, kind::TRADE, 0, Side::Buy, 99, 1)];
    let (mut x, mut y) = (engine(a), engine(b));
    y.submit(1, Side::Buy, Some(99), 1, TimeInForce::Gtc, false).unwrap();
    y.take_events();
    let mut engines = [&mut x, &mut y];
    let r = fillforge_core::sim::run_merged(&mut engines, usize::MAX, 15);
    assert_eq!((r.applied, r.market, r.changed), (1, Some(0), false));
    let r = fillforge_core::sim::run_merged(&mut engines, usize::MAX, i64::MAX);
    assert_eq!((r.applied, r.market, r.changed), (1, Some(1), true), "the trade at 99 filled order 1");
    assert_eq!(engines[1].take_events().len(), 1);
    let r = fillforge_core::sim::run_merged(&mut engines, usize::MAX, i64::MAX);
    assert_eq!((r.applied, r.market, r.changed), (2, Some(1), false));
    assert!(engines.iter().all(|e| e.is_done()));
}

#[test]
fn user_takers_that_empty_a_placeholder_leave_the_replay_whole() {
    // Market orders big enough to sweep whole levels take the reconciler's placeholders (recorded
    // liquidity the file never showed the orders of) out of the book; a later recorded
    // execution or cancel at that price must find the placeholder gone, not panic.
    let m = shared("GOOG_2012-06-21_34200000_57600000_message_10.csv");
    let o = shared("GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.gz");
    let mut e = Engine::new(Feed::lobster_files(&m, &o, 0, 1).unwrap(), true);
    let mut id = 0;
    let mut taken = 0;
    while !e.is_done() {
        e.run(500, i64::MAX, false);
        id += 1;
        let side = if id % 2 == 0 { Side::Buy } else { Side::Sell };
        e.submit(id, side, None, 3_000, TimeInForce::Ioc, false).unwrap();
        taken += e.take_events().iter().filter(|x| x.kind == event::FILL).map(|x| x.qty).sum::<u64>();
        e.check_invariants().unwrap();
    }
    assert!(taken > 100_000, "the sweeps traded ({taken})");
    assert!(e.stats().unknown_order_refs > 0, "recorded messages referred to unseen orders");
}
