//! Criterion benchmarks of the keyed throttle: one keyed check (`try_acquire`) against a sliding
//! window, a GCRA bucket and both composed, and the batch form.
//!
//! `cargo bench -p fillforge-core --bench throttle`; figures are recorded in `benches/README.md`.
//!
//! Workload: 100,000 checks over 1,000 keys (a seeded xorshift picks the key), time advancing
//! 1 µs per check, so each key sees about one request per millisecond and both admissions and
//! denials occur (limits: 10 per 10 ms sliding window; GCRA 1 per ms, burst 5; and the two
//! composed with 200 per second).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fillforge_core::{Limit, Throttle};

const N: usize = 100_000;
const KEYS: u64 = 1_000;
const MS: i64 = 1_000_000;

fn workload() -> (Vec<u64>, Vec<i64>) {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let keys = (0..N)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_F491_4F6C_DD1D) % KEYS
        })
        .collect();
    let times = (0..N as i64).map(|i| i * 1_000).collect();
    (keys, times)
}

fn bench(c: &mut Criterion) {
    let (keys, times) = workload();
    let cases: [(&str, Vec<Limit>); 3] = [
        ("sliding window 10 per 10 ms", vec![Limit::Window { limit: 10, window: 10 * MS }]),
        ("gcra 1 per ms burst 5", vec![Limit::gcra_rate(1, MS, 5)]),
        (
            "composed: window 10/10ms + window 200/s + gcra",
            vec![
                Limit::Window { limit: 10, window: 10 * MS },
                Limit::Window { limit: 200, window: 1_000 * MS },
                Limit::gcra_rate(1, MS, 5),
            ],
        ),
    ];
    let mut g = c.benchmark_group("throttle");
    g.throughput(Throughput::Elements(N as u64));
    for (name, limits) in &cases {
        let proto = Throttle::new(limits).unwrap();
        // Warm state: run the workload once so slots exist, then keep time moving forward.
        g.bench_function(format!("try_acquire, {name}"), |b| {
            let mut t = proto.clone();
            let mut base = 0i64;
            b.iter(|| {
                let mut passed = 0u32;
                for (k, now) in keys.iter().zip(&times) {
                    passed += u32::from(t.try_acquire(*k, base + now, 1).unwrap());
                }
                base += N as i64 * 1_000;
                black_box(passed)
            });
        });
        g.bench_function(format!("acquire_batch, {name}"), |b| {
            let mut t = proto.clone();
            let mut base = 0i64;
            let mut allowed = vec![false; N];
            let mut wait = vec![0i64; N];
            let mut shifted = times.clone();
            b.iter(|| {
                for (s, now) in shifted.iter_mut().zip(&times) {
                    *s = base + now;
                }
                t.acquire_batch(&keys, &shifted, None, &mut allowed, &mut wait).unwrap();
                base += N as i64 * 1_000;
                black_box(&allowed);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
