//! Throttle tests: a brute-force reference model under proptest, plus the exact boundary rule,
//! monotonic time, composition, eviction and the batch form.

use fillforge_core::{Decision, Limit, Throttle, ThrottleError};
use proptest::prelude::*;

// ----- the reference model ------------------------------------------------------------------

/// Every admitted event kept forever; a sliding window counts by scanning all of them, and GCRA
/// is modelled as a token bucket whose level (in nanoseconds of credit) refills continuously.
struct Reference {
    limits: Vec<Limit>,
    /// (key, time, units) of every admitted request.
    log: Vec<(u64, i64, u32)>,
    /// Per key and GCRA limit: (credit in ns, time of last update).
    buckets: std::collections::HashMap<(u64, usize), (i64, i64)>,
    last: Option<i64>,
}

impl Reference {
    fn new(limits: &[Limit]) -> Self {
        Reference { limits: limits.to_vec(), log: Vec::new(), buckets: Default::default(), last: None }
    }

    fn window_count(&self, key: u64, now: i64, window: i64) -> u64 {
        self.log
            .iter()
            .filter(|&&(k, t, _)| k == key && t > now - window)
            .map(|&(_, _, n)| u64::from(n))
            .sum()
    }

    fn credit(&self, key: u64, i: usize, now: i64) -> i64 {
        let Limit::Gcra { interval, burst } = self.limits[i] else { unreachable!() };
        let full = interval * i64::from(burst);
        match self.buckets.get(&(key, i)) {
            None => full,
            Some(&(c, t)) => (c + (now - t)).min(full),
        }
    }

    /// Wait of one limit, by brute force: the smallest d >= 0 at which it admits n.
    fn limit_wait(&self, key: u64, now: i64, n: u32, i: usize) -> i64 {
        match self.limits[i] {
            Limit::Window { limit, window } => {
                let mut candidates: Vec<i64> = vec![0];
                candidates.extend(self.log.iter().filter(|e| e.0 == key).map(|&(_, t, _)| t + window - now));
                candidates.retain(|&d| d >= 0);
                candidates.sort_unstable();
                *candidates
                    .iter()
                    .find(|&&d| self.window_count(key, now + d, window) + u64::from(n) <= u64::from(limit))
                    .expect("some wait admits")
            }
            Limit::Gcra { interval, .. } => (i64::from(n) * interval - self.credit(key, i, now)).max(0),
        }
    }

    fn check_time(&mut self, now: i64) -> Result<(), ThrottleError> {
        if let Some(last) = self.last {
            if now < last {
                return Err(ThrottleError::ClockWentBackwards { now, last });
            }
        }
        self.last = Some(now);
        Ok(())
    }

    fn max_n(&self) -> u32 {
        self.limits.iter().map(Limit::capacity).min().unwrap()
    }

    fn acquire(&mut self, key: u64, now: i64, n: u32) -> Result<Decision, ThrottleError> {
        if n > self.max_n() {
            return Err(ThrottleError::RequestTooLarge { n: u64::from(n), max: u64::from(self.max_n()) });
        }
        self.check_time(now)?;
        if n == 0 {
            return Ok(Decision { allowed: true, wait: 0, limit: 0 });
        }
        let waits: Vec<i64> = (0..self.limits.len()).map(|i| self.limit_wait(key, now, n, i)).collect();
        let wait = *waits.iter().max().unwrap();
        if wait > 0 {
            let limit = waits.iter().position(|&w| w == wait).unwrap();
            return Ok(Decision { allowed: false, wait, limit });
        }
        for i in 0..self.limits.len() {
            if let Limit::Gcra { interval, .. } = self.limits[i] {
                let c = self.credit(key, i, now) - i64::from(n) * interval;
                self.buckets.insert((key, i), (c, now));
            }
        }
        self.log.push((key, now, n));
        Ok(Decision { allowed: true, wait: 0, limit: 0 })
    }

    fn wait_time(&mut self, key: u64, now: i64, n: u32) -> Result<i64, ThrottleError> {
        if n > self.max_n() {
            return Err(ThrottleError::RequestTooLarge { n: u64::from(n), max: u64::from(self.max_n()) });
        }
        self.check_time(now)?;
        if n == 0 {
            return Ok(0);
        }
        Ok((0..self.limits.len()).map(|i| self.limit_wait(key, now, n, i)).max().unwrap())
    }

