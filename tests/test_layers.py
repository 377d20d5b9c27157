"""The package's layers: an import only ever points down (README, "Layout").

Every top-level module or package of ``fillforge`` has a layer here; a new one must be given one.
Imports inside a function count too (a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import fillforge

ROOT = Path(fillforge.__file__).resolve().parent
LAYER = {
    "_core": 0,  # the compiled core
    "time": 1,
    "errors": 1,
    "_optional": 1,  # the optional extras' imports, refused in one typed line
    "codes": 1,
    "_model": 1,
    "_exact": 1,  # the one float/int/text -> Decimal conversion
    "throttle": 1,
    "serving": 1,  # uvicorn in a background thread (the local servers, the monitor page)
    "trailing": 1,
    "broker": 2,
    "orders": 2,
    "marketdata": 2,
    "indicators": 2,
    "portfolio": 3,
    "risk": 3,
    "venues": 3,
    "replay": 3,
    "sizing": 3,
    "journal": 3,  # the write-ahead journal and recovery (issue 18)
    "sim": 4,
    "alpaca": 4,
    "binance": 4,  # the Binance-compatible server (issue 20)
    "massive": 4,  # the Massive (Polygon)-compatible market-data server (issue 20)
    "ibkr": 4,  # the local IB gateway, TWS API socket protocol (issue 20)
    "demos": 5,
    "execution": 5,
    "strategy": 5,
    "exits": 5,
    "analytics": 5,  # transaction-cost analysis from the journal (issue 19)
    "config": 6,
    "agent": 6,
    "sweep": 6,  # parameter sweeps on Ray (issue 19)
    "testing": 7,
    "cli": 7,
    "alpaca_cli": 7,  # fillforge serve alpaca
    "replay_cli": 7,  # fillforge replay lobster|cme|check
    "monitor": 7,  # metrics, alerts, the live page and serve monitor (issue 19)
    "monitor_cli": 7,
    "execution_cli": 7,
    "binance_cli": 7,
    "ibkr_cli": 7,
    "massive_cli": 7,
    "config_cli": 7,
    "journal_cli": 7,
    "sweep_cli": 7,
    "tca_cli": 7,
    "report": 7,  # fillforge report: the HTML report and its charts (issue 19)
    "report_cli": 7,
    "run": 7,  # fillforge run CONFIG: the agent, the runner and a broker wired (issue 19)
    "run_cli": 7,
    "cli_errors": 7,
    "cli_progress": 7,
    "cli_serving": 7,  # the options and the loop every serve command shares
    "__main__": 7,
    "__init__": 8,  # the package's front door re-exports from every layer
}


def _imports(path: Path) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "fillforge":
                out += [(f"fillforge.{a.name}", node.lineno) for a in node.names]
            elif node.module.startswith("fillforge."):
                out.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("fillforge.")]
    return out


def _top(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").parts[0]


def test_every_module_has_a_layer() -> None:
    tops = {_top(p) for p in ROOT.rglob("*.py")} | {"_core"}
    assert tops <= set(LAYER), f"give these a layer: {sorted(tops - set(LAYER))}"


def test_imports_only_point_down() -> None:
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        mine = LAYER[_top(path)]
        for module, line in _imports(path):
            target = module.split(".")[1]
            if target in LAYER and LAYER[target] > mine:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            assert target in LAYER or target == "__version__", f"{module} has no layer"
    assert not upward, "\n".join(upward)


def test_the_live_broker_imports_nothing_from_the_simulator() -> None:
    live = [ROOT / "alpaca" / name for name in ("broker.py", "convert.py", "transport.py")]
    for path in live:
        assert not [m for m, _ in _imports(path) if m.startswith("fillforge.sim")], path
