"""Monitoring (layer 7): execution metrics from a broker's live order events, alert rules on
rolling windows, a Prometheus ``/metrics`` endpoint and a live page (``fillforge serve
monitor``, or :func:`fillforge.monitor.page.attach` on the Alpaca paper server). See
``docs/monitoring.md``.

The alert rules (:mod:`fillforge.monitor.alerts`) and the windows
(:mod:`fillforge.monitor.windows`) import only the layers below the brokers; the collector, the
page and the server read brokers, engines and risk managers.
"""

from fillforge.monitor.alerts import (
    DEFAULT_RULES,
    Alert,
    AlertRule,
    Alerts,
    AlertsConfig,
    WindowStats,
    alerts_config,
)
from fillforge.monitor.collector import ExecutionMonitor
from fillforge.monitor.windows import Rolling

__all__ = [
    "DEFAULT_RULES",
    "Alert",
    "AlertRule",
    "Alerts",
    "AlertsConfig",
    "ExecutionMonitor",
    "Rolling",
    "WindowStats",
    "alerts_config",
]
