"""Request bodies for the server's pure-ASGI layers: read one whole (or refuse it past a limit),
then hand the route a ``receive`` that replays it; the client's address."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

__all__ = ["client_address", "read_body", "replaying"]


async def read_body(receive: Receive, limit: int | None = None) -> bytes | None:
    """The request body; None as soon as it passes ``limit`` bytes (nothing more is read). A
    client that goes away leaves what had arrived."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def replaying(raw: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``raw`` as the whole body, then whatever ``receive`` says."""
    replay: list[Message] = [{"type": "http.request", "body": raw, "more_body": False}]

    async def replayed() -> Message:
        return replay.pop() if replay else await receive()

    return replayed


def client_address(scope: Scope) -> str:
    """The client's address (host only: one budget per machine, whatever its ports)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
