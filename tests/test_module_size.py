"""Issue 15: no Python module of the package over 600 lines (a longer one is split along a seam:
a class doing one job, a group of commands; not cut at a line number)."""

from __future__ import annotations

from pathlib import Path

import fillforge

ROOT = Path(fillforge.__file__).resolve().parent
LIMIT = 600


def _over(root: Path) -> dict[str, int]:
    """Every module under ``root`` (subpackages too) longer than LIMIT lines, by its path."""
    sizes = {
        path.relative_to(root).as_posix(): len(path.read_text().splitlines())
        for path in sorted(root.rglob("*.py"))
    }
    return {name: n for name, n in sizes.items() if n > LIMIT}


def test_no_module_over_600_lines() -> None:
    assert (ROOT / "execution" / "worker.py").is_file()  # the walk reads the package itself
    over = _over(ROOT)
    assert not over, f"modules over {LIMIT} lines (split each along a seam): {over}"


def test_the_rule_catches_a_long_module(tmp_path: Path) -> None:
    """One line past the limit is caught, at any depth; the limit itself is not."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "at.py").write_text("x = 1\n" * LIMIT)
    (tmp_path / "past.py").write_text("x = 1\n" * (LIMIT + 1))
    (tmp_path / "sub" / "deep.py").write_text("x = 1\n" * (LIMIT + 50))
    (tmp_path / "notes.txt").write_text("x\n" * (LIMIT * 2))
    assert _over(tmp_path) == {"past.py": LIMIT + 1, "sub/deep.py": LIMIT + 50}
