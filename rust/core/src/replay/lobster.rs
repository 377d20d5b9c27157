//! LOBSTER replay: drive the book with a LOBSTER message file and check it against the true book
//! (the matching orderbook file) after every event.
//!
//! A level-N file only carries messages that touch the top N levels, so orders resting before the
//! file starts, or deeper than N, are unknown. The replay seeds each visible level from the first
//! snapshot with one placeholder order, and reasons per side with the *horizon* (the worst visible
//! price of a full N-level view; none if fewer than N levels show, since then the whole side shows):
//!
//! - prices at or better than the previous row's horizon were fully known before message k, and
//!   message k is the only change, so after it they must equal row k exactly: they are *checked*
//!   (only as far as row k still shows them);
//! - prices visible in row k but beyond the previous horizon have just come into view (a level
//!   above them went away): they are *adopted*, the book's quantity there set to the snapshot's, its
//!   composition reset to one placeholder holding the snapshot's quantity (orders the replay knew
//!   there may have left while the level was out of view, and others arrived);
//! - a checked level that disagrees counts as a mismatch and is then repaired, so one error is
//!   counted once rather than cascading.
//!
//! Messages: 1 add (rests, never matches: LOBSTER reports a marketable order as executions first),
//! 2 partial cancel, 3 delete, 4 visible execution (applied to the named order), 5 hidden execution
//! (no visible change), 6 cross and 7 halt (no visible change). A message naming an unknown order
//! takes its size from the level's placeholder.

use std::time::Instant;

use rustc_hash::FxHashMap;

use super::text::{lines, parse_fixed, Fields};
use crate::book::{OrderBook, OrderId, Price, Qty, Side};

/// Prices LOBSTER uses for empty levels.
const DUMMY_ASK: i64 = 9_999_999_999;
const DUMMY_BID: i64 = -9_999_999_999;
/// Placeholder orders take ids from here up, far above Nasdaq order reference numbers.
pub(crate) const PLACEHOLDER_BASE: OrderId = 1 << 63;
/// A simulator's own orders carry this tag (bit 62 without bit 63); replayed orders are below it.
pub(crate) const USER_TAG: OrderId = 1 << 62;

/// Whether `id` is a simulator user's order (never reset or counted as recorded liquidity).
#[inline]
pub(crate) fn is_user(id: OrderId) -> bool {
    id & (PLACEHOLDER_BASE | USER_TAG) == USER_TAG
}

/// One LOBSTER message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// Nanoseconds after midnight.
    pub time_ns: i64,
    pub kind: u8,
    pub order_id: OrderId,
    pub size: Qty,
    pub price: Price,
    pub side: Side,
}

/// A file that could not be parsed: which line and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub file: &'static str,
    pub line: usize,
    pub why: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} file, line {}: {}", self.file, self.line, self.why)
    }
}

/// Snapshots: `levels` levels per row, stored flat as `[ask_p, ask_q, bid_p, bid_q] * levels`.
#[derive(Clone, Debug, Default)]
pub struct Snapshots {
    pub levels: usize,
    pub data: Vec<i64>,
}

impl Snapshots {
    pub fn rows(&self) -> usize {
        self.data.len() / (4 * self.levels.max(1))
    }

    pub(crate) fn row(&self, k: usize) -> &[i64] {
        let w = 4 * self.levels;
        &self.data[k * w..(k + 1) * w]
    }
}

/// One disagreement between the replayed book and the true book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Zero-based row of the message file.
    pub event: usize,
    pub side: Side,
    pub price: Price,
    pub expected: Qty,
    pub got: Qty,
}

/// What a replay checked and found.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Messages applied (the first row seeds the book and is not counted).
    pub events: u64,
    pub checked_levels: u64,
    pub adopted_levels: u64,
    pub mismatches: u64,
    pub mismatched_events: u64,
    /// Messages naming an order the file never added (taken from the level's placeholder).
    pub unknown_order_refs: u64,
    pub hidden_executions: u64,
    /// Visible executions of orders the file added, and how many of them were at the head of
    /// their level's queue in the replayed book (a check of price-time priority on real data).
    pub known_executions: u64,
    pub executions_at_queue_head: u64,
    pub first_mismatches: Vec<Mismatch>,
    pub parse_seconds: f64,
    pub replay_seconds: f64,
}

