//! Several markets replayed as one stream: their feeds merged in time order, each message applied
//! by its own market's engine. Equal times go to the market listed first.
//!
//! The loop stops as soon as a message changed one of the user's orders (that market's events
//! are then waiting in its engine), at the first message timed at or after `until_ns` (the
//! caller's next own action: a request reaching the venue, a timer, a session close), or when
//! `max_msgs` messages have been applied.

use super::Engine;

/// What one call of [`run_merged`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergedRun {
    /// Messages applied, over all markets.
    pub applied: usize,
    /// The market whose clock is now the latest (None: nothing was applied); when `changed`,
    /// the market whose message changed a user order.
    pub market: Option<usize>,
    /// A message changed one of the user's orders in `market` (its events wait in that engine).
    pub changed: bool,
}

/// The market whose next message comes first (ties: the lower index), with that message's time.
#[inline]
fn first(next: &[(usize, Option<i64>)]) -> Option<(usize, usize, i64)> {
    let mut best: Option<(usize, usize, i64)> = None;
    for (k, &(_, t)) in next.iter().enumerate() {
        if let Some(t) = t {
            if best.is_none_or(|(_, _, b)| t < b) {
                best = Some((k, next[k].0, t));
            }
        }
    }
    best
}

/// The merge proper over the markets `which` (indices into `engines`, ascending): message by
/// message in time order. Returns the run and the time of the last message applied.
fn interleave(
    engines: &mut [&mut Engine],
    which: &[usize],
    max_msgs: usize,
    until_ns: i64,
) -> (MergedRun, i64) {
    let mut out = MergedRun::default();
    let mut last_t = i64::MIN;
    // Each market's next message time; only the market that ran changes it.
    let mut next: Vec<(usize, Option<i64>)> = which.iter().map(|&i| (i, engines[i].next_time())).collect();
    while out.applied < max_msgs {
        let Some((k, i, t)) = first(&next) else { break };
        if t >= until_ns {
            break;
        }
        // Run market `i` up to the next message of any other: one that is listed after it may
        // wait for `i`'s messages at the same time, one listed before may not.
        let mut bound = until_ns;
        for &(j, tj) in &next {
            if let (true, Some(tj)) = (j != i, tj) {
                bound = bound.min(if i < j { tj.saturating_add(1) } else { tj });
            }
        }
        let e = &mut engines[i];
        let before = e.events().len();
        let n = e.run(max_msgs - out.applied, bound, true);
        out.applied += n;
        if n == 0 {
            break;
        }
        last_t = e.feed().msgs[e.position() - 1].time_ns;
        next[k].1 = e.next_time();
        out.market = Some(i);
        if e.events().len() > before {
            out.changed = true;
            break;
        }
    }
    (out, last_t)
}

/// Replay `engines`' feeds merged in time order (see the module documentation).
///
/// A market with no user order (none resting, held, waiting or trailing) cannot change one, and
/// the caller sees nothing of it until the call returns. So when the budget cannot bind, only
/// the markets with user orders are interleaved; the others then run, each in one stretch, up
/// to where the merge stopped (messages before the stopping message's time, and at that time if
/// listed before its market). Every market ends where the message-by-message merge leaves it.
pub fn run_merged(engines: &mut [&mut Engine], max_msgs: usize, until_ns: i64) -> MergedRun {
    let all: Vec<usize> = (0..engines.len()).collect();
    let left: usize = engines.iter().map(|e| e.feed().len() - e.position()).sum();
    if left > max_msgs {
        return interleave(engines, &all, max_msgs, until_ns).0;
    }
    let (busy, idle): (Vec<usize>, Vec<usize>) =
        all.iter().partition(|&&i| engines[i].user_order_count() > 0);
    let (mut out, last_t) = interleave(engines, &busy, max_msgs, until_ns);
    let stop = if out.changed { out.market.map(|i| (i, last_t)) } else { None };
    let mut latest = out.market.map(|i| engines[i].now());
    for j in idle {
        let bound = match stop {
            Some((i, t)) if j < i => t.saturating_add(1).min(until_ns),
            Some((_, t)) => t,
            None => until_ns,
        };
        let n = engines[j].run(usize::MAX, bound, false);
        out.applied += n;
        if n > 0 && !out.changed && latest.is_none_or(|t| engines[j].now() > t) {
            latest = Some(engines[j].now());
            out.market = Some(j);
        }
    }
    out
}
