"""The environment for a child Python process that must import the same fillforge as the tests.

The tests may run against an editable install (the source tree, with the compiled extension built
beside it) or against a plain install (site-packages; the source tree then has no compiled
``_core``). A child that sets ``PYTHONPATH`` to the source tree would import the wrong copy under
a plain install, so it is given the directory of the package this process imported instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import fillforge

__all__ = ["child_env", "package_root"]


def package_root() -> str:
    """The directory holding the ``fillforge`` package this process imported."""
    return str(Path(fillforge.__file__).resolve().parent.parent)


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` plus ``extra``, with the imported package's directory first on the path."""
    env = {**os.environ, **extra}
    rest = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join([package_root(), rest]) if rest else package_root()
    return env
