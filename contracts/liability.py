"""What each payer can be made to pay under a contract: the split of every tranche's maximum
between payers, the year's cap, fixed fees paid directly, consumption tax, and the authorisation
table that holds these maxima against each council's budget authorisation.

The maximum outcome payment of a year is split between payers here and only here, through
:func:`ledger.rounding.allocate` with the contract's remainder policy, so that the pending
entries the ledger records per tranche and payer add up exactly to each payer's maximum per
year, and that maximum is what is checked against the payer's budget authorisation.

Pure: used by the cross-field checks (:mod:`contracts.checks` refuses a contract whose maxima
exceed an authorisation), by loading and by settlement; it imports no check, so the checks can
use it while :mod:`contracts.terms` runs the checks on an amended contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from contracts.model import (
    Contract,
    FixedShares,
    ProportionalShares,
    ScheduledShares,
    Tranche,
)
from ledger.errors import SibError
from ledger.rounding import RemainderPolicy, RoundingMode, allocate, round_minor


def payer_weights(contract: Contract, fiscal_year: int) -> dict[str, Decimal]:
    """Each payer's weight when a payment for ``fiscal_year`` is split, in payer order.

    Weights are percentages (fixed or scheduled shares) or quantities (proportional shares);
    :func:`allocate` normalises them. A single payer without ``payer_shares`` weighs 100.
    Raises :class:`SibError` if the contract gives no share for a payer in that year
    (validation reports that beforehand).
    """
    shares, payer_ids = contract.payer_shares, contract.payer_ids
    if shares is None:
        if len(payer_ids) == 1:
            return {payer_ids[0]: Decimal(100)}
        raise SibError("the contract has several payers but no payer_shares",
                       "SHARES_MISSING", "payer_shares")
    if isinstance(shares, FixedShares):
        table: dict[str, Decimal] = dict(shares.percent)
    elif isinstance(shares, ProportionalShares):
        quantities = shares.quantities_by_year.get(fiscal_year, shares.quantities)
        table = {payer: Decimal(q) for payer, q in quantities.items()}
    else:
        assert isinstance(shares, ScheduledShares)
        table = dict(shares.percent_by_year.get(fiscal_year, {}))
    missing = [p for p in payer_ids if p not in table]
    if missing:
        raise SibError(f"no share given for {', '.join(missing)} in FY{fiscal_year}",
                       "SHARES_PAYER_MISSING", "payer_shares")
    return {payer: table[payer] for payer in payer_ids}


def tranche_weights(contract: Contract, tranche: Tranche) -> dict[str, Decimal]:
    """Payer weights for one tranche: the year's weights, restricted to the tranche's payers
    when it names some. A tranche paid by one named payer is paid by it in full."""
    weights = payer_weights(contract, tranche.fiscal_year)
    if not tranche.payers:
        return weights
    if len(tranche.payers) == 1:
        return {tranche.payers[0]: Decimal(1)}
    restricted = {p: w for p, w in weights.items() if p in tranche.payers}
    if sum(restricted.values()) <= 0:
        raise SibError(f"tranche {tranche.id}: its payers have no share in "
                       f"FY{tranche.fiscal_year}", "TRANCHE_PAYERS_WITHOUT_SHARE",
                       "tranches")
    return restricted


def tranche_maxima_in_year(contract: Contract, fiscal_year: int) -> dict[str, int]:
    """Tranche id → the most it can pay, once the year's cap is applied.

    Without a binding cap this is each tranche's own maximum. When the year's maxima add up
    to more than the cap, the cap is split across the tranches in proportion to their maxima
    (contract remainder policy; largest remainder if the policy would lift a tranche above its
    own maximum), so the year's tranche maxima add up to the cap exactly.
    """
    tranches = contract.tranches_in(fiscal_year)
    maxima = [t.max_amount_minor for t in tranches]
    cap = contract.caps.per_fiscal_year_minor.get(fiscal_year)
    if cap is None or sum(maxima) <= cap:
        return {t.id: m for t, m in zip(tranches, maxima)}
    parts = allocate(cap, maxima, contract.rounding.remainder_policy)
    if any(part > maximum for part, maximum in zip(parts, maxima)):
        parts = allocate(cap, maxima, RemainderPolicy.LARGEST_REMAINDER)
    return {t.id: part for t, part in zip(tranches, parts)}


def max_outcome_by_tranche_payer(contract: Contract) -> dict[tuple[str, str], int]:
    """(tranche id, payer id) → that payer's part of the tranche's (capped) maximum.

    Each tranche's maximum is split by :func:`tranche_weights` with the contract's remainder
    policy, so the parts of a tranche add up to its maximum exactly. These are the amounts the
    ledger records as pending entries when the contract is loaded; zero parts are included.
    """
    result: dict[tuple[str, str], int] = {}
    for fiscal_year in contract.fiscal_years:
        maxima = tranche_maxima_in_year(contract, fiscal_year)
        for tranche in contract.tranches_in(fiscal_year):
            weights = tranche_weights(contract, tranche)
            parts = allocate(maxima[tranche.id], list(weights.values()),
                             contract.rounding.remainder_policy)
            for payer, part in zip(weights, parts):
                result[(tranche.id, payer)] = part
    return result


def max_outcome_by_payer_year(contract: Contract) -> dict[tuple[str, int], int]:
    """(payer id, fiscal year) → the most the payer can owe in outcome payments that year.

    Defined as the sum of the payer's parts in :func:`max_outcome_by_tranche_payer`, so the
    pending entries per tranche add up to it exactly; every payer and year of the term has a
    key (0 when nothing is payable).
    """
    result = {(payer, year): 0 for payer in contract.payer_ids for year in contract.fiscal_years}
    by_id = {t.id: t for t in contract.tranches}
    for (tranche_id, payer), part in max_outcome_by_tranche_payer(contract).items():
        key = (payer, by_id[tranche_id].fiscal_year)
        result[key] = result.get(key, 0) + part
    return result


def fixed_fees_by_payer_year(contract: Contract) -> dict[tuple[str, int], list[int]]:
    """(payer id, fiscal year) → fixed provider fees the payer pays directly, one per provider
    (each is invoiced separately, which matters for tax)."""
    payers = set(contract.payer_ids)
    result: dict[tuple[str, int], list[int]] = {}
    for provider in contract.providers:
        if provider.paid_by not in payers:
            continue
        for year, fee in provider.fixed_by_year_minor.items():
            result.setdefault((provider.paid_by, year), []).append(fee)
    return result


def tax_on(contract: Contract, amount_minor: int, applies_to: str) -> int:
    """Consumption tax to add to one invoice of ``amount_minor`` of kind ``applies_to``
    (``outcome_payments`` or ``service_fees``): zero when the contract has no tax, the tax does
    not apply to that kind, or the amounts already include it."""
    tax = contract.consumption_tax
    if tax is None or tax.amounts_include_tax or applies_to not in tax.applies_to:
        return 0
    return round_minor(Decimal(amount_minor) * tax.rate, contract.rounding.mode)


def tax_inside(contract: Contract, amount_minor: int, applies_to: str) -> int:
    """Consumption tax contained in one invoice of ``amount_minor`` of kind ``applies_to``
    when the contract's amounts include it (税込): amount × rate / (1 + rate), computed once
    per invoice and truncated, as an invoice states it (10 % → × 10/110). Zero when the
    contract has no tax, the tax does not apply to that kind, or it is added on top."""
    tax = contract.consumption_tax
    if tax is None or not tax.amounts_include_tax or applies_to not in tax.applies_to:
        return 0
    return round_minor(Fraction(amount_minor) * Fraction(tax.rate) / (1 + Fraction(tax.rate)),
                       RoundingMode.TRUNCATE)


@dataclass(frozen=True)
class Liability:
    """A payer's maximum liability for one fiscal year (or the whole period).

    Attributes:
        outcome_minor: maximum outcome payments.
        fixed_fees_minor: fixed fees the payer pays providers directly.
        tax_minor: consumption tax on top, when amounts exclude it.
    """

    outcome_minor: int
    fixed_fees_minor: int
    tax_minor: int

    @property
    def total_minor(self) -> int:
        return self.outcome_minor + self.fixed_fees_minor + self.tax_minor


def liability_by_payer_year(contract: Contract) -> dict[tuple[str, int], Liability]:
    """(payer, fiscal year) → maximum liability: its outcome maximum, the fixed fees it pays
    directly, and tax where amounts exclude it. Keys cover the term and any fee years."""
    outcomes = max_outcome_by_payer_year(contract)
    fees = fixed_fees_by_payer_year(contract)
    result: dict[tuple[str, int], Liability] = {}
    for key in sorted(set(outcomes) | set(fees), key=lambda k: (contract.payer_ids.index(k[0]),
                                                                k[1])):
        outcome, fee_list = outcomes.get(key, 0), fees.get(key, [])
        tax = tax_on(contract, outcome, "outcome_payments") + sum(
            tax_on(contract, fee, "service_fees") for fee in fee_list)
        result[key] = Liability(outcome, sum(fee_list), tax)
    return result


def payer_total_liability(contract: Contract, payer: str,
                          yearly: dict[tuple[str, int], Liability]) -> Liability:
    """The payer's maximum liability over the whole contract.

    The sum of its yearly maxima, except that with a contract-wide cap its outcome part is at
    most its largest share of that cap in any year (a bound that holds whatever the mix of
    years in which the cap is reached).
    """
    mine = [v for (p, _), v in yearly.items() if p == payer]
    outcome = sum(v.outcome_minor for v in mine)
    tax = sum(v.tax_minor for v in mine)
    cap = contract.caps.contract_total_minor
    if cap is not None:
        position = contract.payer_ids.index(payer)
        share_of_cap = max(
            allocate(cap, list(payer_weights(contract, y).values()),
                     contract.rounding.remainder_policy)[position]
            for y in contract.fiscal_years)
        if share_of_cap < outcome:
            tax += tax_on(contract, share_of_cap, "outcome_payments") - sum(
                tax_on(contract, v.outcome_minor, "outcome_payments") for v in mine)
            outcome = share_of_cap
    return Liability(outcome, sum(v.fixed_fees_minor for v in mine), tax)


@dataclass(frozen=True)
class AuthorisationRow:
    """One line of the authorisation table (the 調書 view) for ``sib contract show``.

    Attributes:
        payer: payer party id.
        fiscal_year: the year, or None for the row totalling the whole authorisation period.
        max_liability_minor: the most the payer can owe (outcomes + direct fees + tax).
        authorised_minor: the council's limit for that year (None if it set only a total),
            or the total limit on the total row.
        headroom_minor: authorised − maximum liability (None when no limit applies); a
            negative headroom is what validation refuses.
        liability: the breakdown of the maximum liability.
    """

    payer: str
    fiscal_year: int | None
    max_liability_minor: int
    authorised_minor: int | None
    headroom_minor: int | None
    liability: Liability


def authorisation_table(contract: Contract) -> list[AuthorisationRow]:
    """Per payer, one row per fiscal year of the term and a total row, in payer order."""
    yearly = liability_by_payer_year(contract)
    rows: list[AuthorisationRow] = []
    for payer in contract.payers:
        authorisation = payer.authorisation
        for (payer_id, year), liability in yearly.items():
            if payer_id != payer.party:
                continue
            limit = authorisation.limits_by_year_minor.get(year)
            rows.append(_row(payer.party, year, liability, limit))
        total = payer_total_liability(contract, payer.party, yearly)
        rows.append(_row(payer.party, None, total, authorisation.max_amount_minor))
    return rows


def _row(payer: str, year: int | None, liability: Liability,
         limit: int | None) -> AuthorisationRow:
    headroom = None if limit is None else limit - liability.total_minor
    return AuthorisationRow(payer, year, liability.total_minor, limit, headroom, liability)
