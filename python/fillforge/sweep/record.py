"""A sweep's record of completed trials: ``trials.jsonl`` in the output directory, one JSON row
per finished trial, appended and flushed (fsync) as each finishes. A rerun reads it and skips
the trials it holds; a last line torn by a crash is dropped (that trial runs again); any other
line that is not a trial row is refused (:class:`~fillforge.errors.SweepError`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fillforge.errors import SweepError

__all__ = ["TrialRecord"]

RECORD = "trials.jsonl"


class TrialRecord:
    """The completed trials of the sweep writing to ``directory``, by trial id."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / RECORD
        self.done: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise SweepError("results", str(self.path), f"cannot be read: {e.strerror}") from None
        lines = data.split(b"\n")
        good = 0  # bytes of whole, readable lines
        for number, raw in enumerate(lines, 1):
            last = number == len(lines)
            if not raw:
                good += 0 if last else 1
                continue
            try:
                row = json.loads(raw)
                if not isinstance(row, dict) or not isinstance(row.get("trial_id"), str):
                    raise ValueError("no trial_id")
            except ValueError:
                if last:  # torn by a crash while it was being written: that trial reruns
                    break
                why = f"line {number} is not a trial row"
                raise SweepError("results", str(self.path), why) from None
            if last:  # a whole row without its newline: still torn
                break
            self.done[row["trial_id"]] = row
            good += len(raw) + 1
        if good < len(data):
            with self.path.open("r+b") as f:
                f.truncate(good)

    def add(self, row: dict[str, Any]) -> None:
        """Record a finished trial, durably, before the next one is recorded."""
        line = json.dumps(row, separators=(",", ":")) + "\n"  # its keys in their order
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.done[row["trial_id"]] = row
