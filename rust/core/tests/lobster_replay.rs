//! Replays every LOBSTER sample pair in `../shared/data/lobster` (when present) with zero
//! mismatches, and proves a corrupted snapshot is caught.

use std::path::{Path, PathBuf};

use fillforge_core::replay::lobster::{parse_messages, parse_snapshots, replay, replay_files};
use fillforge_core::replay::read_maybe_gz;

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/lobster");
    dir.is_dir().then_some(dir)
}

const PAIRS: [(&str, &str); 6] = [
    ("GOOG_2012-06-21_34200000_57600000_message_1.csv", "GOOG_2012-06-21_34200000_57600000_orderbook_1.csv"),
    ("GOOG_2012-06-21_34200000_57600000_message_5.csv", "GOOG_2012-06-21_34200000_57600000_orderbook_5.csv"),
    (
        "GOOG_2012-06-21_34200000_57600000_message_10.csv",
        "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.gz",
    ),
    ("AMZN_2012-06-21_34200000_57600000_message_1.csv", "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"),
    ("AMZN_2012-06-21_34200000_57600000_message_5.csv", "AMZN_2012-06-21_34200000_57600000_orderbook_5.csv"),
    ("AAPL_2012-06-21_34200000_57600000_message_1.csv", "AAPL_2012-06-21_34200000_57600000_orderbook_1.csv"),
];

#[test]
fn all_six_samples_replay_without_mismatch() {
    let Some(dir) = data_dir() else {
        eprintln!("../shared/data/lobster not present; skipping");
        return;
    };
    for (m, o) in PAIRS {
        let stats = replay_files(&dir.join(m), &dir.join(o)).expect("replay runs");
        eprintln!(
            "{m}: events {} checked {} adopted {} mismatches {} unknown refs {} head {}/{} first {:?}",
            stats.events,
            stats.checked_levels,
            stats.adopted_levels,
            stats.mismatches,
            stats.unknown_order_refs,
            stats.executions_at_queue_head,
            stats.known_executions,
            stats.first_mismatches.first()
        );
        assert!(stats.events > 40_000, "{m}: replayed {}", stats.events);
        assert!(stats.checked_levels >= stats.events, "{m}: checked {}", stats.checked_levels);
        assert_eq!(stats.mismatches, 0, "{m}: {:?}", stats.first_mismatches);
    }
}

#[test]
fn corrupted_snapshot_is_a_mismatch() {
    let Some(dir) = data_dir() else { return };
    let (m, o) = PAIRS[0];
    let messages = parse_messages(&read_maybe_gz(&dir.join(m)).unwrap()).unwrap();
    let mut snaps = parse_snapshots(&read_maybe_gz(&dir.join(o)).unwrap()).unwrap();
    // Change the best bid size of one row whose best bid price is the same as its neighbours',
    // so the level is checked there (not adopted): exactly that row must disagree.
    let bid = |k: usize| snaps.data[k * 4 + 2];
    let k = (1000..snaps.rows() - 1).find(|&k| bid(k - 1) == bid(k) && bid(k) == bid(k + 1)).unwrap();
    snaps.data[k * 4 + 3] += 100;
    let stats = replay(&messages, &snaps).unwrap();
    assert!(stats.mismatches >= 1);
    assert_eq!(stats.first_mismatches[0].event, k);
}
