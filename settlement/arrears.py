"""Arrears and default interest (遅延損害金): a design note for debt service on due dates
(issue 11, item 2), and its first pure rule. Nothing here is wired into the waterfall yet.

How a bank services a loan, and how this module is meant to grow:

- **Due dates are fixed.** Each instalment (interest, principal) falls due on its schedule's
  date (:mod:`settlement.schedules`, adjusted by the loan's business-day convention), whether
  or not outcome money has arrived. Debt service on a date pays what is due from the vehicle's
  available cash (draw proceeds, reserves, receipts not yet consumed) in the contract's order:
  fees and interest before principal, by seniority, pro rata within a rank.
- **What is not paid is overdue (延滞).** It becomes an arrear of its due date: the amount, the
  kind (interest or principal) and the date it fell due. Default interest accrues on it *by the
  day*, from the day after the due date up to and including the day it is paid: a payment one
  day late owes one day. The rate is a per-loan term (typically 14 %–14.6 % a year), the day
  count ACT/365 (365 also in leap years), and the amount is truncated to the yen once per
  arrear and payment, as :func:`default_interest` does.
- **A later payment settles, in the order the loan agreement states** (by default: default
  interest, then overdue interest, then overdue principal, oldest due date first), and records
  exactly which due dates it settled, so a statement can show each due date as paid on time,
  paid late (with the date and the default interest), overdue, prepaid or written down.
- **One way a loan gets paid.** The annual outcome waterfall will call the same service code
  for the loans' claims, so that debt service and the waterfall never disagree.

Amounts are integer minor units; rounding happens only in :mod:`ledger.rounding`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from ledger.errors import Problems
from ledger.rounding import RoundingMode, round_minor

DEFAULT_INTEREST_BASIS_DAYS = 365
"""ACT/365 fixed: a year of default interest is 365 days, also in a leap year."""


def days_overdue(due_on: date, paid_on: date) -> int:
    """Days of default interest for an amount due on ``due_on`` and paid on ``paid_on``: from
    the day after the due date to the payment date, both counted (paid a day late: 1)."""
    return max((paid_on - due_on).days, 0)


def default_interest(overdue_minor: int, rate_annual: Decimal, due_on: date, paid_on: date,
                     rounding: RoundingMode = RoundingMode.TRUNCATE) -> int:
    """遅延損害金 on ``overdue_minor`` paid on ``paid_on`` instead of ``due_on``:
    ``overdue × rate × days / 365``, computed exactly and rounded once (truncated by default).

    Refuses a negative amount or rate and a non-Decimal rate (``DEFAULT_INTEREST_INVALID``).
    """
    problems = Problems()
    if not isinstance(overdue_minor, int) or isinstance(overdue_minor, bool) \
            or overdue_minor < 0:
        problems.add("DEFAULT_INTEREST_INVALID", f"the overdue amount must be a non-negative "
                     f"integer of minor units, got {overdue_minor!r}", "overdue_minor")
    if not isinstance(rate_annual, Decimal) or not rate_annual.is_finite() or rate_annual < 0:
        problems.add("DEFAULT_INTEREST_INVALID", f"the default-interest rate must be a "
                     f"non-negative Decimal such as Decimal(\"0.146\"), got {rate_annual!r}",
                     "rate_annual")
    problems.raise_if_any()
    exact = overdue_minor * Fraction(rate_annual) * days_overdue(due_on, paid_on) \
        / DEFAULT_INTEREST_BASIS_DAYS
    return round_minor(exact, rounding)


__all__ = ["DEFAULT_INTEREST_BASIS_DAYS", "days_overdue", "default_interest"]
