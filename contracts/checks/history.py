"""Checks of the contract's frame: its term, its waterfall order and its amendment history."""

from __future__ import annotations

from contracts.checks.base import Known, outside_term, problem
from contracts.model import Contract
from ledger.errors import Problem


def check_term(contract: Contract, known: Known) -> list[Problem]:
    """TERM_REVERSED: the last fiscal year before the first."""
    if contract.first_fiscal_year <= contract.last_fiscal_year:
        return []
    return [problem("TERM_REVERSED", f"the contract ends in FY{contract.last_fiscal_year}, "
                    f"before it starts in FY{contract.first_fiscal_year}", "last_fiscal_year")]


def check_waterfall(contract: Contract, known: Known) -> list[Problem]:
    """WATERFALL_STEP_REPEATED: each step appears once in the order of payment."""
    seen: set[str] = set()
    problems: list[Problem] = []
    for k, step in enumerate(contract.waterfall):
        if step in seen:
            problems.append(problem("WATERFALL_STEP_REPEATED",
                                    f"'{step}' appears twice in the waterfall", f"waterfall[{k}]"))
        seen.add(step)
    return problems


def check_amendments(contract: Contract, known: Known) -> list[Problem]:
    """AMENDMENT_VERSIONS_NOT_INCREASING, AMENDMENT_VERSION_MISMATCH (the contract version is
    1 + the number of amendments, the last one's version), YEAR_OUTSIDE_TERM (except the year
    after the term, where an early termination takes effect)."""
    problems: list[Problem] = []
    expected = 2
    for k, amendment in enumerate(contract.amendments):
        if amendment.version != expected:
            problems.append(problem("AMENDMENT_VERSIONS_NOT_INCREASING",
                                    f"amendment {k + 1} should create version {expected}, "
                                    f"not {amendment.version}", f"amendments[{k}].version"))
        expected = amendment.version + 1
        if amendment.effective_from != contract.last_fiscal_year + 1:  # early termination
            problems += outside_term(contract, amendment.effective_from,
                                     f"amendments[{k}].effective_from", f"amendment {k + 1}")
    latest = contract.amendments[-1].version if contract.amendments else 1
    if "amendments" not in known.pruned and contract.version != latest:
        problems.append(problem("AMENDMENT_VERSION_MISMATCH",
                                f"the contract says version {contract.version}, but its "
                                f"amendment history ends at version {latest}", "version"))
    return problems
