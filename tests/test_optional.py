"""``needs_extra``: a missing optional extra is the caller's typed error naming the extra, with
no import traceback behind it; imports that succeed pass through."""

from __future__ import annotations

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
