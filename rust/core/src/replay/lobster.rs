//! LOBSTER replay: drive the book with a LOBSTER message file and check it against the true book
//! (the matching orderbook file) after every event. The checks and repairs are the simulator's
//! true-book reconciler ([`crate::sim::truebook`], where their rules are described); this module
//! parses the files and applies the messages.
//!
//! Messages: 1 add (rests, never matches: LOBSTER reports a marketable order as executions first),
//! 2 partial cancel, 3 delete, 4 visible execution (applied to the named order), 5 hidden execution
//! (no visible change), 6 cross and 7 halt (no visible change). A message naming an unknown order
//! takes its size from the level's placeholder.

use std::time::Instant;

use super::text::{lines, parse_fixed, Fields};
use crate::book::{OrderId, Price, Qty, Side};
use crate::sim::truebook::Replayer;

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

/// Apply one LOBSTER message to the reconciler's book (its recorded orders only).
impl Replayer {
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
}

/// A message file and its orderbook file must pair row by row, over at most 64 levels.
pub(crate) fn check_pair(messages: &[Message], snaps: &Snapshots) -> Result<(), String> {
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
    Ok(())
}

/// Replay parsed messages against parsed snapshots. Row 0 seeds the book.
pub fn replay(messages: &[Message], snaps: &Snapshots) -> Result<Stats, String> {
    check_pair(messages, snaps)?;
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
