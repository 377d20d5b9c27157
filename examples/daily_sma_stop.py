"""A daily-bar strategy with a protective stop, on the SPY bars shipped with fillforge.

Run: ``python examples/daily_sma_stop.py``. A 10/20-day moving-average crossover, long only. At a
day's close it decides; the order waits for the next open (the venue is closed) and fills there,
never at the close it has already seen. Each entry carries a protective stop 2% under the close
it was decided at (an OTO order: the stop is placed when the entry fills). The stop fills as on a
venue: at its stop price when the day trades through it, at the open when the day gaps below it.
A crossover down cancels the stop and sells at the next open. Marks follow the market, so equity
is read from the account at every close with no bookkeeping of our own.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from fillforge import (
    Instrument,
    OrderClass,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
    StopLoss,
)
from fillforge.marketdata import load_bars
from fillforge.replay import spy_daily_sample
from fillforge.sim import SimulatedBroker, Venue, bars_feed
from fillforge.sim.calendar import TradingCalendar
from fillforge.time import to_datetime

FAST, SLOW, STOP = 10, 20, Decimal("0.02")
CENT = Decimal("0.01")


def main() -> None:
    bars = load_bars(spy_daily_sample(), tick=CENT)
    calendar = TradingCalendar("XNYS")
    venue = Venue("SIM", calendar=calendar)
    venue.add(Instrument(symbol="SPY"), bars_feed(bars, session=calendar))
    broker = SimulatedBroker(venue, cash=Decimal(100_000))
    start = broker.account().equity
    closes = bars.close / 100
    stop_id: str | None = None
    entries = exits = 0
    stops: list[tuple[Decimal, Decimal]] = []  # (stop price, fill price)
    peak, drawdown = start, Decimal(0)
    for i, day in enumerate(bars.time_ns.tolist()):
        session = calendar.session(to_datetime(day).date())  # bars are stamped 00:00 UTC
        assert session is not None
        broker.run(until_ns=session.close_ns)  # the whole day, through its close
        if stop_id is not None:
            stop = broker.get_order(stop_id)
            if stop.status is OrderStatus.FILLED:  # the stop took us out
                assert stop.stop_price is not None
                assert stop.avg_price is not None
                stops.append((stop.stop_price, stop.avg_price))
                stop_id = None
            else:  # protection never lapses: the stop is working until it fills or we cancel it
                assert stop.status is OrderStatus.NEW, stop
        equity = broker.account().equity
        peak = max(peak, equity)
        drawdown = max(drawdown, (peak - equity) / peak)
        if i < SLOW:
            continue
        fast, slow = closes[i - FAST + 1 : i + 1].mean(), closes[i - SLOW + 1 : i + 1].mean()
        was = closes[i - FAST : i].mean() > closes[i - SLOW : i].mean()
        close = Decimal(int(bars.close[i])) * CENT
        held = broker.positions().get("SPY")
        if fast > slow and not was and (held is None or held.qty == 0):
            qty = (equity * Decimal("0.95") / close).to_integral_value(ROUND_DOWN)
            entry = broker.submit(
                OrderRequest(
                    symbol="SPY",
                    side=OrderSide.BUY,
                    qty=qty,
                    type=OrderType.MARKET,
                    time_in_force=OrderTimeInForce.GTC,  # the stop it places is gtc too
                    order_class=OrderClass.OTO,
                    stop_loss=StopLoss(stop_price=(close * (1 - STOP)).quantize(CENT)),
                )
            )
            broker.run(until_ns=_next_open(calendar, session.close_ns))
            stop_id = broker.manager.group(entry.id).exits[0].id
            entries += 1
        elif fast < slow and was and held is not None and held.qty > 0:
            if stop_id is not None:
                broker.cancel(stop_id)
                stop_id = None
            broker.submit(
                OrderRequest(symbol="SPY", side=OrderSide.SELL, qty=held.qty, type=OrderType.MARKET)
            )
            exits += 1
    broker.run()
    end = broker.account().equity
    at_stop = sum(1 for s, p in stops if p == s)
    print(f"entries {entries}, crossover exits {exits}, stop exits {len(stops)}")
    print(
        f"stops filled at their stop {at_stop}, gapped through (at the open) {len(stops) - at_stop}"
    )
    print(
        f"equity {start} -> {end.quantize(CENT)} ({(end / start - 1) * 100:.2f}%), "
        f"max drawdown {drawdown * 100:.2f}%"
    )
    buy_hold = (closes[-1] / (bars.open[SLOW + 1] / 100) - 1) * 100
    print(f"buy and hold from day {SLOW + 1}: {buy_hold:.2f}%")
    assert all(p <= s for s, p in stops)  # a sell stop never fills above its stop


def _next_open(calendar: TradingCalendar, t: int) -> int:
    """Just past the next session's open: the waiting entry has filled, the stop is placed."""
    return calendar.next_open(t) + 1


if __name__ == "__main__":
    main()
