"""``fillforge backtest CONFIG [--json]``: the metrics of a configuration's strategy on the
shipped daily bars, the same on every run; bad files and flags one line, exit 2."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fillforge.cli import app

runner = CliRunner()
KEYS = {"sharpe_ratio", "sortino_ratio", "max_drawdown", "cagr", "trades", "final_equity"}
EXAMPLE = Path(str(files("fillforge") / "data" / "configs" / "sma_backtest.yaml"))


def _json(path: Path) -> dict[str, object]:
    result = runner.invoke(app, ["backtest", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.output)
    return out


def test_the_example_config_ships_with_the_package() -> None:
    assert EXAMPLE.is_file()
    check = runner.invoke(app, ["config", "check", "--json", str(EXAMPLE)])
    assert check.exit_code == 0
    statuses = {r["key"]: r["status"] for r in json.loads(check.output)["keys"]}
    assert statuses["strategy.name"] == "honoured"
    assert "unknown" not in statuses.values()


def test_config_example_prints_the_shipped_file_and_refuses_an_unknown_name(
    tmp_path: Path,
) -> None:
    printed = runner.invoke(app, ["config", "example"])
    assert printed.exit_code == 0
    assert printed.output == EXAMPLE.read_text()
    copy = tmp_path / "mine.yaml"
    copy.write_text(printed.output)
    assert _json(copy) == _json(EXAMPLE)  # what a user copies out runs as shipped
    listed = runner.invoke(app, ["config", "example", "--list"])
    assert listed.output.split() == ["sma_backtest"]
    bad = runner.invoke(app, ["config", "example", "nope"])
    assert bad.exit_code == 2
    assert "name='nope'" in bad.output


def test_backtest_json_has_the_keys_and_is_deterministic() -> None:
    first = _json(EXAMPLE)
    assert set(first) == KEYS
    assert first == _json(EXAMPLE)
    assert isinstance(first["trades"], int)
    assert first["trades"] > 0
    assert isinstance(first["max_drawdown"], float)
    assert -1 < first["max_drawdown"] <= 0
    assert float(str(first["final_equity"])) > 0


def test_backtest_prints_a_table() -> None:
    result = runner.invoke(app, ["backtest", str(EXAMPLE)])
    assert result.exit_code == 0
    for key in KEYS:
        assert key in result.output


def test_the_file_s_risk_limits_deny_the_backtest_s_orders(tmp_path: Path) -> None:
    path = tmp_path / "tight.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "execution": {"max_order_size": 5000},
                "strategy": {"name": "sma_crossover", "params": {"fast": 5, "slow": 20}},
                "backtest": {"symbols": ["SPY"]},
            }
        )
    )
    assert _json(path)["trades"] == 0
    table = runner.invoke(app, ["backtest", str(path)]).output
    assert "orders denied: max_order_notional" in table


def test_fees_change_the_result(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["execution"]["commission_rate"] = 0.01
    path = tmp_path / "costly.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert float(str(_json(path)["final_equity"])) < float(str(_json(EXAMPLE)["final_equity"]))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("strategy: {name: sma_crossover, params: {fast: 30, slow: 10}}\n", "strategy.params.fast"),
        ("strategy: {name: sma_crossover, params: {speed: 3}}\n", "strategy.params.speed"),
        ("strategy: {name: 'no.such.module:Thing'}\n", "strategy.name"),
        ("strategy: {name: 'fillforge.errors:ConfigError'}\n", "strategy.name"),
        ("backtest: {symbols: [SPY]}\n", "strategy"),
        ("strategy: {name: sma_crossover}\nbacktest: {symbols: [MSFT]}\n", "backtest.symbols"),
        ("execution: {mode: dream}\n", "execution.mode"),
    ],
)
def test_bad_files_are_one_line_and_exit_2(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["backtest", str(path)])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert where in lines[0]
    assert "Traceback" not in result.output


def test_a_missing_file_and_a_bad_flag_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["backtest", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2
    assert "cannot be read" in missing.output
    flag = runner.invoke(app, ["backtest", str(EXAMPLE), "--jsn"])
    assert flag.exit_code == 2


def test_a_strategy_named_module_colon_class(tmp_path: Path) -> None:
    path = tmp_path / "own.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "strategy": {
                    "name": "fillforge.agent.backtest:SmaCrossover",
                    "params": {"fast": 5, "slow": 20},
                },
                "backtest": {"symbols": ["SPY"]},
            }
        )
    )
    out = _json(path)
    assert set(out) == KEYS
    assert out["trades"] > 0  # type: ignore[operator]


def test_a_user_strategy_trades_behind_the_file_s_limits_too(tmp_path: Path) -> None:
    """A ``module:Class`` strategy submits through its own ``ctx``: the file's limits still
    deny its orders (the backtest runs it behind a RiskGate, as on paper or live)."""
    (tmp_path / "my_strategies.py").write_text(
        "from fillforge.strategy import Strategy\n"
        "class BuyOnce(Strategy):\n"
        "    def on_bar(self, bar):\n"
        "        if not self.ctx.orders(symbol=bar.symbol):\n"
        "            self.ctx.buy(bar.symbol, 100)\n"
    )
    path = tmp_path / "mine.yaml"
    limits = {"execution": {"max_order_size": 5000}}
    body = {"strategy": {"name": "my_strategies:BuyOnce"}, "backtest": {"symbols": ["SPY"]}}
    path.write_text(yaml.safe_dump({**limits, **body}))
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        assert _json(path)["trades"] == 0
        assert (
            "orders denied: max_order_notional"
            in runner.invoke(app, ["backtest", str(path)]).output
        )
        path.write_text(yaml.safe_dump(body))  # no limits: the same strategy trades
        assert _json(path)["trades"] == 1
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_strategies", None)
