"""The messages the gateway sends, each as the list of fields ib_async 2.1's decoder reads at
server version 178 (``ib_async/decoder.py``: the field order of every message below is its).

Prices and quantities are Decimal here and go out in plain notation; IB's "unset" double is
sent as an empty field, which the decoder reads as unset.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal

from fillforge.ibkr.wire import Out
from fillforge.orders.models import Instrument

__all__ = [
    "ContractInfo",
    "Execution",
    "IbOrder",
    "commission_report",
    "contract_details",
    "error",
    "exec_details",
    "ib_time",
    "open_order",
    "order_status",
    "position",
]

Fields = list[object]


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """A listed stock as IB describes it: its conId, the instrument (tick and lot) and where."""

    con_id: int
    instrument: Instrument
    exchange: str = "SMART"
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def head(self) -> Fields:
        """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency,
        localSymbol, tradingClass (the contract as openOrder and execDetails carry it)."""
        s = self.symbol
        return [self.con_id, s, "STK", "", 0, "", "", self.exchange, self.currency, s, s]


@dataclass(slots=True)
class IbOrder:
    """One order as the gateway keeps it: the client's terms (IB's names) and its IB state."""

    client_id: int
    order_id: int
    perm_id: int
    contract: ContractInfo
    action: str  # BUY / SELL
    total_qty: Decimal
    order_type: str  # MKT / LMT / STP / STP LMT
    lmt_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    account: str
    oca_group: str = ""
    oca_type: int = 0
    order_ref: str = ""
    parent_id: int = 0
    transmit: bool = True
    outside_rth: bool = False
    status: str = "PendingSubmit"
    filled: Decimal = Decimal(0)
    avg_fill_price: Decimal = Decimal(0)
    last_fill_price: Decimal = Decimal(0)
    sim_id: str | None = None  # the simulated order working it now (a modify makes a new one)
    children: list[int] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, int]:
        return self.client_id, self.order_id

    @property
    def remaining(self) -> Decimal:
        done = self.status in ("Filled", "Cancelled", "ApiCancelled", "Inactive")
        return Decimal(0) if done else max(self.total_qty - self.filled, Decimal(0))

    @property
    def is_done(self) -> bool:
        return self.status in ("Filled", "Cancelled", "ApiCancelled", "Inactive")


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill as IB reports it (``execDetails`` and its ``commissionReport``)."""

    exec_id: str
    client_id: int
    order_id: int
    perm_id: int
    contract: ContractInfo
    ts_ns: int
    account: str
    side: str  # BOT / SLD
    shares: Decimal
    price: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    order_ref: str
    maker: bool
    commission: Decimal


