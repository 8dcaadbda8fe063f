"""Returns on dated cash flows: XIRR and multiple on invested capital, per holder, class, contract.

Sign convention (the holder's point of view, as in spreadsheets and ``pyxirr``): money the holder
pays in (a subscription, a draw) is negative; money the holder receives (a distribution, interest,
principal) is positive. A residual value — what the holder's capital account is worth on the
valuation date — counts as a final positive flow on that date.

Distributions enter gross of withholding: the tax withheld is the holder's tax paid in advance,
so the return shown is before tax, the figure holders compare across investments.

XIRR is computed in ``Decimal`` (34 significant digits): the year fraction of a flow is
``days / 365`` from the first flow (the XIRR convention), and the rate solves
``Σ amount_i · (1 + r) ** -t_i = 0`` by Newton's method from 10 %, falling back to bisection on a
bracket found by scanning rates when Newton leaves the domain or does not settle. A flow
pattern that changes sign more than once can have several rates; the one found is the one
Newton reaches from 10 %, or else the one nearest to it on the scan — the same choice spreadsheet
XIRR functions make.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import TypeVar

from ledger.errors import SibError

_PRECISION = 34
_TOLERANCE = Decimal("1E-13")
_RESULT_QUANTUM = Decimal("1E-12")
_GUESS = Decimal("0.1")
_MAX_NEWTON = 60
_MAX_BISECT = 200
# Rates scanned for a sign change when Newton fails: dense near zero, sparse far out.
_SCAN = tuple(Decimal(x) for x in (
    "-0.999999", "-0.99", "-0.95", "-0.9", "-0.8", "-0.7", "-0.6", "-0.5", "-0.4", "-0.3",
    "-0.2", "-0.1", "-0.05", "0", "0.05", "0.1", "0.15", "0.2", "0.3", "0.5", "0.75", "1",
    "1.5", "2", "3", "5", "10", "20", "50", "100", "1000"))

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class CashFlow:
    """One dated amount from the holder's point of view.

    Attributes:
        on: value date.
        amount_minor: minor units; negative paid in by the holder, positive received.
    """

    on: date
    amount_minor: int


@dataclass(frozen=True)
class _Flows:
    """Flows grouped by date, as year fractions from the first date."""

    years: tuple[Decimal, ...]
    amounts: tuple[Decimal, ...]


def _group(flows: Sequence[CashFlow]) -> _Flows:
    by_day: dict[date, int] = defaultdict(int)
    for flow in flows:
        by_day[flow.on] += flow.amount_minor
    days = sorted(d for d, a in by_day.items() if a)
    start = days[0] if days else date.min
    return _Flows(tuple(Decimal((d - start).days) / 365 for d in days),
                  tuple(Decimal(by_day[d]) for d in days))


def _check_flows(flows: Sequence[CashFlow]) -> None:
    for i, flow in enumerate(flows):
        if not isinstance(flow.amount_minor, int) or isinstance(flow.amount_minor, bool):
            raise SibError("cash flow amounts must be integers of minor units",
                           "AMOUNT_NOT_INTEGER", f"flows[{i}].amount_minor")
    if not any(f.amount_minor > 0 for f in flows) or not any(f.amount_minor < 0 for f in flows):
        raise SibError("an internal rate of return needs money paid in (negative) and money "
                       "received (positive)", "IRR_NEEDS_BOTH_SIGNS", "flows")


def _npv_and_slope(grouped: _Flows, rate: Decimal) -> tuple[Decimal, Decimal]:
    """Net present value at ``rate`` and its derivative with respect to the rate."""
    base = 1 + rate
    log_base = base.ln()
    value, slope = Decimal(0), Decimal(0)
    for years, amount in zip(grouped.years, grouped.amounts):
        discounted = amount * (-years * log_base).exp()
        value += discounted
        slope -= years * discounted
    return value, slope / base


def _newton(grouped: _Flows) -> Decimal | None:
    rate = _GUESS
    for _ in range(_MAX_NEWTON):
        value, slope = _npv_and_slope(grouped, rate)
        if slope == 0:
            return None
        step = value / slope
        rate -= step
        if rate <= -1:
            return None
        if abs(step) < _TOLERANCE:
            return rate
    return None


def _bracket(grouped: _Flows) -> tuple[Decimal, Decimal] | None:
    """The scanned interval with a sign change that lies nearest to the initial guess."""
    values = [(r, _npv_and_slope(grouped, r)[0]) for r in _SCAN]
    brackets = [(lo, hi) for (lo, v_lo), (hi, v_hi) in zip(values, values[1:])
                if v_lo == 0 or (v_lo < 0) != (v_hi < 0)]
    if not brackets:
        return None
    return min(brackets, key=lambda b: min(abs(b[0] - _GUESS), abs(b[1] - _GUESS)))


def _bisect(grouped: _Flows, low: Decimal, high: Decimal) -> Decimal:
    value_low = _npv_and_slope(grouped, low)[0]
    for _ in range(_MAX_BISECT):
        middle = (low + high) / 2
        value = _npv_and_slope(grouped, middle)[0]
        if value == 0 or high - low < _TOLERANCE:
            return middle
        if (value < 0) == (value_low < 0):
            low, value_low = middle, value
        else:
            high = middle
    return (low + high) / 2


def xirr(flows: Sequence[CashFlow]) -> Decimal:
    """The annual rate that discounts ``flows`` to zero (XIRR, ACT/365), as a Decimal fraction
    (``Decimal("0.0425")`` is 4.25 %), accurate to 1e-12.

    Refuses flows that are not all paid-in or all received (``IRR_NEEDS_BOTH_SIGNS``) and flows
    with no rate above −100 % (``IRR_NO_SOLUTION``).
    """
    _check_flows(flows)
    with localcontext() as context:
        context.prec = _PRECISION
        grouped = _group(flows)
        rate = _newton(grouped)
        if rate is None:
            bracket = _bracket(grouped)
            if bracket is None:
                raise SibError("no rate of return above -100 % discounts these flows to zero",
                               "IRR_NO_SOLUTION", "flows")
            rate = _bisect(grouped, *bracket)
        # The precision of a computed rate, not money: money rounds only in ledger.rounding.
        return rate.quantize(_RESULT_QUANTUM) + 0


def moic(contributed_minor: int, distributed_minor: int, residual_minor: int = 0) -> Decimal:
    """Multiple on invested capital: (distributions + residual value) / contributions.

    All three are non-negative totals in minor units. Refuses a zero contribution
    (``MOIC_NO_CONTRIBUTIONS``): the multiple of nothing is not a number.
    """
    if contributed_minor <= 0:
        raise SibError("a multiple on invested capital needs contributions above zero",
                       "MOIC_NO_CONTRIBUTIONS", "contributed_minor")
    with localcontext() as context:
        context.prec = 28
        return Decimal(distributed_minor + residual_minor) / Decimal(contributed_minor)


@dataclass(frozen=True)
class ReturnSummary:
    """Returns of a set of cash flows valued on a date.

    Attributes:
        as_of: valuation date; flows after it are not counted.
        contributed_minor: total paid in (positive).
        distributed_minor: total received before the valuation date (positive, gross).
        residual_minor: value still held on ``as_of`` (the capital account's closing balance).
        moic: multiple on invested capital, or None with no contributions.
        irr: XIRR including the residual as a flow on ``as_of``, or None when undefined (no
            money received yet and no residual, or no rate solves the flows).
    """

    as_of: date
    contributed_minor: int
    distributed_minor: int
    residual_minor: int
    moic: Decimal | None
    irr: Decimal | None


def _irr_or_none(flows: Sequence[CashFlow]) -> Decimal | None:
    try:
        return xirr(flows)
    except SibError as exc:
        if exc.code in ("IRR_NEEDS_BOTH_SIGNS", "IRR_NO_SOLUTION"):
            return None
        raise


def summarise(flows: Sequence[CashFlow], residual_minor: int, as_of: date) -> ReturnSummary:
    """MOIC and IRR of ``flows`` up to ``as_of`` with ``residual_minor`` still held then."""
    counted = [f for f in flows if f.on <= as_of]
    contributed = -sum(f.amount_minor for f in counted if f.amount_minor < 0)
    distributed = sum(f.amount_minor for f in counted if f.amount_minor > 0)
    with_residual = counted + ([CashFlow(as_of, residual_minor)] if residual_minor else [])
    multiple = moic(contributed, distributed, residual_minor) if contributed > 0 else None
    return ReturnSummary(as_of, contributed, distributed, residual_minor, multiple,
                         _irr_or_none(with_residual))


@dataclass(frozen=True)
class HolderCashFlow:
    """A cash flow of one holder in one class (holder's point of view, as :class:`CashFlow`).

    Attributes:
        holder_id: the holder.
        class_id: the class (tranche) of the holding.
        on: value date.
        amount_minor: negative paid in, positive received.
    """

    holder_id: str
    class_id: str
    on: date
    amount_minor: int


def returns_by(flows: Sequence[HolderCashFlow], residuals: Mapping[tuple[str, str], int],
               as_of: date, key: Callable[[str, str], K]) -> dict[K, ReturnSummary]:
    """Returns grouped by ``key(holder_id, class_id)``: every flow and residual of a group is
    pooled, so a class's IRR is that of all its holders' money together (not an average)."""
    grouped: dict[K, list[CashFlow]] = defaultdict(list)
    residual_of: dict[K, int] = defaultdict(int)
    for flow in flows:
        grouped[key(flow.holder_id, flow.class_id)].append(CashFlow(flow.on, flow.amount_minor))
    for (holder_id, class_id), residual in residuals.items():
        residual_of[key(holder_id, class_id)] += residual
        grouped.setdefault(key(holder_id, class_id), [])
    return {k: summarise(grouped[k], residual_of[k], as_of) for k in grouped}


def returns_by_holder(flows: Sequence[HolderCashFlow], residuals: Mapping[tuple[str, str], int],
                      as_of: date) -> dict[str, ReturnSummary]:
    """Returns per holder, all of the holder's classes together."""
    return returns_by(flows, residuals, as_of, lambda holder_id, _class_id: holder_id)


def returns_by_class(flows: Sequence[HolderCashFlow], residuals: Mapping[tuple[str, str], int],
                     as_of: date) -> dict[str, ReturnSummary]:
    """Returns per class, all holders of the class together."""
    return returns_by(flows, residuals, as_of, lambda _holder_id, class_id: class_id)


def returns_for_contract(flows: Sequence[HolderCashFlow],
                         residuals: Mapping[tuple[str, str], int], as_of: date) -> ReturnSummary:
    """Returns of every holder and class of the contract together."""
    pooled = returns_by(flows, residuals, as_of, lambda _holder_id, _class_id: "contract")
    return pooled.get("contract", summarise([], 0, as_of))

