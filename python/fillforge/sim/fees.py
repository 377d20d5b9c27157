"""Trading fees: a per-share charge plus basis points of notional, with a minimum, per liquidity
side. Negative maker rates are rebates. Fees are exact ``Decimal`` amounts, rounded once.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from fillforge.errors import OrderValidationError
from fillforge.orders.enums import LiquiditySide
from fillforge.orders.models import FrozenModel

__all__ = ["FeeModel", "FeeSchedule"]

_Rate = Annotated[Decimal, Field(allow_inf_nan=False)]
_BPS = Decimal(10_000)


class FeeSchedule(FrozenModel):
    """What one liquidity side pays per fill: ``qty * per_share + notional * bps / 10_000``.

    ``minimum`` lifts a positive fee to at least that amount; a zero fee or a rebate (negative)
    is left alone, so a minimum never turns a rebate into a charge.
    """

    per_share: _Rate = Decimal(0)
    bps: _Rate = Decimal(0)
    minimum: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)

    def raw(self, qty: Decimal, price: Decimal) -> Decimal:
        """The unrounded fee, minimum applied."""
        fee = qty * self.per_share + qty * price * self.bps / _BPS
        return max(fee, self.minimum) if fee > 0 else fee


class FeeModel(FrozenModel):
    """Maker and taker schedules; each fee is rounded half away from zero to ``places`` decimals
    (``ROUND_HALF_UP``, so a rebate rounds like a charge of the same size).

    Only the maker schedule may pay rebates: a negative taker rate is almost always a sign slip.
    """

    maker: FeeSchedule = FeeSchedule()
    taker: FeeSchedule = FeeSchedule()
    places: Annotated[int, Field(ge=0, le=10)] = 4

    @model_validator(mode="after")
    def _no_taker_rebate(self) -> Self:
        for name in ("per_share", "bps"):
            value = getattr(self.taker, name)
            if value < 0:
                raise OrderValidationError(f"taker.{name}", value, "rebates are for makers only")
        return self

    @classmethod
    def flat(
        cls,
        per_share: Decimal | int = 0,
        bps: Decimal | int = 0,
        minimum: Decimal | int = 0,
        places: int = 4,
    ) -> FeeModel:
        """The same schedule for maker and taker."""
        s = FeeSchedule(per_share=Decimal(per_share), bps=Decimal(bps), minimum=Decimal(minimum))
        return cls(maker=s, taker=s, places=places)

    @classmethod
    def zero(cls) -> FeeModel:
        """No fees at all."""
        return _ZERO

    def fee(self, qty: Decimal, price: Decimal, liquidity: LiquiditySide | str) -> Decimal:
        """The fee for one fill of ``qty`` at ``price`` (positive: paid; negative: rebate)."""
        qty, price = _positive("qty", qty), _positive("price", price)
        if liquidity == LiquiditySide.MAKER:
            schedule = self.maker
        elif liquidity == LiquiditySide.TAKER:
            schedule = self.taker
        else:
            raise OrderValidationError("liquidity", liquidity, "must be 'maker' or 'taker'")
        fee = schedule.raw(qty, price)
        return fee.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)


def _positive(field: str, value: object) -> Decimal:
    # ints are exact; a float would smuggle binary rounding into money, and bool is not a number.
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise OrderValidationError(field, value, "must be a finite Decimal greater than 0")
    return value


_ZERO = FeeModel()
