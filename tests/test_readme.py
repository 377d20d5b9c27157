"""The README's strategy test runs, as written, in a fresh pytest process using the installed
plugin (so the entry point is exercised too)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block() -> str:
    text = README.read_text()
    m = re.search(
        r"<!-- readme-test: begin -->\n```python\n(.*?)```\n<!-- readme-test: end -->", text, re.S
    )
    assert m is not None, "the README lost its test block"
    return m.group(1)


def run_as_test_file(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as a test file in a fresh pytest (the plugin comes from its entry point)."""
    (tmp_path / "test_strategy.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


def test_the_readme_strategy_test_passes(tmp_path: Path) -> None:
    proc = run_as_test_file(tmp_path, readme_block())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_the_readme_test_fails_when_the_strategy_does(tmp_path: Path) -> None:
    proc = run_as_test_file(tmp_path, readme_block().replace('price="99.50"', 'price="99.40"'))
    assert proc.returncode == 1
    assert "fill prices [Decimal('99.50')], expected 99.40" in proc.stdout


def test_the_readme_execute_usage_matches_the_command() -> None:
    """Every option the README's ``fillforge execute`` usage names exists, and every policy it
    lists is one the command knows."""
    from typer.testing import CliRunner

    from fillforge.cli import app
    from fillforge.execution.schedules import Policy

    text = README.read_text()
    m = re.search(r"```sh\n(fillforge execute .*?)```", text, re.S)
    assert m is not None, "the README lost the execute usage"
    usage = m.group(1)
    helped = CliRunner().invoke(app, ["execute", "--help"], env={"COLUMNS": "200"}).output
    for option in set(re.findall(r"--[a-z]+", usage)):
        assert option in helped, option
    listed = re.search(r"--policy \{([a-z,]+)\}", usage)
    assert listed is not None
    assert set(listed.group(1).split(",")) == {p.value for p in Policy}


def test_the_readme_says_what_the_demo_compares() -> None:
    from fillforge.demos.policies import COMPARED

    intro = README.read_text().split("fillforge demo")[0]
    assert "seven execution policies" in intro
    assert len(COMPARED) == 7


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_the_readme_backtest_runs_and_trades() -> None:
    section = _section("Backtesting a strategy")
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m is not None, "the README lost its backtest block"
    scope: dict[str, object] = {}
    exec(compile(m.group(1), "README.md", "exec"), scope)
    result = scope["result"]
    assert result.trades > 0  # type: ignore[attr-defined]
    assert result.metrics().max_drawdown <= 0  # type: ignore[attr-defined]


def test_the_readme_backtest_commands_are_the_cli_s() -> None:
    from typer.testing import CliRunner

    from fillforge.cli import app

    section = _section("Backtesting a strategy")
    for command in ("config example", "config check", "backtest"):
        assert f"fillforge {command} " in section
        words = command.split()
        shown = CliRunner().invoke(app, [*words, "--help"])
        assert shown.exit_code == 0, (command, shown.output)
