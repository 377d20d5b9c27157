//! CME market-by-order replay (Databento MBO CSV): rebuild the L3 book from the feed, and for
//! every trade in continuous trading submit the aggressor as an IOC order to a copy of the book
//! and compare the resting orders the engine fills, in order and size, with the exchange's own
//! fill records.
//!
//! The feed is authoritative for the book: adds (`A`) rest without matching (the pre-open book
//! crosses), cancels (`C`) remove, modifies (`M`) restate with the exchange priority rule (a
//! quantity decrease at the same price keeps priority, anything else loses it). An event (records
//! up to the one flagged LAST) reports a trade as a `T` record (aggressor side, price, size, the
//! aggressor's order id) followed by `F` records, one per filled order, and only then the `C`/`M`
//! records that take the filled quantity off the book. So at the first `T` of an event the replay
//! copies the book, turns matching on in the copy and sends each `T` as an IOC limit order at the
//! `T`'s price and size (a sweep reports one `T` per price level); the engine's fills are compared
//! with the `F` records of resting orders. The copy is dropped at the event's end.
//! Auction trades (`T` with side `N`) are counted apart: an auction is not continuous matching.

use std::collections::BTreeMap;
use std::time::Instant;

use rustc_hash::{FxHashMap, FxHashSet};

use super::text::{lines, parse_fixed, parse_i64, Fields};
use crate::book::{BookConfig, Fill, OrderBook, OrderId, OrderRequest, Price, Qty, Side, TimeInForce};

/// Prices are kept in hundredths of an index point; ES trades in quarter points.
pub const PRICE_SCALE: i64 = 100;
pub const ES_TICK: i64 = 25;

const FLAG_LAST: u32 = 128;
const FLAG_SNAPSHOT: u32 = 32;

/// One MBO record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub ts_event: i64,
    pub action: u8,
    pub side: u8,
    pub price: Price,
    pub size: Qty,
    pub order_id: OrderId,
    pub flags: u32,
}

/// Parse a Databento MBO CSV (with its header row).
pub fn parse(buf: &[u8]) -> Result<Vec<Record>, String> {
    let mut it = lines(buf);
    let header = it.next().ok_or("empty file")?;
    let names: Vec<&[u8]> = header.split(|&b| b == b',').collect();
    let col = |name: &str| {
        names.iter().position(|n| *n == name.as_bytes()).ok_or(format!("header has no column {name:?}"))
    };
    let want = [
        col("ts_event")?,
        col("action")?,
        col("side")?,
        col("price")?,
        col("size")?,
        col("order_id")?,
        col("flags")?,
    ];
    let mut out = Vec::with_capacity(buf.len() / 90);
    let mut fields: Vec<&[u8]> = Vec::with_capacity(names.len());
    for (i, line) in it.enumerate() {
        let lineno = i + 2;
        fields.clear();
        let mut f = Fields::new(line);
        while let Some(x) = f.next_raw() {
            fields.push(x);
        }
        if fields.len() != names.len() {
            return Err(format!("line {lineno}: {} columns, header has {}", fields.len(), names.len()));
        }
        let get = |k: usize| fields[want[k]];
        let bad =
            |what: &str, k: usize| format!("line {lineno}: bad {what} {:?}", String::from_utf8_lossy(get(k)));
        let price_raw = get(3);
        let price = if price_raw.is_empty() {
            0
        } else {
            parse_fixed(price_raw, PRICE_SCALE).ok_or_else(|| bad("price", 3))?
        };
        out.push(Record {
            ts_event: parse_i64(get(0)).ok_or_else(|| bad("ts_event", 0))?,
            action: *get(1).first().ok_or_else(|| bad("action", 1))?,
            side: *get(2).first().ok_or_else(|| bad("side", 2))?,
            price,
            size: parse_i64(get(4)).and_then(|v| u64::try_from(v).ok()).ok_or_else(|| bad("size", 4))?,
            order_id: parse_i64(get(5))
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| bad("order_id", 5))?,
            flags: parse_i64(get(6)).and_then(|v| u32::try_from(v).ok()).ok_or_else(|| bad("flags", 6))?,
        });
    }
    Ok(out)
}

