//! GCRA (generic cell rate algorithm), the virtual-scheduling form of a token bucket.
//!
//! Parameters: the emission interval `T` (nanoseconds per unit, `period / rate` rounded up so the
//! long-run rate never exceeds `rate` per `period`) and the burst `B` (units that may pass at once
//! after idling). Each key keeps one number, its theoretical arrival time `TAT`. A request for `n`
//! units at `now` passes iff `max(TAT, now) + n*T - now <= B*T`; it then sets
//! `TAT = max(TAT, now) + n*T`. Equivalently: a bucket of `B` tokens refilling one token per `T`
//! continuously, where a request takes `n` tokens or none. A key whose `TAT <= now` has a full
//! bucket and can be forgotten.

/// GCRA state for every slot of a throttle.
#[derive(Clone, Debug)]
pub(crate) struct GcraCells {
    interval: i64,
    burst: u32,
    tau: i64,
    tat: Vec<i64>,
}

impl GcraCells {
    /// `interval * burst` must fit in an `i64` (checked by the caller).
    pub(crate) fn new(interval: i64, burst: u32) -> Self {
        GcraCells { interval, burst, tau: interval * i64::from(burst), tat: Vec::new() }
    }

    pub(crate) fn interval(&self) -> i64 {
        self.interval
    }

    pub(crate) fn burst(&self) -> u32 {
        self.burst
    }

    pub(crate) fn grow(&mut self) {
        self.tat.push(i64::MIN);
    }

    #[inline]
    pub(crate) fn clear(&mut self, slot: usize) {
        self.tat[slot] = i64::MIN;
    }

    /// Nanoseconds from `now` until `n` more units would pass (0: they pass now). `n <= burst`.
    #[inline]
    pub(crate) fn wait(&self, slot: usize, now: i64, n: u32) -> i64 {
        let start = self.tat[slot].max(now);
        let new_tat = start.saturating_add(i64::from(n) * self.interval);
        // Passes iff new_tat - now <= tau, i.e. once now >= new_tat - tau.
        let w = new_tat.saturating_sub(self.tau).saturating_sub(now);
        w.max(0)
    }

    #[inline]
    pub(crate) fn commit(&mut self, slot: usize, now: i64, n: u32) {
        let start = self.tat[slot].max(now);
        self.tat[slot] = start.saturating_add(i64::from(n) * self.interval);
    }

    /// Units of the burst in use at `now`: `ceil((TAT - now) / T)`, between 0 and `burst`.
    #[inline]
    pub(crate) fn count(&self, slot: usize, now: i64) -> u64 {
        let ahead = self.tat[slot].saturating_sub(now);
        if ahead <= 0 {
            0
        } else {
            (ahead as u64).div_ceil(self.interval as u64)
        }
    }

    #[inline]
    pub(crate) fn idle(&self, slot: usize, now: i64) -> bool {
        self.tat[slot] <= now
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.tat.capacity() * 8
    }
}
