//! The sliding-window log: per key, a ring buffer of the last `limit` admitted event times.
//!
//! Boundary rule: the window at time `now` is the half-open interval `(now - window, now]`. An
//! event exactly `window` old no longer counts. A request for `n` units passes iff the events
//! still in the window plus `n` are at most `limit`; it then records `n` events at `now`.
//!
//! Storage: every key's ring lives in one flat `Vec<i64>` (slot `s` owns
//! `times[s * limit .. (s + 1) * limit]`), so memory is O(limit) per key, and a slot freed by
//! eviction is reused by the next new key: no allocation per event, none per key in steady state.

/// Sliding-window logs for every slot of a throttle.
#[derive(Clone, Debug)]
pub(crate) struct WindowLog {
    cap: usize,
    window: i64,
    times: Vec<i64>,
    /// Per slot: (head index, number of events), together so one cache line serves both.
    meta: Vec<(u32, u32)>,
}

impl WindowLog {
    pub(crate) fn new(limit: u32, window: i64) -> Self {
        WindowLog { cap: limit as usize, window, times: Vec::new(), meta: Vec::new() }
    }

    pub(crate) fn limit(&self) -> u32 {
        self.cap as u32
    }

    pub(crate) fn window(&self) -> i64 {
        self.window
    }

    /// Add one empty slot at the end.
    pub(crate) fn grow(&mut self) {
        self.times.resize(self.times.len() + self.cap, 0);
        self.meta.push((0, 0));
    }

    /// Empty a slot (for reuse by another key).
    #[inline]
    pub(crate) fn clear(&mut self, slot: usize) {
        self.meta[slot] = (0, 0);
    }

    /// Drop every event of `slot` that is no longer in the window `(now - window, now]`.
    #[inline]
    fn prune(&mut self, slot: usize, now: i64) {
        let cutoff = now.saturating_sub(self.window);
        let ring = &self.times[slot * self.cap..(slot + 1) * self.cap];
        let (head0, len0) = self.meta[slot];
        let (mut head, mut len) = (head0 as usize, len0);
        while len > 0 && ring[head] <= cutoff {
            head += 1;
            if head == ring.len() {
                head = 0;
            }
            len -= 1;
        }
        self.meta[slot] = (head as u32, len);
    }

    /// Nanoseconds from `now` until `n` more units would pass (0: they pass now). `n <= limit`.
    #[inline]
    pub(crate) fn wait(&mut self, slot: usize, now: i64, n: u32) -> i64 {
        self.prune(slot, now);
        let (head, len) = self.meta[slot];
        let need = len as usize + n as usize;
        if need <= self.cap {
            return 0;
        }
        // The (need - cap)-th oldest event must leave the window: at time t + window.
        let k = need - self.cap - 1;
        let mut i = head as usize + k;
        if i >= self.cap {
            i -= self.cap;
        }
        let t = self.times[slot * self.cap + i];
        t.saturating_add(self.window).saturating_sub(now).max(1)
    }

    /// Record `n` events at `now`; the caller has checked that they fit (`wait == 0`).
    #[inline]
    pub(crate) fn commit(&mut self, slot: usize, now: i64, n: u32) {
        let ring = &mut self.times[slot * self.cap..(slot + 1) * self.cap];
        let (head, len) = self.meta[slot];
        let mut tail = head as usize + len as usize;
        for _ in 0..n {
            if tail >= ring.len() {
                tail -= ring.len();
            }
            ring[tail] = now;
            tail += 1;
        }
        self.meta[slot].1 = len + n;
    }

    /// `wait` then, when it is 0, `commit`, in one pass over the slot's ring.
    #[inline]
    pub(crate) fn take(&mut self, slot: usize, now: i64, n: u32) -> i64 {
        let cap = self.cap;
        let cutoff = now.saturating_sub(self.window);
        let ring = &mut self.times[slot * cap..(slot + 1) * cap];
        let (head0, len0) = self.meta[slot];
        let (mut head, mut len) = (head0 as usize, len0 as usize);
        while len > 0 && ring[head] <= cutoff {
            head += 1;
            if head == cap {
                head = 0;
            }
            len -= 1;
        }
        let need = len + n as usize;
        if need > cap {
            self.meta[slot] = (head as u32, len as u32);
            let mut i = head + (need - cap - 1);
            if i >= cap {
                i -= cap;
            }
            return ring[i].saturating_add(self.window).saturating_sub(now).max(1);
        }
        let mut tail = head + len;
        for _ in 0..n {
            if tail >= cap {
                tail -= cap;
            }
            ring[tail] = now;
            tail += 1;
        }
        self.meta[slot] = (head as u32, need as u32);
        0
    }

    /// Events of `slot` in the window at `now`.
    #[inline]
    pub(crate) fn count(&mut self, slot: usize, now: i64) -> u64 {
        self.prune(slot, now);
        u64::from(self.meta[slot].1)
    }

    /// True when `slot` holds no event still in the window at `now` (it can be forgotten).
    #[inline]
    pub(crate) fn idle(&self, slot: usize, now: i64) -> bool {
        let (head, len) = self.meta[slot];
        if len == 0 {
            return true;
        }
        let mut newest = head as usize + len as usize - 1;
        if newest >= self.cap {
            newest -= self.cap;
        }
        self.times[slot * self.cap + newest] <= now.saturating_sub(self.window)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.times.capacity() * 8 + self.meta.capacity() * 8
    }
}
