"""Debian's Chromium through playwright, for the tests that check a page in a real browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a playwright ``Browser``), closed after; the test is skipped, saying
    why, where playwright or Chromium cannot start."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Exception as e:  # no chromium here: say why
            pytest.skip(f"chromium cannot start ({CHROMIUM}): {e}")
        try:
            yield b
        finally:
            b.close()
