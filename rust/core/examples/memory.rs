//! Resident memory per resting order, and no growth when a workload is replayed on a reset book.
//!
//! `cargo run --release -p fillforge-core --example memory` (Linux: reads /proc/self/statm).

use fillforge_core::{BookConfig, OrderBook, OrderRequest, Side, TimeInForce};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// `n` resting orders: 500 price levels a side, FIFO queues, no crossing.
fn fill(book: &mut OrderBook, n: u64) {
    for i in 0..n {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let off = (i / 2 % 500) as i64;
        let price = if side == Side::Buy { 100_000 - 1 - off } else { 100_000 + 1 + off };
        book.submit(OrderRequest::limit(i + 1, side, price, 1 + i % 10, TimeInForce::Gtc)).unwrap();
    }
}

fn main() {
    const N: u64 = 1_000_000;
    let base = rss_bytes();
    let mut book = OrderBook::with_capacity(BookConfig::default(), N as usize);
    fill(&mut book, N);
    let used = rss_bytes() - base;
    println!(
        "presized: {N} resting orders, {} levels: {:.1} bytes/order resident",
        book.level_count(Side::Buy) + book.level_count(Side::Sell),
        used as f64 / N as f64
    );
    drop(book);

    let base = rss_bytes();
    let mut book = OrderBook::new(BookConfig::default());
    fill(&mut book, N);
    let grown = rss_bytes() - base;
    println!("grown from empty: {:.1} bytes/order resident", grown as f64 / N as f64);

    // Replay the same workload on the reset book: capacity is reused, nothing grows.
    let mut peaks = Vec::new();
    for _ in 0..3 {
        book.reset();
        fill(&mut book, N);
        for i in (0..N).step_by(2) {
            book.cancel(i + 1).unwrap();
        }
        peaks.push(rss_bytes());
    }
    println!(
        "rss after each of 3 replays on a reset book: {:?} MiB",
        peaks.iter().map(|b| b / (1 << 20)).collect::<Vec<_>>()
    );
    assert!(peaks.windows(2).all(|w| w[1] <= w[0]), "memory grew across replays");
}
