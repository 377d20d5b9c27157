"""The ``fillforge serve monitor`` command (registered by :mod:`fillforge.cli`): the live page
and Prometheus metrics of a running paper (or live) account, followed through
:class:`~fillforge.alpaca.broker.AlpacaBroker` (REST and the trade_updates stream) at ``--url``
with the keys in ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY``, or at the broker an agent
configuration names (``--config``). A bad flag or file prints one ``error:`` line (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fillforge._optional import needs_extra
from fillforge.cli_serving import Duration, Host, Port, check_endpoint, serve_announced
from fillforge.errors import BrokerUnavailableError, ConfigError

__all__ = ["serve_monitor"]


def _alerts(path: Path | None) -> Any:
    from fillforge.monitor.alerts import alerts_config

    if path is None:
        return alerts_config()
    try:
        text = path.read_text("utf-8")
    except OSError as e:
        raise ConfigError("--alerts", str(path), e.strerror or "cannot read it") from None
    import yaml

    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError("--alerts", str(path), f"not valid JSON or YAML: {e}") from None
    if isinstance(data, dict) and "monitor" in data:
        data = data["monitor"]
    return alerts_config(data)


def _stream_url(url: str) -> str:
    """The trade_updates websocket beside a REST base URL (Alpaca's and fillforge's: /stream)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ConfigError("--url", url, "expected http://HOST:PORT or https://HOST")
    return ("wss" if scheme == "https" else "ws") + "://" + rest.rstrip("/") + "/stream"


def serve_monitor(
    url: Annotated[
        str | None,
        typer.Option(
            help="The Alpaca-compatible account to follow, e.g. http://127.0.0.1:8000 (a "
            "'fillforge serve alpaca'); keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Follow the broker an agent configuration names (its URL and keys)."),
    ] = None,
    alerts: Annotated[
        Path | None,
        typer.Option(help="Alert rules, YAML or JSON (see docs/monitoring.md; default rules)."),
    ] = None,
    host: Host = "127.0.0.1",
    port: Port = 0,
    interval: Annotated[
        float, typer.Option(help="Seconds between the page's updates (and the account reads).")
    ] = 1.0,
    duration: Duration = None,
) -> None:
    """Serve the live monitoring page (/monitor) and Prometheus metrics (/metrics) of a running
    paper account: positions, open orders, P&L, execution metrics and alerts."""
    from fillforge.monitor.collector import ExecutionMonitor
    from fillforge.monitor.serve import MonitorServer

    if (url is None) == (config is None):
        raise ConfigError("--url", url, "give the account's --url, or an agent --config")
    if not interval > 0 or interval != interval:
        raise ConfigError("--interval", interval, "expected a positive number of seconds")
    check_endpoint(port, duration)
    rules = _alerts(alerts)
    with needs_extra("alpaca", lambda why: ConfigError("client", "alpaca-py", why)):
        from fillforge.alpaca.broker import AlpacaBroker
    if url is not None:
        broker: Any = AlpacaBroker(url_override=url, stream_url=_stream_url(url), attempts=2)
    else:
        from fillforge.agent.build import alpaca_broker
        from fillforge.config import load_config
        from fillforge.config.model import Mode

        assert config is not None
        cfg = load_config(config)
        if cfg.mode is Mode.SIMULATION:
            why = "a simulation has no account to follow: give a paper or live file, or --url"
            raise ConfigError("execution.mode", str(cfg.mode), why)
        broker = alpaca_broker(cfg)
    try:
        broker.connect()
    except OSError as e:  # refused, unreachable, timed out (requests' errors are OSErrors)
        broker.close()
        where = ("--url", url) if url is not None else ("--config", str(config))
        raise BrokerUnavailableError(*where, f"cannot reach the account: {e}") from None
    monitor = ExecutionMonitor(broker, config=rules, refresh_every_s=interval)
    server = MonitorServer(monitor, host=host, port=port, interval_s=interval)
    try:
        with server:
            addresses = [f"{server.base_url}/monitor", f"{server.base_url}/metrics"]
            note = f"monitoring {url or config}; Ctrl-C stops"
            serve_announced(addresses, [note], duration)
    finally:
        monitor.close()
        broker.close()
