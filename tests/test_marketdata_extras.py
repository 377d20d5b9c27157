"""Without its client library (the optional extra), each market-data source refuses in one line
naming the extra to install, never with a traceback (a child process whose imports of alpaca
and massive fail)."""

from __future__ import annotations

import subprocess
import sys

from child_env import child_env

_SCRIPT = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("alpaca", "massive"):
            raise ImportError(f"blocked {name}")

sys.meta_path.insert(0, Block())
from fillforge.errors import MarketDataError
from fillforge.marketdata.alpaca import AlpacaMarketData
from fillforge.marketdata.massive import MassiveMarketData

for make in (lambda: AlpacaMarketData("k", "s"), lambda: MassiveMarketData("k")):
    try:
        make()
    except MarketDataError as e:
        print(e.field, e.value, e.why)
"""


def test_a_missing_client_names_its_extra() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=True,
    )
    lines = run.stdout.splitlines()
    assert len(lines) == 2, run.stdout + run.stderr
    assert lines[0].startswith("client alpaca-py ")
    assert "pip install 'fillforge[alpaca]'" in lines[0]
    assert lines[1].startswith("client massive ")
    assert "pip install 'fillforge[massive]'" in lines[1]
