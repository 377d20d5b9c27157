//! Trailing-stop tests: a brute-force reference model under proptest (random price paths, adds,
//! removes, amends, last/quote/dense updates), plus the documented edge rules.

use fillforge_core::{
    BreakEven, StopSide, StopSpec, StopState, Trail, TrailingError, TrailingStops, Trigger,
};
use proptest::prelude::*;

// ----- the reference model ------------------------------------------------------------------

#[derive(Clone, Debug)]
struct RefStop {
    spec: StopSpec,
    hwm: Option<i64>,
}

/// The reference stop: the trail's stop, then (spelt out independently of the engine) the
/// break-even floor once the water mark is `profit` ticks past the entry.
fn ref_stop(side: StopSide, trail: Trail, be: Option<BreakEven>, hwm: i64) -> i64 {
    let stop = ref_trail_stop(side, trail, hwm);
    match (be, side) {
        (Some(b), StopSide::Sell) if hwm - b.entry >= b.profit => stop.max(b.entry + b.lock),
        (Some(b), StopSide::Buy) if b.entry - hwm >= b.profit => stop.min(b.entry - b.lock),
        _ => stop,
    }
}

fn ref_trail_stop(side: StopSide, trail: Trail, hwm: i64) -> i64 {
    match trail {
        Trail::Ticks(t) => match side {
            StopSide::Sell => hwm - t,
            StopSide::Buy => hwm + t,
        },
        Trail::Bps(b) => {
            // Exact stop hwm * (1 -/+ b/10^4), rounded toward the price, at least one tick away.
            let (h, b) = (i128::from(hwm.max(0)), i128::from(b));
            match side {
                StopSide::Sell => {
                    let num = h * (10_000 - b);
                    let up = (num + 9_999).div_euclid(10_000) as i64;
                    up.min(hwm - 1)
                }
                StopSide::Buy => {
                    let down = (h * (10_000 + b)).div_euclid(10_000) as i64;
                    down.max(hwm + 1)
                }
            }
        }
    }
}

#[derive(Default)]
struct Reference {
    n: u32,
    stops: Vec<RefStop>,
}

impl Reference {
    fn state(&self, id: u64) -> Option<StopState> {
        let s = self.stops.iter().find(|s| s.spec.id == id)?;
        Some(StopState {
            spec: s.spec,
            armed: s.hwm.is_some(),
            hwm: s.hwm,
            stop: s.hwm.map(|h| ref_stop(s.spec.side, s.spec.trail, s.spec.breakeven, h)),
            breakeven_active: match (s.hwm, s.spec.breakeven, s.spec.side) {
                (Some(h), Some(b), StopSide::Sell) => h - b.entry >= b.profit,
                (Some(h), Some(b), StopSide::Buy) => b.entry - h >= b.profit,
                _ => false,
            },
        })
    }

    fn apply(&mut self, inst: u32, bid: i64, ask: i64, out: &mut Vec<Trigger>) {
        let mut keep = Vec::new();
        for mut s in std::mem::take(&mut self.stops) {
            if s.spec.instrument != inst {
                keep.push(s);
                continue;
            }
            let p = if s.spec.side == StopSide::Sell { bid } else { ask };
            match s.hwm {
                None => {
                    let ok = match (s.spec.side, s.spec.activation) {
                        (_, None) => true,
                        (StopSide::Sell, Some(a)) => p >= a,
                        (StopSide::Buy, Some(a)) => p <= a,
                    };
                    if ok {
                        s.hwm = Some(p);
                    }
                    keep.push(s);
                }
                Some(h) => {
                    let stop = ref_stop(s.spec.side, s.spec.trail, s.spec.breakeven, h);
                    let crossed = if s.spec.side == StopSide::Sell { p <= stop } else { p >= stop };
                    if crossed {
                        let limit = s.spec.limit_offset.map(|o| match s.spec.side {
                            StopSide::Sell => stop - o,
                            StopSide::Buy => stop + o,
                        });
                        out.push(Trigger {
                            id: s.spec.id,
                            instrument: inst,
                            side: s.spec.side,
                            stop,
                            price: p,
                            limit,
                        });
                    } else {
                        s.hwm = Some(if s.spec.side == StopSide::Sell { h.max(p) } else { h.min(p) });
                        keep.push(s);
                    }
                }
            }
        }
        self.stops = keep;
    }
}

