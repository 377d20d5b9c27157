"""The sweep's record of completed trials, cut anywhere by a crash: reading it keeps exactly
the rows whose line was written whole, never refuses, and trims the torn tail so the next row
starts on a line of its own."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import SweepError
from fillforge.sweep.record import RECORD, TrialRecord

ROWS = [
    {"trial_id": f"t{i}", "index": i, "status": "ok", "sharpe_ratio": 0.5 + i, "why": "é,\n"}
    for i in range(6)
]


def _written() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        record = TrialRecord(Path(d))
        for row in ROWS:
            record.add(row)
        return (Path(d) / RECORD).read_bytes()


WHOLE = _written()


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0, len(WHOLE)))
def test_a_record_cut_anywhere_keeps_the_whole_lines(cut: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / RECORD
        path.write_bytes(WHOLE[:cut])
        record = TrialRecord(Path(d))
        whole_lines = WHOLE[:cut].count(b"\n")
        assert list(record.done) == [r["trial_id"] for r in ROWS[:whole_lines]]
        assert list(record.done.values()) == ROWS[:whole_lines]
        assert path.read_bytes() == b"".join(WHOLE.splitlines(keepends=True)[:whole_lines])
        record.add(ROWS[-1])  # the next row lands on a line of its own
        assert TrialRecord(Path(d)).done[ROWS[-1]["trial_id"]] == ROWS[-1]


def test_a_bad_line_before_the_end_is_refused(tmp_path: Path) -> None:
    lines = WHOLE.splitlines(keepends=True)
    for bad in (b"{not json\n", b"[1, 2]\n", b'{"index": 3}\n'):
        (tmp_path / RECORD).write_bytes(lines[0] + bad + lines[1])
        with pytest.raises(SweepError, match="line 2 is not a trial row"):
            TrialRecord(tmp_path)
        assert (tmp_path / RECORD).read_bytes() == lines[0] + bad + lines[1]  # left alone
