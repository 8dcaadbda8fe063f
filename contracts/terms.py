"""Pure functions over a contract's terms, used by loading, settlement and ``sib contract show``.

Amendments live here: what decides each fiscal year's payments, and the rule that an amendment
leaves the terms of earlier (possibly settled) years unchanged. The maxima per tranche, payer and
year and the authorisation table are computed in :mod:`contracts.liability` and re-exported
here, so callers read a contract's terms through this one module. The cross-field checks use
``contracts.liability`` directly: they must not import this module, which runs them.
"""

from __future__ import annotations

from contracts.checks import check_contract
from contracts.liability import (
    AuthorisationRow,
    Liability,
    authorisation_table,
    fixed_fees_by_payer_year,
    liability_by_payer_year,
    max_outcome_by_payer_year,
    max_outcome_by_tranche_payer,
    payer_total_liability,
    payer_weights,
    tax_on,
    tranche_maxima_in_year,
    tranche_weights,
)
from contracts.model import Amendment, Contract
from ledger.errors import Problem, SibError

__all__ = [
    "AuthorisationRow", "Liability", "apply_amendment", "authorisation_table",
    "fixed_fees_by_payer_year", "liability_by_payer_year", "max_outcome_by_payer_year",
    "max_outcome_by_tranche_payer", "payer_total_liability", "payer_weights", "tax_on",
    "terms_of_year", "tranche_maxima_in_year", "tranche_weights",
]


def terms_of_year(contract: Contract, fiscal_year: int) -> dict[str, object]:
    """Everything that decides what is paid for ``fiscal_year``, keyed by a readable path:
    the year's tranches, KPI targets, payer shares, cap, per-year authorisation limits and
    provider fees. Two versions agree on a year when these are equal."""
    terms: dict[str, object] = {}
    for tranche in contract.tranches_in(fiscal_year):
        terms[f"tranches.{tranche.id}"] = tranche.model_dump()
    for kpi in contract.kpis:
        terms[f"kpis.{kpi.id}.targets[{fiscal_year}]"] = kpi.targets.get(fiscal_year)
        for payer_id, targets in kpi.targets_by_payer.items():
            terms[f"kpis.{kpi.id}.targets_by_payer.{payer_id}[{fiscal_year}]"] = \
                targets.get(fiscal_year)
    try:
        terms[f"payer_shares[{fiscal_year}]"] = payer_weights(contract, fiscal_year)
    except SibError:
        terms[f"payer_shares[{fiscal_year}]"] = None
    terms[f"caps.per_fiscal_year[{fiscal_year}]"] = \
        contract.caps.per_fiscal_year_minor.get(fiscal_year)
    for payer in contract.payers:
        terms[f"payers.{payer.party}.authorisation.limits_by_year[{fiscal_year}]"] = \
            payer.authorisation.limits_by_year_minor.get(fiscal_year)
    for provider in contract.providers:
        terms[f"providers.{provider.party}.fixed_by_year[{fiscal_year}]"] = \
            provider.fixed_by_year_minor.get(fiscal_year)
    return {key: value for key, value in terms.items() if value is not None}


# Contract-wide terms that shape every period: an amendment changing them rewrites the past.
_FIXED_TERMS = ("currency", "fiscal_year_start_month", "fiscal_year_named_by",
                "first_fiscal_year", "rounding", "consumption_tax", "waterfall")


def apply_amendment(contract: Contract, new_contract: Contract, reason: str,
                    effective_from: int) -> tuple[Contract | None, list[Problem]]:
    """The amended contract (version + 1, history extended), or the problems that forbid it.

    An amendment may change anything from ``effective_from`` on (targets renegotiated, a
    cohort cancelled, early termination by ending the term sooner) but nothing that decides
    the payments of earlier fiscal years, which may already be settled: those years' terms
    must be identical in both versions.

    ``new_contract`` is either an edited copy of the current version (same version and
    history: the version is raised and the amendment recorded here), or already the next
    version whose history ends with this amendment.
    """
    problems = _amendment_frame(contract, new_contract, reason, effective_from)
    for year in range(contract.first_fiscal_year, effective_from):
        problems += _changed_terms(contract, new_contract, year)
    problems += [Problem("AMENDMENT_CHANGES_SETTLED_PERIOD",
                         f"'{name}' applies to every period, including those before "
                         f"FY{effective_from}: it cannot be amended", name)
                 for name in _FIXED_TERMS
                 if effective_from > contract.first_fiscal_year
                 and getattr(contract, name) != getattr(new_contract, name)]
    if problems:
        return None, problems
    version = contract.version + 1
    record = Amendment(version=version, effective_from=effective_from, reason=reason)
    history = contract.amendments + (record,)
    if new_contract.amendments != contract.amendments and (
            new_contract.amendments[:-1] != contract.amendments
            or new_contract.amendments[-1].effective_from != effective_from):
        return None, [Problem("AMENDMENT_HISTORY_REWRITTEN",
                              "the new version's amendment history must be the current history, "
                              f"optionally followed by this amendment (effective from "
                              f"FY{effective_from})", "amendments")]
    if new_contract.amendments != contract.amendments:
        history = new_contract.amendments
    amended = new_contract.model_copy(update={"version": version, "amendments": history})
    problems = check_contract(amended)
    return (None, problems) if problems else (amended, [])


def _amendment_frame(contract: Contract, new_contract: Contract, reason: str,
                     effective_from: int) -> list[Problem]:
    problems: list[Problem] = []
    if new_contract.id != contract.id:
        problems.append(Problem("AMENDMENT_OTHER_CONTRACT", f"the amendment is for "
                                f"'{new_contract.id}', not '{contract.id}'", "id"))
    if new_contract.version not in (contract.version, contract.version + 1):
        problems.append(Problem("AMENDMENT_VERSION_NOT_NEXT",
                                f"the amended contract must be version {contract.version + 1} "
                                f"(or an edited copy of version {contract.version}), not "
                                f"{new_contract.version}", "version"))
    if not reason.strip():
        problems.append(Problem("AMENDMENT_REASON_MISSING", "say why the contract is amended",
                                "reason"))
    if not contract.first_fiscal_year <= effective_from <= contract.last_fiscal_year:
        problems.append(Problem("AMENDMENT_OUTSIDE_TERM",
                                f"FY{effective_from} is outside the contract term FY"
                                f"{contract.first_fiscal_year}–FY{contract.last_fiscal_year}",
                                "effective_from"))
    elif new_contract.last_fiscal_year < effective_from - 1:
        problems.append(Problem("AMENDMENT_CHANGES_SETTLED_PERIOD",
                                f"the amended term ends in FY{new_contract.last_fiscal_year}, "
                                f"cutting off years before FY{effective_from}",
                                "last_fiscal_year"))
    return problems


def _changed_terms(contract: Contract, new_contract: Contract, year: int) -> list[Problem]:
    before, after = terms_of_year(contract, year), terms_of_year(new_contract, year)
    return [Problem("AMENDMENT_CHANGES_SETTLED_PERIOD",
                    f"the FY{year} term '{key}' differs from the current version; periods "
                    f"before the amendment keep the terms they were settled under", key)
            for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