/// Fills of one trade as (maker order id, quantity), in fill order.
pub type MakerFills = Vec<(OrderId, Qty)>;

/// One trade where the engine's fills differed from the exchange's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// Index of the `T` record (0-based, header excluded).
    pub record: usize,
    pub cause: &'static str,
    pub expected: MakerFills,
    pub engine: MakerFills,
}

/// What the replay found.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub records: u64,
    pub snapshot_orders: u64,
    pub adds: u64,
    pub cancels: u64,
    pub modifies: u64,
    pub auction_trades: u64,
    /// Continuous-trading trades (`T` records with an aggressor side).
    pub trades: u64,
    pub agreed: u64,
    /// Trades whose outcome the data pins down (no iceberg, self-match cancel or implied fill).
    pub unambiguous_trades: u64,
    pub unambiguous_agreed: u64,
    /// Disagreements by cause (see `docs/replay.md`).
    pub residue: BTreeMap<&'static str, u64>,
    /// Feed records naming an order the book does not hold.
    pub unknown_order_refs: u64,
    /// LAST records after the first continuous trade at which the book was crossed.
    pub crossed_after_open: u64,
    pub final_best_bid: Option<Price>,
    pub final_best_ask: Option<Price>,
    /// The first few disagreements of each cause: (record index, cause, expected fills, engine
    /// fills), fills as (maker, qty).
    pub examples: Vec<Disagreement>,
    pub seconds: f64,
}

impl Stats {
    pub fn agreement(&self) -> f64 {
        if self.trades == 0 {
            1.0
        } else {
            self.agreed as f64 / self.trades as f64
        }
    }
}

fn side_of(b: u8) -> Option<Side> {
    match b {
        b'B' => Some(Side::Buy),
        b'A' => Some(Side::Sell),
        _ => None,
    }
}

/// Orders that show hidden quantity somewhere in the file: a fill larger than the displayed
/// size, or a size increase at the same price right after a fill (an iceberg refill).
fn icebergs(records: &[Record]) -> FxHashSet<OrderId> {
    let mut shown: FxHashMap<OrderId, (Price, Qty, bool)> = FxHashMap::default();
    let mut found = FxHashSet::default();
    for r in records {
        match r.action {
            b'A' => {
                shown.insert(r.order_id, (r.price, r.size, false));
            }
            b'M' => {
                if let Some(&(p, q, filled)) = shown.get(&r.order_id) {
                    if filled && p == r.price && r.size > q {
                        found.insert(r.order_id);
                    }
                }
                shown.insert(r.order_id, (r.price, r.size, false));
            }
            b'F' => {
                if let Some(e) = shown.get_mut(&r.order_id) {
                    if r.size > e.1 {
                        found.insert(r.order_id);
                    }
                    e.1 = e.1.saturating_sub(r.size);
                    e.2 = true;
                }
            }
            b'C' => {
                shown.remove(&r.order_id);
            }
            _ => {}
        }
    }
    found
}

/// What the rest of a trade's event does, for classifying a disagreement.
struct Context<'a> {
    /// Records after the trade's `F`s up to the end of its event.
    rest_of_event: &'a [Record],
    makers_known: bool,
    icebergs: &'a FxHashSet<OrderId>,
    snapshot_orders: &'a FxHashSet<OrderId>,
}

