"""Cross-field checks of a contract: the relationships a single field cannot check.

Each check is a pure function ``(contract, known) -> list[Problem]`` over a contract whose
fields are individually valid; together they report every problem at once. ``known`` carries
the ids written in the document, including those of items dropped because their own fields
were invalid, so that one bad party does not also produce an "unknown party" for every
reference to it; aggregate checks (shares summing to 100 %, authorisations) skip sections
from which items were dropped, as their sums would be wrong.

Field paths use the contract's own indexes (``tranches[3].rule.floor``); problems carry no
source, which :mod:`contracts.validate` adds.
"""

from __future__ import annotations

from collections.abc import Callable

from contracts.checks.base import Known
from contracts.checks.funding import check_instruments, check_providers, check_residual
from contracts.checks.history import check_amendments, check_term, check_waterfall
from contracts.checks.payments import (
    check_authorisations,
    check_caps,
    check_kpis,
    check_lead_payer_view,
    check_liabilities,
    check_payer_shares,
    check_tax,
    check_tranches,
)
from contracts.checks.references import (
    check_duplicate_ids,
    check_invoice_numbers,
    check_references,
    check_roles,
)
from contracts.model import Contract
from ledger.errors import Problem

__all__ = ["Known", "check_contract", "run_checks"]

Check = Callable[[Contract, Known], list[Problem]]

STRUCTURAL_CHECKS: tuple[Check, ...] = (
    check_term, check_duplicate_ids, check_references, check_roles, check_invoice_numbers,
    check_payer_shares, check_lead_payer_view, check_authorisations, check_kpis,
    check_tranches, check_caps, check_instruments, check_providers, check_waterfall,
    check_amendments, check_tax, check_residual,
)

# Problems after which the maxima per payer cannot be computed meaningfully.
_BLOCKING_LIABILITY = frozenset({
    "TERM_REVERSED", "SHARES_MISSING", "SHARES_PAYER_MISSING", "SHARES_NOT_100",
    "SHARES_YEAR_MISSING", "SHARES_ZERO", "UNKNOWN_PAYER", "DUPLICATE_ID",
})


def run_checks(contract: Contract, known: Known) -> list[Problem]:
    """Every cross-field problem of ``contract``; the authorisation check runs last, and only
    when shares and payers are sound enough to compute each payer's maximum."""
    problems: list[Problem] = []
    for check in STRUCTURAL_CHECKS:
        problems.extend(check(contract, known))
    if not any(p.code in _BLOCKING_LIABILITY for p in problems):
        problems.extend(check_liabilities(contract, known))
    return problems


def check_contract(contract: Contract) -> list[Problem]:
    """Cross-field problems of a contract built in code (every id it references is its own)."""
    return run_checks(contract, Known.of(contract))
