//! Replays the CME ESH4 MBO sample from `../shared/data/cme_mbo` (when present).

use std::path::Path;

use fillforge_core::replay::cme::replay_file;

#[test]
fn cme_trades_agree_with_exchange_fills() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/cme_mbo/ESH4_GLBX-MDP3_2023-12-25_mbo.csv");
    if !path.exists() {
        eprintln!("CME sample not present; skipping");
        return;
    }
    let s = replay_file(&path).expect("replay runs");
    eprintln!("{s:#?}");
    assert_eq!(s.records, 68_792);
    assert_eq!(s.final_best_bid, Some(481_000));
    assert_eq!(s.final_best_ask, Some(481_025));
    assert_eq!(s.crossed_after_open, 0);
    assert!(s.trades > 2_900);
}
