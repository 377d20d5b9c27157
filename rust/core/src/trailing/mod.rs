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
//! - **Break-even** ([`BreakEven`]): once the water mark has moved `profit` ticks past `entry`
//!   (sell: `hwm >= entry + profit`; buy: `hwm <= entry - profit`), the stop is never looser than
//!   `entry + lock` (sell) or `entry - lock` (buy): `stop = max(trail stop, entry + lock)` for
//!   sells, `min(.., entry - lock)` for buys. `0 <= lock < profit`, so the floor is always
//!   strictly on the safe side of the price that reached it. It is a function of the water mark,
//!   so it never loosens and survives an amend of the trail.
//! - A triggered stop is reported once (id, stop price, the price that crossed it, the limit price
//!   for a stop-limit: `stop - offset` for sells, `stop + offset` for buys) and removed.
//!
//! Layout: stops are grouped by (instrument, side) into buckets; each bucket keeps its tick-trail
//! stops as two arrays (`stop`, `dist`), so an update is one branch-free pass per bucket with
//! the price broadcast (see [`kernel`]), 24 bytes touched per stop. Percent and break-even stops
//! (the scalar pool) and stops waiting for activation live in side lists of the same bucket. Removal swaps the last stop of
//! the bucket into the hole; an id -> location map finds stops.

mod kernel;

use rustc_hash::FxHashMap;

use crate::error::{CapacityError, TrailingError};
use kernel::Isa;

/// Largest accepted magnitude of a price, trail or offset in ticks (2^61), so sums never overflow.
pub const MAX_TICKS: i64 = 1 << 61;
/// Most instruments one engine may cover: 2^20. Every instrument costs two empty buckets (about
/// 600 bytes) up front, so this bound keeps a constructor under about 650 MB; more is refused
/// with [`CapacityError`] instead of exhausting memory.
pub const MAX_INSTRUMENTS: u32 = 1 << 20;
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
            Trail::Ticks(t) if !(1..=MAX_TICKS).contains(&t) => Err(TrailingError::InvalidTrail {
                field: "trail_ticks",
                value: t,
                why: "a tick trail must be 1..=2^61 ticks",
            }),
            Trail::Bps(b) if !(1..=MAX_BPS).contains(&b) => Err(TrailingError::InvalidTrail {
                field: "trail_bps",
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
    /// Move the stop to (or past) the entry once the position is `profit` ticks in the money.
    pub breakeven: Option<BreakEven>,
}

/// A break-even rule: once the water mark is `profit` ticks beyond `entry` in the position's
/// favour, the stop is held at least at `entry +/- lock` (a sell stop at `entry + lock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BreakEven {
    /// The position's entry price, in ticks.
    pub entry: i64,
    /// Ticks of favourable move that switch the floor on (at least 1).
    pub profit: i64,
    /// Ticks beyond the entry at which the floor sits (`0..profit`; 0 = exactly break-even).
    pub lock: i64,
}

impl BreakEven {
    /// Whether a water mark `hwm` has reached the threshold.
    #[inline]
    pub fn reached(self, side: StopSide, hwm: i64) -> bool {
        match side {
            StopSide::Sell => hwm >= self.entry + self.profit,
            StopSide::Buy => hwm <= self.entry - self.profit,
        }
    }

    /// `stop` held at the floor once the threshold is reached.
    #[inline]
    pub fn apply(self, side: StopSide, hwm: i64, stop: i64) -> i64 {
        if !self.reached(side, hwm) {
            return stop;
        }
        match side {
            StopSide::Sell => stop.max(self.entry + self.lock),
            StopSide::Buy => stop.min(self.entry - self.lock),
        }
    }

    fn validate(self) -> Result<(), TrailingError> {
        check_price("breakeven_entry", self.entry)?;
        if !(1..=MAX_TICKS).contains(&self.profit) {
            return Err(TrailingError::InvalidBreakEven {
                field: "breakeven_profit",
                value: self.profit,
                why: "must be 1..=2^61 ticks",
            });
        }
        if !(0..self.profit).contains(&self.lock) {
            return Err(TrailingError::InvalidBreakEven {
                field: "breakeven_lock",
                value: self.lock,
                why: "must be 0 or more and less than breakeven_profit",
            });
        }
        Ok(())
    }
}

/// The stop of a scalar-pool stop: the trail from the water mark, then the break-even floor.
#[inline]
fn scalar_stop(side: StopSide, trail: Trail, be: Option<BreakEven>, hwm: i64) -> i64 {
    let stop = trail.stop(side, hwm);
    be.map_or(stop, |b| b.apply(side, hwm, stop))
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
    /// True once a break-even rule's threshold has been reached (its floor holds the stop).
    pub breakeven_active: bool,
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
    Scalar,
    Pending,
}

