"""``needs_extra``: a missing optional extra is the caller's typed error naming the extra, with
no import traceback behind it; imports that succeed pass through."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from fillforge._optional import needs_extra
from fillforge.errors import ConfigError


def _error(why: str) -> ConfigError:
    return ConfigError("client", "nothing", why)


def test_a_missing_module_is_the_typed_error() -> None:
    with pytest.raises(ConfigError) as got, needs_extra("demo", _error):
        import fillforge_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert got.value.why == "not installed: pip install 'fillforge[demo]'"
    assert got.value.__suppress_context__


def test_an_installed_module_passes() -> None:
    with needs_extra("demo", _error):
        import json
    assert json.dumps(1) == "1"


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), needs_extra("demo", _error):
        raise KeyError("x")


_ROOT = Path(__file__).resolve().parents[1]


def test_every_extra_named_exists() -> None:
    """Each ``fillforge[...]`` the code or the docs tell users to install is an extra of
    pyproject (prometheus-client, a core dependency, once was named as a ``monitor`` extra)."""
    project = tomllib.loads((_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    extras = set(project["optional-dependencies"])
    files = [
        *(_ROOT / "python" / "fillforge").rglob("*.py"),
        *(_ROOT / "docs").glob("*.md"),
        _ROOT / "README.md",
    ]
    named = {
        (f.relative_to(_ROOT).as_posix(), extra)
        for f in files
        for group in re.findall(r"fillforge\[([a-z0-9,-]+)\]", f.read_text("utf-8"))
        for extra in group.split(",")
    }
    assert named, "the pattern finds the install hints"
    assert {(f, e) for f, e in named if e not in extras} == set()
