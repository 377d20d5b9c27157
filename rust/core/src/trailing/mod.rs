//! Trailing stops: many at once, in integer ticks, updated from last prices or bid/ask.
//!
//! Semantics follow Alpaca's `trailing_stop` (see `docs/trailing.md`):
//! - A **sell** stop (protecting a long) tracks the high-water mark `hwm`, the highest price seen
//!   since it was armed; its stop is `hwm - trail`. It **triggers when `price <= stop`**.
//! - A **buy** stop (protecting a short) tracks the low-water mark (also called `hwm`), the lowest
//!   price seen; its stop is `hwm + trail`. It **triggers when `price >= stop`**.
//! - The trail is a number of ticks ([`Trail::Ticks`]) or basis points of the water mark
//!   ([`Trail::Bps`]). A percent distance is `floor(hwm * bps / 10_000)` ticks, at least one tick:
//!   rounding moves the stop toward the price (up for sells, down for buys), so the loss it allows
//!   never exceeds the percentage asked.
//! - Between amendments the stop only ever moves in the favourable direction (up for sells, down
//!   for buys). [`TrailingStops::amend`] recomputes it from the water mark with the new trail (it
//!   may loosen, as Alpaca's PATCH `trail` does); it cannot switch ticks <-> percent.
//! - A stop without an activation price is armed by its first price (at `add`, or the first
//!   update of its instrument) with `hwm` = that price. With an activation price a sell stop arms
//!   when `price >= activation`, a buy stop when `price <= activation`. Arming never triggers.
//! - With quotes, sell stops use the **bid** and buy stops the **ask** (the price each would
//!   trade at), both to ratchet and to trigger.
//! - A triggered stop is reported once (id, stop price, the price that crossed it, the limit price
//!   for a stop-limit: `stop - offset` for sells, `stop + offset` for buys) and removed.
//!
//! Layout: stops are grouped by (instrument, side) into buckets; each bucket keeps its tick-trail
//! stops as two arrays (`stop`, `dist`), so an update is one branch-free pass per bucket with
//! the price broadcast (see [`kernel`]), 24 bytes touched per stop. Percent stops and stops
//! waiting for activation live in side lists of the same bucket. Removal swaps the last stop of
//! the bucket into the hole; an id -> location map finds stops.

mod kernel;

use rustc_hash::FxHashMap;

use crate::error::TrailingError;
use kernel::Isa;

/// Largest accepted magnitude of a price, trail or offset in ticks (2^61), so sums never overflow.
pub const MAX_TICKS: i64 = 1 << 61;
/// Largest percent trail: 100%.
pub const MAX_BPS: u32 = 10_000;

/// Which way a trailing stop trades when it triggers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopSide {
    /// Sell stop protecting a long: tracks the high, triggers on the way down.
    Sell = 0,
    /// Buy stop protecting a short: tracks the low, triggers on the way up.
    Buy = 1,
}

/// The trailing distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trail {
    /// A fixed number of ticks (an absolute price offset on the instrument's grid).
    Ticks(i64),
    /// Basis points of the water mark (150 = 1.5%).
    Bps(u32),
}

impl Trail {
    /// The distance in ticks from a water mark at `hwm`: ticks as given, or
    /// `max(1, floor(max(hwm, 0) * bps / 10_000))`.
    #[inline]
    pub fn distance(self, hwm: i64) -> i64 {
        match self {
            Trail::Ticks(t) => t,
            Trail::Bps(b) => bps_dist(hwm, i64::from(b)),
        }
    }

    /// The stop for a water mark on the given side.
    #[inline]
    pub fn stop(self, side: StopSide, hwm: i64) -> i64 {
        match side {
            StopSide::Sell => hwm - self.distance(hwm),
            StopSide::Buy => hwm + self.distance(hwm),
        }
    }

    fn validate(self) -> Result<(), TrailingError> {
        match self {
            Trail::Ticks(t) if !(1..=MAX_TICKS).contains(&t) => {
                Err(TrailingError::InvalidTrail { value: t, why: "a tick trail must be 1..=2^61 ticks" })
            }
            Trail::Bps(b) if !(1..=MAX_BPS).contains(&b) => Err(TrailingError::InvalidTrail {
                value: i64::from(b),
                why: "a percent trail must be 1..=10000 basis points",
            }),
            _ => Ok(()),
        }
    }
}

