//! Watched replay: run a market's feed until something a subscriber sees changes.
//!
//! A strategy that subscribes to a market's quotes or prints must see each change, but most
//! messages change neither the top of the book at the end of an instant nor print. So instead of
//! one call per message, [`Engine::run_watched`] applies messages until one of them changed a
//! user order, printed (when prints are watched), or ended an instant with a top of the book
//! (the recorded liquidity: the user's own orders left out) other than the one last handed out
//! (when quotes are watched). The engine keeps that last top, so a change is reported once
//! whoever asks: the watched run, or [`Engine::take_top_change`] after a scripted message.

use super::{kind, Engine};
use crate::book::{Price, Qty, Side};

/// The recorded best bid and best ask: `(price, qty)` each, None for an empty side.
pub type Top = (Option<(Price, Qty)>, Option<(Price, Qty)>);

/// [`Engine::run_watched`] stopped after a message that changed a user order (its events wait).
pub const WATCH_USER: u8 = 1;
/// ... after a print (an execution, a hidden execution or a trade message).
pub const WATCH_PRINT: u8 = 2;
/// ... at the end of an instant whose top differs from the one last handed out.
pub const WATCH_QUOTE: u8 = 4;

impl Engine {
    /// The best recorded level of `side` (the user's orders left out), without allocating.
    fn recorded_best(&self, side: Side) -> Option<(Price, Qty)> {
        for level in self.r.book.depth(side) {
            let user = self.r.user.get(&(side, level.price)).copied().unwrap_or(0);
            let q = level.total - user;
            if q > 0 {
                return Some((level.price, q));
            }
        }
        None
    }

    /// The recorded top of the book now.
    pub fn top(&self) -> Top {
        (self.recorded_best(Side::Buy), self.recorded_best(Side::Sell))
    }

    /// The top now if it differs from the one last handed out (which it then becomes).
    pub fn take_top_change(&mut self) -> Option<Top> {
        let top = self.top();
        if top == self.watched_top {
            return None;
        }
        self.watched_top = top;
        Some(top)
    }

    /// Hand out nothing for the top as it stands: report changes from now on.
    pub fn reset_watched_top(&mut self) {
        self.watched_top = self.top();
    }

    /// Apply up to `max_msgs` messages timed before `until_ns`, stopping after the first that
    /// changed a user order, printed (with `prints`), or ended an instant with a new top (with
    /// `quotes`; an instant ends where the next message has a later time, or the feed ends).
    /// Returns the messages applied and the [`WATCH_USER`] | [`WATCH_PRINT`] | [`WATCH_QUOTE`]
    /// flags of the message it stopped after (0: it ran out of budget, time or feed).
    pub fn run_watched(&mut self, max_msgs: usize, until_ns: i64, quotes: bool, prints: bool) -> (usize, u8) {
        let end = self.pos.saturating_add(max_msgs).min(self.feed.msgs.len());
        let start = self.pos;
        let mut flags = 0u8;
        while flags == 0 && self.pos < end && self.feed.msgs[self.pos].time_ns < until_ns {
            let (m, changed) = self.step();
            if changed {
                flags |= WATCH_USER;
            }
            if prints && matches!(m.kind, kind::EXECUTE | kind::HIDDEN | kind::TRADE) {
                flags |= WATCH_PRINT;
            }
            if quotes && self.next_time() != Some(self.now) && self.take_top_change().is_some() {
                flags |= WATCH_QUOTE;
            }
        }
        (self.ran(start), flags)
    }
}