    fn count(&mut self, key: u64, now: i64, i: usize) -> Result<u64, ThrottleError> {
        self.check_time(now)?;
        Ok(match self.limits[i] {
            Limit::Window { window, .. } => self.window_count(key, now, window),
            Limit::Gcra { interval, burst } => {
                let used = interval * i64::from(burst) - self.credit(key, i, now);
                (used.max(0) as u64).div_ceil(interval as u64)
            }
        })
    }
}

// ----- property tests ----------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Acquire { key: u64, dt: i64, n: u32 },
    Wait { key: u64, dt: i64, n: u32 },
    Count { key: u64, dt: i64, limit: usize },
    Backwards { key: u64, back: i64 },
}

fn limit_strategy() -> impl Strategy<Value = Limit> {
    prop_oneof![
        (1u32..6, 1i64..60).prop_map(|(limit, window)| Limit::Window { limit, window }),
        (1i64..15, 1u32..6).prop_map(|(interval, burst)| Limit::Gcra { interval, burst }),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let dt = prop_oneof![3 => Just(0i64), 6 => 0i64..10, 1 => 0i64..120];
    prop_oneof![
        8 => (0u64..4, dt.clone(), 0u32..7).prop_map(|(key, dt, n)| Op::Acquire { key, dt, n }),
        2 => (0u64..4, dt.clone(), 0u32..7).prop_map(|(key, dt, n)| Op::Wait { key, dt, n }),
        2 => (0u64..4, dt, 0usize..3).prop_map(|(key, dt, limit)| Op::Count { key, dt, limit }),
        1 => (0u64..4, 1i64..5).prop_map(|(key, back)| Op::Backwards { key, back }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn matches_reference(limits in prop::collection::vec(limit_strategy(), 1..4),
                         ops in prop::collection::vec(op_strategy(), 1..200)) {
        let mut t = Throttle::new(&limits).unwrap();
        let mut r = Reference::new(&limits);
        let mut now = 1_000i64;
        for op in ops {
            match op {
                Op::Acquire { key, dt, n } => {
                    now += dt;
                    prop_assert_eq!(t.acquire(key, now, n), r.acquire(key, now, n), "acquire {} {} {}", key, now, n);
                }
                Op::Wait { key, dt, n } => {
                    now += dt;
                    prop_assert_eq!(t.wait_time(key, now, n), r.wait_time(key, now, n));
                }
                Op::Count { key, dt, limit } => {
                    now += dt;
                    let limit = limit % limits.len();
                    prop_assert_eq!(t.count_in_window(key, now, limit), r.count(key, now, limit));
                }
                Op::Backwards { key, back } => {
                    let Some(last) = r.last else { continue };
                    let got = t.acquire(key, last - back, 1);
                    prop_assert_eq!(got, Err(ThrottleError::ClockWentBackwards { now: last - back, last }));
                }
            }
            // Memory: never more remembered keys than keys seen, and idle ones get forgotten.
            prop_assert!(t.len() <= 4);
        }
    }

    #[test]
    fn batch_equals_per_call(limits in prop::collection::vec(limit_strategy(), 1..3),
                             rows in prop::collection::vec((0u64..5, 0i64..8, 1u32..4), 0..150)) {
        let mut a = Throttle::new(&limits).unwrap();
        let mut b = a.clone();
        let max = a.max_request();
        let mut now = 0;
        let (mut keys, mut times, mut ns) = (vec![], vec![], vec![]);
        for (k, dt, n) in rows {
            now += dt;
            keys.push(k);
            times.push(now);
            ns.push(n.min(max));
        }
        let mut allowed = vec![false; keys.len()];
        let mut wait = vec![0; keys.len()];
        a.acquire_batch(&keys, &times, Some(&ns), &mut allowed, &mut wait).unwrap();
        for i in 0..keys.len() {
            let d = b.acquire(keys[i], times[i], ns[i]).unwrap();
            prop_assert_eq!((d.allowed, d.wait), (allowed[i], wait[i]), "row {}", i);
        }
    }

    /// A sliding window never admits more than `limit` units in any window `(t - W, t]`.
    #[test]
    fn window_invariant(limit in 1u32..8, window in 1i64..50,
                        rows in prop::collection::vec((0i64..6, 1u32..4), 1..300)) {
        let mut t = Throttle::sliding_window(limit, window).unwrap();
        let mut admitted: Vec<(i64, u32)> = vec![];
        let mut now = 0;
        for (dt, n) in rows {
            now += dt;
            let n = n.min(limit);
            if t.try_acquire(7, now, n).unwrap() {
                admitted.push((now, n));
            }
            let in_window: u32 = admitted.iter().filter(|e| e.0 > now - window).map(|e| e.1).sum();
            prop_assert!(in_window <= limit);
        }
    }
}

// ----- exact cases ---------------------------------------------------------------------------

#[test]
fn window_boundary_event_exactly_w_old_does_not_count() {
    let mut t = Throttle::sliding_window(2, 100).unwrap();
    assert!(t.try_acquire(1, 0, 1).unwrap());
    assert!(t.try_acquire(1, 0, 1).unwrap());
    // At 99 both events are still inside (−1, 99]: denied, 1 ns to wait.
    assert_eq!(t.acquire(1, 99, 1).unwrap(), Decision { allowed: false, wait: 1, limit: 0 });
    assert_eq!(t.count_in_window(1, 99, 0).unwrap(), 2);
    // At 100 the window is (0, 100]: the events at 0 are exactly W old and no longer count.
    assert_eq!(t.count_in_window(1, 100, 0).unwrap(), 0);
    assert!(t.try_acquire(1, 100, 2).unwrap());
}

#[test]
fn all_or_nothing_for_n() {
    let mut t = Throttle::sliding_window(5, 1_000).unwrap();
    assert!(t.try_acquire(9, 0, 3).unwrap());
    let d = t.acquire(9, 10, 3).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.wait, 990);
    assert_eq!(t.count_in_window(9, 10, 0).unwrap(), 3, "a denied request records nothing");
    assert!(t.try_acquire(9, 10, 2).unwrap());
}

#[test]
fn time_going_backwards_is_an_error_and_changes_nothing() {
    let mut t = Throttle::sliding_window(3, 100).unwrap();
    assert!(t.try_acquire(1, 50, 1).unwrap());
    let e = t.try_acquire(2, 49, 1).unwrap_err();
    assert_eq!(e, ThrottleError::ClockWentBackwards { now: 49, last: 50 });
    assert!(e.to_string().contains("backwards"));
    assert_eq!(t.wait_time(1, 40, 1), Err(ThrottleError::ClockWentBackwards { now: 40, last: 50 }));
    assert_eq!(t.count_in_window(2, 50, 0).unwrap(), 0);
    assert_eq!(t.count_in_window(1, 50, 0).unwrap(), 1);
    // Equal times are fine.
    assert!(t.try_acquire(1, 50, 1).unwrap());
}

#[test]
fn composed_limits_deny_consumes_nothing() {
    // 2 per 10 ns and 3 per 100 ns.
    let mut t =
        Throttle::new(&[Limit::Window { limit: 2, window: 10 }, Limit::Window { limit: 3, window: 100 }])
            .unwrap();
    assert!(t.try_acquire(0, 0, 2).unwrap());
    let d = t.acquire(0, 5, 1).unwrap();
    assert_eq!(d, Decision { allowed: false, wait: 5, limit: 0 });
    assert_eq!(t.count_in_window(0, 5, 1).unwrap(), 2, "denied by limit 0, nothing taken from limit 1");
    assert!(t.try_acquire(0, 10, 1).unwrap());
    // Now limit 1 (3 per 100) binds until t = 100.
    assert_eq!(t.acquire(0, 20, 1).unwrap(), Decision { allowed: false, wait: 80, limit: 1 });
    assert_eq!(t.wait_time(0, 20, 1).unwrap(), 80);
    assert!(t.try_acquire(0, 100, 1).unwrap());
}

#[test]
fn gcra_rate_and_burst() {
    // 10 per 1000 ns (interval 100), burst 3.
    let mut t = Throttle::gcra(10, 1_000, 3).unwrap();
    assert_eq!(t.limits(), vec![Limit::Gcra { interval: 100, burst: 3 }]);
    for _ in 0..3 {
        assert!(t.try_acquire(5, 0, 1).unwrap());
    }
    assert_eq!(t.acquire(5, 0, 1).unwrap(), Decision { allowed: false, wait: 100, limit: 0 });
    assert_eq!(t.count_in_window(5, 0, 0).unwrap(), 3);
    assert_eq!(t.count_in_window(5, 50, 0).unwrap(), 3);
    assert_eq!(t.count_in_window(5, 100, 0).unwrap(), 2);
    assert!(t.try_acquire(5, 100, 1).unwrap());
    assert!(!t.try_acquire(5, 199, 1).unwrap());
    assert!(t.try_acquire(5, 200, 1).unwrap());
    assert_eq!(t.wait_time(5, 200, 3).unwrap(), 300);
    // Rate rounds the interval up: 3 per 1000 ns -> 334 ns.
    assert_eq!(Limit::gcra_rate(3, 1_000, 1), Limit::Gcra { interval: 334, burst: 1 });
}

#[test]
fn request_too_large_and_invalid_limits() {
    let mut t = Throttle::new(&[Limit::Window { limit: 5, window: 10 }, Limit::gcra_rate(1, 10, 2)]).unwrap();
    assert_eq!(t.max_request(), 2);
    assert_eq!(t.acquire(1, 0, 3), Err(ThrottleError::RequestTooLarge { n: 3, max: 2 }));
    assert_eq!(t.last_time(), None, "a refused request changes nothing, not even the clock");
    assert!(t.try_acquire(1, 0, 0).unwrap(), "n = 0 always passes");
    assert!(t.is_empty());
    for bad in [
        vec![],
        vec![Limit::Window { limit: 0, window: 10 }],
        vec![Limit::Window { limit: 1, window: 0 }],
        vec![Limit::Gcra { interval: 0, burst: 1 }],
        vec![Limit::Gcra { interval: 1, burst: 0 }],
        vec![Limit::Gcra { interval: i64::MAX / 2, burst: 3 }],
    ] {
        assert!(matches!(Throttle::new(&bad), Err(ThrottleError::InvalidLimit { .. })), "{bad:?}");
    }
}

#[test]
fn idle_keys_are_forgotten_and_slots_reused() {
    let mut t = Throttle::sliding_window(3, 1_000).unwrap();
    let mut now = 0;
    // 100 rounds of 500 fresh keys each, one round per window: memory stays at ~2 rounds.
    for round in 0..100u64 {
        for k in 0..500u64 {
            assert!(t.try_acquire(round * 1_000_000 + k, now, 1).unwrap());
        }
        now += 1_000;
        assert!(t.len() <= 1_000, "round {round}: {} keys remembered", t.len());
    }
    assert!(t.slot_capacity() <= 1_000, "slots: {}", t.slot_capacity());
    let bytes = t.state_bytes();
    assert!(bytes <= 1_000 * (3 * 8 + 8) * 2, "{bytes} bytes");
    let before = t.len();
    assert_eq!(t.sweep(now + 1_000).unwrap(), before);
    assert!(t.is_empty());
}

#[test]
fn reset_forgets_keys_and_time() {
    let mut t = Throttle::sliding_window(1, 100).unwrap();
    assert!(t.try_acquire(1, 500, 1).unwrap());
    assert!(!t.try_acquire(1, 501, 1).unwrap());
    assert!(t.reset_key(1));
    assert!(!t.reset_key(1));
    assert!(t.try_acquire(1, 501, 1).unwrap());
    t.reset();
    assert!(t.is_empty());
    assert!(t.try_acquire(1, 0, 1).unwrap(), "reset forgets the latest time too");
}

#[test]
fn batch_validates_before_recording() {
    let mut t = Throttle::sliding_window(2, 100).unwrap();
    let keys = [1, 1, 1, 1];
    let mut allowed = [false; 4];
    let mut wait = [0; 4];
    let err = t.acquire_batch(&keys, &[0, 5, 4, 6], None, &mut allowed, &mut wait).unwrap_err();
    assert_eq!(err, (2, ThrottleError::ClockWentBackwards { now: 4, last: 5 }));
    assert!(t.is_empty() && t.last_time().is_none());
    let err =
        t.acquire_batch(&keys, &[0, 1, 2, 3], Some(&[1, 1, 3, 1]), &mut allowed, &mut wait).unwrap_err();
    assert_eq!(err, (2, ThrottleError::RequestTooLarge { n: 3, max: 2 }));
    t.acquire_batch(&keys, &[0, 1, 2, 100], None, &mut allowed, &mut wait).unwrap();
    assert_eq!(allowed, [true, true, false, true]);
    assert_eq!(wait, [0, 0, 98, 0]);
}
