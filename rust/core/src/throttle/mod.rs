//! Keyed rate limiting: sliding-window logs and GCRA token buckets, composed all-or-nothing.
//!
//! A [`Throttle`] holds one or more [`Limit`]s and any number of independent keys (`u64`: an
//! account, a symbol, an endpoint, or a hash of several). Time is passed in as integer
//! nanoseconds (an injected clock), so simulations are deterministic.
//!
//! Rules (also in `docs/throttle.md`):
//! - **Sliding window** `Limit::Window { limit: N, window: W }`: at most `N` units in any window
//!   `(now - W, now]`. An event exactly `W` old no longer counts.
//! - **GCRA** `Limit::Gcra { interval: T, burst: B }`: a token bucket of `B` tokens refilled one
//!   per `T` nanoseconds (see [`gcra`]).
//! - **Composition**: a request for `n` units passes only if every limit admits it now; then it
//!   is recorded in every limit. A denied request consumes nothing from any limit. The wait of a
//!   denied request is the largest of the limits' waits, which is exact: without new admissions
//!   each limit admits more as time passes, never less.
//! - **Time** never goes backwards within one throttle: every call with a `now` earlier than the
//!   latest `now` seen (by any call, for any key) fails with
//!   [`ThrottleError::ClockWentBackwards`] and changes nothing.
//! - **Memory**: keys live in slots; a key whose every limit is idle (no event in the window, a
//!   full bucket) is forgotten by a sweep that runs whenever time has advanced by the longest
//!   window since the last one, and its slot is reused. A request for `n > ` the tightest limit's
//!   capacity can never pass and fails with [`ThrottleError::RequestTooLarge`]; `n = 0` passes.

mod gcra;
mod window;

use rustc_hash::FxHashMap;

use crate::error::ThrottleError;
use gcra::GcraCells;
use window::WindowLog;

/// Most 8-byte values of state one key may need across a throttle's limits (2^25, 256 MiB): each
/// new key allocates this much, so a larger configuration is refused when the throttle is built.
pub const MAX_KEY_WORDS: u64 = 1 << 25;

/// Integer nanoseconds on the caller's clock.
pub type Nanos = i64;

/// One rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// At most `limit` units in any window `(now - window, now]` (nanoseconds).
    Window { limit: u32, window: Nanos },
    /// GCRA: one unit per `interval` nanoseconds on average, `burst` at once after idling.
    Gcra { interval: Nanos, burst: u32 },
}

impl Limit {
    /// A GCRA limit of `rate` units per `period` nanoseconds with the given burst. The emission
    /// interval is `period / rate` rounded up, so the long-run rate never exceeds the one asked.
    pub fn gcra_rate(rate: u32, period: Nanos, burst: u32) -> Limit {
        let interval =
            if rate == 0 || period <= 0 { 0 } else { (period as u64).div_ceil(u64::from(rate)) as i64 };
        Limit::Gcra { interval, burst }
    }

    /// The most units this limit can admit at once.
    pub fn capacity(&self) -> u32 {
        match *self {
            Limit::Window { limit, .. } => limit,
            Limit::Gcra { burst, .. } => burst,
        }
    }

    /// 8-byte values of state this limit keeps per key: a window's log of `limit` timestamps
    /// and its head, or a GCRA cell.
    fn key_words(&self) -> u64 {
        match *self {
            Limit::Window { limit, .. } => u64::from(limit) + 1,
            Limit::Gcra { .. } => 1,
        }
    }

    /// How long this limit remembers an admission: the window, or `burst * interval`.
    fn span(&self) -> Nanos {
        match *self {
            Limit::Window { window, .. } => window,
            Limit::Gcra { interval, burst } => interval.saturating_mul(i64::from(burst)),
        }
    }

    fn validate(&self, index: usize) -> Result<(), ThrottleError> {
        let bad = |why| Err(ThrottleError::InvalidLimit { index, why });
        match *self {
            Limit::Window { limit, window } => {
                if limit == 0 {
                    return bad("limit must be at least 1");
                }
                if window <= 0 {
                    return bad("window (window_ns) must be a positive number of nanoseconds");
                }
                if limit > 1 << 24 {
                    return bad("limit above 2^24 (the log keeps one timestamp per unit)");
                }
            }
            Limit::Gcra { interval, burst } => {
                if burst == 0 {
                    return bad("burst must be at least 1");
                }
                if interval <= 0 {
                    return bad(
                        "rate and period (period_ns) must be positive (interval = period / rate > 0)",
                    );
                }
                if interval.checked_mul(i64::from(burst)).is_none() {
                    return bad("burst * interval overflows 64-bit nanoseconds");
                }
            }
        }
        Ok(())
    }
}

