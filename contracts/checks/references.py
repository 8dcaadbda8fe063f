"""Identity checks: duplicate ids, references to parties, payers, KPIs, cohorts and
instruments that the contract does not declare, parties referenced in a role they do not hold,
and the check digit of companies' invoice registration numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contracts.checks.base import ID_SECTIONS, Known, name_of, problem
from contracts.instruments import Contribution, Donation, Grant, Guarantee, Loan, UnitClass
from contracts.model import Contract
from contracts.values import corporate_number_check_digit
from ledger.errors import Problem

_LABELS = {"parties": "party", "payers": "payer", "providers": "provider", "cohorts": "cohort",
           "instruments": "instrument", "kpis": "KPI", "tranches": "tranche"}


def check_duplicate_ids(contract: Contract, known: Known) -> list[Problem]:
    """DUPLICATE_ID: an id used twice in one section (the second use is reported)."""
    problems: list[Problem] = []
    for section, key in ID_SECTIONS.items():
        first_at: dict[str, int] = {}
        for index, item in enumerate(getattr(contract, section)):
            item_id = getattr(item, key)
            if item_id in first_at:
                problems.append(problem(
                    "DUPLICATE_ID",
                    f"{_LABELS[section]} '{item_id}' appears twice (first at "
                    f"{section}[{first_at[item_id]}]); each must be listed once",
                    f"{section}[{index}].{key}"))
            first_at.setdefault(item_id, index)
    return problems


def _references(contract: Contract) -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
    """Every reference: (field path, id, section it must exist in, roles it needs)."""
    for i, payer in enumerate(contract.payers):
        yield f"payers[{i}].party", payer.party, "parties", ("outcome_payer",)
    for i, provider in enumerate(contract.providers):
        at = f"providers[{i}]"
        yield f"{at}.party", provider.party, "parties", ("service_provider", "sub_provider")
        yield f"{at}.paid_by", provider.paid_by, "parties", ()
        if provider.parent is not None:
            yield f"{at}.parent", provider.parent, "parties", ("service_provider",)
        for k, payer_id in enumerate(provider.outcome_share_of_payers):
            yield f"{at}.outcome_share_of_payers[{k}]", payer_id, "payers", ()
        for k, cohort in enumerate(provider.cohorts):
            yield f"{at}.cohorts[{k}]", cohort, "cohorts", ()
    for i, kpi in enumerate(contract.kpis):
        if kpi.evaluator is not None:
            yield f"kpis[{i}].evaluator", kpi.evaluator, "parties", ("evaluator",)
        if kpi.cohort is not None:
            yield f"kpis[{i}].cohort", kpi.cohort, "cohorts", ()
        for payer_id in kpi.targets_by_payer:
            yield f"kpis[{i}].targets_by_payer.{payer_id}", payer_id, "payers", ()
    for i, tranche in enumerate(contract.tranches):
        at = f"tranches[{i}]"
        if tranche.kpi is not None:
            yield f"{at}.kpi", tranche.kpi, "kpis", ()
        if tranche.conditions is not None:
            mode = tranche.conditions.mode
            for k, condition in enumerate(tranche.conditions.items):
                yield f"{at}.conditions.{mode}[{k}].kpi", condition.kpi, "kpis", ()
        for k, payer_id in enumerate(tranche.payers):
            yield f"{at}.payers[{k}]", payer_id, "payers", ()
        if tranche.payee is not None:
            yield f"{at}.payee", tranche.payee, "parties", ()
        if tranche.cohort is not None:
            yield f"{at}.cohort", tranche.cohort, "cohorts", ()
    for i, instrument in enumerate(contract.instruments):
        yield from _instrument_references(f"instruments[{i}]", instrument)


def _instrument_references(at: str, instrument: Any
                           ) -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
    if isinstance(instrument, Grant):
        yield f"{at}.grantor", instrument.grantor, "parties", ("grantor",)
        for k, payer_id in enumerate(instrument.subsidises):
            yield f"{at}.subsidises[{k}]", payer_id, "payers", ()
    elif isinstance(instrument, Loan):
        yield f"{at}.lender", instrument.lender, "parties", ("lender",)
        yield f"{at}.borrower", instrument.borrower, "parties", ()
    elif isinstance(instrument, UnitClass):
        yield f"{at}.issuer", instrument.issuer, "parties", ()
        for k, investor in enumerate(instrument.investors):
            yield f"{at}.investors[{k}]", investor, "parties", ("investor",)
    elif isinstance(instrument, Guarantee):
        yield f"{at}.guarantor", instrument.guarantor, "parties", ("guarantor",)
        yield f"{at}.covers", instrument.covers, "instruments", ()
    elif isinstance(instrument, Contribution):
        yield f"{at}.contributor", instrument.contributor, "parties", ("contributor",)
    elif isinstance(instrument, Donation):
        for k, payer_id in enumerate(instrument.via):
            yield f"{at}.via[{k}]", payer_id, "payers", ()


def check_references(contract: Contract, known: Known) -> list[Problem]:
    """UNKNOWN_PARTY / UNKNOWN_PAYER / UNKNOWN_KPI / UNKNOWN_COHORT / UNKNOWN_INSTRUMENT: a
    reference to an id the document does not declare."""
    problems: list[Problem] = []
    for path, item_id, section, _ in _references(contract):
        if known.has(section, item_id):
            continue
        if section == "payers" and known.has("parties", item_id):
            message = (f"{name_of(contract, item_id)} is a party but not one of the payers; "
                       f"only payers listed under payers can be named here")
        else:
            message = (f"{_LABELS[section]} '{item_id}' is not declared under {section}; "
                       f"check the spelling or add it")
        problems.append(problem(f"UNKNOWN_{_LABELS[section].upper()}", message, path))
    for i, contribution in enumerate(contract.instruments):
        if isinstance(contribution, Contribution) and contribution.towards is not None:
            towards = contribution.towards
            if not (known.has("payers", towards) or known.has("cohorts", towards)):
                problems.append(problem(
                    "UNKNOWN_PAYER",
                    f"'{towards}' is neither a payer nor a cohort of this contract",
                    f"instruments[{i}].towards"))
    return problems


def check_roles(contract: Contract, known: Known) -> list[Problem]:
    """PARTY_ROLE_MISSING: a party referenced in a capacity its roles do not include;
    PAYER_TERMS_MISSING: a party with role outcome_payer that has no payer entry."""
    roles = {party.id: party.roles for party in contract.parties}
    problems: list[Problem] = []
    for path, item_id, section, needed in _references(contract):
        if section != "parties" or not needed or item_id not in roles:
            continue
        if not set(needed) & set(roles[item_id]):
            problems.append(problem(
                "PARTY_ROLE_MISSING",
                f"{name_of(contract, item_id)} is referenced as {' or '.join(needed)} but its "
                f"roles are {', '.join(roles[item_id])}; add the role or correct the reference",
                path))
    for i, party in enumerate(contract.parties):
        if "outcome_payer" in party.roles and not known.has("payers", party.id):
            problems.append(problem(
                "PAYER_TERMS_MISSING",
                f"{name_of(contract, party.id)} has the role outcome_payer but no entry under "
                f"payers (with its budget authorisation)", f"parties[{i}].roles"))
    return problems


def check_invoice_numbers(contract: Contract, known: Known) -> list[Problem]:
    """INVOICE_NUMBER_CHECK_DIGIT: a company's registration number is T + its corporate number
    (法人番号), whose first digit is a check digit; individuals' numbers are not checked."""
    problems: list[Problem] = []
    for i, party in enumerate(contract.parties):
        number = party.invoice_registration_number
        if number is None or party.kind in ("individual", "other"):
            continue
        expected = corporate_number_check_digit(number[2:])
        if int(number[1]) != expected:
            problems.append(problem(
                "INVOICE_NUMBER_CHECK_DIGIT",
                f"{number} is not a valid registration number for {name_of(contract, party.id)}:"
                f" its check digit should be {expected}; a digit is probably mistyped",
                f"parties[{i}].invoice_registration_number"))
    return problems