// ----- operations ----------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Add {
        id: u64,
        inst: u32,
        sell: bool,
        bps: bool,
        amount: i64,
        act: Option<i64>,
        limit: Option<i64>,
        price: Option<i64>,
        be: Option<(i64, i64, i64)>,
    },
    Remove(u64),
    Amend(u64, bool, i64),
    Last(Vec<(u32, i64)>),
    Quotes(Vec<(u32, i64, i64)>),
    Dense(Vec<i64>),
}

const N: u32 = 3;

fn price() -> impl Strategy<Value = i64> {
    90i64..130
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..12, 0..N, any::<bool>(), any::<bool>(), 1i64..12, proptest::option::of(95i64..125),
              proptest::option::of(0i64..3), proptest::option::of(price()),
              proptest::option::weighted(0.3, (95i64..125, 1i64..8, 0i64..8)))
            .prop_map(|(id, inst, sell, bps, amount, act, limit, price, be)| Op::Add {
                id, inst, sell, bps, amount: if bps { amount * 150 } else { amount }, act, limit, price,
                be: be.map(|(e, p, l)| (e, p, l % p)),
            }),
        1 => (0u64..12).prop_map(Op::Remove),
        1 => (0u64..12, any::<bool>(), 1i64..12).prop_map(|(id, bps, a)| Op::Amend(id, bps, if bps { a * 150 } else { a })),
        4 => proptest::collection::vec((0..N, price()), 0..5).prop_map(Op::Last),
        2 => proptest::collection::vec((0..N, price(), 0i64..4), 0..5)
            .prop_map(|v| Op::Quotes(v.into_iter().map(|(i, b, s)| (i, b, b + s)).collect())),
        2 => proptest::collection::vec(price(), N as usize).prop_map(Op::Dense),
    ]
}

fn sorted(mut v: Vec<Trigger>) -> Vec<(u64, i64, i64, Option<i64>)> {
    let mut r: Vec<_> = v.drain(..).map(|t| (t.id, t.stop, t.price, t.limit)).collect();
    r.sort_unstable();
    r
}

fn trail_of(bps: bool, amount: i64) -> Trail {
    if bps {
        Trail::Bps(amount as u32)
    } else {
        Trail::Ticks(amount)
    }
}