#[derive(Clone, Copy, Debug)]
struct Loc {
    instrument: u32,
    side: StopSide,
    kind: Kind,
    idx: u32,
}

/// What every armed stop carries, whichever pool holds it.
#[derive(Clone, Debug, Default)]
struct Common {
    ids: Vec<u64>,
    stop: Vec<i64>,
    activation: Vec<Option<i64>>,
    limit: Vec<Option<i64>>,
}

impl Common {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn push(&mut self, spec: &StopSpec, stop: i64) {
        self.ids.push(spec.id);
        self.stop.push(stop);
        self.activation.push(spec.activation);
        self.limit.push(spec.limit_offset);
    }

    /// Swap-remove entry `i`; returns the id now at `i`, if any.
    fn swap_remove(&mut self, i: usize) -> Option<u64> {
        self.ids.swap_remove(i);
        self.stop.swap_remove(i);
        self.activation.swap_remove(i);
        self.limit.swap_remove(i);
        self.ids.get(i).copied()
    }
}

/// Tick-trail stops without break-even, for the vectorised pass: `dist` is the trail in ticks
/// and the water mark is implied (`stop +/- dist`).
#[derive(Clone, Debug, Default)]
struct TickPool {
    c: Common,
    dist: Vec<i64>,
}

impl TickPool {
    /// The water mark stop `i` implies: `stop + trail` for sells, `stop - trail` for buys.
    fn hwm(&self, i: usize, side: StopSide) -> i64 {
        match side {
            StopSide::Sell => self.c.stop[i] + self.dist[i],
            StopSide::Buy => self.c.stop[i] - self.dist[i],
        }
    }
}

/// Every other armed stop (percent trails, break-even rules): updated by a scalar loop that keeps
/// the water mark.
#[derive(Clone, Debug, Default)]
struct ScalarPool {
    c: Common,
    trail: Vec<Trail>,
    hwm: Vec<i64>,
    be: Vec<Option<BreakEven>>,
}