/// The outcome of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// 0 when allowed; otherwise nanoseconds until the same request would pass (always > 0).
    pub wait: Nanos,
    /// When denied, the index of the limit with the longest wait (the binding one).
    pub limit: usize,
}

impl Decision {
    const ALLOWED: Decision = Decision { allowed: true, wait: 0, limit: 0 };
}

#[derive(Clone, Debug)]
enum State {
    Window(WindowLog),
    Gcra(GcraCells),
}

impl State {
    #[inline]
    fn wait(&mut self, slot: usize, now: Nanos, n: u32) -> Nanos {
        match self {
            State::Window(w) => w.wait(slot, now, n),
            State::Gcra(g) => g.wait(slot, now, n),
        }
    }
    #[inline]
    fn commit(&mut self, slot: usize, now: Nanos, n: u32) {
        match self {
            State::Window(w) => w.commit(slot, now, n),
            State::Gcra(g) => g.commit(slot, now, n),
        }
    }
    #[inline]
    fn count(&mut self, slot: usize, now: Nanos) -> u64 {
        match self {
            State::Window(w) => w.count(slot, now),
            State::Gcra(g) => g.count(slot, now),
        }
    }
    #[inline]
    fn idle(&self, slot: usize, now: Nanos) -> bool {
        match self {
            State::Window(w) => w.idle(slot, now),
            State::Gcra(g) => g.idle(slot, now),
        }
    }
    fn clear(&mut self, slot: usize) {
        match self {
            State::Window(w) => w.clear(slot),
            State::Gcra(g) => g.clear(slot),
        }
    }
    fn grow(&mut self) {
        match self {
            State::Window(w) => w.grow(),
            State::Gcra(g) => g.grow(),
        }
    }
    fn heap_bytes(&self) -> usize {
        match self {
            State::Window(w) => w.heap_bytes(),
            State::Gcra(g) => g.heap_bytes(),
        }
    }
    fn limit(&self) -> Limit {
        match self {
            State::Window(w) => Limit::Window { limit: w.limit(), window: w.window() },
            State::Gcra(g) => Limit::Gcra { interval: g.interval(), burst: g.burst() },
        }
    }
}

/// A keyed, composable rate limiter (see the module docs for the rules).
#[derive(Clone, Debug)]
pub struct Throttle {
    states: Vec<State>,
    map: FxHashMap<u64, u32>,
    free: Vec<u32>,
    slots: usize,
    max_n: u32,
    /// The latest `now` seen; `i64::MIN` before the first call.
    now: Nanos,
    span: Nanos,
    next_sweep: Nanos,
}

impl Throttle {
    /// A throttle enforcing every limit in `limits` at once (at least one).
    pub fn new(limits: &[Limit]) -> Result<Self, ThrottleError> {
        if limits.is_empty() {
            return Err(ThrottleError::InvalidLimit { index: 0, why: "a throttle needs at least one limit" });
        }
        let mut key_words = 0u64;
        for (i, l) in limits.iter().enumerate() {
            l.validate(i)?;
            key_words += l.key_words();
            if key_words > MAX_KEY_WORDS {
                return Err(ThrottleError::InvalidLimit {
                    index: i,
                    why: "the limits together need more than 2^25 values (256 MiB) per key \
                          (a window log keeps one 8-byte timestamp per unit of its limit)",
                });
            }
        }
        let states = limits
            .iter()
            .map(|l| match *l {
                Limit::Window { limit, window } => State::Window(WindowLog::new(limit, window)),
                Limit::Gcra { interval, burst } => State::Gcra(GcraCells::new(interval, burst)),
            })
            .collect();
        Ok(Throttle {
            states,
            map: FxHashMap::default(),
            free: Vec::new(),
            slots: 0,
            max_n: limits.iter().map(Limit::capacity).min().unwrap_or(0),
            now: i64::MIN,
            span: limits.iter().map(Limit::span).max().unwrap_or(1).max(1),
            next_sweep: i64::MIN,
        })
    }