def ib_time(ts_ns: int) -> str:
    """``YYYYMMDD HH:MM:SS UTC``, a time as TWS writes it with its zone."""
    return _ib_second(ts_ns // 1_000_000_000)


@functools.lru_cache(maxsize=64)
def _ib_second(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"


def error(req_id: int, code: int, message: str) -> Fields:
    """An error or notice: ``reqId`` (-1: not about a request), IB's code and text."""
    return [Out.ERR_MSG, 2, req_id, code, message, ""]


def order_status(o: IbOrder) -> Fields:
    return [
        Out.ORDER_STATUS,
        o.order_id,
        o.status,
        o.filled,
        o.remaining,
        o.avg_fill_price,
        o.perm_id,
        o.parent_id,
        o.last_fill_price,
        o.client_id,
        "",  # whyHeld
        "",  # mktCapPrice
    ]


def open_order(o: IbOrder) -> Fields:
    """``openOrder``: the order's contract, terms and state (the fields the decoder reads, the
    ones the gateway has no use for empty)."""
    head: Fields = [Out.OPEN_ORDER, o.order_id, *o.contract.head()]
    terms: Fields = [
        o.action,
        o.total_qty,
        o.order_type,
        o.lmt_price,
        o.aux_price,
        o.tif,
        o.oca_group,
        o.account,
        "O",  # openClose
        0,  # origin: customer
        o.order_ref,
        o.client_id,
        o.perm_id,
        o.outside_rth,
        False,  # hidden
        "",  # discretionaryAmt
        "",  # goodAfterTime
        "",  # sharesAllocation (obsolete)
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        False,  # blockOrder
        False,  # sweepToFill
        False,  # allOrNone
        "",  # minQty
        o.oca_type,
        False,  # eTradeOnly
        False,  # firmQuoteOnly
        "",  # nbboPriceCap
        o.parent_id,
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType (none: no delta-neutral fields follow)
        "",  # deltaNeutralAuxPrice
        False,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # basisPoints
        "",  # basisPointsType
        "",  # comboLegsDescrip
        0,  # combo legs
        0,  # order combo legs
        0,  # smart combo routing params
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement (unset: no scale fields follow)
        "",  # hedgeType (none)
        False,  # optOutSmartRouting
        "",  # clearingAccount
        "",  # clearingIntent
        False,  # notHeld
        False,  # delta-neutral contract present
        "",  # algoStrategy (none)
        False,  # solicited
        False,  # whatIf
    ]
    state: Fields = [o.status, *[""] * 12, "USD", "", False, False]
    # state: status, 9 margin fields, commission, min/max commission, currency, warning text,
    # then randomizeSize, randomizePrice
    tail: Fields = [
        0,  # conditions
        "",  # adjustedOrderType
        "",  # triggerPrice
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # adjustedStopPrice
        "",  # adjustedStopLimitPrice
        "",  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier display name
        "",  # cashQty
        False,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        False,  # discretionaryUpToLimitPrice
        "",  # usePriceMgmtAlgo
        "",  # duration (159)
        "",  # postToAts (160)
        False,  # autoCancelParent (162)
        "",  # minTradeQty (170)
        "",  # minCompeteSize
        "",  # competeAgainstBestOffset
        "",  # midOffsetAtWhole
        "",  # midOffsetAtHalf
    ]
    return head + terms + state + tail


def exec_details(req_id: int, e: Execution) -> Fields:
    """``execDetails`` (``reqId`` -1 for a live fill, the request's for ``reqExecutions``)."""
    return [
        Out.EXECUTION_DATA,
        req_id,
        e.order_id,
        *e.contract.head(),
        e.exec_id,
        ib_time(e.ts_ns),
        e.account,
        e.contract.exchange if e.contract.exchange != "SMART" else e.contract.primary_exchange,
        e.side,
        e.shares,
        e.price,
        e.perm_id,
        e.client_id,
        0,  # liquidation
        e.cum_qty,
        e.avg_price,
        e.order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        1 if e.maker else 2,  # lastLiquidity: 1 added, 2 removed
        False,  # pendingPriceRevision (178)
    ]


def commission_report(e: Execution) -> Fields:
    return [Out.COMMISSION_REPORT, 1, e.exec_id, e.commission, e.contract.currency, "", "", ""]


def contract_details(req_id: int, c: ContractInfo) -> Fields:
    """``contractDetails`` for a stock: its tick (``minTick``) and lot (``sizeIncrement``)."""
    inst = c.instrument
    s = c.symbol
    return [
        Out.CONTRACT_DATA,
        req_id,
        s,
        "STK",
        "",  # lastTradeDate
        0,  # strike
        "",  # right
        c.exchange,
        c.currency,
        s,  # localSymbol
        "NMS",  # marketName
        s,  # tradingClass
        c.con_id,
        inst.tick_size,
        "",  # multiplier
        "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,DAY,GTC,IOC,FOK,LMT,MKT,OCA,STP,STPLMT",
        f"{c.exchange},{c.primary_exchange}",
        1,  # priceMagnifier
        0,  # underConId
        s,  # longName
        c.primary_exchange,
        "",  # contractMonth
        "",  # industry
        "",  # category
        "",  # subcategory
        "UTC",  # timeZoneId
        "",  # tradingHours
        "",  # liquidHours
        "",  # evRule
        "",  # evMultiplier
        0,  # secIdList
        1,  # aggGroup
        "",  # underSymbol
        "",  # underSecType
        "",  # marketRuleIds
        "",  # realExpirationDate
        "COMMON",  # stockType
        max(inst.min_qty, inst.lot_size),  # minSize
        inst.lot_size,  # sizeIncrement
        inst.lot_size,  # suggestedSizeIncrement
    ]


def position(account: str, c: ContractInfo, qty: Decimal, avg_cost: Decimal) -> Fields:
    return [Out.POSITION_DATA, 3, account, *c.head(), qty, avg_cost]


def portfolio(
    account: str,
    c: ContractInfo,
    qty: Decimal,
    mark: Decimal,
    value: Decimal,
    avg: Decimal,
    unrealized: Decimal,
    realized: Decimal,
) -> Fields:
    """``updatePortfolio`` (exactly the twenty fields the decoder unpacks)."""
    s = c.symbol
    contract: Fields = [c.con_id, s, "STK", "", 0, "", "", c.primary_exchange, c.currency, s, s]
    return [Out.PORTFOLIO_VALUE, 8, *contract, qty, mark, value, avg, unrealized, realized, account]
