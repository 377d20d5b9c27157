//! Criterion benchmark of the trailing-stop engine's dense update: 1,000,000 tick-trail stops
//! over 1,000 instruments (alternately sell and buy buckets, trails 20..200 ticks) against a
//! new price vector each iteration (10,000 +/- 3 ticks, independent draws, so the population stays
//! at 1 M: trails of 20+ ticks never trigger), trigger detection included. The branch-free pass
//! does the same work whether or not a stop moves.
//!
//! `cargo bench -p fillforge-core --bench trailing`; figures are recorded in `benches/README.md`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fillforge_core::{StopSide, StopSpec, Trail, TrailingStops};

const STOPS: u64 = 1_000_000;
const INST: u32 = 1_000;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn bench(c: &mut Criterion) {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut g = c.benchmark_group("trailing dense update, 1M stops");
    g.throughput(Throughput::Elements(STOPS));
    for generic in [false, true] {
        let mut eng = TrailingStops::new(INST);
        if generic {
            eng.force_generic();
        }
        for id in 0..STOPS {
            let inst = (id % u64::from(INST)) as u32;
            let side = if (id / u64::from(INST)) % 2 == 0 { StopSide::Sell } else { StopSide::Buy };
            let trail = Trail::Ticks(20 + (xorshift(&mut seed) % 181) as i64);
            let spec = StopSpec {
                id,
                instrument: inst,
                side,
                trail,
                activation: None,
                limit_offset: None,
                breakeven: None,
            };
            eng.add(spec, Some(10_000)).unwrap();
        }
        let mut prices = vec![10_000i64; INST as usize];
        let mut out = Vec::new();
        let name = if generic { "generic kernel" } else { eng.kernel() };
        g.bench_function(name, |b| {
            b.iter(|| {
                for p in prices.iter_mut() {
                    *p = 10_000 + (xorshift(&mut seed) % 7) as i64 - 3;
                }
                out.clear();
                eng.update_dense(black_box(&prices), &mut out).unwrap();
                assert_eq!(eng.len() as u64, STOPS);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