/// Classify a disagreement between the exchange's fills and the engine's.
fn cause(
    trade_size: Qty,
    expected: &[(OrderId, Qty)],
    got: &[(OrderId, Qty)],
    ctx: &Context<'_>,
) -> &'static str {
    let exp_total: Qty = expected.iter().map(|e| e.1).sum();
    let got_total: Qty = got.iter().map(|e| e.1).sum();
    if exp_total != trade_size {
        return "fills_do_not_cover_trade";
    }
    if !ctx.makers_known {
        return "maker_not_in_book";
    }
    let skipped_then_canceled = got
        .iter()
        .filter(|g| !expected.iter().any(|e| e.0 == g.0))
        .all(|g| ctx.rest_of_event.iter().any(|r| r.action == b'C' && r.order_id == g.0));
    if got.iter().any(|g| !expected.iter().any(|e| e.0 == g.0)) && skipped_then_canceled {
        return "self_match_prevention";
    }
    if expected.iter().chain(got).any(|(id, _)| ctx.icebergs.contains(id)) {
        return "iceberg";
    }
    if got_total < trade_size {
        return "engine_short_of_liquidity";
    }
    if expected.iter().chain(got).any(|(id, _)| ctx.snapshot_orders.contains(id)) {
        return "snapshot_queue_order";
    }
    let mut a: Vec<_> = expected.to_vec();
    let mut b: Vec<_> = got.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    if a == b {
        "queue_order"
    } else {
        "different_makers"
    }
}

struct Replayer {
    book: OrderBook,
    sim: Option<OrderBook>,
    next_taker: OrderId,
    stats: Stats,
    open_seen: bool,
    icebergs: FxHashSet<OrderId>,
    /// Orders from the opening snapshot, whose queue order within a level the feed does not give.
    snapshot_ids: FxHashSet<OrderId>,
}

impl Replayer {
    fn apply_book(book: &mut OrderBook, r: &Record, side: Side) -> bool {
        match r.action {
            b'A' => {
                if book.add_resting(r.order_id, side, r.price, r.size).is_err() {
                    return book.restate(r.order_id, r.price, r.size).is_ok();
                }
                true
            }
            b'C' => match book.order(r.order_id) {
                Some(o) if r.size > 0 && r.size < o.remaining => book.reduce(r.order_id, r.size).is_ok(),
                Some(_) => book.cancel(r.order_id).is_ok(),
                None => false,
            },
            b'M' => {
                if book.order(r.order_id).is_some() {
                    book.restate(r.order_id, r.price, r.size).is_ok()
                } else {
                    // Databento: a modify of an order the book lacks adds it; still count the
                    // unknown reference.
                    let _ = book.add_resting(r.order_id, side, r.price, r.size);
                    false
                }
            }
            _ => true,
        }
    }

    /// Compare one `T` record with the engine, given the `F` records that follow it and the rest
    /// of its event.
    fn trade(&mut self, index: usize, t: &Record, side: Side, fills: &[Record], rest: &[Record]) {
        self.stats.trades += 1;
        let expected: Vec<(OrderId, Qty)> = fills
            .iter()
            .filter(|f| f.order_id != t.order_id || side_of(f.side) != Some(side))
            .map(|f| (f.order_id, f.size))
            .collect();
        let sim = self.sim.get_or_insert_with(|| {
            let mut s = self.book.clone();
            s.set_matching(true);
            s.clear_fills();
            s
        });
        let makers_known = expected.iter().all(|(id, _)| sim.order(*id).is_some());
        let before = sim.fills().len();
        self.next_taker -= 1;
        let req = OrderRequest::limit(self.next_taker, side, t.price, t.size, TimeInForce::Ioc);
        let got: Vec<(OrderId, Qty)> = match sim.submit(req) {
            Ok(_) => sim.fills()[before..].iter().map(|f: &Fill| (f.maker, f.qty)).collect(),
            Err(_) => Vec::new(),
        };
        let ctx = Context {
            rest_of_event: rest,
            makers_known,
            icebergs: &self.icebergs,
            snapshot_orders: &self.snapshot_ids,
        };
        let ambiguous = expected.iter().chain(&got).any(|(id, _)| self.icebergs.contains(id));
        if !ambiguous {
            self.stats.unambiguous_trades += 1;
        }
        if got == expected {
            self.stats.agreed += 1;
            if !ambiguous {
                self.stats.unambiguous_agreed += 1;
            }
        } else {
            let c = cause(t.size, &expected, &got, &ctx);
            if !ambiguous
                && matches!(c, "self_match_prevention" | "fills_do_not_cover_trade" | "snapshot_queue_order")
            {
                self.stats.unambiguous_trades -= 1;
            }
            *self.stats.residue.entry(c).or_default() += 1;
            if self.stats.examples.iter().filter(|e| e.cause == c).count() < 3 {
                self.stats.examples.push(Disagreement { record: index, cause: c, expected, engine: got });
            }
        }
    }
}