fn run(ops: Vec<Op>, generic: bool) -> Result<(), TestCaseError> {
    let mut eng = TrailingStops::new(N);
    if generic {
        eng.force_generic();
    }
    let mut r = Reference { n: N, stops: Vec::new() };
    for op in ops {
        let (mut got, mut want) = (Vec::new(), Vec::new());
        match op {
            Op::Add { id, inst, sell, bps, amount, act, limit, price, be } => {
                let side = if sell { StopSide::Sell } else { StopSide::Buy };
                let spec = StopSpec {
                    id,
                    instrument: inst,
                    side,
                    trail: trail_of(bps, amount),
                    activation: act,
                    limit_offset: limit,
                    breakeven: be.map(|(entry, profit, lock)| BreakEven { entry, profit, lock }),
                };
                let res = eng.add(spec, price);
                if r.stops.iter().any(|s| s.spec.id == id) {
                    prop_assert_eq!(res, Err(TrailingError::DuplicateId { id }));
                } else {
                    prop_assert!(res.is_ok());
                    let mut s = RefStop { spec, hwm: None };
                    if let Some(p) = price {
                        let ok = match (side, act) {
                            (_, None) => true,
                            (StopSide::Sell, Some(a)) => p >= a,
                            (StopSide::Buy, Some(a)) => p <= a,
                        };
                        if ok {
                            s.hwm = Some(p);
                        }
                    }
                    r.stops.push(s);
                }
            }
            Op::Remove(id) => {
                let want_state = r.state(id);
                let res = eng.remove(id);
                match want_state {
                    Some(st) => {
                        prop_assert_eq!(res, Ok(st));
                        r.stops.retain(|s| s.spec.id != id);
                    }
                    None => prop_assert_eq!(res, Err(TrailingError::UnknownId { id })),
                }
            }
            Op::Amend(id, bps, amount) => {
                let trail = trail_of(bps, amount);
                let res = eng.amend(id, trail);
                match r.stops.iter_mut().find(|s| s.spec.id == id) {
                    None => prop_assert_eq!(res, Err(TrailingError::UnknownId { id })),
                    Some(s) => {
                        if matches!(s.spec.trail, Trail::Bps(_)) == bps {
                            prop_assert!(res.is_ok());
                            s.spec.trail = trail;
                        } else {
                            prop_assert_eq!(res, Err(TrailingError::TrailKindChange { id }));
                        }
                    }
                }
            }
            Op::Last(rows) => {
                let (i, p): (Vec<u32>, Vec<i64>) = rows.iter().copied().unzip();
                eng.update_last(&i, &p, &mut got).unwrap();
                for (inst, p) in rows {
                    r.apply(inst, p, p, &mut want);
                }
            }
            Op::Quotes(rows) => {
                let i: Vec<u32> = rows.iter().map(|x| x.0).collect();
                let b: Vec<i64> = rows.iter().map(|x| x.1).collect();
                let a: Vec<i64> = rows.iter().map(|x| x.2).collect();
                eng.update_quotes(&i, &b, &a, &mut got).unwrap();
                for (inst, b, a) in rows {
                    r.apply(inst, b, a, &mut want);
                }
            }
            Op::Dense(prices) => {
                eng.update_dense(&prices, &mut got).unwrap();
                for (inst, &p) in prices.iter().enumerate() {
                    r.apply(inst as u32, p, p, &mut want);
                }
            }
        }
        prop_assert_eq!(sorted(got), sorted(want));
        prop_assert_eq!(eng.len(), r.stops.len());
        for id in 0..12 {
            prop_assert_eq!(eng.get(id), r.state(id), "id {}", id);
        }
    }
    let _ = r.n;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    #[test]
    fn matches_reference(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops, false)?;
    }

    #[test]
    fn generic_kernel_matches_reference(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops, true)?;
    }
}

// ----- documented rules -------------------------------------------------------------------------

fn spec(id: u64, side: StopSide, trail: Trail) -> StopSpec {
    StopSpec { id, instrument: 0, side, trail, activation: None, limit_offset: None, breakeven: None }
}

fn last(e: &mut TrailingStops, p: i64) -> Vec<Trigger> {
    let mut out = Vec::new();
    e.update_last(&[0], &[p], &mut out).unwrap();
    out
}

#[test]
fn sell_triggers_at_equality_buy_too() {
    let mut e = TrailingStops::new(1);
    e.add(spec(1, StopSide::Sell, Trail::Ticks(5)), Some(100)).unwrap();
    e.add(spec(2, StopSide::Buy, Trail::Ticks(5)), Some(100)).unwrap();
    assert!(last(&mut e, 96).is_empty()); // sell stop 95, buy stop 101 (low 96)
    assert_eq!(e.get(2).unwrap().stop, Some(101));
    let t = last(&mut e, 95);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].id, t[0].stop, t[0].price), (1, 95, 95));
    let t = last(&mut e, 100); // buy stop now 95 + 5 = 100: equality triggers
    assert_eq!((t[0].id, t[0].stop, t[0].price), (2, 100, 100));
    assert!(e.is_empty());
    assert_eq!(e.remove(1), Err(TrailingError::UnknownId { id: 1 }));
}

