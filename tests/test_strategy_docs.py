"""docs/strategy.md's backtest example runs as written and fits in 30 lines."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "strategy.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_backtest_example_runs() -> None:
    example = _blocks()[0]
    assert "Backtest(" in example
    assert len([line for line in example.splitlines() if line.strip()]) <= 30
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, str(DOC), "exec"), {"__name__": "docs_example"})
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"\d+ fills, final equity \d+\.\d\d", lines[0]), lines
    assert lines[1].startswith("Sharpe ")
