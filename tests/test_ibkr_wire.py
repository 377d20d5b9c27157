"""The IB gateway's framing and its answer to any bytes: a stream cut anywhere reads back as the
same messages; random frames after the handshake get IB error messages (or answers), never a
crash, and the gateway serves the next client."""

from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fillforge.errors import IbkrError
from fillforge.ibkr import IbGateway, scripted_broker
from fillforge.ibkr.wire import MAX_FRAME, Framer, decimal, encode, frame, text

fields = st.lists(st.text(alphabet=st.characters(blacklist_characters="\0"), max_size=12))


@given(messages=st.lists(fields, min_size=1, max_size=8), cuts=st.lists(st.integers(0, 400)))
def test_a_stream_cut_anywhere_reads_back_as_the_same_messages(
    messages: list[list[str]], cuts: list[int]
) -> None:
    raw = b"API\0" + b"".join(frame(m) for m in messages)
    framer = Framer()
    got: list[list[str]] = []
    at = 0
    for cut in [*sorted({c % (len(raw) + 1) for c in cuts}), len(raw)]:
        got += framer.feed(raw[at:cut])
        at = cut
    assert got == messages


def test_field_text() -> None:
    assert encode([1, "a", None, True, False, Decimal("1E+2"), Decimal("0.010")]) == (
        b"1\0a\0\0" + b"1\0" + b"0\0" + b"100\0" + b"0.01\0"
    )
    assert text(Decimal(0)) == "0"
    assert decimal(["", "1.7976931348623157E308", "2.5"], 2, "x") == Decimal("2.5")
    assert decimal(["", "1.7976931348623157E308"], 1, "x") is None
    with pytest.raises(IbkrError) as e:
        decimal(["nan"], 0, "lmtPrice")
    assert e.value.code == 320


def test_a_frame_past_the_limit_is_refused() -> None:
    framer = Framer()
    with pytest.raises(IbkrError) as e:
        framer.feed(b"API\0" + struct.pack(">I", MAX_FRAME + 1))
    assert e.value.code == 507


@pytest.fixture(scope="module")
def gateway() -> Iterator[IbGateway]:
    sim = scripted_broker(["AAPL"], start_ns=1_700_000_000_000_000_000)
    sim.quote("AAPL", Decimal("100.00"), Decimal("100.02"))
    with IbGateway(sim, speed=None) as g:
        yield g


def _read(sock: socket.socket) -> list[str]:
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        assert chunk, "the gateway closed the connection"
        head += chunk
    (size,) = struct.unpack(">I", head)
    body = b""
    while len(body) < size:
        body += sock.recv(size - len(body))
    return body.decode().split("\0")[:-1]


_client_ids = itertools.count(40)
_ids = st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 49, 58, 61, 62, 76, 99, 12345])
_junk = st.lists(
    st.one_of(st.integers(-(2**40), 2**40).map(str), st.text(max_size=8), st.just("")),
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(msg_id=_ids, rest=_junk)
def test_random_frames_never_crash_the_gateway(
    gateway: IbGateway, msg_id: int, rest: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(b"API\0" + struct.pack(">I", 9) + b"v157..178")
        assert _read(s)[0] == "178"
        s.sendall(frame([71, 2, next(_client_ids), ""]))
        assert _read(s)[0] == "9"
        assert _read(s)[0] == "15"
        s.sendall(frame([msg_id, *rest]))
        s.sendall(frame([49, 1]))  # then a request with one sure answer
        while (got := _read(s))[0] != "49":
            assert got[0] != "4" or got[3].isdigit()  # an error carries IB's code
    # every refusal was an IB error by design: none came from an unexpected exception
    assert not [r for r in caplog.records if r.name == "fillforge.ibkr"], caplog.text
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(b"API\0" + struct.pack(">I", 9) + b"v157..178")
        assert _read(s)[0] == "178"


def _place(order_id: int) -> list[str]:
    """A valid placeOrder (a 1-share limit buy of AAPL), padded as ib_async pads it."""
    contract = ["0", "AAPL", "STK", "", "0", "", "", "SMART", "", "USD", "", ""]
    head = ["3", str(order_id), *contract, "", "", "BUY", "1", "LMT", "99.00", "", "DAY"]
    return head + ["", "", "0", "0", "", "1", "0"] + [""] * 100


_order_ids = itertools.count(1_000)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(
        st.tuples(
            st.integers(1, 50),
            st.one_of(st.text(max_size=6), st.integers(-5, 10**12).map(str), st.just("-1e9")),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_orders_get_ib_answers_never_a_traceback(
    gateway: IbGateway, changes: list[tuple[int, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    fields = _place(next(_order_ids))
    for at, value in changes:
        fields[at] = value.replace("\0", "")
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(b"API\0" + struct.pack(">I", 9) + b"v157..178")
        assert _read(s)[0] == "178"
        s.sendall(frame([71, 2, next(_client_ids), ""]))
        assert [_read(s)[0], _read(s)[0]] == ["9", "15"]
        s.sendall(frame(fields))
        s.sendall(frame([58, 1]))  # global cancel: whatever rests goes
        s.sendall(frame([49, 1]))
        while (got := _read(s))[0] != "49":
            assert got[0] in ("3", "4", "5", "11", "59", "61"), got
    assert not [r for r in caplog.records if r.name == "fillforge.ibkr"], caplog.text