    /// A single sliding-window limit: at most `limit` units in any `(now - window, now]`.
    pub fn sliding_window(limit: u32, window: Nanos) -> Result<Self, ThrottleError> {
        Throttle::new(&[Limit::Window { limit, window }])
    }

    /// A single GCRA limit of `rate` units per `period` nanoseconds, `burst` at once.
    pub fn gcra(rate: u32, period: Nanos, burst: u32) -> Result<Self, ThrottleError> {
        Throttle::new(&[Limit::gcra_rate(rate, period, burst)])
    }

    /// The limits, in the order given (the index reported by [`Decision::limit`]).
    pub fn limits(&self) -> Vec<Limit> {
        self.states.iter().map(State::limit).collect()
    }

    /// The most units one request may ask for (the tightest limit's capacity).
    pub fn max_request(&self) -> u32 {
        self.max_n
    }

    /// The latest time seen, or `None` before the first call.
    pub fn last_time(&self) -> Option<Nanos> {
        (self.now != i64::MIN).then_some(self.now)
    }

    /// Keys currently remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Slots allocated (remembered keys plus free slots awaiting reuse): the memory high-water mark.
    pub fn slot_capacity(&self) -> usize {
        self.slots
    }

    /// Approximate heap bytes held by the per-key state (not counting the hash index).
    pub fn state_bytes(&self) -> usize {
        self.states.iter().map(State::heap_bytes).sum::<usize>() + self.free.capacity() * 4
    }

    /// Check and record `now`; run the idle-key sweep when it is due.
    #[inline]
    fn advance(&mut self, now: Nanos) -> Result<(), ThrottleError> {
        if now < self.now {
            return Err(ThrottleError::ClockWentBackwards { now, last: self.now });
        }
        self.now = now;
        if now >= self.next_sweep {
            self.sweep_idle(now);
            self.next_sweep = now.saturating_add(self.span);
        }
        Ok(())
    }

    #[inline]
    fn check_n(&self, n: u32) -> Result<(), ThrottleError> {
        if n > self.max_n {
            return Err(ThrottleError::RequestTooLarge { n: u64::from(n), max: u64::from(self.max_n) });
        }
        Ok(())
    }

    fn sweep_idle(&mut self, now: Nanos) -> usize {
        let before = self.map.len();
        let Throttle { states, map, free, .. } = self;
        map.retain(|_, slot| {
            let s = *slot as usize;
            if states.iter().all(|st| st.idle(s, now)) {
                free.push(*slot);
                false
            } else {
                true
            }
        });
        before - self.map.len()
    }

    /// Forget every idle key now (the automatic sweep does this once per longest window).
    /// Returns the number of keys forgotten. `now` follows the same monotonic rule.
    pub fn sweep(&mut self, now: Nanos) -> Result<usize, ThrottleError> {
        if now < self.now {
            return Err(ThrottleError::ClockWentBackwards { now, last: self.now });
        }
        self.now = now;
        let k = self.sweep_idle(now);
        self.next_sweep = now.saturating_add(self.span);
        Ok(k)
    }

    fn new_slot(&mut self, key: u64) -> usize {
        let slot = if let Some(s) = self.free.pop() {
            for st in &mut self.states {
                st.clear(s as usize);
            }
            s
        } else {
            for st in &mut self.states {
                st.grow();
            }
            self.slots += 1;
            (self.slots - 1) as u32
        };
        self.map.insert(key, slot);
        slot as usize
    }

    /// The core of `acquire`, after validation.
    #[inline]
    fn acquire_unchecked(&mut self, key: u64, now: Nanos, n: u32) -> Decision {
        if n == 0 {
            return Decision::ALLOWED;
        }
        let slot = match self.map.get(&key) {
            Some(&s) => s as usize,
            None => {
                // A fresh key admits any request up to the tightest capacity.
                let s = self.new_slot(key);
                for st in &mut self.states {
                    st.commit(s, now, n);
                }
                return Decision::ALLOWED;
            }
        };
        if let [only] = self.states.as_mut_slice() {
            let wait = match only {
                State::Window(w) => w.take(slot, now, n),
                State::Gcra(g) => {
                    let wait = g.wait(slot, now, n);
                    if wait == 0 {
                        g.commit(slot, now, n);
                    }
                    wait
                }
            };
            return if wait == 0 { Decision::ALLOWED } else { Decision { allowed: false, wait, limit: 0 } };
        }
        let (mut wait, mut limit) = (0, 0);
        for (i, st) in self.states.iter_mut().enumerate() {
            let w = st.wait(slot, now, n);
            if w > wait {
                wait = w;
                limit = i;
            }
        }
        if wait > 0 {
            return Decision { allowed: false, wait, limit };
        }
        for st in &mut self.states {
            st.commit(slot, now, n);
        }
        Decision::ALLOWED
    }