fn parse_side(v: i64) -> Option<Side> {
    match v {
        1 => Some(Side::Buy),
        -1 => Some(Side::Sell),
        _ => None,
    }
}

/// Seconds after midnight to nanoseconds. Digits past the ninth decimal are dropped: one AMZN
/// sample row carries float noise there (`43002.632812672004`).
fn parse_time(raw: &[u8]) -> Option<i64> {
    let cut = raw.iter().position(|&b| b == b'.').map_or(raw.len(), |dot| raw.len().min(dot + 10));
    parse_fixed(&raw[..cut], 1_000_000_000)
}

/// Parse a message file (CSV, no header, six columns).
pub fn parse_messages(buf: &[u8]) -> Result<Vec<Message>, ParseError> {
    let mut out = Vec::with_capacity(buf.len() / 40);
    for (i, line) in lines(buf).enumerate() {
        let err = |why: &str| ParseError { file: "message", line: i + 1, why: why.to_owned() };
        let mut f = Fields::new(line);
        let time_ns = f.next_raw().and_then(parse_time).ok_or_else(|| err("bad time"))?;
        let kind = f.next_i64().filter(|k| (1..=7).contains(k)).ok_or_else(|| err("bad type (1-7)"))?;
        let order_id = f.next_i64().and_then(|v| u64::try_from(v).ok()).ok_or_else(|| err("bad order id"))?;
        let size = f.next_i64().and_then(|v| u64::try_from(v).ok()).ok_or_else(|| err("bad size"))?;
        let price = f.next_i64().ok_or_else(|| err("bad price"))?;
        let side = f.next_i64().and_then(parse_side).ok_or_else(|| err("bad direction (1 or -1)"))?;
        if f.next_raw().is_some() {
            return Err(err("more than six columns"));
        }
        out.push(Message { time_ns, kind: kind as u8, order_id, size, price, side });
    }
    Ok(out)
}

/// Parse an orderbook file (CSV, no header, 4 x LEVEL columns). One pass over the bytes: this
/// file is most of what a replay reads (34 MB for GOOG level 10).
pub fn parse_snapshots(buf: &[u8]) -> Result<Snapshots, ParseError> {
    let mut snaps = Snapshots { levels: 0, data: Vec::with_capacity(buf.len() / 6) };
    let (mut line, mut row_start) = (1usize, 0usize);
    let (mut v, mut neg, mut digits) = (0i64, false, 0u32);
    let err = |line: usize, why: String| ParseError { file: "orderbook", line, why };
    for &b in buf {
        match b {
            b'0'..=b'9' => {
                v = v * 10 + i64::from(b - b'0');
                digits += 1;
            }
            b',' | b'\n' => {
                if digits == 0 || digits > 18 {
                    if b == b'\n' && digits == 0 && snaps.data.len() == row_start && !neg {
                        line += 1; // blank line
                        continue;
                    }
                    return Err(err(
                        line,
                        format!("field {} is not an integer", snaps.data.len() - row_start + 1),
                    ));
                }
                snaps.data.push(if neg { -v } else { v });
                (v, neg, digits) = (0, false, 0);
                if b == b'\n' {
                    let width = snaps.data.len() - row_start;
                    if snaps.levels == 0 {
                        if width % 4 != 0 {
                            return Err(err(line, format!("{width} columns, not a multiple of 4")));
                        }
                        snaps.levels = width / 4;
                    } else if width != 4 * snaps.levels {
                        return Err(err(line, format!("{width} columns, expected {}", 4 * snaps.levels)));
                    }
                    row_start = snaps.data.len();
                    line += 1;
                }
            }
            b'-' if digits == 0 && !neg => neg = true,
            b'\r' => {}
            _ => return Err(err(line, format!("unexpected byte {:?}", char::from(b)))),
        }
    }
    if digits > 0 || neg {
        return Err(err(line, "last line does not end with a newline".into()));
    }
    Ok(snaps)
}

/// The side-normalised key: larger is better.
#[inline]
pub(crate) fn key(side: Side, price: Price) -> i64 {
    match side {
        Side::Buy => price,
        Side::Sell => -price,
    }
}

/// One side's visible levels in a snapshot row, best first, dummies dropped.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) row: &'a [i64],
    pub(crate) side: Side,
}