#[derive(Clone, Debug, Default)]
struct Bucket {
    ticks: TickPool,
    scalar: ScalarPool,
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
    /// An engine for instruments `0..n_instruments`.
    ///
    /// # Panics
    /// If [`TrailingStops::try_new`] refuses `n_instruments`; the bindings call `try_new`.
    pub fn new(n_instruments: u32) -> Self {
        Self::try_new(n_instruments).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`TrailingStops::new`] that refuses, instead of aborting the process, more than
    /// [`MAX_INSTRUMENTS`] instruments or buckets the allocator cannot reserve.
    pub fn try_new(n_instruments: u32) -> Result<Self, CapacityError> {
        let value = u64::from(n_instruments);
        if n_instruments > MAX_INSTRUMENTS {
            return Err(CapacityError::TooLarge {
                field: "n_instruments",
                value,
                max: u64::from(MAX_INSTRUMENTS),
                unit: "instruments",
            });
        }
        let n = 2 * n_instruments as usize;
        let mut buckets = Vec::new();
        buckets.try_reserve_exact(n).map_err(|_| CapacityError::OutOfMemory {
            field: "n_instruments",
            value,
            unit: "instruments",
        })?;
        buckets.resize_with(n, Bucket::default);
        Ok(TrailingStops { buckets, index: FxHashMap::default(), isa: Isa::detect() })
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
                    field: "limit_offset",
                    value: o,
                    why: "a limit offset must be 0..=2^61 ticks",
                });
            }
        }
        if let Some(be) = spec.breakeven {
            be.validate()?;
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
        let (c, trail, hwm, breakeven) = match loc.kind {
            Kind::Pending => {
                let spec = bucket.pending[i];
                return Some(StopState {
                    spec,
                    armed: false,
                    hwm: None,
                    stop: None,
                    breakeven_active: false,
                });
            }
            Kind::Ticks => {
                let t = &bucket.ticks;
                (&t.c, Trail::Ticks(t.dist[i]), t.hwm(i, loc.side), None)
            }
            Kind::Scalar => {
                let q = &bucket.scalar;
                (&q.c, q.trail[i], q.hwm[i], q.be[i])
            }
        };
        let spec = StopSpec {
            id,
            instrument: loc.instrument,
            side: loc.side,
            trail,
            activation: c.activation[i],
            limit_offset: c.limit[i],
            breakeven,
        };
        Some(StopState {
            spec,
            armed: true,
            hwm: Some(hwm),
            stop: Some(c.stop[i]),
            breakeven_active: breakeven.is_some_and(|b| b.reached(loc.side, hwm)),
        })
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
        match loc.kind {
            Kind::Pending => {
                let old = &mut bucket.pending[i].trail;
                if std::mem::discriminant(old) != std::mem::discriminant(&trail) {
                    return Err(TrailingError::TrailKindChange { id });
                }
                *old = trail;
            }
            Kind::Ticks => {
                let Trail::Ticks(t) = trail else { return Err(TrailingError::TrailKindChange { id }) };
                let p = &mut bucket.ticks;
                let hwm = p.hwm(i, loc.side);
                p.dist[i] = t;
                p.c.stop[i] = trail.stop(loc.side, hwm);
            }
            Kind::Scalar => {
                let q = &mut bucket.scalar;
                if std::mem::discriminant(&q.trail[i]) != std::mem::discriminant(&trail) {
                    return Err(TrailingError::TrailKindChange { id });
                }
                q.trail[i] = trail;
                q.c.stop[i] = scalar_stop(loc.side, trail, q.be[i], q.hwm[i]);
            }
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
                StopSide::Sell => isa.sell(p, &mut t.c.stop, &t.dist),
                StopSide::Buy => isa.buy(p, &mut t.c.stop, &t.dist),
            };
            if any {
                for i in (0..bucket.ticks.c.len()).rev() {
                    if crossed(side, p, bucket.ticks.c.stop[i]) {
                        out.push(trigger(&bucket.ticks.c, i, inst as u32, side, p));
                        take(bucket, index, Kind::Ticks, i);
                    }
                }
            }
            // Percent trails and break-even rules: scalar (a division, a threshold).
            let mut i = bucket.scalar.c.len();
            while i > 0 {
                i -= 1;
                let q = &mut bucket.scalar;
                if crossed(side, p, q.c.stop[i]) {
                    out.push(trigger(&q.c, i, inst as u32, side, p));
                    take(bucket, index, Kind::Scalar, i);
                    continue;
                }
                let better = match side {
                    StopSide::Sell => p > q.hwm[i],
                    StopSide::Buy => p < q.hwm[i],
                };
                if better {
                    q.hwm[i] = p;
                    q.c.stop[i] = scalar_stop(side, q.trail[i], q.be[i], p);
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

fn trigger(c: &Common, i: usize, instrument: u32, side: StopSide, price: i64) -> Trigger {
    let stop = c.stop[i];
    let limit = c.limit[i].map(|o| match side {
        StopSide::Sell => stop - o,
        StopSide::Buy => stop + o,
    });
    Trigger { id: c.ids[i], instrument, side, stop, price, limit }
}

/// Arm `spec` at price `p` (water mark = `p`): tick trails without break-even go to the
/// vectorised pool, the rest to the scalar pool.
fn arm(bucket: &mut Bucket, index: &mut FxHashMap<u64, Loc>, spec: StopSpec, p: i64) {
    let (kind, idx) = match (spec.trail, spec.breakeven) {
        (Trail::Ticks(t), None) => {
            let pool = &mut bucket.ticks;
            pool.c.push(&spec, spec.trail.stop(spec.side, p));
            pool.dist.push(t);
            (Kind::Ticks, pool.dist.len() - 1)
        }
        _ => {
            let pool = &mut bucket.scalar;
            pool.c.push(&spec, scalar_stop(spec.side, spec.trail, spec.breakeven, p));
            pool.trail.push(spec.trail);
            pool.hwm.push(p);
            pool.be.push(spec.breakeven);
            (Kind::Scalar, pool.hwm.len() - 1)
        }
    };
    index.insert(spec.id, Loc { instrument: spec.instrument, side: spec.side, kind, idx: idx as u32 });
}

/// Remove entry `i` of a pool (or the pending list) by swapping the last one into its place.
fn take(bucket: &mut Bucket, index: &mut FxHashMap<u64, Loc>, kind: Kind, i: usize) {
    let moved = match kind {
        Kind::Pending => {
            index.remove(&bucket.pending[i].id);
            bucket.pending.swap_remove(i);
            bucket.pending.get(i).map(|s| s.id)
        }
        Kind::Ticks => {
            let pool = &mut bucket.ticks;
            index.remove(&pool.c.ids[i]);
            pool.dist.swap_remove(i);
            pool.c.swap_remove(i)
        }
        Kind::Scalar => {
            let pool = &mut bucket.scalar;
            index.remove(&pool.c.ids[i]);
            pool.trail.swap_remove(i);
            pool.hwm.swap_remove(i);
            pool.be.swap_remove(i);
            pool.c.swap_remove(i)
        }
    };
    if let Some(id) = moved {
        if let Some(loc) = index.get_mut(&id) {
            loc.idx = i as u32;
        }
    }
}
