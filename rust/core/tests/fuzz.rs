//! Fuzzing in CI-sized form: long random operation sequences with arbitrary values (extreme ids,
//! prices off the grid and out of range, zero and huge quantities) never panic and never break
//! an internal invariant. `PROPTEST_CASES=100000 cargo test --release --test fuzz` runs it long.

use fillforge_core::batch::{apply_batch, BatchInput, BatchOutput};
use fillforge_core::{BookConfig, OrderBook};
use proptest::prelude::*;

fn id() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0u64..32, 1 => Just(u64::MAX), 1 => any::<u64>()]
}

fn price() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => (-4i64..4).prop_map(|k| 1000 + 5 * k),
        1 => 990i64..1010,
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(1i64 << 62), Just(-(1i64 << 62)), any::<i64>()],
    ]
}

fn qty() -> impl Strategy<Value = i64> {
    prop_oneof![8 => (0i64..6).prop_map(|k| 10 * k), 1 => -20i64..25, 1 => prop_oneof![Just(i64::MAX), Just((1i64 << 62) - 10), any::<i64>()]]
}

#[derive(Debug, Clone)]
struct Row {
    op: u8,
    id: u64,
    side: i8,
    price: i64,
    qty: i64,
    tif: u8,
    stop: i64,
    post_only: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        0u8..9,
        id(),
        prop_oneof![4 => Just(1i8), 4 => Just(-1i8), 1 => any::<i8>()],
        price(),
        qty(),
        0u8..5,
        price(),
        any::<bool>(),
    )
        .prop_map(|(op, id, side, price, qty, tif, stop, post_only)| Row {
            op,
            id,
            side,
            price,
            qty,
            tif,
            stop,
            post_only,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_batches_never_panic(rows in prop::collection::vec(row(), 1..400), matching in any::<bool>()) {
        let mut book = OrderBook::new(BookConfig { tick: 5, lot: 10 });
        book.set_matching(matching);
        let cols = |f: fn(&Row) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
        let op: Vec<u8> = rows.iter().map(|r| r.op).collect();
        let ids: Vec<u64> = rows.iter().map(|r| r.id).collect();
        let side: Vec<i8> = rows.iter().map(|r| r.side).collect();
        let (price, qty, stop) = (cols(|r| r.price), cols(|r| r.qty), cols(|r| r.stop));
        let tif: Vec<u8> = rows.iter().map(|r| r.tif).collect();
        let post: Vec<bool> = rows.iter().map(|r| r.post_only).collect();
        let input = BatchInput {
            op: &op, order_id: &ids, side: &side, price: &price, qty: &qty,
            tif: Some(&tif), stop_price: Some(&stop), post_only: Some(&post),
        };
        let mut out = BatchOutput::default();
        apply_batch(&mut book, &input, &mut out);
        prop_assert_eq!(out.status.len(), rows.len());
        book.check_invariants().map_err(TestCaseError::fail)?;
        if matching {
            if let (Some((b, _)), Some((a, _))) = (book.best(fillforge_core::Side::Buy), book.best(fillforge_core::Side::Sell)) {
                prop_assert!(b < a);
            }
        }
        book.expire_day();
        book.check_invariants().map_err(TestCaseError::fail)?;
    }
}
