"""``fillforge report`` (issue 19): the report of a real journal (a JournalledBroker over a
SimulatedBroker on the shipped LOBSTER day, four parents by three policies) has every chart,
its numbers agree with the journal's fills, the same journal gives the same bytes, the PNG
export writes valid PNGs, a journal with no orders still gives a chart per figure that says why
it is empty, and a bad input or output is one error line that writes nothing."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from child_env import child_env
from hypothesis import given, settings
from hypothesis import strategies as st
from postgres_server import fresh_journal_url, postgres_server  # noqa: F401
from test_report_support import POLICIES, traded_journal
from typer.testing import CliRunner

from fillforge.cli import app
from fillforge.errors import JournalError, ReportError
from fillforge.journal import Journal
from fillforge.journal.rebuild import JournalFill, rebuild
from fillforge.report import CHARTS, ReportData, open_input, report_data, write_report
from fillforge.report.charts import thin
from fillforge.report.costs import SHORTFALL_PARTS
from fillforge.report.data import _pnl

Image = pytest.importorskip("PIL.Image")
ImageStat = pytest.importorskip("PIL.ImageStat")
D = Decimal


@pytest.fixture(scope="module")
def journal_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = traded_journal(tmp_path_factory.mktemp("report") / "agent.journal")
    assert isinstance(path, Path)
    return path


@pytest.fixture(scope="module")
def data(journal_path: Path) -> ReportData:
    with open_input(str(journal_path)) as j:
        return report_data(j)


def test_the_data_agrees_with_the_journal(journal_path: Path, data: ReportData) -> None:
    with Journal.open(journal_path, readonly=True) as j:
        book = rebuild(j)
    assert len(data.fills) == len(book.fills) > 0
    assert sorted(f.exec_id for f in data.fills) == sorted(book.fills)
    # P&L at the end: what was paid and received, the positions at each symbol's last price.
    cash = sum(
        (f.qty * f.price * (1 if f.side == "sell" else -1) - f.fee for f in data.fills), D(0)
    )
    last = {f.symbol: f.price for f in data.fills}
    marked = sum((q * last[s] for s, q in book.positions.items()), D(0))
    assert data.final_pnl == cash + marked
    assert {s: series[-1][1] for s, series in data.positions.items()} == {
        s: q for s, q in book.positions.items() if s in data.positions
    }
    assert data.max_drawdown <= 0
    assert sorted({p.policy for p in data.parents}) == POLICIES
    assert len(data.parents) == 4
    assert all(p.filled <= p.qty for p in data.parents)


def test_the_cost_figures_are_the_tcas(journal_path: Path, data: ReportData) -> None:
    from fillforge.analytics import tca

    c = data.costs
    assert c is not None, data.costs_missing
    r = tca(journal_path)
    by_policy = r.group_by("policy")
    assert sorted(c.shortfall) == sorted(c.by_policy) == POLICIES
    for policy, parts in c.shortfall.items():
        assert set(parts) == set(SHORTFALL_PARTS)
        assert sum(parts.values()) == pytest.approx(by_policy[policy]["is_bps"], abs=1e-9)
        assert c.by_policy[policy] == pytest.approx(
            (by_policy[policy]["fill_rate"], by_policy[policy]["is_bps"])
        )
    # Every fill is a parent's child here: each has a slippage against its parent's arrival.
    assert len(c.slippage_bps) == len(data.fills)
    parents = zip(r.parents["parent_id"], r.parents["arrival_price"], strict=True)
    arrival = {p: float(a) for p, a in parents}
    f = r.fills
    first = f["side"][0] * (f["price"][0] / arrival[f["parent_id"][0]] - 1) * 10_000
    assert c.slippage_bps[0] == pytest.approx(first)
    # The parents traded 09:35-09:51 New York time (13:35 UTC on 2012-06-21).
    assert sorted(c.by_hour) == [13]
    with open_input(str(journal_path)) as j:
        ny = report_data(j, tz=ZoneInfo("America/New_York")).costs
    assert ny is not None
    assert sorted(ny.by_hour) == [9]
    assert ny.hour_zone == "America/New_York"
    assert c.totals["is_bps"] == pytest.approx(r.total()["is_bps"])
    assert c.totals["arrival_bps"] is None  # the mid at each send: no market data
    assert c.unknown == r.reasons
    assert set(c.latency_ms) >= {"send to ack", "send to first fill", "decision to first send"}
    assert len(c.latency_ms["send to ack"]) == len(r.orders["side"])
    assert all(ms >= 0 for v in c.latency_ms.values() for ms in v)


def test_the_html_has_every_chart_and_is_self_contained(data: ReportData, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert write_report(data, out) == [out]
    page = out.read_text()
    for c in CHARTS:
        assert f'id="chart-{c.slug}"' in page
        assert f"<h2>{c.title}</h2>" in page
    assert page.count('src="data:image/svg+xml;base64,') == len(CHARTS)
    assert "Sign convention: a positive cost or slippage figure is a cost" in page
    assert "default-src 'none'" in page  # the page may fetch nothing
    assert data.costs is not None
    is_bps = data.costs.totals["is_bps"]
    assert is_bps is not None
    assert (
        "<tr><td>implementation shortfall, bps of the paper notional (positive = cost)</td>"
        f"<td>{is_bps:,.4g}</td></tr>"
    ) in page
    assert "Not known from this journal" in page
    assert "no market data was passed" in page
    for forbidden in ("<script", "http://", "https://", "<link"):
        assert forbidden not in page


def test_the_same_journal_gives_the_same_bytes(journal_path: Path, tmp_path: Path) -> None:
    outputs = []
    for run in ("a", "b"):
        with open_input(str(journal_path)) as j:
            d = report_data(j)
        write_report(d, tmp_path / f"{run}.html", tmp_path / run)
        outputs.append(
            [(tmp_path / f"{run}.html").read_bytes()]
            + [(tmp_path / run / f"{c.slug}.png").read_bytes() for c in CHARTS]
        )
    assert outputs[0] == outputs[1]


def _variance(png: bytes) -> float:
    with Image.open(io.BytesIO(png)) as img:
        return float(ImageStat.Stat(img.convert("L")).var[0])


def test_png_export_writes_a_valid_png_per_chart(data: ReportData, tmp_path: Path) -> None:
    written = write_report(data, tmp_path / "r.html", tmp_path / "png" / "nested")
    assert [p.name for p in written[1:]] == [f"{c.slug}.png" for c in CHARTS]
    for path in written[1:]:
        raw = path.read_bytes()
        assert raw.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(path) as img:
            img.verify()  # the chunks and their checksums
        with Image.open(path) as img:
            assert img.size == (900, 460)
        assert _variance(raw) > 50, path.name  # drew something: not one flat color


def test_an_empty_journal_says_why_each_chart_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.journal"
    with Journal.open(path) as j:
        j.append("risk.state", {"snapshot": {}})
    with open_input(str(path)) as j:
        d = report_data(j)
    assert (d.fills, d.pnl, d.parents) == ([], [], [])
    written = write_report(d, tmp_path / "r.html", tmp_path / "png")
    for p in written[1:]:
        assert _variance(p.read_bytes()) > 5  # the sentence, the dashed frame
    assert d.costs is not None
    assert (d.costs.slippage_bps, d.costs.shortfall, d.costs.latency_ms) == ([], {}, {})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 500),
            st.integers(1, 20_000),
            st.integers(0, 300),
        ),
        max_size=30,
    )
)
def test_pnl_is_cash_plus_marked_positions_and_drawdown_is_from_the_peak(
    trades: list[tuple[str, str, int, int, int]],
) -> None:
    fills = [
        JournalFill(f"e{i}", f"o{i}", s, side, D(q), D(p) / 100, D(fee) / 100, i)
        for i, (s, side, q, p, fee) in enumerate(trades)
    ]
    d = ReportData(source="x")
    _pnl(fills, d)
    held: dict[str, Decimal] = {}
    cash = D(0)
    peak = None
    for f, (_, value), (_, dd) in zip(fills, d.pnl, d.drawdown, strict=True):
        signed = f.qty if f.side == "buy" else -f.qty
        held[f.symbol] = held.get(f.symbol, D(0)) + signed
        cash -= signed * f.price + f.fee
        last = {g.symbol: g.price for g in fills[: fills.index(f) + 1]}
        assert value == cash + sum((q * last[s] for s, q in held.items()), D(0))
        peak = value if peak is None else max(peak, value)
        assert dd == value - peak <= 0
    assert d.fees == sum((f.fee for f in fills), D(0))


def test_a_run_directory_is_read_through_its_journal(journal_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text("{}")
    (run / "notes.db").write_text("not a journal")  # tried, skipped
    (run / "zz.journal").write_bytes(journal_path.read_bytes())
    with open_input(str(run)) as j:
        assert sum(j.counts().values()) > 0
    (run / "aa.journal").write_bytes(journal_path.read_bytes())
    with pytest.raises(ReportError) as two:
        open_input(str(run))
    assert two.value.why == "holds 2 journals: give one (aa.journal, zz.journal)"
    empty = tmp_path / "sweep"
    empty.mkdir()
    (empty / "results.parquet").write_bytes(b"PAR1")
    with pytest.raises(ReportError) as e:
        open_input(str(empty))
    assert (e.value.field, e.value.value) == ("input", str(empty))
    assert "backtest or sweep run leaves none" in e.value.why


def test_the_cli_writes_the_report(journal_path: Path, tmp_path: Path) -> None:
    out, png = tmp_path / "r.html", tmp_path / "charts"
    r = CliRunner().invoke(app, ["report", str(journal_path), "-o", str(out), "--png", str(png)])
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.output
    assert sorted(p.name for p in png.iterdir()) == sorted(f"{c.slug}.png" for c in CHARTS)
    r = CliRunner().invoke(app, ["report", str(journal_path), "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"report": str(out), "png": []}


def _bad_cases(tmp: Path, journal: Path) -> list[tuple[list[str], str]]:
    text = tmp / "notes.txt"
    text.write_text("hello")
    a_file = tmp / "a-file"
    a_file.write_text("x")
    out = str(tmp / "r.html")
    return [
        ([str(tmp / "missing.journal"), "-o", out], "input="),
        ([str(text), "-o", out], "not a fillforge journal"),
        ([str(tmp), "-o", out], "no fillforge journal in this directory"),
        ([str(journal), "-o", str(tmp / "no-such-dir" / "r.html")], "output="),
        ([str(journal), "-o", str(tmp)], "is a directory"),
        ([str(journal), "-o", out, "--png", str(a_file)], "png="),
        ([str(journal), "-o", out, "--tz", "Mars/Olympus"], "--tz='Mars/Olympus'"),
        ([str(journal), "-o", out, "--data", str(journal), "--tick", "abc"], "--tick='abc'"),
        ([str(journal), "-o", out, "--data", str(journal), "--lot", "0"], "--lot='0'"),
    ]


def test_bad_input_or_output_is_one_line_and_writes_nothing(
    journal_path: Path, tmp_path: Path
) -> None:
    tmp = tmp_path / "bad"
    tmp.mkdir()
    for args, says in _bad_cases(tmp, journal_path):
        before = sorted(p.name for p in tmp.rglob("*"))
        r = CliRunner().invoke(app, ["report", *args])
        assert r.exit_code == 2, (args, r.output)
        lines = [x for x in r.output.splitlines() if x.strip()]
        assert len(lines) == 1, (args, r.output)
        assert lines[0].startswith("error:"), lines
        assert says in lines[0], (args, lines[0])
        assert "Traceback" not in r.output
        assert sorted(p.name for p in tmp.rglob("*")) == before, args  # nothing written


def test_a_real_process_says_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fillforge", "report", str(tmp_path / "none.journal")],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("error: input=")
    assert proc.stdout == ""


def test_a_journal_error_names_the_path(tmp_path: Path) -> None:
    text = tmp_path / "x.journal"
    text.write_text("hello")
    with pytest.raises(JournalError) as e:
        open_input(str(text))
    assert e.value.field == "path"


def test_a_postgresql_journal_gives_the_same_charts(
    postgres_server: str,  # noqa: F811
    data: ReportData,
    tmp_path: Path,
) -> None:
    """The same trading journalled in PostgreSQL: the same figures and the same charts, from
    the URL given to the command."""
    url = str(traded_journal(fresh_journal_url(postgres_server)))
    with open_input(url) as j:
        pg = report_data(j)
    assert (pg.fills, pg.pnl, pg.positions, pg.parents) == (
        data.fills,
        data.pnl,
        data.positions,
        data.parents,
    )
    assert pg.costs == data.costs
    r = CliRunner().invoke(app, ["report", url, "-o", str(tmp_path / "pg.html")])
    assert r.exit_code == 0, r.output
    write_report(data, tmp_path / "sqlite.html")
    charts = [
        (tmp_path / name).read_text().split('<p class="sign">')[1]
        for name in ("pg.html", "sqlite.html")
    ]
    assert charts[0] == charts[1]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-1_000, 1_000), max_size=3_000), st.integers(8, 400))
def test_a_thinned_series_keeps_its_ends_peaks_and_troughs(values: list[int], most: int) -> None:
    series = [(i, D(v)) for i, v in enumerate(values)]
    got = thin(series, most)
    if len(series) <= most:
        assert got == series
        return
    assert len(got) <= most
    assert [t for t, _ in got] == sorted({t for t, _ in got})  # in time order, no repeats
    assert set(got) <= set(series)
    assert (got[0], got[-1]) == (series[0], series[-1])
    assert min(v for _, v in got) == min(values)
    assert max(v for _, v in got) == max(values)


def test_without_matplotlib_the_command_names_the_extra(
    journal_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    out = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["report", str(journal_path), "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert r.output.strip() == (
        "error: charts='matplotlib': not installed: pip install 'fillforge[report]'"
    )
    assert not out.exists()


def test_lone_orders_without_market_data_draw_what_is_known(tmp_path: Path) -> None:
    """Orders sent on their own (no parent, no decision price) and no market data: the P&L,
    positions, fill rates and latency are drawn; the slippage and costs say why they are not."""
    from order_helpers import gtc_limit
    from polling import wait_for

    from fillforge.journal.broker import JournalledBroker
    from fillforge.orders.models import Instrument
    from fillforge.sim.broker import SimulatedBroker
    from fillforge.sim.feeds import empty_feed
    from fillforge.sim.venue import Venue

    v = Venue("TESTX", calendar=None)
    v.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(v, cash=D(1_000_000))
    broker.quote("TEST", D("99.99"), D("100.01"), bid_size=D(20), ask_size=D(20))
    path = tmp_path / "lone.journal"
    journal = Journal.open(path)
    jb = JournalledBroker(broker, journal)
    a = jb.submit(gtc_limit("TEST", "buy", 10, "100.01"))
    b = jb.submit(gtc_limit("TEST", "sell", 4, "99.99"))
    wait_for(lambda: all(o.cum_qty > 0 for o in broker.orders() if o.id in (a.id, b.id)))
    jb.detach()
    journal.close()
    with open_input(str(path)) as j:
        d = report_data(j)
    assert [f.qty for f in d.fills] == [D(10), D(4)]
    assert d.positions["TEST"][-1][1] == D(6)
    assert d.parents == []
    c = d.costs
    assert c is not None
    assert (c.slippage_bps, c.shortfall) == ([], {})
    assert all(cost is None for _, cost in c.by_policy.values())
    assert [rate for rate, _ in c.by_policy.values()] == [1.0]
    written = write_report(d, tmp_path / "r.html", tmp_path / "png")
    assert all(_variance(p.read_bytes()) > 5 for p in written[1:])


def test_market_data_files_give_a_lone_orders_slippage(tmp_path: Path) -> None:
    """A lone order sent inside the shipped Tardis BTCUSDT day, reported with the day's quotes
    (--data, as fillforge tca): its slippage is against the files' mid at its send, by hand."""
    from test_tca_support import Desk

    from fillforge.marketdata import load_tardis_quotes
    from fillforge.tca_cli import market_from_files

    data = Path(__file__).resolve().parents[1] / "python" / "fillforge" / "data" / "binance"
    quotes = data / "tardis_binance-futures_BTCUSDT_quotes_2020-02-22.csv.gz"
    q = load_tardis_quotes(quotes, tick=D("0.01"), lot=D("0.001"))
    i = len(q) // 2
    at = int(q.time_ns[i]) + 1  # just after quote i
    mid = (int(q.bid_price[i]) + int(q.ask_price[i])) / 200
    path = tmp_path / "btc.journal"
    desk = Desk(path, start_ns=at)
    desk.quote("9000.00", "9000.02")  # the desk's own venue: the fill is at 9000.02
    desk.order("buy", 1)
    desk.at(1)
    desk.close()
    market = market_from_files([quotes], "0.01", "0.001", "TEST")
    with open_input(str(path)) as j:
        c = report_data(j, market=market).costs
    assert c is not None
    assert c.slippage_bps == [pytest.approx((9000.02 - mid) / mid * 1e4)]
    out = tmp_path / "r.html"
    args = ["report", str(path), "-o", str(out), "--data", str(quotes), "--symbol", "TEST"]
    r = CliRunner().invoke(app, [*args, "--tick", "0.01", "--lot", "0.001"])
    assert r.exit_code == 0, r.output
    assert out.exists()
    bad = CliRunner().invoke(app, ["report", str(path), "--data", str(tmp_path / "none.csv")])
    assert bad.exit_code == 2
    lines = [x for x in bad.output.splitlines() if x.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert "none.csv" in lines[0]


def test_the_docs_python_example_runs_as_written(
    journal_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "report.md").read_text()
    code = doc.split("## From Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    runs = tmp_path / "fillforge-runs"
    runs.mkdir()
    (runs / "paper.journal").write_bytes(journal_path.read_bytes())
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/report.md", "exec"), {})
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == sorted(
        f"{c.slug}.png" for c in CHARTS
    )