impl View<'_> {
    /// Column offset of this side's (price, size) within each level's four columns.
    fn offset(&self) -> usize {
        match self.side {
            Side::Sell => 0,
            Side::Buy => 2,
        }
    }

    fn levels(&self) -> impl Iterator<Item = (Price, Qty)> + '_ {
        let off = self.offset();
        self.row
            .chunks_exact(4)
            .map(move |c| (c[off], c[off + 1]))
            .filter(|&(p, q)| q > 0 && p != DUMMY_ASK && p != DUMMY_BID)
            .map(|(p, q)| (p, q as Qty))
    }

    /// Same prices and sizes on this side as `other`.
    fn side_eq(&self, other: &View<'_>) -> bool {
        let off = self.offset();
        self.row
            .chunks_exact(4)
            .zip(other.row.chunks_exact(4))
            .all(|(a, b)| a[off] == b[off] && a[off + 1] == b[off + 1])
    }
}

/// Key of the worst visible price when all `n` levels are occupied (`None`: the whole side is
/// visible). `visible` is one side's levels, best first.
fn horizon(side: Side, visible: &[(Price, Qty)], n: usize) -> Option<i64> {
    if visible.len() == n {
        visible.last().map(|l| key(side, l.0))
    } else {
        None
    }
}

/// Book state kept equal to the true book: placeholders for unknown orders, and the per-side
/// bookkeeping of the checks. A simulator's user orders (see [`is_user`]) live in the same book;
/// `user` holds their quantity per level so the checks compare recorded liquidity only.
pub(crate) struct Replayer {
    pub(crate) book: OrderBook,
    pub(crate) user: FxHashMap<(Side, Price), Qty>,
    /// Scratch for the checks (the true side's visible levels; level differences), reused.
    visible: Vec<(Price, Qty)>,
    diffs: Vec<(Price, Qty, Qty)>,
    ids: Vec<OrderId>,
    /// Horizon of the previous row per side (index `Side as usize`), carried to the next event.
    horizons: [Option<i64>; 2],
    /// Book side version right after the previous check, and the levels in view then.
    verified: [(u64, u64); 2],
    placeholders: FxHashMap<(Side, Price), OrderId>,
    next_placeholder: OrderId,
    levels: usize,
    pub(crate) stats: Stats,
}

impl Replayer {
    pub(crate) fn new(levels: usize) -> Self {
        Replayer {
            book: OrderBook::with_capacity(Default::default(), 1024),
            user: FxHashMap::default(),
            visible: Vec::with_capacity(64),
            diffs: Vec::with_capacity(64),
            ids: Vec::with_capacity(64),
            horizons: [None; 2],
            verified: [(u64::MAX, 0); 2],
            placeholders: FxHashMap::default(),
            next_placeholder: PLACEHOLDER_BASE,
            levels,
            stats: Stats::default(),
        }
    }

    /// Seed every visible level of `row` with one placeholder.
    pub(crate) fn seed(&mut self, row: &[i64]) {
        for side in [Side::Buy, Side::Sell] {
            let seed: Vec<(Price, Qty)> = (View { row, side }).levels().collect();
            for &(p, q) in &seed {
                self.reset_level(side, p, q);
            }
            self.horizons[side as usize] = horizon(side, &seed, self.levels);
        }
    }

    /// Check both sides after message `k` against snapshot rows `k - 1` and `k`.
    pub(crate) fn check(&mut self, k: usize, snaps: &Snapshots) {
        let before = self.stats.mismatches;
        let (prev, now) = (snaps.row(k - 1), snaps.row(k));
        for side in [Side::Buy, Side::Sell] {
            self.check_side(k, side, View { row: prev, side }, View { row: now, side });
        }
        if self.stats.mismatches != before {
            self.stats.mismatched_events += 1;
        }
        self.stats.events += 1;
    }

    /// Recorded (non-user) quantity of a level whose total is `total`.
    #[inline]
    fn recorded(&self, side: Side, price: Price, total: Qty) -> Qty {
        if self.user.is_empty() {
            total
        } else {
            total - self.user.get(&(side, price)).copied().unwrap_or(0)
        }
    }