#[test]
fn ratchets_only_favourably() {
    let mut e = TrailingStops::new(1);
    e.add(spec(1, StopSide::Sell, Trail::Ticks(10)), Some(100)).unwrap();
    for p in [105, 101, 103, 120, 111] {
        assert!(last(&mut e, p).is_empty());
    }
    let s = e.get(1).unwrap();
    assert_eq!((s.hwm, s.stop), (Some(120), Some(110)));
}

#[test]
fn percent_rounds_toward_the_price() {
    // Sell 1.5% of 1001 = 15.015 ticks: distance 15, stop 986 (exact 985.985, rounded up).
    let mut e = TrailingStops::new(1);
    e.add(spec(1, StopSide::Sell, Trail::Bps(150)), Some(1001)).unwrap();
    assert_eq!(e.get(1).unwrap().stop, Some(986));
    // Buy 1.5% of 1001: exact 1016.015, rounded down to 1016.
    e.add(spec(2, StopSide::Buy, Trail::Bps(150)), Some(1001)).unwrap();
    assert_eq!(e.get(2).unwrap().stop, Some(1016));
    // Never less than one tick: 1% of 50 ticks = 0.5 -> 1.
    e.add(spec(3, StopSide::Sell, Trail::Bps(100)), Some(50)).unwrap();
    assert_eq!(e.get(3).unwrap().stop, Some(49));
    assert_eq!(Trail::Bps(150).distance(1001), 15);
}

#[test]
fn activation_and_amend() {
    let mut e = TrailingStops::new(1);
    let s =
        StopSpec { activation: Some(110), limit_offset: Some(2), ..spec(1, StopSide::Sell, Trail::Ticks(5)) };
    e.add(s, Some(100)).unwrap();
    assert!(!e.get(1).unwrap().armed);
    assert!(last(&mut e, 50).is_empty()); // not armed: no trigger however low
    assert!(last(&mut e, 110).is_empty());
    assert_eq!(e.get(1).unwrap().stop, Some(105));
    e.amend(1, Trail::Ticks(2)).unwrap();
    assert_eq!(e.get(1).unwrap().stop, Some(108));
    assert_eq!(e.amend(1, Trail::Bps(10)), Err(TrailingError::TrailKindChange { id: 1 }));
    let t = last(&mut e, 108);
    assert_eq!((t[0].stop, t[0].limit), (108, Some(106)));
}

#[test]
fn quotes_use_bid_for_sells_and_ask_for_buys() {
    let mut e = TrailingStops::new(1);
    e.add(spec(1, StopSide::Sell, Trail::Ticks(3)), None).unwrap();
    e.add(spec(2, StopSide::Buy, Trail::Ticks(3)), None).unwrap();
    let mut out = Vec::new();
    e.update_quotes(&[0], &[100], &[102], &mut out).unwrap();
    assert_eq!(e.get(1).unwrap().hwm, Some(100));
    assert_eq!(e.get(2).unwrap().hwm, Some(102));
    e.update_quotes(&[0], &[97], &[105], &mut out).unwrap();
    let mut ids: Vec<u64> = out.iter().map(|t| t.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
}

#[test]
fn invalid_input_changes_nothing() {
    let mut e = TrailingStops::new(2);
    e.add(spec(1, StopSide::Sell, Trail::Ticks(3)), Some(100)).unwrap();
    let mut out = Vec::new();
    let err = e.update_last(&[0, 5], &[90, 90], &mut out).unwrap_err();
    assert_eq!(err, (1, TrailingError::InvalidInstrument { instrument: 5, count: 2 }));
    assert!(matches!(e.update_dense(&[1], &mut out), Err((0, TrailingError::LengthMismatch { .. }))));
    assert!(e.add(spec(2, StopSide::Sell, Trail::Ticks(0)), None).is_err());
    assert!(e.add(spec(2, StopSide::Sell, Trail::Bps(10_001)), None).is_err());
    assert!(out.is_empty());
    assert_eq!(e.get(1).unwrap().stop, Some(97));
}

#[test]
fn dense_many_instruments_simd_equals_generic() {
    let (n, per) = (37u32, 53u64);
    let mut a = TrailingStops::new(n);
    let mut b = TrailingStops::new(n);
    b.force_generic();
    let mut id = 0;
    for inst in 0..n {
        for k in 0..per {
            let side = if k % 2 == 0 { StopSide::Sell } else { StopSide::Buy };
            let s = StopSpec {
                id,
                instrument: inst,
                side,
                trail: Trail::Ticks(1 + (k as i64 % 17)),
                activation: None,
                limit_offset: None,
                breakeven: None,
            };
            a.add(s, Some(1000)).unwrap();
            b.add(s, Some(1000)).unwrap();
            id += 1;
        }
    }
    let mut seed = 12345u64;
    for _ in 0..200 {
        let prices: Vec<i64> = (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                1000 + (seed % 41) as i64 - 20
            })
            .collect();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        a.update_dense(&prices, &mut x).unwrap();
        b.update_dense(&prices, &mut y).unwrap();
        assert_eq!(x, y);
    }
    for i in 0..id {
        assert_eq!(a.get(i), b.get(i));
    }
}

