"""The execution agent (``docs/agent.md``): one async facade over the broker of a mode, built
from one configuration (:mod:`fillforge.config`). Layer 6."""

from fillforge.agent.core import ExecutionAgent
from fillforge.agent.results import AgentMetrics, Denial, OrderReport, SignalReport, Submitted

__all__ = ["AgentMetrics", "Denial", "ExecutionAgent", "OrderReport", "SignalReport", "Submitted"]