/// Replay parsed records.
pub fn replay(records: &[Record]) -> Stats {
    let started = Instant::now();
    let mut r = Replayer {
        book: OrderBook::with_capacity(BookConfig { tick: ES_TICK, lot: 1 }, 16_384),
        sim: None,
        next_taker: OrderId::MAX,
        stats: Stats { records: records.len() as u64, ..Stats::default() },
        open_seen: false,
        icebergs: icebergs(records),
        snapshot_ids: FxHashSet::default(),
    };
    r.book.set_matching(false);
    let mut i = 0;
    while i < records.len() {
        let rec = &records[i];
        match rec.action {
            b'T' => {
                let mut j = i + 1;
                while j < records.len() && records[j].action == b'F' {
                    j += 1;
                }
                match side_of(rec.side) {
                    Some(side) => {
                        r.open_seen = true;
                        let end = records[j..]
                            .iter()
                            .position(|x| x.flags & FLAG_LAST != 0)
                            .map_or(records.len(), |p| j + p + 1);
                        r.trade(i, rec, side, &records[i + 1..j], &records[j..end]);
                    }
                    None => r.stats.auction_trades += 1,
                }
                if records[i..j].iter().any(|x| x.flags & FLAG_LAST != 0) {
                    r.sim = None;
                }
                i = j;
                continue;
            }
            b'A' | b'C' | b'M' => {
                let Some(side) = side_of(rec.side) else {
                    r.stats.unknown_order_refs += 1;
                    i += 1;
                    continue;
                };
                match rec.action {
                    b'A' if rec.flags & FLAG_SNAPSHOT != 0 => {
                        r.stats.snapshot_orders += 1;
                        r.snapshot_ids.insert(rec.order_id);
                    }
                    b'A' => r.stats.adds += 1,
                    b'C' => r.stats.cancels += 1,
                    _ => r.stats.modifies += 1,
                }
                if !Replayer::apply_book(&mut r.book, rec, side) {
                    r.stats.unknown_order_refs += 1;
                }
                if let Some(sim) = r.sim.as_mut() {
                    // The copy already holds this event's fills: C/M of filled makers are no-ops there.
                    let _ = Replayer::apply_book(sim, rec, side);
                }
            }
            _ => {}
        }
        if rec.flags & FLAG_LAST != 0 {
            r.sim = None;
            if r.open_seen {
                if let (Some((b, _)), Some((a, _))) = (r.book.best(Side::Buy), r.book.best(Side::Sell)) {
                    if b >= a {
                        r.stats.crossed_after_open += 1;
                    }
                }
            }
        }
        i += 1;
    }
    r.stats.final_best_bid = r.book.best(Side::Buy).map(|x| x.0);
    r.stats.final_best_ask = r.book.best(Side::Sell).map(|x| x.0);
    r.stats.seconds = started.elapsed().as_secs_f64();
    r.stats
}

/// Read (plain or gzip), parse and replay an MBO CSV file.
pub fn replay_file(path: &std::path::Path) -> Result<Stats, String> {
    let buf = super::read_maybe_gz(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let records = parse(&buf).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(replay(&records))
}
