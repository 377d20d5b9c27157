"""The alert rules over a journal's TCA (issue 19): the same :class:`~fillforge.monitor.alerts.
Alerts` the live monitor moves, fed from a :class:`~fillforge.analytics.TcaResult` instead of
live events, so a journal (a finished run, a live agent's, read again) says which alerts it
would have raised and when.

:func:`tca_windows` is a window reader for :meth:`Alerts.evaluate` with the monitor's
definitions (``docs/monitoring.md``), from the TCA columns: orders by the time they were sent,
rejects among them, cancels and ended orders by the time they ended, fills by their venue
time, and slippage against each order's arrival price (its parent's arrival for a child of a
journalled parent, else the mid when it was sent; TCA's ``arrival_decision``). A journal does
not say which cancel was a timeout, so the ``timeouts`` count is 0 here (the live monitor
knows). :func:`journal_alerts` replays a whole journal through the rules, a step at a time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np

from fillforge._exact import to_decimal
from fillforge.analytics import NO_TIME, TcaResult
from fillforge.errors import ConfigError
from fillforge.monitor.alerts import Alert, Alerts, AlertsConfig, WindowStats

__all__ = ["journal_alerts", "tca_windows"]


def tca_windows(r: TcaResult, at_ns: int) -> Callable[[int], WindowStats]:
    """``stats(span_ns)``: what ``r`` holds in ``(at_ns - span_ns, at_ns]`` as the monitor's
    :class:`WindowStats`."""
    o, f = r.orders, r.fills
    sent, end, ft = o["send_ns"], o["end_ns"], f["time_ns"]
    arrival = o["arrival_decision"][f["order_row"]]
    slip = f["side"] * (f["price"] - arrival) * f["qty"]
    base = arrival * f["qty"]
    known_qty = ~np.isnan(o["qty"]) & ~o["refused"]

    def stats(span_ns: int) -> WindowStats:
        lo = at_ns - span_ns
        was_sent = (sent > lo) & (sent <= at_ns)
        ended = o["ended"] & (end != NO_TIME) & (end > lo) & (end <= at_ns)
        asked = ended & known_qty
        fills = (ft > lo) & (ft <= at_ns)
        slipped = fills & ~np.isnan(arrival)
        return WindowStats(
            span_ns,
            orders=int(was_sent.sum()),
            rejects=int((was_sent & o["refused"]).sum()),
            cancels=int((ended & o["canceled"]).sum()),
            timeouts=0,
            fills=int(fills.sum()),
            ended=int(ended.sum()),
            ended_qty=to_decimal(float(o["qty"][asked].sum())),
            ended_filled=to_decimal(float(o["filled_qty"][asked].sum())),
            ended_partial=int((ended & o["partial"]).sum()),
            slip_cost=to_decimal(float(slip[slipped].sum())),
            slip_base=to_decimal(float(base[slipped].sum())),
            slip_fills=int(slipped.sum()),
        )

    return stats


def journal_alerts(
    r: TcaResult, config: AlertsConfig | None = None, *, step_s: int = 60
) -> list[Alert]:
    """Every alert the rules (``config``; default: the monitor's defaults) raise or clear over
    the journal ``r`` was read from, evaluated every ``step_s`` seconds of its time, from its
    first order to its last event."""
    if isinstance(step_s, bool) or not isinstance(step_s, int) or step_s <= 0:
        raise ConfigError("step_s", step_s, "expected whole seconds > 0")
    alerts = Alerts((config or AlertsConfig()).rules)
    times = [t for t in (r.orders["send_ns"], r.orders["end_ns"], r.fills["time_ns"]) if len(t)]
    if not times:
        return []
    every = np.concatenate(times)
    every = np.sort(every[every != NO_TIME])
    if not len(every):
        return []
    step = step_s * 1_000_000_000
    longest = max(alerts.spans(), default=step)
    stamps = every.tolist()
    out: list[Alert] = []
    t, last = stamps[0], stamps[-1]
    while True:
        out += alerts.evaluate(tca_windows(r, t), t)
        if t > last:
            return out
        nxt = t + step
        i = bisect_right(stamps, nxt)
        if i < len(stamps) and bisect_right(stamps, nxt - longest) == i:
            out += alerts.evaluate(tca_windows(r, nxt), nxt)  # a quiet stretch: rules clear
            nxt = stamps[i]  # and nothing moves until the next event
        t = nxt