    /// A recorded order the book does not know (resting before the file or beyond its depth)
    /// loses `size`: take it from the level's placeholder.
    pub(crate) fn placeholder_take(&mut self, side: Side, price: Price, size: Qty) {
        let Some(&id) = self.placeholders.get(&(side, price)) else { return };
        let open = self.book.open_order(id).map_or(0, |o| o.0);
        if size >= open {
            self.book.cancel(id).expect("placeholder is live");
            self.placeholders.remove(&(side, price));
        } else {
            self.book.reduce(id, size).expect("reduce below open");
        }
    }

    fn apply(&mut self, m: &Message) {
        match m.kind {
            1 => {
                // A reused id would be a data error; the level check reports its effect.
                let _ = self.book.add_resting(m.order_id, m.side, m.price, m.size);
            }
            2..=4 => {
                let Some((open, at_head)) = self.book.open_order(m.order_id) else {
                    self.stats.unknown_order_refs += 1;
                    self.placeholder_take(m.side, m.price, m.size);
                    return;
                };
                if m.kind == 4 {
                    self.stats.known_executions += 1;
                    self.stats.executions_at_queue_head += u64::from(at_head);
                }
                if m.size >= open || m.kind == 3 {
                    self.book.cancel(m.order_id).expect("known order");
                } else {
                    self.book.reduce(m.order_id, m.size).expect("reduce below open");
                }
            }
            5 => self.stats.hidden_executions += 1,
            _ => {}
        }
    }

    /// Replace whatever recorded liquidity the book holds at one level by a single placeholder of
    /// `target`: the level's composition is unknown (it was out of view, or disagreed with the
    /// true book). User orders stay, ahead of the placeholder.
    pub(crate) fn reset_level(&mut self, side: Side, price: Price, target: Qty) {
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend(self.book.level_orders(side, price).map(|(id, _)| id).filter(|&id| !is_user(id)));
        for &id in &ids {
            self.book.cancel(id).expect("listed order is live");
        }
        self.ids = ids;
        self.placeholders.remove(&(side, price));
        if target > 0 {
            let id = self.next_placeholder;
            self.next_placeholder += 1;
            self.book.add_resting(id, side, price, target).expect("fresh placeholder");
            self.placeholders.insert((side, price), id);
        }
    }

    /// Check and reconcile one side after message `event` (see the module docs). When neither
    /// the book side (same version) nor the true side (same row content) changed since the last
    /// check, they still agree level for level, so the previous check's levels count as checked.
    fn check_side(&mut self, event: usize, side: Side, prev: View<'_>, now: View<'_>) {
        let s = side as usize;
        if self.book.side_version(side) == self.verified[s].0 && prev.side_eq(&now) {
            // Same true side as the previous row, so the same horizon carries over.
            self.stats.checked_levels += self.verified[s].1;
            return;
        }
        let mut visible = std::mem::take(&mut self.visible);
        visible.clear();
        visible.extend(now.levels());
        let count = visible.len() as u64;
        let horizon = horizon(side, &visible, self.levels);
        self.check_side_fully(event, side, &visible, horizon);
        self.visible = visible;
        if let Some(h) = horizon {
            self.prune(side, h);
        }
        // The whole view now equals the book (checked or adopted).
        self.verified[s] = (self.book.side_version(side), count);
    }

    /// Drop levels beyond the view once they pile up: their content is unknown, and a level is
    /// reset anyway when it comes back into view; keeping the book small keeps lookups fast.
    fn prune(&mut self, side: Side, horizon: i64) {
        if self.book.level_count(side) <= 2 * self.levels + 16 {
            return;
        }
        let deep: Vec<Price> = self
            .book
            .depth(side)
            .map(|l| l.price)
            .filter(|&p| key(side, p) < horizon && !self.user.contains_key(&(side, p)))
            .collect();
        for price in deep {
            self.reset_level(side, price, 0);
        }
    }

    /// `levels`: the true side's levels in row k, best first, with their horizon.
    fn check_side_fully(
        &mut self,
        event: usize,
        side: Side,
        levels: &[(Price, Qty)],
        now_horizon: Option<i64>,
    ) {
        let known = self.horizons[side as usize].unwrap_or(i64::MIN);
        self.horizons[side as usize] = now_horizon;
        let visible = now_horizon.unwrap_or(i64::MIN);
        if visible >= known {
            // Nothing came into view beyond the known region: one pass over the visible part.
            self.reconcile(event, side, levels, visible, i64::MAX, true);
        } else {
            self.reconcile(event, side, levels, known, i64::MAX, true);
            self.reconcile(event, side, levels, visible, known, false);
        }
    }

