"""Running a sweep's trials: in this process, or on Ray (a local Ray by default, started and
shut down by the sweep; the same code on a cluster given its address).

On Ray the bars are put in the object store once (``ray.put``) and each worker process takes
them from there once, on its first trial (a per-process cache keyed by the object's id); a
trial then reads no file. Rows are recorded as trials finish, in whatever order; the table is
ordered by the trials' place in the sweep, so the order of completion never shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fillforge._optional import needs_extra
from fillforge.errors import SweepError
from fillforge.marketdata import Bars
from fillforge.sweep.config import Trial, WalkForward
from fillforge.sweep.record import TrialRecord
from fillforge.sweep.trial import run_trial

__all__ = ["LocalRay", "run_trials"]

Progress = Callable[[int], None]
_OBJECT_STORE_BYTES = 128 * 1024 * 1024
_CACHE: dict[str, Mapping[str, Bars]] = {}  # a worker process's bars, by object id
LOADS: dict[str, int] = {}  # how often this process took each object from the store


def _done(_: int) -> None:
    return None


def run_trials(
    todo: list[Trial],
    bars: Mapping[str, Bars],
    wf: WalkForward,
    record: TrialRecord,
    advance: Progress = _done,
    *,
    ray: Any = None,
) -> None:
    """Run ``todo`` here, one after another (``ray`` None), or on ``ray`` (initialised),
    recording each row as its trial finishes. A trial that fails (an error that is not a
    refusal: a strategy's bug) is a :class:`~fillforge.errors.SweepError` naming it; the rows
    recorded so far stay, and a rerun resumes after them."""
    rows = _here(todo, bars, wf) if ray is None else _on_ray(ray, todo, bars, wf)
    for row in rows:
        record.add(row)
        advance(1)


def _here(todo: list[Trial], bars: Mapping[str, Bars], wf: WalkForward) -> Iterator[dict[str, Any]]:
    for trial in todo:
        try:
            row = run_trial(trial, bars, wf)
        except Exception as e:
            raise _failed(trial, e, "here") from e
        yield row


def _failed(trial: Trial, e: BaseException, where: str) -> SweepError:
    why = " ".join(f"{type(e).__name__}: {e}".split())[:300]
    return SweepError("trial", trial.trial_id, f"failed {where} ({trial.params}): {why}")


def _ray() -> Any:
    with needs_extra(
        "ray", lambda why: SweepError("cluster", "ray", f"{why} (or run --in-process)")
    ):
        import ray
    return ray


@dataclass
class LocalRay:
    """A Ray for one sweep: ``address`` None starts a local one with ``workers`` CPUs (no
    dashboard, workers' logs kept off the terminal) and shuts it down on exit; an address
    (``ray://host:10001`` or ``auto``) connects to a running cluster, which stays up. A Ray
    already started in this process (a test's, a notebook's) is used as it is."""

    workers: int | None = None
    address: str | None = None

    def __enter__(self) -> Any:
        ray = _ray()
        self._owned = False
        if ray.is_initialized():
            return ray
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
        if self.address is None:  # a cluster's own settings are not a client's to give
            options.update(
                num_cpus=self.workers,
                object_store_memory=_OBJECT_STORE_BYTES,
                include_dashboard=False,
            )
        if self.address is not None:
            _reachable(self.address)
        try:
            ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
            why = " ".join(str(e).split())[:300] or type(e).__name__
            raise SweepError(
                "--address", self.address, f"cannot start or reach Ray: {why}"
            ) from None
        self._owned = True
        return ray

    def __exit__(self, *_: object) -> None:
        if self._owned:
            _ray().shutdown()


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """A ``host:port`` (or ``ray://host:port``) that answers no TCP connection is refused at
    once (Ray itself would retry for minutes, logging as it goes); ``auto`` is left to Ray."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise SweepError("--address", address, f"cannot reach Ray there: {why}") from None


def _remote_trial(
    trial: Trial, bars_box: list[Any], wf: WalkForward
) -> dict[str, Any]:  # pragma: no cover (runs in a Ray worker)
    import ray

    ref = bars_box[0]  # boxed: Ray hands the reference over unresolved
    key = ref.hex()
    bars = _CACHE.get(key)
    if bars is None:
        _CACHE.clear()  # one sweep's bars at a time
        bars = _CACHE[key] = ray.get(ref)
        LOADS[key] = LOADS.get(key, 0) + 1
    return run_trial(trial, bars, wf)


def _on_ray(
    ray: Any, todo: list[Trial], bars: Mapping[str, Bars], wf: WalkForward
) -> Iterator[dict[str, Any]]:
    """Each trial's row as it finishes on a Ray worker (the bars put in the store once)."""
    if not todo:
        return
    bars_ref = ray.put(dict(bars))
    remote = ray.remote(num_cpus=1, max_retries=0)(_remote_trial)
    pending = {remote.remote(t, [bars_ref], wf): t for t in todo}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            trial = pending.pop(ref)
            try:
                row = ray.get(ref)
            except Exception as e:  # a worker's failure arrives wrapped in Ray's error types
                for rest in pending:
                    ray.cancel(rest)
                cause = getattr(e, "cause", None)  # RayTaskError: the worker's exception
                raise _failed(trial, cause or e, "on a Ray worker") from None
            yield row
