"""The optional extras (``pip install 'fillforge[EXTRA]'``, pyproject's optional dependencies):
where a module imports what an extra brings, :func:`needs_extra` turns the import's failure into
that module's typed error, in one line naming the extra to install."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fillforge.errors import FillforgeError

__all__ = ["needs_extra"]


@contextmanager
def needs_extra(extra: str, error: Callable[[str], FillforgeError]) -> Iterator[None]:
    """Run the imports of the ``with`` block; if one fails (``extra`` is not installed), raise
    ``error(why)`` instead, ``why`` being ``not installed: pip install 'fillforge[<extra>]'``
    (no traceback of the import behind it)."""
    try:
        yield
    except ImportError:
        raise error(f"not installed: pip install 'fillforge[{extra}]'") from None
