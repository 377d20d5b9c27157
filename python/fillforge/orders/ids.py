"""Client order ids that tie a child order to its parent (``fillforge.execution``):
``<parent>-c<n>``, and a routed part of it, ``<parent>-c<n>.<venue index>``."""

from __future__ import annotations

import re

__all__ = [
    "MAX_CLIENT_ORDER_ID",
    "MAX_PARENT_ID",
    "PARENT_ID_CHARS",
    "child_client_order_id",
    "parent_of",
    "split_child_id",
]

MAX_CLIENT_ORDER_ID = 48
# A parent order's id (fillforge.execution): room for "-c" and a six-digit child number.
MAX_PARENT_ID = MAX_CLIENT_ORDER_ID - 8
PARENT_ID_CHARS = "A-Za-z0-9_.:"  # no "-": it separates a child's number from its parent
# <parent>-c<n>, and a routed part of it: <parent>-c<n>.<venue index>.
_CHILD_ID = re.compile(rf"([{PARENT_ID_CHARS}]{{1,{MAX_PARENT_ID}}})-c([0-9]+)(?:\.([0-9]+))?")


def child_client_order_id(parent_id: str, n: int) -> str:
    """The client order id of a parent's ``n``-th child: ``<parent>-c<n>``. The same parent and
    number always give the same id, so a resent child is refused as a duplicate, never doubled."""
    return f"{parent_id}-c{n}"


def parent_of(client_order_id: str) -> str | None:
    """The parent id a child's client order id names (None: not a child's id).

    The one place a child is tied to its parent: the order manager indexes children by it, and
    an order read back from a venue (after a restart) is tagged by it, so the tag cannot
    disagree with the id the venue holds. A routed part (``<parent>-c<n>.<venue>``) names its
    parent too."""
    split = split_child_id(client_order_id)
    return None if split is None else split[0]


def split_child_id(client_order_id: str) -> tuple[str, int, int] | None:
    """``(parent id, child number, venue index)`` of a child's client order id (venue index -1
    when it is not a routed part); None when the id is not a child's."""
    # Most orders fail one of two quick tests (a parent id has no "-"; a UUID has four).
    if "-c" not in client_order_id or client_order_id.count("-") != 1:
        return None
    m = _CHILD_ID.fullmatch(client_order_id)
    if m is None:
        return None
    pid, n, venue = m.groups()
    return pid, int(n), -1 if venue is None else int(venue)