#[inline]
fn bps_dist(hwm: i64, bps: i64) -> i64 {
    ((i128::from(hwm.max(0)) * i128::from(bps) / 10_000) as i64).max(1)
}

/// What to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopSpec {
    pub id: u64,
    pub instrument: u32,
    pub side: StopSide,
    pub trail: Trail,
    /// Arm only once the price reaches this level (sell: `>=`, buy: `<=`).
    pub activation: Option<i64>,
    /// For a trailing stop-limit: the limit price is this many ticks beyond the stop.
    pub limit_offset: Option<i64>,
}

/// One stop's state, as [`TrailingStops::get`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopState {
    pub spec: StopSpec,
    /// False while waiting for a first price or the activation price.
    pub armed: bool,
    /// The water mark (highest price for sells, lowest for buys) once armed.
    pub hwm: Option<i64>,
    /// The current stop price once armed.
    pub stop: Option<i64>,
}

/// One triggered stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub id: u64,
    pub instrument: u32,
    pub side: StopSide,
    /// The stop price that was crossed.
    pub stop: i64,
    /// The price (last, bid or ask) that crossed it.
    pub price: i64,
    /// The limit price of a stop-limit (`stop -/+ offset`), None for a plain (market) stop.
    pub limit: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ticks,
    Bps,
    Pending,
}

#[derive(Clone, Copy, Debug)]
struct Loc {
    instrument: u32,
    side: StopSide,
    kind: Kind,
    idx: u32,
}

/// Armed stops of one kind in one bucket. Tick pools: `dist` = ticks, `hwm` unused (it is
/// `stop +/- dist`). Percent pools: `dist` = basis points, `hwm` kept.
#[derive(Clone, Debug, Default)]
struct Pool {
    ids: Vec<u64>,
    stop: Vec<i64>,
    dist: Vec<i64>,
    hwm: Vec<i64>,
    activation: Vec<Option<i64>>,
    limit: Vec<Option<i64>>,
}

impl Pool {
    fn len(&self) -> usize {
        self.ids.len()
    }
}

#[derive(Clone, Debug, Default)]
struct Bucket {
    ticks: Pool,
    bps: Pool,
    pending: Vec<StopSpec>,
}

/// Many trailing stops over `n_instruments` instruments (indices `0..n_instruments`).
#[derive(Clone, Debug)]
pub struct TrailingStops {
    /// `buckets[2 * instrument + side]`.
    buckets: Vec<Bucket>,
    index: FxHashMap<u64, Loc>,
    isa: Isa,
}

fn check_price(field: &'static str, price: i64) -> Result<(), TrailingError> {
    if (-MAX_TICKS..=MAX_TICKS).contains(&price) {
        Ok(())
    } else {
        Err(TrailingError::InvalidPrice { field, price })
    }
}

impl TrailingStops {
    pub fn new(n_instruments: u32) -> Self {
        TrailingStops {
            buckets: vec![Bucket::default(); 2 * n_instruments as usize],
            index: FxHashMap::default(),
            isa: Isa::detect(),
        }
    }

    /// Run the portable (non-SIMD) kernels from now on; for tests and benchmarks.
    pub fn force_generic(&mut self) {
        self.isa = Isa::Generic;
    }

