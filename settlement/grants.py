"""A grant's amount on an eligible cost, as its terms compute it (pure).

A grant pays a rate of the payer's eligible project cost — outcome payments and/or the fixed
fees it pays its providers, as the grant's terms say — commonly computed in thousands of yen
with the fractions dropped (千円未満切捨て), and capped by the grant decision (交付決定): a
total over its years and a limit per year. The settlement engine uses this for outcome
payments; the year's close for the fixed fees a payer paid directly.
"""

from __future__ import annotations

from fractions import Fraction

from contracts.instruments import Grant
from ledger.rounding import RoundingMode, round_minor


def grant_rounding_mode(grant: Grant, mode: RoundingMode) -> RoundingMode:
    """How the grant's amount is rounded: to its unit, truncated, when it has one (千円未満
    切捨て); else the contract's own rounding."""
    return RoundingMode.TRUNCATE if grant.rounding_unit_minor > 1 else mode


def rounded_grant(grant: Grant, exact: Fraction, mode: RoundingMode) -> int:
    """The exact grant (cost × rate) in the grant's unit: thousands of yen, fractions dropped,
    when its terms compute it so; else rounded to the minor unit with ``mode``."""
    unit = grant.rounding_unit_minor
    if unit > 1:
        return int(exact // unit) * unit
    return round_minor(exact, mode)


def grant_room(grant: Grant, granted_before: int, granted_in_year_before: int = 0) -> int | None:
    """What the grant may still pay: its total cap less what it paid before, and its yearly
    cap less what it paid in the same year before; None when uncapped."""
    limits = []
    if grant.cap_per_year_minor is not None:
        limits.append(max(grant.cap_per_year_minor - granted_in_year_before, 0))
    if grant.cap_minor is not None:
        limits.append(max(grant.cap_minor - granted_before, 0))
    return min(limits) if limits else None
