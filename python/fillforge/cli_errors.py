"""How the ``fillforge`` command line reports a refusal: one line on stderr, never a traceback.

- A typed fillforge error (any :class:`~fillforge.errors.FillforgeError`) that reaches the top
  prints ``error: <field>=<value>: <why>`` and exits 2. ``fillforge --debug CMD`` (or
  ``FILLFORGE_DEBUG=1``) lets it through with its traceback instead.
- A flag the parser refuses (an unknown option, a value of the wrong type, a missing argument)
  prints ``error: <what click says> (fillforge CMD --help)`` and exits 2, instead of click's
  usage box.
- Ctrl-C exits 130 with ``interrupted``.

Exit codes: 0 success, 1 the command ran and found a failure (a replay mismatch, a failed
check), 2 refused input, 130 interrupted. :func:`refuse` is the one way a command prints a
refused flag (``error: --flag='value': why``).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from fillforge.errors import FillforgeError

__all__ = [
    "DEBUG_ENV",
    "OneLineErrors",
    "debug_requested",
    "positive_decimal",
    "refuse",
    "say_error",
    "time_zone",
]

DEBUG_ENV = "FILLFORGE_DEBUG"
_TRUE = frozenset({"1", "true", "yes", "on"})


def _stderr(stdout: bool = False) -> Console:
    # Built per call: the test runner swaps sys.stderr, and a Console made at import would keep
    # writing to the old stream.
    return Console(stderr=not stdout, soft_wrap=True, highlight=False)


def say_error(text: str, *, stdout: bool = False) -> None:
    """``error: text`` on one line of stderr (rich markup in ``text`` is escaped; ``stdout``:
    on stdout, where ``serve alpaca`` has always said it)."""
    _stderr(stdout).print(f"[red]error:[/red] {escape(' '.join(text.split()))}")


def refuse(flag: str, value: object, why: str, *, stdout: bool = False) -> typer.Exit:
    """``error: --flag='value': why`` on one line of stderr (``stdout``: as :func:`say_error`);
    raise the returned exit (code 2)."""
    say_error(f"{flag}={value!r}: {why}", stdout=stdout)
    return typer.Exit(2)


def positive_decimal(flag: str, text: str) -> Decimal:
    """``text`` as a finite Decimal > 0, else refused naming ``flag``."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise refuse(flag, text, "not a number") from None
    if not value.is_finite() or value <= 0:
        raise refuse(flag, text, "must be a finite number > 0")
    return value


def time_zone(name: str, flag: str = "--tz") -> dt.tzinfo:
    """An IANA time zone name (or ``UTC``), else refused naming ``flag``."""
    if name.upper() == "UTC":
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise refuse(flag, name, "not a time zone (e.g. UTC, America/New_York)") from None


def debug_requested(ctx: typer.Context | None = None) -> bool:
    """Whether ``--debug`` was given (on the root command) or ``FILLFORGE_DEBUG`` is set."""
    if os.environ.get(DEBUG_ENV, "").strip().lower() in _TRUE:
        return True
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and root.params.get("debug"))


def _command_path(ctx: typer.Context | None) -> str:
    return ctx.command_path if ctx is not None else "fillforge"


class OneLineErrors(TyperGroup):
    """The root command group: every refusal on one line (see the module's docstring)."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except FillforgeError as e:
            if debug_requested(ctx):
                raise
            say_error(str(e))
            raise typer.Exit(2) from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as e:  # typer's own click: UsageError and its kin
            ctx = getattr(e, "ctx", None)
            if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
                print(ctx.get_help())  # a bare group: its help, as typer shows it
                sys.exit(2)
            where = f" ({_command_path(ctx)} --help)" if e.exit_code == 2 else ""
            _exit(e.exit_code, f"{e.format_message()}{where}")
        except (typer.Abort, KeyboardInterrupt):
            _stderr().print("interrupted")
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def _exit(code: int, text: str) -> NoReturn:
    say_error(text)
    sys.exit(code)