    /// The kernel variant in use: "generic", "avx2" or "avx512".
    pub fn kernel(&self) -> &'static str {
        self.isa.name()
    }

    pub fn n_instruments(&self) -> u32 {
        (self.buckets.len() / 2) as u32
    }

    /// Live stops (armed or waiting).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains(&self, id: u64) -> bool {
        self.index.contains_key(&id)
    }

    fn check_instrument(&self, instrument: u64) -> Result<usize, TrailingError> {
        if instrument < u64::from(self.n_instruments()) {
            Ok(instrument as usize)
        } else {
            Err(TrailingError::InvalidInstrument { instrument, count: self.n_instruments() })
        }
    }

    /// Add a stop. With `price` (the instrument's current price for that side) it is armed at
    /// once if its activation allows; otherwise it waits for an update. Never triggers here.
    pub fn add(&mut self, spec: StopSpec, price: Option<i64>) -> Result<(), TrailingError> {
        if self.index.contains_key(&spec.id) {
            return Err(TrailingError::DuplicateId { id: spec.id });
        }
        self.check_instrument(u64::from(spec.instrument))?;
        spec.trail.validate()?;
        if let Some(a) = spec.activation {
            check_price("activation", a)?;
        }
        if let Some(o) = spec.limit_offset {
            if !(0..=MAX_TICKS).contains(&o) {
                return Err(TrailingError::InvalidTrail {
                    value: o,
                    why: "a limit offset must be 0..=2^61 ticks",
                });
            }
        }
        if let Some(p) = price {
            check_price("price", p)?;
        }
        let b = 2 * spec.instrument as usize + spec.side as usize;
        let bucket = &mut self.buckets[b];
        match price {
            Some(p) if activates(&spec, p) => arm(bucket, &mut self.index, spec, p),
            _ => {
                let idx = bucket.pending.len() as u32;
                bucket.pending.push(spec);
                self.index.insert(
                    spec.id,
                    Loc { instrument: spec.instrument, side: spec.side, kind: Kind::Pending, idx },
                );
            }
        }
        Ok(())
    }

    /// One stop's state, or None if no live stop has this id.
    pub fn get(&self, id: u64) -> Option<StopState> {
        let loc = *self.index.get(&id)?;
        let bucket = &self.buckets[2 * loc.instrument as usize + loc.side as usize];
        let i = loc.idx as usize;
        let (pool, trail) = match loc.kind {
            Kind::Pending => {
                return Some(StopState { spec: bucket.pending[i], armed: false, hwm: None, stop: None })
            }
            Kind::Ticks => (&bucket.ticks, Trail::Ticks(bucket.ticks.dist[i])),
            Kind::Bps => (&bucket.bps, Trail::Bps(bucket.bps.dist[i] as u32)),
        };
        let stop = pool.stop[i];
        let hwm = match (loc.kind, loc.side) {
            (Kind::Ticks, StopSide::Sell) => stop + pool.dist[i],
            (Kind::Ticks, StopSide::Buy) => stop - pool.dist[i],
            _ => pool.hwm[i],
        };
        let spec = StopSpec {
            id,
            instrument: loc.instrument,
            side: loc.side,
            trail,
            activation: pool.activation[i],
            limit_offset: pool.limit[i],
        };
        Some(StopState { spec, armed: true, hwm: Some(hwm), stop: Some(stop) })
    }

    /// Remove a live stop; returns its last state.
    pub fn remove(&mut self, id: u64) -> Result<StopState, TrailingError> {
        let state = self.get(id).ok_or(TrailingError::UnknownId { id })?;
        let loc = self.index[&id];
        let bucket = &mut self.buckets[2 * loc.instrument as usize + loc.side as usize];
        take(bucket, &mut self.index, loc.kind, loc.idx as usize);
        Ok(state)
    }

    /// Change the trail of a live, untriggered stop. An armed stop's stop price is recomputed from
    /// its water mark (it may loosen). The kind (ticks or percent) cannot change.
    pub fn amend(&mut self, id: u64, trail: Trail) -> Result<(), TrailingError> {
        let loc = *self.index.get(&id).ok_or(TrailingError::UnknownId { id })?;
        trail.validate()?;
        let bucket = &mut self.buckets[2 * loc.instrument as usize + loc.side as usize];
        let i = loc.idx as usize;
        match (loc.kind, trail) {
            (Kind::Pending, _) => {
                let old = &mut bucket.pending[i].trail;
                if std::mem::discriminant(old) != std::mem::discriminant(&trail) {
                    return Err(TrailingError::TrailKindChange { id });
                }
                *old = trail;
            }
            (Kind::Ticks, Trail::Ticks(t)) => {
                let p = &mut bucket.ticks;
                let hwm = match loc.side {
                    StopSide::Sell => p.stop[i] + p.dist[i],
                    StopSide::Buy => p.stop[i] - p.dist[i],
                };
                p.dist[i] = t;
                p.stop[i] = trail.stop(loc.side, hwm);
            }
            (Kind::Bps, Trail::Bps(b)) => {
                let p = &mut bucket.bps;
                p.dist[i] = i64::from(b);
                p.stop[i] = trail.stop(loc.side, p.hwm[i]);
            }
            _ => return Err(TrailingError::TrailKindChange { id }),
        }
        Ok(())
    }

    /// Apply last-trade prices, row by row (`prices[i]` for instrument `instruments[i]`; an
    /// instrument may repeat). Triggers are appended to `out`. Every row is validated first; on
    /// an error (with its row) nothing changes.
    pub fn update_last(
        &mut self,
        instruments: &[u32],
        prices: &[i64],
        out: &mut Vec<Trigger>,
    ) -> Result<(), (usize, TrailingError)> {
        self.validate_rows(instruments, &[("prices", prices)])?;
        for (&inst, &p) in instruments.iter().zip(prices) {
            self.apply(inst as usize, p, p, out);
        }
        Ok(())
    }

    /// Apply quotes row by row: sell stops use `bids[i]`, buy stops `asks[i]`.
    pub fn update_quotes(
        &mut self,
        instruments: &[u32],
        bids: &[i64],
        asks: &[i64],
        out: &mut Vec<Trigger>,
    ) -> Result<(), (usize, TrailingError)> {
        self.validate_rows(instruments, &[("bids", bids), ("asks", asks)])?;
        for ((&inst, &b), &a) in instruments.iter().zip(bids).zip(asks) {
            self.apply(inst as usize, b, a, out);
        }
        Ok(())
    }

    /// Apply one last price for every instrument: `prices.len()` must equal `n_instruments`.
    pub fn update_dense(
        &mut self,
        prices: &[i64],
        out: &mut Vec<Trigger>,
    ) -> Result<(), (usize, TrailingError)> {
        self.validate_dense(&[("prices", prices)])?;
        for (inst, &p) in prices.iter().enumerate() {
            self.apply(inst, p, p, out);
        }
        Ok(())
    }

    /// Apply one quote for every instrument (sell stops on the bid, buy stops on the ask).
    pub fn update_dense_quotes(
        &mut self,
        bids: &[i64],
        asks: &[i64],
        out: &mut Vec<Trigger>,
    ) -> Result<(), (usize, TrailingError)> {
        self.validate_dense(&[("bids", bids), ("asks", asks)])?;
        for (inst, (&b, &a)) in bids.iter().zip(asks).enumerate() {
            self.apply(inst, b, a, out);
        }
        Ok(())
    }

    fn validate_dense(&self, cols: &[(&'static str, &[i64])]) -> Result<(), (usize, TrailingError)> {
        let n = self.n_instruments() as usize;
        for &(field, col) in cols {
            if col.len() != n {
                return Err((0, TrailingError::LengthMismatch { field, len: col.len(), expected: n }));
            }
            if let Some(i) = col.iter().position(|&p| !(-MAX_TICKS..=MAX_TICKS).contains(&p)) {
                return Err((i, TrailingError::InvalidPrice { field, price: col[i] }));
            }
        }
        Ok(())
    }

    fn validate_rows(
        &self,
        instruments: &[u32],
        cols: &[(&'static str, &[i64])],
    ) -> Result<(), (usize, TrailingError)> {
        for &(field, col) in cols {
            if col.len() != instruments.len() {
                return Err((
                    0,
                    TrailingError::LengthMismatch { field, len: col.len(), expected: instruments.len() },
                ));
            }
        }
        let n = self.n_instruments();
        for (i, &inst) in instruments.iter().enumerate() {
            if inst >= n {
                return Err((i, TrailingError::InvalidInstrument { instrument: u64::from(inst), count: n }));
            }
            for &(field, col) in cols {
                check_price(field, col[i]).map_err(|e| (i, e))?;
            }
        }
        Ok(())
    }

    /// One instrument's update: sell bucket on `bid`, buy bucket on `ask`.
    #[inline]
    fn apply(&mut self, inst: usize, bid: i64, ask: i64, out: &mut Vec<Trigger>) {
        let isa = self.isa;
        for (side, p) in [(StopSide::Sell, bid), (StopSide::Buy, ask)] {
            let bucket = &mut self.buckets[2 * inst + side as usize];
            let index = &mut self.index;
            // Tick trails: the vectorised pass, then collection only if something triggered.
            let t = &mut bucket.ticks;
            let any = match side {
                StopSide::Sell => isa.sell(p, &mut t.stop, &t.dist),
                StopSide::Buy => isa.buy(p, &mut t.stop, &t.dist),
            };
            if any {
                for i in (0..bucket.ticks.len()).rev() {
                    if crossed(side, p, bucket.ticks.stop[i]) {
                        out.push(trigger(&bucket.ticks, i, inst as u32, side, p));
                        take(bucket, index, Kind::Ticks, i);
                    }
                }
            }
            // Percent trails: scalar (the distance needs a division).
            let mut i = bucket.bps.len();
            while i > 0 {
                i -= 1;
                let q = &mut bucket.bps;
                if crossed(side, p, q.stop[i]) {
                    out.push(trigger(q, i, inst as u32, side, p));
                    take(bucket, index, Kind::Bps, i);
                    continue;
                }
                let better = match side {
                    StopSide::Sell => p > q.hwm[i],
                    StopSide::Buy => p < q.hwm[i],
                };
                if better {
                    q.hwm[i] = p;
                    q.stop[i] = Trail::Bps(q.dist[i] as u32).stop(side, p);
                }
            }
            // Waiting stops: arm those whose activation this price reaches.
            let mut i = bucket.pending.len();
            while i > 0 {
                i -= 1;
                let spec = bucket.pending[i];
                if activates(&spec, p) {
                    take(bucket, index, Kind::Pending, i);
                    arm(bucket, index, spec, p);
                }
            }
        }
    }
}

#[inline]
fn crossed(side: StopSide, p: i64, stop: i64) -> bool {
    match side {
        StopSide::Sell => p <= stop,
        StopSide::Buy => p >= stop,
    }
}

fn activates(spec: &StopSpec, p: i64) -> bool {
    match (spec.side, spec.activation) {
        (_, None) => true,
        (StopSide::Sell, Some(a)) => p >= a,
        (StopSide::Buy, Some(a)) => p <= a,
    }
}

fn trigger(pool: &Pool, i: usize, instrument: u32, side: StopSide, price: i64) -> Trigger {
    let stop = pool.stop[i];
    let limit = pool.limit[i].map(|o| match side {
        StopSide::Sell => stop - o,
        StopSide::Buy => stop + o,
    });
    Trigger { id: pool.ids[i], instrument, side, stop, price, limit }
}

/// Arm `spec` at price `p` (water mark = `p`) into its bucket's tick or percent pool.
fn arm(bucket: &mut Bucket, index: &mut FxHashMap<u64, Loc>, spec: StopSpec, p: i64) {
    let (pool, kind, dist) = match spec.trail {
        Trail::Ticks(t) => (&mut bucket.ticks, Kind::Ticks, t),
        Trail::Bps(b) => (&mut bucket.bps, Kind::Bps, i64::from(b)),
    };
    let idx = pool.len() as u32;
    pool.ids.push(spec.id);
    pool.stop.push(spec.trail.stop(spec.side, p));
    pool.dist.push(dist);
    if kind == Kind::Bps {
        pool.hwm.push(p);
    }
    pool.activation.push(spec.activation);
    pool.limit.push(spec.limit_offset);
    index.insert(spec.id, Loc { instrument: spec.instrument, side: spec.side, kind, idx });
}

/// Remove entry `i` of a pool (or the pending list) by swapping the last one into its place.
fn take(bucket: &mut Bucket, index: &mut FxHashMap<u64, Loc>, kind: Kind, i: usize) {
    let moved = match kind {
        Kind::Pending => {
            index.remove(&bucket.pending[i].id);
            bucket.pending.swap_remove(i);
            bucket.pending.get(i).map(|s| s.id)
        }
        Kind::Ticks | Kind::Bps => {
            let pool = if kind == Kind::Ticks { &mut bucket.ticks } else { &mut bucket.bps };
            index.remove(&pool.ids[i]);
            pool.ids.swap_remove(i);
            pool.stop.swap_remove(i);
            pool.dist.swap_remove(i);
            if kind == Kind::Bps {
                pool.hwm.swap_remove(i);
            }
            pool.activation.swap_remove(i);
            pool.limit.swap_remove(i);
            pool.ids.get(i).copied()
        }
    };
    if let Some(id) = moved {
        if let Some(loc) = index.get_mut(&id) {
            loc.idx = i as u32;
        }
    }
}
