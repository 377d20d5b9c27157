//! Criterion benchmarks of the pure-Rust core: the mixed order workload on both level maps,
//! through the direct API and the batch API, and LOBSTER replay (parsed, and from the files).
//!
//! `cargo bench -p fillforge-core --bench book`; figures are recorded in `benches/README.md`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use fillforge_core::batch::{apply_batch, BatchInput, BatchOutput, OpKind};
use fillforge_core::replay::{lobster, read_maybe_gz};
use fillforge_core::{Book, BookConfig, BtreeLevels, LevelMap, OrderRequest, Side, TimeInForce, VecLevels};

/// The comparison workload, the same shape as `benches/compare_books.py` (which documents it).
/// [`SHALLOW`]: 60% GTC limit orders around a fixed mid, offset by round(N(2, 6)) ticks toward the
/// passive side; 30% cancels (of a live order while more than 300 rest, else of any earlier limit
/// id); 10% takers, half IOC limits 5 ticks through the mid, half market orders, for 4-40 lots.
/// [`DEEP`]: the same generator with 70% limits offset by round(N(5.5, 6)), 20% cancels, always of
/// any earlier limit id, 10% takers; about 38k orders rest at the end of 200k ops.
/// Live cancel targets come from simulating the workload on the book itself while generating.
pub struct Workload {
    pub op: Vec<u8>,
    pub id: Vec<u64>,
    pub side: Vec<i8>,
    pub price: Vec<i64>,
    pub qty: Vec<i64>,
    pub tif: Vec<u8>,
    /// Orders resting once every op has been applied.
    pub resting_at_end: usize,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The parameters of a workload; the rest of the generator is fixed.
pub struct Shape {
    /// A uniform draw `u` below `limit` makes a GTC limit order, else below `cancel` a cancel,
    /// else below `ioc` an IOC limit, else a market order (cumulative, as in the Python script).
    pub limit: f64,
    pub cancel: f64,
    pub ioc: f64,
    /// Limit offsets from the mid toward the passive side: round(N(mean, sd)) ticks.
    pub offset_mean: f64,
    pub offset_sd: f64,
    /// While more orders than this rest, a cancel targets a live order; `None`: never.
    pub target_resting: Option<usize>,
}

/// About 280 orders resting on average.
pub const SHALLOW: Shape =
    Shape { limit: 0.6, cancel: 0.9, ioc: 0.95, offset_mean: 2.0, offset_sd: 6.0, target_resting: Some(300) };
/// About 38k orders resting at the end of 200k ops (issue 15's deep book).
pub const DEEP: Shape =
    Shape { limit: 0.7, cancel: 0.9, ioc: 0.95, offset_mean: 5.5, offset_sd: 6.0, target_resting: None };

pub fn workload(n: usize, seed: u64, shape: &Shape) -> Workload {
    const MID: i64 = 10_000;
    let mut r = Rng(seed | 1);
    let mut w = Workload {
        op: Vec::with_capacity(n),
        id: Vec::with_capacity(n),
        side: Vec::with_capacity(n),
        price: Vec::with_capacity(n),
        qty: Vec::with_capacity(n),
        tif: Vec::with_capacity(n),
        resting_at_end: 0,
    };
    let mut sim: Book<VecLevels> = Book::default();
    let mut submitted: Vec<u64> = Vec::new();
    let mut live: Vec<u64> = Vec::new();
    let mut next_id = 1u64;
    for _ in 0..n {
        let u = r.unit();
        let side: i8 = if r.unit() < 0.5 { 1 } else { -1 };
        let s = if side == 1 { Side::Buy } else { Side::Sell };
        let (op, id, price, qty, tif) = if (shape.limit..shape.cancel).contains(&u) && !submitted.is_empty() {
            if shape.target_resting.is_some() {
                live.retain(|&id| sim.order(id).is_some());
            }
            let id = match shape.target_resting {
                Some(target) if live.len() > target => live[r.below(live.len())],
                _ => submitted[r.below(submitted.len())],
            };
            let _ = sim.cancel(id);
            (OpKind::Cancel, id, 0, 0, TimeInForce::Gtc)
        } else if u < shape.cancel {
            let off = r.normal().mul_add(shape.offset_sd, shape.offset_mean).round() as i64;
            let (id, price, qty) = (next_id, MID - i64::from(side) * off, 1 + r.below(10) as i64);
            next_id += 1;
            submitted.push(id);
            if sim
                .submit(OrderRequest::limit(id, s, price, qty as u64, TimeInForce::Gtc))
                .is_ok_and(|x| x.remaining > 0)
                && shape.target_resting.is_some()
            {
                live.push(id);
            }
            (OpKind::Limit, id, price, qty, TimeInForce::Gtc)
        } else {
            let (id, qty) = (next_id, 4 * (1 + r.below(10) as i64));
            next_id += 1;
            if u < shape.ioc {
                let price = MID + i64::from(side) * 5;
                let _ = sim.submit(OrderRequest::limit(id, s, price, qty as u64, TimeInForce::Ioc));
                (OpKind::Limit, id, price, qty, TimeInForce::Ioc)
            } else {
                let _ = sim.submit(OrderRequest::market(id, s, qty as u64));
                (OpKind::Market, id, 0, qty, TimeInForce::Ioc)
            }
        };
        sim.clear_fills();
        w.op.push(op as u8);
        w.id.push(id);
        w.side.push(side);
        w.price.push(price);
        w.qty.push(qty);
        w.tif.push(tif as u8);
    }
    w.resting_at_end = sim.len();
    w
}

fn run_direct<L: LevelMap>(book: &mut Book<L>, w: &Workload) -> u64 {
    let mut ok = 0u64;
    for i in 0..w.op.len() {
        let side = if w.side[i] == 1 { Side::Buy } else { Side::Sell };
        let r = match w.op[i] {
            0 => book.submit(OrderRequest::limit(
                w.id[i],
                side,
                w.price[i],
                w.qty[i] as u64,
                TimeInForce::from_code(w.tif[i]).unwrap(),
            )),
            1 => book.submit(OrderRequest::market(w.id[i], side, w.qty[i] as u64)),
            _ => book.cancel(w.id[i]),
        };
        ok += u64::from(r.is_ok());
        if book.fills().len() > 1 << 16 {
            book.clear_fills();
        }
    }
    ok
}

fn bench_workload(c: &mut Criterion) {
    for (name, shape) in [("mixed_200k", &SHALLOW), ("deep_200k", &DEEP)] {
        let w = workload(200_000, 7, shape);
        eprintln!("{name}: {} orders rest at the end", w.resting_at_end);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(w.op.len() as u64));
        g.bench_function("vec_levels", |b| {
            let mut book: Book<VecLevels> = Book::with_capacity(BookConfig::default(), 1024);
            b.iter(|| {
                book.reset();
                black_box(run_direct(&mut book, &w))
            })
        });
        g.bench_function("btree_levels", |b| {
            let mut book: Book<BtreeLevels> = Book::with_capacity(BookConfig::default(), 1024);
            b.iter(|| {
                book.reset();
                black_box(run_direct(&mut book, &w))
            })
        });
        g.bench_function("batch_api", |b| {
            let mut book: Book<VecLevels> = Book::with_capacity(BookConfig::default(), 1024);
            let input = BatchInput {
                op: &w.op,
                order_id: &w.id,
                side: &w.side,
                price: &w.price,
                qty: &w.qty,
                tif: Some(&w.tif),
                stop_price: None,
                post_only: None,
            };
            b.iter_batched(
                || BatchOutput::with_capacity(w.op.len()),
                |mut out| {
                    book.reset();
                    apply_batch(&mut book, &input, &mut out);
                    out
                },
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

/// The shipped GOOG level-10 pair, or the `../shared` copy.
fn lobster_pair() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/fillforge/data/lobster");
    let stem = "GOOG_2012-06-21_34200000_57600000_";
    (root.join(format!("{stem}message_10.csv.gz")), root.join(format!("{stem}orderbook_10.csv.gz")))
}

fn bench_lobster(c: &mut Criterion) {
    let (m, o) = lobster_pair();
    let mbuf = read_maybe_gz(&m).unwrap();
    let obuf = read_maybe_gz(&o).unwrap();
    let messages = lobster::parse_messages(&mbuf).unwrap();
    let snaps = lobster::parse_snapshots(&obuf).unwrap();
    let mut g = c.benchmark_group("lobster_goog_l10");
    g.sample_size(10);
    g.throughput(Throughput::Elements(messages.len() as u64));
    g.bench_function("replay_parsed", |b| b.iter(|| black_box(lobster::replay(&messages, &snaps).unwrap())));
    g.bench_function("parse", |b| {
        b.iter(|| {
            black_box(lobster::parse_messages(&mbuf).unwrap());
            black_box(lobster::parse_snapshots(&obuf).unwrap())
        })
    });
    g.bench_function("end_to_end_gz", |b| b.iter(|| black_box(lobster::replay_files(&m, &o).unwrap())));
    g.finish();
    // End to end from plain CSV files, when ../shared is beside the project.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/lobster");
    for (name, level) in [("GOOG", 5), ("AMZN", 5)] {
        let stem = format!("{name}_2012-06-21_34200000_57600000_");
        let (m, o) = (
            shared.join(format!("{stem}message_{level}.csv")),
            shared.join(format!("{stem}orderbook_{level}.csv")),
        );
        if !m.exists() {
            continue;
        }
        let n = lobster::replay_files(&m, &o).unwrap().events;
        let mut g = c.benchmark_group(format!("lobster_{name}_l{level}_csv"));
        g.sample_size(10);
        g.throughput(Throughput::Elements(n));
        g.bench_function("end_to_end", |b| b.iter(|| black_box(lobster::replay_files(&m, &o).unwrap())));
        g.finish();
    }
}

/// Nanoseconds this thread has spent on a CPU (`/proc/thread-self/schedstat`), or `None`.
fn on_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// `BOOK_CPU_ROUNDS=N cargo bench -p fillforge-core --bench book`: instead of Criterion, time the
/// direct and batch runs of both workloads in on-CPU time, taking turns, N rounds, and print the
/// best of each. On a shared machine, time spent descheduled does not count against a contestant.
fn cpu_time_rounds(rounds: usize) {
    let work: Vec<_> = [("mixed_200k", &SHALLOW), ("deep_200k", &DEEP)]
        .into_iter()
        .map(|(name, shape)| (name, workload(200_000, 7, shape)))
        .collect();
    let mut book: Book<VecLevels> = Book::with_capacity(BookConfig::default(), 1024);
    let mut best = [[u64::MAX; 2]; 2];
    for _ in 0..rounds {
        for (k, (_, w)) in work.iter().enumerate() {
            book.reset();
            let t0 = on_cpu_ns().expect("schedstat");
            black_box(run_direct(&mut book, w));
            best[k][0] = best[k][0].min(on_cpu_ns().expect("schedstat") - t0);
            let input = BatchInput {
                op: &w.op,
                order_id: &w.id,
                side: &w.side,
                price: &w.price,
                qty: &w.qty,
                tif: Some(&w.tif),
                stop_price: None,
                post_only: None,
            };
            let mut out = BatchOutput::with_capacity(w.op.len());
            book.reset();
            let t0 = on_cpu_ns().expect("schedstat");
            apply_batch(&mut book, &input, &mut out);
            best[k][1] = best[k][1].min(on_cpu_ns().expect("schedstat") - t0);
            black_box(out);
        }
    }
    for (k, (name, w)) in work.iter().enumerate() {
        for (j, api) in ["vec_levels", "batch_api"].into_iter().enumerate() {
            let rate = w.op.len() as f64 / best[k][j] as f64 * 1e3;
            println!("{name}/{api} on-CPU best of {rounds}: {rate:.2} M ops/s");
        }
    }
}

criterion_group!(benches, bench_workload, bench_lobster);

fn main() {
    if let Some(rounds) = std::env::var("BOOK_CPU_ROUNDS").ok().and_then(|v| v.parse().ok()) {
        cpu_time_rounds(rounds);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
