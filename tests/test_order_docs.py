"""docs/orders.md shows the state tables as they are: its generated section must equal them."""

from __future__ import annotations

from pathlib import Path

from fillforge.orders.machine import ORDER_TABLE, generated_docs

DOC = Path(__file__).resolve().parents[1] / "docs" / "orders.md"


def test_docs_match_the_tables() -> None:
    text = DOC.read_text()
    start = text.index("<!-- generated: begin -->\n") + len("<!-- generated: begin -->\n")
    end = text.index("<!-- generated: end -->")
    assert text[start:end].strip() == generated_docs().strip()


def test_every_row_appears_in_the_docs() -> None:
    text = DOC.read_text()
    for event, _, dest, _ in ORDER_TABLE:
        assert f"| `{event}` |" in text
        if dest is not None:
            assert f"--> {dest}" in text
