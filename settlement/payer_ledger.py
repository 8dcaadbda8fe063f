"""A payer's obligations of a fiscal year as the ledger records them: one computation for the
payment notice, the settlement pack and the year-end report.

Every settlement run posts, for each payer, the outcome earned per tranche (SPV book:
receivable / outcome income), the consumption tax on it (receivable / tax payable), the cost
and the grant (payers' book: outcome cost / payable, grant receivable / grant income), each
entry linked to the fiscal year, the payer and the tranche; a correction reverses and re-posts
with the same links. So the year's figures are the net of the postings of the entries linked to
that year, whenever they were posted. :func:`payer_year` is pure (postings in, figures out);
:func:`read_payer_years` reads the postings once for every payer.

What a payer owes a provider directly (tranches whose payee is the provider) is not in the SPV
book at all: :func:`provider_year` reads it from the payers' book, where each earned amount is
the payer's outcome cost against ``payable:<payer>:<provider>``, with the tax added on top of
the provider's invoice as one more entry. That payable is the provider's receivable
(:func:`provider_receivable`). ``PayerYear.due_minor`` is the payer's whole cost (the SPV's
and the providers'); ``receivable_minor`` only what it owes the SPV.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlmodel import Session

from contracts.chart import Code, Kind, payers_book_code, provider_payees
from contracts.liability import tax_inside
from contracts.model import Contract
from ledger import read
from settlement.budget import budget_year, obligation_year_of

# The entries that book a settlement's consumption tax (and their corrections' reversals).
_TAX_KINDS = ("outcome_tax", "outcome_tax_correction")


@dataclass(frozen=True)
class PayerYear:
    """What a payer owes for one fiscal year's outcomes, in minor units.

    Attributes:
        earned_by_tranche: tranche id → outcome earned (net of corrections), as the contract
            states its amounts (including the tax where they include it).
        earned_minor: their sum.
        tax_minor: consumption tax (the SPV's tax payable for the payer and year): added on
            top, or (``tax_included``) the part of ``earned_minor`` that is tax.
        due_minor: the payer's cost in its own books (what it must pay).
        grant_minor: the part of the cost the grant covers (grant recognised).
        tax_included: the tax was taken out of the earned amount (tax-inclusive amounts).
    """

    payer: str
    fiscal_year: int
    earned_by_tranche: Mapping[str, int] = field(default_factory=dict)
    earned_minor: int = 0
    tax_minor: int = 0
    due_minor: int = 0
    grant_minor: int = 0
    tax_included: bool = False

    @property
    def receivable_minor(self) -> int:
        """What the SPV is owed for the year: earned, plus the tax when added on top."""
        return self.earned_minor + (0 if self.tax_included else self.tax_minor)


def payer_year(payer: str, fiscal_year: int, spv: Iterable[read.PostingView],
               payers: Iterable[read.PostingView]) -> PayerYear:
    """The payer's figures from the SPV book's and the payers' book's postings (any accounts,
    any years: those of other payers and years are left out here)."""
    mine = [p for p in spv if p.links.get("fiscal_year") == fiscal_year]
    by_tranche: dict[str, int] = {}
    earned = tax = 0
    included = False
    for p in mine:
        if p.account == Code.outcome_income(payer) and p.kind in _TAX_KINDS:
            included = True  # tax moved out of the income: it was inside the amounts
        elif p.account == Code.outcome_income(payer):
            amount = p.credit_minor - p.debit_minor
            earned += amount
            tranche = str(p.links.get("tranche", ""))
            by_tranche[tranche] = by_tranche.get(tranche, 0) + amount
        elif p.account == Code.TAX_PAYABLE and p.links.get("payer") == payer:
            tax += p.credit_minor - p.debit_minor
    due = grant = 0
    for p in payers:
        if p.links.get("fiscal_year") != fiscal_year:
            continue
        if p.account == Code.outcome_cost(payer):
            due += p.debit_minor - p.credit_minor
        elif p.account == Code.grant_income(payer):
            grant += p.credit_minor - p.debit_minor
    return PayerYear(payer, fiscal_year, MappingProxyType(by_tranche), earned, tax, due, grant,
                     included)


@dataclass(frozen=True)
class ProviderYear:
    """What a payer owes a provider directly for one fiscal year's outcomes (the provider's
    invoice to it), in minor units.

    Attributes:
        earned_by_tranche: tranche id → outcome earned (net of corrections), as the contract
            states its amounts.
        earned_minor: their sum.
        tax_minor: the invoice's consumption tax: added on top (posted), or (``tax_included``)
            the part of ``earned_minor`` that is tax, computed once on the invoice.
        due_minor: what the payer owes the provider for the year (the payable's credits).
    """

    payer: str
    provider: str
    fiscal_year: int
    earned_by_tranche: Mapping[str, int] = field(default_factory=dict)
    earned_minor: int = 0
    tax_minor: int = 0
    due_minor: int = 0
    tax_included: bool = False


_PROVIDER_TAX_KINDS = (Kind.PROVIDER_OUTCOME_TAX, f"{Kind.PROVIDER_OUTCOME_TAX}_correction")


def provider_year(contract: Contract, payer: str, provider: str, fiscal_year: int,
                  postings: Iterable[read.PostingView]) -> ProviderYear:
    """The provider's invoice to the payer for the year, from the postings to the payable
    (any payables, any years: the others are left out here)."""
    account = Code.payable_to(payer, provider)
    by_tranche: dict[str, int] = {}
    tax = due = 0
    for p in postings:
        if p.account != account or p.links.get("fiscal_year") != fiscal_year:
            continue
        amount = p.credit_minor - p.debit_minor
        if p.kind == Kind.OUTCOME_PAYMENT:
            continue  # paid, not owed: the payment does not change what the year's invoice was
        due += amount
        if p.kind in _PROVIDER_TAX_KINDS:
            tax += amount
        else:
            tranche = str(p.links.get("tranche", ""))
            by_tranche[tranche] = by_tranche.get(tranche, 0) + amount
    earned = sum(by_tranche.values())
    included = contract.consumption_tax is not None and \
        contract.consumption_tax.amounts_include_tax
    if included:
        tax = tax_inside(contract, earned, "outcome_payments")
    return ProviderYear(payer, provider, fiscal_year, MappingProxyType(by_tranche), earned, tax,
                        due, included)


def read_provider_years(session: Session, contract: Contract, payer: str,
                        fiscal_year: int) -> dict[str, ProviderYear]:
    """:func:`provider_year` for each provider some tranche routes ``payer``'s payment to."""
    providers = [prov for pay, prov in provider_payees(contract) if pay == payer]
    if not providers:
        return {}
    postings = read.postings(session, payers_book_code(contract.id), accounts=[
        Code.payable_to(payer, prov) for prov in providers])
    return {prov: provider_year(contract, payer, prov, fiscal_year, postings)
            for prov in providers}


def provider_receivable(session: Session, contract: Contract,
                        provider: str) -> dict[tuple[str, int], int]:
    """The provider's receivable: (payer, results year) → what that payer still owes it
    (owed less paid), from the payers' payables to it."""
    out: dict[tuple[str, int], int] = {}
    for payer, prov in provider_payees(contract):
        if prov != provider:
            continue
        for p in read.postings(session, payers_book_code(contract.id),
                               account=Code.payable_to(payer, provider)):
            year = p.links.get("fiscal_year", p.links.get("obligation_year"))
            if isinstance(year, int):
                out[(payer, year)] = out.get((payer, year), 0) + p.credit_minor - p.debit_minor
    return out


def read_payer_years(session: Session, contract_id: str, payer_ids: Iterable[str],
                     fiscal_year: int) -> dict[str, PayerYear]:
    """:func:`payer_year` for each payer, from two reads of the books."""
    ids = list(payer_ids)
    spv, payers = _payer_postings(session, contract_id, ids)
    return {p: payer_year(p, fiscal_year, spv, payers) for p in ids}


def read_payer_history(session: Session, contract_id: str, payer: str,
                       fiscal_years: Iterable[int]) -> dict[int, PayerYear]:
    """:func:`payer_year` of one payer for each of ``fiscal_years``, from the same two reads."""
    spv, payers = _payer_postings(session, contract_id, [payer])
    return {year: payer_year(payer, year, spv, payers) for year in fiscal_years}


def _payer_postings(session: Session, contract_id: str, ids: list[str]
                    ) -> tuple[list[read.PostingView], list[read.PostingView]]:
    """The postings a payer's year is computed from: the SPV book's (outcome income, tax
    payable) and the payers' book's (outcome cost, grant income)."""
    spv = read.postings(session, contract_id, accounts=[Code.TAX_PAYABLE] + [
        Code.outcome_income(p) for p in ids])
    payers = read.postings(session, payers_book_code(contract_id), accounts=[
        code for p in ids for code in (Code.outcome_cost(p), Code.grant_income(p))])
    return spv, payers


def payments_by_results_year(contract: Contract,
                             payments: Iterable[read.PostingView]) -> dict[int, int]:
    """What the payer paid per results year (the year whose outcomes each payment settles),
    from the debits of its payable by outcome payments. A payment recorded before payments
    carried their year is placed by its reference or its date (with the closing period)."""
    out: dict[int, int] = {}
    for p in payments:
        if p.kind != Kind.OUTCOME_PAYMENT or p.side != "D":
            continue
        year = p.links.get("obligation_year")
        if not isinstance(year, int):
            year = obligation_year_of(contract, p.effective_on, str(p.links.get("reference", "")))
        out[year] = out.get(year, 0) + p.amount_minor
    return out


def paid_by_budget_year(contract: Contract, by_results_year: Mapping[int, int]) -> dict[int, int]:
    """The same payments per budget year (the year whose budget paid them)."""
    out: dict[int, int] = {}
    for year, amount in by_results_year.items():
        budget = budget_year(contract, year)
        out[budget] = out.get(budget, 0) + amount
    return out


def read_payments_by_results_year(session: Session, contract: Contract,
                                  payer: str) -> dict[int, int]:
    """:func:`payments_by_results_year` of one payer, from its payables in the payers' book
    (to the SPV and to each provider it pays directly: all under its authorisation)."""
    accounts = [Code.payable(payer)] + [Code.payable_to(pay, prov)
                                        for pay, prov in provider_payees(contract)
                                        if pay == payer]
    return payments_by_results_year(contract, read.postings(
        session, payers_book_code(contract.id), accounts=accounts,
        kinds=[Kind.OUTCOME_PAYMENT]))
