"""``fillforge run CONFIG``: a configuration's strategy and execution agent on the broker its
mode names, journalled and recoverable (:mod:`fillforge.run.session`; ``docs/run.md``).
Layer 7: it only wires the agent, the strategy runner and the brokers for the command line."""

from fillforge.run.session import RunSession, RunTally, check_runnable, where_it_runs

__all__ = ["RunSession", "RunTally", "check_runnable", "where_it_runs"]
