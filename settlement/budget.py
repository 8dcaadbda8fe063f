"""Which budget year a payment belongs to, and when a year's outcomes fall due: one function
for every document (pure: the contract's terms and dates in, years and dates out).

A payment belongs to the budget year of its obligation (支出負担行為), not to the fiscal year
of its cash date: an FY-N obligation paid on 20 May N+1, inside the closing period
(出納整理期間), is an FY-N payment. Whether FY-N's results are an FY-N obligation or an FY-N+1
one is a term of the contract (:class:`contracts.model.PaymentTerms`). The payment notice's
budget table, its "paid to date", the settlement pack, ``sib contract show`` and the year-end
report all ask here.
"""

from __future__ import annotations

import re
from datetime import date

from contracts.liability import authorisation_table
from contracts.model import Contract, PaymentTerms
from ledger.calendar import add_months, previous_business_day

_YEAR_REFERENCE = re.compile(r"FY\s?(\d{4})\b", re.IGNORECASE)


def terms_of(contract: Contract) -> PaymentTerms:
    """The contract's payment terms; without them, the Japanese local-government conventions
    for a yen contract and no closing period for any other."""
    if contract.payment_terms is not None:
        return contract.payment_terms
    if contract.currency == "JPY" and contract.fiscal_year_start_month == 4:
        return PaymentTerms()
    return PaymentTerms(closing_period_months=0)


def budget_year(contract: Contract, obligation_year: int) -> int:
    """The budget year that pays the outcomes of ``obligation_year`` (the year evaluated)."""
    return obligation_year + (1 if terms_of(contract).budget_year == "following_year" else 0)


def results_year(contract: Contract, budget_fiscal_year: int) -> int:
    """The year whose results the budget of ``budget_fiscal_year`` pays (the inverse)."""
    return budget_fiscal_year - (1 if terms_of(contract).budget_year == "following_year" else 0)


def closing_period_end(contract: Contract, fiscal_year: int) -> date:
    """The last day on which obligations of ``fiscal_year`` may still be paid: the year's end,
    or the end of its closing period."""
    end = contract.fiscal_year_bounds(fiscal_year)[1]
    months = terms_of(contract).closing_period_months
    return _month_end(add_months(end, months)) if months else end


def obligation_year_of(contract: Contract, paid_on: date, reference: str = "") -> int:
    """The results year a payment settles: the year a reference such as ``FY2021`` names, or
    else the year its date falls in — a date inside a closing period belonging to the year
    just ended."""
    named = _YEAR_REFERENCE.search(reference or "")
    if named:
        return int(named.group(1))
    year = contract.fiscal_year_of(paid_on)
    if paid_on <= closing_period_end(contract, year - 1):
        year -= 1
    return year


def due_on(contract: Contract, fiscal_year: int) -> date:
    """When the payment for ``fiscal_year``'s results falls due: the last day of the month
    the terms name after the year's end, moved back to a business day."""
    end = contract.fiscal_year_bounds(fiscal_year)[1]
    return previous_business_day(_month_end(add_months(end, terms_of(contract)
                                                       .due_months_after_year_end)))


def _month_end(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def planned_by_budget_year(contract: Contract, payer: str) -> dict[int, tuple[int, int | None]]:
    """Per budget year, the most that year's budget may have to pay the payer's share of the
    results it pays (maximum liability), and the council's limit for that year where it set
    one: the rows of the 債務負担行為 table (調書)."""
    out: dict[int, tuple[int, int | None]] = {}
    for row in authorisation_table(contract):
        if row.payer != payer or row.fiscal_year is None:
            continue
        year = budget_year(contract, row.fiscal_year)
        planned, limit = out.get(year, (0, None))
        if row.authorised_minor is not None:
            limit = (limit or 0) + row.authorised_minor
        out[year] = (planned + row.max_liability_minor, limit)
    return out
