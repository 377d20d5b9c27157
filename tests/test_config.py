"""fillforge.config: every seed config loads as it is; errors name the key path and never leak
a traceback or a secret; config check names every key it cannot honour."""

from __future__ import annotations

import copy
import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fillforge.cli import app
from fillforge.config import Mode, load_config, parse_config, read_config
from fillforge.config.loading import MASK
from fillforge.config.mapping import FEATURES, check
from fillforge.config.model import Config
from fillforge.errors import ConfigError

SEEDS = Path(__file__).parent / "data" / "seed-configs"
SEED_FILES = sorted(SEEDS.glob("*.yaml"))
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "seed-configs"
runner = CliRunner()


def test_the_six_seed_files_are_there() -> None:
    assert [p.name for p in SEED_FILES] == [
        "agent-execution.yaml",
        "broker-alpaca.yaml",
        "broker-ibkr.yaml",
        "broker-polygon.yaml",
        "engine-execution.yaml",
        "execution-policy.yaml",
    ]


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
def test_every_seed_config_loads_as_it_is(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown key, no literal secret: placeholders
        loaded = read_config(path, env={})
    assert loaded.unknown_keys == ()
    assert isinstance(loaded.config, Config)


def test_seed_values_reach_the_model() -> None:
    agent = load_config(SEEDS / "agent-execution.yaml", env={})
    assert agent.mode is Mode.SIMULATION
    assert str(agent.execution.commission_rate) == "0.001"
    assert agent.broker_config is not None
    assert agent.broker_config.type == "alpaca"
    assert agent.broker_config.api_key is None  # a placeholder counts as not given
    engine = load_config(SEEDS / "engine-execution.yaml", env={})
    assert engine.mode is Mode.PAPER
    assert engine.risk_management is not None
    assert str(engine.risk_management.max_daily_loss) == "0.02"
    policy = load_config(SEEDS / "execution-policy.yaml", env={})
    lo = policy.execution.limit_orders
    assert lo is not None
    assert next((w.start_min, w.end_min) for w in lo.windows()) == (570, 575)
    sg = policy.execution.session_gates
    assert sg is not None
    assert sg.flatten_minutes == 5


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared beside the project")
def test_the_shared_seed_configs_load_and_match_the_fixtures() -> None:
    shared = sorted(SHARED.glob("*.yaml"))
    assert [p.name for p in shared] == [p.name for p in SEED_FILES]
    for p in shared:
        assert p.read_text() == (SEEDS / p.name).read_text()
        read_config(p, env={})


# ----- errors name the key path ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"risk_management": {"max_daily_loss": -5}}, "risk_management.max_daily_loss"),
        ({"risk_management": {"max_daily_loss": True}}, "risk_management.max_daily_loss"),
        ({"execution": {"mode": "dream"}}, "execution.mode"),
        (
            {"execution": {"retry_policy": {"retryable_errors": [500, 900]}}},
            "execution.retry_policy.retryable_errors[1]",
        ),
        (
            {"execution": {"limit_orders": {"time_of_day_adjustments": {"09:00-09:35": 2}}}},
            "execution.limit_orders.time_of_day_adjustments.09:00-09:35",
        ),
        (
            {"execution": {"session_gates": {"flatten_eod_time": 955}}},
            "execution.session_gates.flatten_eod_time",
        ),
        (
            {"execution": {"time_slicing": {"enabled": True}}},
            "execution.time_slicing.child_order_size_usd",
        ),
        ({"execution": {"max_daily_trades": 1.5}}, "execution.max_daily_trades"),
        ({"broker": {"api_key": "x"}}, "broker.type"),
        (
            {"position_sizing": {"min_trade_size": 10, "max_trade_size": 5}},
            "position_sizing.min_trade_size",
        ),
        ({"execution": 5}, "execution"),
        ([1, 2], "(top level)"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_its_key_path(data: Any, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(data, env={})
    assert e.value.field == field


def test_live_mode_refuses_the_paper_url_and_paper_the_live_one() -> None:
    live = {
        "execution": {
            "mode": "live",
            "broker": {"type": "alpaca", "base_url": "https://paper-api.alpaca.markets"},
        }
    }
    with pytest.raises(ConfigError, match="mode is live") as e:
        parse_config(live, env={})
    assert e.value.field == "execution.broker.base_url"
    paper = {
        "execution": {"mode": "paper"},
        "broker": {"type": "alpaca", "base_url": "https://api.alpaca.markets"},
    }
    with pytest.raises(ConfigError, match="mode is paper"):
        parse_config(paper, env={})


def test_duplicate_keys_and_bad_yaml_are_one_config_error(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("risk_management:\n  max_daily_loss: 0.02\n  max_daily_loss: 0.5\n")
    with pytest.raises(ConfigError, match=r"line 3: .*duplicate key 'max_daily_loss'"):
        read_config(dup)
    bad = tmp_path / "bad.yaml"
    bad.write_text("execution: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_config(bad)
    with pytest.raises(ConfigError, match="cannot be read"):
        read_config(tmp_path / "missing.yaml")


def test_unknown_keys_are_reported_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.warns(UserWarning, match="risk_management.max_daly_loss"):
        loaded = parse_config({"risk_management": {"max_daly_loss": 0.02}, "extra": 1}, env={})
    assert loaded.unknown_keys == ("risk_management.max_daly_loss", "extra")
    rows = {r.key: r for r in check(loaded)}
    assert rows["risk_management.max_daly_loss"].status == "unknown"
    assert (
        "did you mean risk_management.max_daily_loss" in rows["risk_management.max_daly_loss"].note
    )


def test_quiet_reports_in_the_result_only(caplog: pytest.LogCaptureFixture) -> None:
    """``quiet``: no warning and no log line, for a caller that shows them itself; what they
    would have said is still in the result, and the check refuses the same bad value."""
    data = {
        "risk_management": {"max_daly_loss": 0.02},
        "broker": {"type": "alpaca", "secret_key": "PKliteral1"},
    }
    caplog.set_level(logging.DEBUG, logger="fillforge.config")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = parse_config(data, env={}, quiet=True)
    assert not caplog.records
    assert loaded.unknown_keys == ("risk_management.max_daly_loss",)
    with pytest.warns(UserWarning, match="unknown keys|a secret is written") as w:
        parse_config(data, env={})
    assert len(w) == 2  # the literal secret and the unknown key, when not quiet
    assert len(caplog.records) == 2
    with pytest.raises(ConfigError, match="max_daily_loss"):
        parse_config({"risk_management": {"max_daily_loss": 2}}, env={}, quiet=True)


# ----- secrets ----------------------------------------------------------------------------------

SECRET = "PKsup3rs3cr3tv4lu3"


def test_env_references_resolve_and_an_unset_one_is_refused() -> None:
    data = {"broker": {"type": "alpaca", "api_key": "${MY_KEY}", "secret_key": "${MY_SECRET}"}}
    loaded = parse_config(data, env={"MY_KEY": "id1", "MY_SECRET": SECRET})
    b = loaded.config.broker_config
    assert b is not None
    assert b.secret_key is not None
    assert b.secret_key.get_secret_value() == SECRET
    assert loaded.secrets["broker.secret_key"].kind == "env"
    with pytest.raises(ConfigError, match="MY_SECRET is not set") as e:
        parse_config(data, env={"MY_KEY": "id1"})
    assert e.value.field == "broker.secret_key"
    port = parse_config({"broker": {"type": "ibkr", "port": "${IB_PORT:-4001}"}}, env={})
    assert port.config.broker_config is not None
    assert port.config.broker_config.port == 4001


def test_a_literal_secret_warns_and_never_shows(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "execution": {"mode": "paper"},
                "broker": {"type": "alpaca", "api_key": "${K}", "secret_key": SECRET},
            }
        )
    )
    caplog.set_level(logging.DEBUG)
    with pytest.warns(UserWarning, match="broker.secret_key: a secret is written") as w:
        loaded = read_config(path, env={"K": "id"})
    assert all(SECRET not in str(x.message) for x in w)
    assert SECRET not in repr(loaded.config)
    assert SECRET not in str(loaded.data)
    assert loaded.data["broker"]["secret_key"] == MASK
    result = runner.invoke(app, ["config", "check", str(path)], env={"K": "id"})
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    result = runner.invoke(app, ["config", "check", "--json", str(path)], env={"K": "id"})
    assert SECRET not in result.output
    assert SECRET not in caplog.text
    assert SECRET not in capsys.readouterr().out


def test_a_bad_secret_value_is_masked_in_the_error() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({"broker": {"type": "alpaca", "secret_key": 123456789}}, env={})
    assert e.value.field == "broker.secret_key"
    assert "123456789" not in str(e.value)


# ----- config check -------------------------------------------------------------------------------


def _rows(path: Path) -> dict[str, dict[str, str]]:
    result = runner.invoke(app, ["config", "check", "--json", str(path)])
    assert result.exit_code == 0, result.output
    return {r["key"]: r for r in json.loads(result.output)["keys"]}


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
def test_config_check_maps_every_key_of_every_seed(path: Path) -> None:
    rows = _rows(path)
    raw = yaml.safe_load(path.read_text())

    def leaves(d: Any, prefix: str = "") -> list[str]:
        if isinstance(d, dict):
            return [
                k for key, v in d.items() for k in leaves(v, f"{prefix}.{key}" if prefix else key)
            ]
        return [prefix]

    assert set(rows) == set(leaves(raw))
    for r in rows.values():
        assert r["status"] in ("honoured", "not honoured", "not used")
        assert r["status"] == "honoured" or r["note"], r  # every other status says why


def test_config_check_names_what_it_cannot_honour() -> None:
    ibkr = _rows(SEEDS / "broker-ibkr.yaml")  # mode simulation: the gateway is not dialled
    assert {k for k, r in ibkr.items() if r["status"] == "not used"} == {
        "broker.type",
        "broker.host",
        "broker.port",
        "broker.client_id",
    }
    polygon = _rows(SEEDS / "broker-polygon.yaml")
    assert polygon["broker.type"]["status"] == "honoured"  # a market-data source (issue 20)
    assert "MassiveMarketData" in polygon["broker.type"]["note"]
    engine = _rows(SEEDS / "engine-execution.yaml")
    assert engine["risk_management.max_position_risk"]["status"] == "not honoured"
    assert "stop" in engine["risk_management.max_position_risk"]["note"]
    policy = _rows(SEEDS / "execution-policy.yaml")
    assert policy["execution.bracket_orders.stop_loss.percentage"]["status"] == "not used"
    text = runner.invoke(app, ["config", "check", str(SEEDS / "engine-execution.yaml")]).output
    assert "not honoured: risk_management.max_position_risk" in text


def test_config_check_on_a_changed_policy_says_why(tmp_path: Path) -> None:
    raw = yaml.safe_load((SEEDS / "execution-policy.yaml").read_text())
    raw["execution"]["time_in_force"] = "gtc"
    raw["execution"]["retry_policy"]["retryable_errors"] = [500, 400]
    raw["execution"]["throttling"]["backoff_on_rate_limit"] = False
    raw["execution"]["time_slicing"]["method"] = "vwap"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    rows = _rows(path)
    for key in (
        "execution.time_in_force",
        "execution.retry_policy.retryable_errors",
        "execution.throttling.backoff_on_rate_limit",
        "execution.time_slicing.method",
    ):
        assert rows[key]["status"] == "not honoured", key
    assert "400" in rows["execution.retry_policy.retryable_errors"]["note"]


def test_config_check_refuses_an_invalid_file_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("risk_management:\n  max_daily_loss: -1\n")
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert "risk_management.max_daily_loss" in lines[0]
    assert "Traceback" not in result.output


def _model_leaves(model: type[Any], prefix: str) -> set[str]:
    from fillforge.config.loading import _block_model

    out = set()
    for name, f in model.model_fields.items():
        inner = _block_model(f.annotation)
        path = f"{prefix}.{name}" if prefix else name
        if inner is not None:
            out |= _model_leaves(inner, path)
        elif name in ("time_of_day_adjustments", "params"):
            out.add(f"{path}.*")
        else:
            out.add(path)
    return out


def test_every_model_key_has_a_feature_row_and_back() -> None:
    assert _model_leaves(Config, "") == set(FEATURES)


# ----- hypothesis: mutated configs never raise anything but ConfigError ----------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["${NOPE}", "09:30-09:35", "15:55", "market", "atr", "alpaca", "live", "1e3"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(d: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, (*prefix, k))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEED_FILES),
    pick=st.integers(0, 10_000),
    value=_VALUES,
    delete=st.booleans(),
)
def test_mutated_seed_configs_are_a_config_error_or_load(
    seed: Path, pick: int, value: Any, delete: bool
) -> None:
    data = copy.deepcopy(yaml.safe_load(seed.read_text()))
    paths = _paths(data)
    path = paths[pick % len(paths)]
    parent = data
    for k in path[:-1]:
        parent = parent[k]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loaded = parse_config(data, env={})
        except ConfigError as e:
            error: ConfigError | None = e
        else:
            error = None
    if error is not None:
        assert isinstance(error.field, str)
        top = error.field.split(".")[0].split("[")[0]
        assert top in data or error.field == "(top level)", error.field
        return
    check(loaded)  # the table is made for whatever loaded


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(alphabet="abcdefghijkLMNOP0123456789-_", min_size=12, max_size=30),
    bad=st.sampled_from(
        [
            ("type", "dream"),
            ("base_url", "ftp://x"),
            ("port", "x"),
            ("api_key", 12345678),
            ("client_id", -1),
        ]
    ),
    where=st.sampled_from(["broker", "execution.broker"]),
)
def test_a_secret_never_shows_in_an_error(secret: str, bad: tuple[str, Any], where: str) -> None:
    block: dict[str, Any] = {"type": "alpaca", "secret_key": secret, bad[0]: bad[1]}
    data: dict[str, Any] = (
        {"broker": block} if where == "broker" else {"execution": {"broker": block}}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError) as e:
            parse_config(data, env={})
    assert secret not in str(e.value)
    assert secret not in repr(e.value.value)


def test_a_yaml_alias_bomb_is_refused_not_expanded(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    lines.append("strategy: {params: {bomb: *a8}}")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="values"):
        read_config(path)


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        read_config(path)


def test_the_docs_seed_tables_are_what_config_check_says() -> None:
    """docs/config.md's table for each seed file is config check's output (they went stale)."""
    doc = (Path(__file__).parents[1] / "docs" / "config.md").read_text()
    tables = re.findall(r"### `([\w-]+\.yaml)` \(mode \w+\)\n\n((?:\|.*\n)+)", doc)
    assert {name for name, _ in tables} == {p.name for p in SEED_FILES}
    for name, table in tables:
        rows = [
            f"| `{r['key']}` | {r['feature']} ({r['module']}) | {r['status']} | {r['note']} |"
            for r in _rows(SEEDS / name).values()
        ]
        assert table.splitlines()[2:] == rows, name