    /// Request `n` units for `key` at `now`: all of them pass (and are recorded in every limit)
    /// or none do (and nothing is recorded). A denial says how long until the same request would
    /// pass and which limit binds.
    #[inline]
    pub fn acquire(&mut self, key: u64, now: Nanos, n: u32) -> Result<Decision, ThrottleError> {
        self.check_n(n)?;
        self.advance(now)?;
        Ok(self.acquire_unchecked(key, now, n))
    }

    /// [`Throttle::acquire`], answering only whether the request passed.
    #[inline]
    pub fn try_acquire(&mut self, key: u64, now: Nanos, n: u32) -> Result<bool, ThrottleError> {
        Ok(self.acquire(key, now, n)?.allowed)
    }

    /// Nanoseconds from `now` until `n` units for `key` would pass (0: they would pass now).
    /// Records nothing.
    pub fn wait_time(&mut self, key: u64, now: Nanos, n: u32) -> Result<Nanos, ThrottleError> {
        self.check_n(n)?;
        self.advance(now)?;
        let Some(&slot) = self.map.get(&key) else { return Ok(0) };
        Ok(self.states.iter_mut().map(|st| st.wait(slot as usize, now, n)).max().unwrap_or(0))
    }

    /// Units `key` holds in limit `limit` at `now`: events in the window for a sliding window,
    /// tokens in use (`burst` minus tokens available, rounded up) for GCRA.
    pub fn count_in_window(&mut self, key: u64, now: Nanos, limit: usize) -> Result<u64, ThrottleError> {
        if limit >= self.states.len() {
            return Err(ThrottleError::InvalidLimit { index: limit, why: "no limit with this index" });
        }
        self.advance(now)?;
        let Some(&slot) = self.map.get(&key) else { return Ok(0) };
        Ok(self.states[limit].count(slot as usize, now))
    }

    /// Forget `key` entirely (as if it had never been seen). Returns whether it was remembered.
    pub fn reset_key(&mut self, key: u64) -> bool {
        match self.map.remove(&key) {
            Some(slot) => {
                self.free.push(slot);
                true
            }
            None => false,
        }
    }

    /// Forget every key and the latest time seen; keeps the allocated slots for reuse.
    pub fn reset(&mut self) {
        self.free.clear();
        self.free.extend((0..self.slots as u32).rev());
        self.map.clear();
        self.now = i64::MIN;
        self.next_sweep = i64::MIN;
    }

    /// Many requests in order: row `i` asks for `ns[i]` units (1 when `ns` is `None`) for
    /// `keys[i]` at `times[i]`. Exactly equivalent to calling [`Throttle::acquire`] row by row,
    /// except that every row is validated first: on an error (with the offending row's index)
    /// nothing at all is recorded. All slices must have the same length (the caller checks).
    pub fn acquire_batch(
        &mut self,
        keys: &[u64],
        times: &[Nanos],
        ns: Option<&[u32]>,
        allowed: &mut [bool],
        wait: &mut [Nanos],
    ) -> Result<(), (usize, ThrottleError)> {
        let len = keys.len();
        assert!(times.len() == len && allowed.len() == len && wait.len() == len);
        assert!(ns.is_none_or(|v| v.len() == len));
        let mut last = self.now;
        for (i, &t) in times.iter().enumerate() {
            if t < last {
                return Err((i, ThrottleError::ClockWentBackwards { now: t, last }));
            }
            last = t;
        }
        if let Some(ns) = ns {
            for (i, &n) in ns.iter().enumerate() {
                self.check_n(n).map_err(|e| (i, e))?;
            }
        }
        for i in 0..len {
            let (now, n) = (times[i], ns.map_or(1, |v| v[i]));
            // Cannot fail: times were checked above.
            self.now = now;
            if now >= self.next_sweep {
                self.sweep_idle(now);
                self.next_sweep = now.saturating_add(self.span);
            }
            let d = self.acquire_unchecked(keys[i], now, n);
            allowed[i] = d.allowed;
            wait[i] = d.wait;
        }
        Ok(())
    }
}