#[test]
fn breakeven_moves_the_stop_to_entry_and_holds_it() {
    let mut e = TrailingStops::new(1);
    let be = Some(BreakEven { entry: 100, profit: 5, lock: 1 });
    // Long from 100, trail 10: stop 90 until the high reaches 105, then at least 101.
    e.add(StopSpec { breakeven: be, ..spec(1, StopSide::Sell, Trail::Ticks(10)) }, Some(100)).unwrap();
    assert!(last(&mut e, 104).is_empty());
    let s = e.get(1).unwrap();
    assert_eq!((s.stop, s.breakeven_active), (Some(94), false));
    assert!(last(&mut e, 105).is_empty());
    let s = e.get(1).unwrap();
    assert_eq!((s.stop, s.breakeven_active), (Some(101), true));
    // Loosening the trail keeps the floor; the trail takes over once it is tighter.
    e.amend(1, Trail::Ticks(20)).unwrap();
    assert_eq!(e.get(1).unwrap().stop, Some(101));
    assert!(last(&mut e, 130).is_empty());
    assert_eq!(e.get(1).unwrap().stop, Some(110));
    e.remove(1).unwrap();
    // Short from 100 with a percent trail: floor at exactly the entry.
    let be = Some(BreakEven { entry: 100, profit: 3, lock: 0 });
    e.add(StopSpec { breakeven: be, ..spec(2, StopSide::Buy, Trail::Bps(1_000)) }, Some(100)).unwrap();
    assert_eq!(e.get(2).unwrap().stop, Some(110));
    assert!(last(&mut e, 97).is_empty());
    assert_eq!(e.get(2).unwrap().stop, Some(100)); // min(97 + 9, 100)
    let t = last(&mut e, 100);
    assert_eq!(t.iter().map(|t| (t.id, t.stop)).collect::<Vec<_>>(), [(2, 100)]);
}

#[test]
fn breakeven_out_of_range_is_refused() {
    let mut e = TrailingStops::new(1);
    let bad = |entry, profit, lock| StopSpec {
        breakeven: Some(BreakEven { entry, profit, lock }),
        ..spec(1, StopSide::Sell, Trail::Ticks(3))
    };
    for (s, field) in [
        (bad(100, 0, 0), "breakeven_profit"),
        (bad(100, 5, 5), "breakeven_lock"),
        (bad(100, 5, -1), "breakeven_lock"),
    ] {
        match e.add(s, Some(100)) {
            Err(TrailingError::InvalidBreakEven { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidBreakEven on {field}, got {other:?}"),
        }
    }
    assert!(matches!(e.add(bad(1 << 62, 5, 0), None), Err(TrailingError::InvalidPrice { .. })));
    assert!(e.is_empty());
}