    /// Compare (`check`) or adopt the levels with keys in `[lo, hi)`.
    fn reconcile(&mut self, event: usize, side: Side, now: &[(Price, Qty)], lo: i64, hi: i64, check: bool) {
        let mut diffs = std::mem::take(&mut self.diffs);
        diffs.clear();
        // `now` is best first, so the levels with keys in [lo, hi) are one run of it.
        let start = now.iter().position(|l| key(side, l.0) < hi).unwrap_or(now.len());
        let len = now[start..].iter().position(|l| key(side, l.0) < lo).unwrap_or(now.len() - start);
        let expected = &now[start..start + len];
        let mut i = 0;
        let mut checked = 0;
        for level in self.book.depth(side) {
            let k = key(side, level.price);
            if k >= hi {
                continue;
            }
            if k < lo {
                break;
            }
            // Expected levels better than this one are missing from the book.
            while i < expected.len() && key(side, expected[i].0) > k {
                diffs.push((expected[i].0, expected[i].1, 0));
                i += 1;
            }
            let want = if i < expected.len() && expected[i].0 == level.price {
                i += 1;
                expected[i - 1].1
            } else {
                0
            };
            let total = self.recorded(side, level.price, level.total);
            if want != total || !check {
                diffs.push((level.price, want, total));
            }
            checked += 1;
        }
        diffs.extend(expected[i..].iter().map(|&(p, q)| (p, q, 0)));
        for &(price, want, got) in &diffs {
            if check {
                if got == 0 {
                    checked += 1;
                }
                self.stats.mismatches += 1;
                if self.stats.first_mismatches.len() < 20 {
                    self.stats.first_mismatches.push(Mismatch { event, side, price, expected: want, got });
                }
            } else {
                self.stats.adopted_levels += 1;
            }
            self.reset_level(side, price, want);
        }
        if check {
            self.stats.checked_levels += checked;
        }
        self.diffs = diffs;
    }
}

/// Replay parsed messages against parsed snapshots. Row 0 seeds the book.
pub fn replay(messages: &[Message], snaps: &Snapshots) -> Result<Stats, String> {
    if messages.len() != snaps.rows() {
        return Err(format!(
            "message file has {} rows but orderbook file has {}; row k of one must match row k of the other",
            messages.len(),
            snaps.rows()
        ));
    }
    if snaps.levels > 64 {
        return Err(format!("{} levels: at most 64 are supported", snaps.levels));
    }
    let started = Instant::now();
    let mut r = Replayer::new(snaps.levels);
    if messages.is_empty() {
        return Ok(r.stats);
    }
    r.seed(snaps.row(0));
    for (k, message) in messages.iter().enumerate().skip(1) {
        r.apply(message);
        r.check(k, snaps);
    }
    r.stats.replay_seconds = started.elapsed().as_secs_f64();
    Ok(r.stats)
}

/// Read (plain or gzip), parse and replay a message/orderbook file pair. The orderbook file is
/// read and parsed on a second thread while this one does the message file.
pub fn replay_files(
    message_path: &std::path::Path,
    orderbook_path: &std::path::Path,
) -> Result<Stats, String> {
    let started = Instant::now();
    let read = |p: &std::path::Path| super::read_maybe_gz(p).map_err(|e| format!("{}: {e}", p.display()));
    let (messages, snaps) = std::thread::scope(|scope| {
        let book = scope.spawn(|| {
            read(orderbook_path)
                .and_then(|b| parse_snapshots(&b).map_err(|e| format!("{}: {e}", orderbook_path.display())))
        });
        let messages = read(message_path)
            .and_then(|b| parse_messages(&b).map_err(|e| format!("{}: {e}", message_path.display())));
        let snaps = book.join().map_err(|_| "orderbook reader panicked".to_owned()).and_then(|r| r);
        (messages, snaps)
    });
    let (messages, snaps) = (messages?, snaps?);
    let parse_seconds = started.elapsed().as_secs_f64();
    let mut stats = replay(&messages, &snaps)?;
    stats.parse_seconds = parse_seconds;
    Ok(stats)
}
