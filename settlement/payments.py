"""Money moving: loan draws, payer payments, fixed fees, and the waterfall of outcome money.

Every function posts through the ledger with idempotency keys derived from what it does, so a
retried command posts nothing twice; the cash account cannot go below zero (a balance limit),
so nothing is ever paid out that the SPV does not hold. Services never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from contracts.chart import Code, Kind, payers_book_code, provider_payees
from contracts.instruments import Contribution, UnitClass
from contracts.model import Contract
from contracts.store import contract_from_row, get_contract, versions
from ledger import read
from ledger.entries import CREDIT, DEBIT, EntryDraft, credit, debit
from ledger.errors import Conflict, SibError
from ledger.money import amount_text, from_minor
from ledger.rounding import round_minor
from ledger.service import EntryRecord, get_book, post_entry
from settlement.budget import obligation_year_of
from settlement.class_returns import (
    ClassFacts,
    Measure,
    class_claims,
    residual_split,
    return_owed_by_rule,
    year_measures,
)
from settlement.debt_service import ServiceRun, accrue_to, read_state, service, sweep
from settlement.results import current_audited
from settlement.tables import ReceiptApplication, SettlementRun
from settlement.trace import Trace
from settlement.unit_returns import CapitalChange, RateSchedule, ReturnOwed
from settlement.waterfall import Claim, WaterfallResult, losses, run_waterfall


def _post(session: Session, book: str, key: str, kind: str, on: date, amount: int,
          debit_account: str, credit_account: str, description: str,
          links: dict[str, Any], currency: str) -> EntryRecord:
    money = from_minor(amount, currency)
    return post_entry(session, EntryDraft(book, key, kind, on,
                                          [debit(debit_account, money),
                                           credit(credit_account, money)],
                                          description, links))


def account_totals(session: Session, book_code: str, account_code: str,
                   kinds: tuple[str, ...] | None = None,
                   through_on: date | None = None) -> tuple[int, int]:
    """Posted (debits, credits) of one account, optionally only from entries of ``kinds``
    (the ledger's read model, :func:`ledger.read.totals`)."""
    found = read.totals(session, book_code, account_code, kinds=kinds, through_on=through_on)
    return found.debits_minor, found.credits_minor


# --------------------------------------------------------------------------- funding

def draw_loans(session: Session, contract_id: str, through_on: date) -> list[EntryRecord]:
    """Post every loan draw dated on or before ``through_on`` (each once)."""
    contract = get_contract(session, contract_id)
    entries = []
    for loan in contract.loans:
        for number, draw in enumerate(loan.draws, start=1):
            if draw.drawn_on > through_on:
                continue
            entries.append(_post(session, contract.id, f"{contract.id}:draw:{loan.id}:{number}",
                                 "loan_drawdown", draw.drawn_on, draw.amount_minor, "cash",
                                 f"loan:{loan.id}", f"Loan drawdown {number} — {loan.id}",
                                 {"contract": contract.id, "loan": loan.id, "draw": number},
                                 contract.currency))
    return entries


def receive_grant(session: Session, contract_id: str, payer: str, amount_minor: int,
                  on: date, reference: str) -> EntryRecord:
    """The national grant received by a payer (payers' book): its grant receivable is paid."""
    contract = get_contract(session, contract_id)
    contract.require_payer(payer)
    if amount_minor <= 0:
        raise SibError("a grant receipt must be positive", "AMOUNT_NOT_POSITIVE", "amount")
    book = payers_book_code(contract.id)
    debits, credits = account_totals(session, book, f"grant-receivable:{payer}")
    if amount_minor > debits - credits:
        cur = contract.currency
        raise SibError(f"{payer} has {amount_text(debits - credits, cur)} of grant "
                       f"receivable; {amount_text(amount_minor, cur)} is more",
                       "GRANT_EXCEEDS_RECEIVABLE", "amount")
    return _post(session, book, f"{contract.id}:grant-receipt:{payer}:{reference}",
                 "grant_receipt", on, amount_minor, f"bank:{payer}", f"grant-receivable:{payer}",
                 f"Grant received — {payer} ({reference})",
                 {"contract": contract.id, "payer": payer, "reference": reference},
                 contract.currency)


def record_payment(session: Session, contract_id: str, payer: str, amount_minor: int,
                   on: date, reference: str,
                   fiscal_year: int | None = None) -> tuple[EntryRecord, EntryRecord]:
    """A payer pays the SPV: its payable (payers' book) and the SPV's receivable are settled.
    More than the payer owes is refused. Both entries record the results year the payment
    settles (``obligation_year``: ``fiscal_year``, else the year the reference names, else
    the year of its date with the closing period; see :mod:`settlement.budget`), which decides
    the budget year it is paid from."""
    contract = get_contract(session, contract_id)
    contract.require_payer(payer)
    if amount_minor <= 0:
        raise SibError("a payment must be positive", "AMOUNT_NOT_POSITIVE", "amount")
    debits, credits = account_totals(session, contract.id, f"receivable:{payer}")
    if amount_minor > debits - credits:
        cur = contract.currency
        raise SibError(f"{payer} owes {amount_text(debits - credits, cur)}; a payment of "
                       f"{amount_text(amount_minor, cur)} is "
                       "more than is due", "PAYMENT_EXCEEDS_DUE", "amount")
    obligation = fiscal_year if fiscal_year is not None else \
        obligation_year_of(contract, on, reference)
    links = {"contract": contract.id, "payer": payer, "reference": reference,
             "obligation_year": obligation}
    paid = _post(session, payers_book_code(contract.id),
                 f"{contract.id}:payment:{payer}:{reference}", "outcome_payment", on,
                 amount_minor, f"payable:{payer}", f"bank:{payer}",
                 f"Outcome payment to the SPV — {payer} ({reference})", links, contract.currency)
    received = _post(session, contract.id, f"{contract.id}:receipt:{payer}:{reference}",
                     "outcome_receipt", on, amount_minor, "cash", f"receivable:{payer}",
                     f"Outcome payment received — {payer} ({reference})", links,
                     contract.currency)
    return paid, received


def record_provider_payment(session: Session, contract_id: str, payer: str, provider: str,
                            amount_minor: int, on: date, reference: str,
                            fiscal_year: int | None = None) -> EntryRecord:
    """A payer pays a service provider directly for the tranches routed to it (payee
    routing): its payable to the provider (``payable:<payer>:<provider>``, the provider's
    receivable) is settled from the payer's bank, in the payers' book. Nothing moves in the
    SPV's book. Refused when no tranche routes the payer's payments to that provider
    (``PAYEE_NOT_FOUND``) or for more than the payer owes it (``PAYMENT_EXCEEDS_DUE``). The
    payment records the results year it settles, as :func:`record_payment` does; the same
    payment again (payer, provider, reference) is the same entry."""
    contract = get_contract(session, contract_id)
    contract.require_payer(payer)
    if (payer, provider) not in provider_payees(contract):
        raise SibError(f"no tranche of {contract.id} routes {payer}'s payments to {provider!r}"
                       "; it pays the SPV (sib money receive)", "PAYEE_NOT_FOUND", "provider")
    if amount_minor <= 0:
        raise SibError("a payment must be positive", "AMOUNT_NOT_POSITIVE", "amount")
    book, account = payers_book_code(contract.id), Code.payable_to(payer, provider)
    key = f"{contract.id}:provider-payment:{payer}:{provider}:{reference}"
    done = read.entries(session, book, key_prefix=key)
    owed = read.totals(session, book, account).net_credit_minor
    if not done and amount_minor > owed:
        cur = contract.currency
        raise SibError(f"{payer} owes {provider} {amount_text(owed, cur)}; a payment of "
                       f"{amount_text(amount_minor, cur)} is "
                       "more than is due", "PAYMENT_EXCEEDS_DUE", "amount")
    obligation = fiscal_year if fiscal_year is not None else \
        obligation_year_of(contract, on, reference)
    links = {"contract": contract.id, "payer": payer, "payee": provider,
             "reference": reference, "obligation_year": obligation}
    return _post(session, book, key, Kind.OUTCOME_PAYMENT, on, amount_minor, account,
                 f"bank:{payer}", f"Outcome payment to {provider} — {payer} ({reference})",
                 links, contract.currency)


@dataclass(frozen=True)
class Receipt:
    """An outcome payment received by the SPV, and how much of it distributions have applied.

    Attributes:
        entry_id: the ``outcome_receipt`` entry that put the money in cash.
        applied_minor: the sum every distribution so far applied of it (never more than
            ``amount_minor``).
    """

    entry_id: int
    payer: str
    reference: str
    received_on: date
    amount_minor: int
    applied_minor: int

    @property
    def unapplied_minor(self) -> int:
        return self.amount_minor - self.applied_minor


def receipts(session: Session, contract_id: str, through_on: date | None = None,
             reference: str | None = None) -> list[Receipt]:
    """Outcome payments received (in the order received), each with what was applied of it.
    A receipt that was reversed is not money the SPV holds: it is left out."""
    received = read.entries(session, contract_id, kinds=[Kind.OUTCOME_RECEIPT],
                            through_on=through_on)
    if not received:
        return []
    reversed_ids = {e.reverses_entry_id for e in read.entries(
        session, contract_id, reverses=[r.id for r in received])}
    receipt_id = col(ReceiptApplication.receipt_entry_id)
    applied: dict[int, int] = dict(session.execute(
        select(receipt_id, func.sum(col(ReceiptApplication.amount_minor)))
        .where(col(ReceiptApplication.contract_id) == contract_id)
        .group_by(receipt_id)).all())
    return [Receipt(e.id, str(e.links.get("payer", "")), str(e.links.get("reference", "")),
                    e.effective_on, e.amount_on(Code.CASH, DEBIT), int(applied.get(e.id, 0)))
            for e in received if e.id not in reversed_ids
            and (reference is None or e.links.get("reference") == reference)]


def received_by_results_year(session: Session, contract_id: str, on: date) -> dict[int, int]:
    """The outcome payments the vehicle has received by ``on`` (reversed receipts left out),
    by the results year each settles (its ``obligation_year``)."""
    received = read.entries(session, contract_id, kinds=[Kind.OUTCOME_RECEIPT], through_on=on)
    if not received:
        return {}
    reversed_ids = {e.reverses_entry_id for e in read.entries(
        session, contract_id, reverses=[r.id for r in received], through_on=on)}
    out: dict[int, int] = {}
    for entry in received:
        year = entry.links.get("obligation_year")
        if entry.id in reversed_ids or year is None:
            continue
        out[int(year)] = out.get(int(year), 0) + entry.amount_on(Code.CASH, DEBIT)
    return out


def receipts_for(session: Session, contract_id: str, reference: str) -> dict[str, int]:
    """Outcome payments received under ``reference`` and not yet applied by a distribution,
    per payer."""
    out: dict[str, int] = {}
    for receipt in receipts(session, contract_id, reference=reference):
        if receipt.unapplied_minor > 0:
            out[receipt.payer] = out.get(receipt.payer, 0) + receipt.unapplied_minor
    return out


def pay_fixed_fees(session: Session, contract_id: str, fiscal_year: int,
                   on: date) -> list[EntryRecord]:
    """Each provider's fixed fee for the year, paid once: by the SPV out of its own cash (SPV
    book; refused ``FEE_EXCEEDS_FREE_CASH`` beyond what it holds less what it owes the unit
    holders and the tax office, and then nothing of the command is written), or — for a
    provider the contract has a municipality pay directly (``paid_by`` a payer) — by that
    payer out of its treasury (payers' book: its fixed-fee cost)."""
    contract = get_contract(session, contract_id)
    entries = []
    for provider in contract.providers:
        fee = provider.fixed_by_year_minor.get(fiscal_year)
        if not fee:
            continue
        links: dict[str, Any] = {"contract": contract.id, "provider": provider.party,
                                 "fiscal_year": fiscal_year}
        key = f"{contract.id}:fixed-fee:{provider.party}:FY{fiscal_year}"
        description = f"Fixed service fee FY{fiscal_year} — {provider.party}"
        if provider.paid_by in contract.payer_ids:
            payer = str(provider.paid_by)
            entries.append(_post(session, payers_book_code(contract.id), key, Kind.SERVICE_FEE,
                                 on, fee, Code.fixed_fees(payer), Code.bank(payer),
                                 f"{description} (paid by {payer})",
                                 dict(links, payer=payer), contract.currency))
        else:
            # Out of the vehicle's own money only: what it holds for the unit holders
            # (distributions payable) and the tax office (withholding) is not its to spend —
            # on the fee's date (money received later cannot pay it then) and after
            # everything posted since (a fee dated back cannot spend what was paid out later).
            done = read.entry_by_key(session, contract.id, key) is not None
            free = min(free_cash(session, contract, on), free_cash(session, contract))
            if not done and fee > free:
                cur = contract.currency
                raise SibError(
                    f"the FY{fiscal_year} fixed fee of {provider.party} is "
                    f"{amount_text(fee, cur)}; the vehicle has {amount_text(max(free, 0), cur)} "
                    "of its own (cash less what it owes the unit holders and the tax office): "
                    "nothing was paid", "FEE_EXCEEDS_FREE_CASH", "fiscal_year")
            entries.append(_post(session, contract.id, key, Kind.SERVICE_FEE, on, fee,
                                 Code.fees(provider.party), Code.CASH, description, links,
                                 contract.currency))
    return entries


def record_contributions(session: Session, contract_id: str, fiscal_year: int,
                         on: date) -> list[EntryRecord]:
    """The year's contributions, each once (SPV book): cash put in (cash / contribution
    income), or services given in kind at their stated value (the service cost of the
    provider it came from, or of the programme, against contribution income)."""
    contract = get_contract(session, contract_id)
    entries = []
    for contribution in contract.instruments:
        if not isinstance(contribution, Contribution) or contribution.fiscal_year != fiscal_year:
            continue
        giver = contribution.contributor
        in_kind_cost = Code.fees(giver) if any(p.party == giver for p in contract.providers) \
            else Code.CONTRIBUTION_INCOME
        debit_account = in_kind_cost if contribution.in_kind else Code.CASH
        if debit_account == Code.CONTRIBUTION_INCOME:
            raise SibError(f"{contribution.id} is in kind from {giver}, which provides no "
                           "service under the contract: its value has no cost to stand for",
                           "CONTRIBUTION_IN_KIND_UNPLACED", "instruments")
        entries.append(_post(
            session, contract.id, f"{contract.id}:contribution:{contribution.id}",
            Kind.CONTRIBUTION, on, contribution.amount_minor, debit_account,
            Code.CONTRIBUTION_INCOME,
            f"Contribution {'in kind ' if contribution.in_kind else ''}FY{fiscal_year} — "
            f"{giver}", {"contract": contract.id, "contribution": contribution.id,
                         "contributor": giver, "fiscal_year": fiscal_year,
                         "in_kind": contribution.in_kind}, contract.currency))
    return entries


# --------------------------------------------------------------------------- waterfall

@dataclass
class Distribution:
    """A waterfall run posted: what each claim received, and any end-of-term losses.

    ``traces`` are the computed claims' traces (each investor return: its capital timeline,
    the return accrued, what was already paid, what was owed) followed by the waterfall's.
    ``applied`` lists each receipt the distribution applied and how much of it.
    """

    on: date
    waterfall: WaterfallResult
    entries: list[int] = field(default_factory=list)
    losses: list[Any] = field(default_factory=list)
    applied: list[tuple[Receipt, int]] = field(default_factory=list)
    service: ServiceRun | None = None

    @property
    def applied_minor(self) -> int:
        """The received money this distribution spent (what it applied of the receipts)."""
        return sum(amount for _, amount in self.applied)

    @property
    def traces(self) -> list[Trace]:
        claims = [a.claim.trace for a in self.waterfall.allocations
                  if a.claim.trace is not None]
        return claims + [self.waterfall.trace] + [loss.trace for loss in self.losses]


def claims_at(session: Session, contract: Contract, on: date,
              receipts: dict[str, int], final: bool) -> list[Claim]:
    """What is owed from outcome money at ``on``: provider outcome shares of ``receipts``,
    investor returns and, at the end of the contract, every loan's payoff (the interest
    booked and unpaid, and the principal still outstanding) and the units' capital.

    Loans are not paid here before the end: their instalments are paid on their due dates by
    debt service (:func:`settlement.debt_service.service`, which runs first)."""
    claims = _provider_claims(contract, receipts)
    if final:
        for loan in contract.loans:
            interest, principal = _payoff(session, contract, loan.id)
            if interest > 0:
                claims.append(Claim("interest", loan.id, loan.lender, interest, loan.seniority))
            if principal > 0:
                claims.append(Claim("principal", loan.id, loan.lender, principal,
                                    loan.seniority))
    claims += _investor_claims(session, contract, on, final)
    return claims


def _payoff(session: Session, contract: Contract, loan_id: str) -> tuple[int, int]:
    """A loan repaid in full at the contract's end: the interest booked and unpaid and the
    principal outstanding."""
    payable = read.totals(session, contract.id, Code.interest_payable(loan_id))
    outstanding = read.totals(session, contract.id, Code.loan(loan_id))
    return (payable.credits_minor - payable.debits_minor,
            outstanding.credits_minor - outstanding.debits_minor)


def free_cash(session: Session, contract: Contract, through_on: date | None = None) -> int:
    """Cash the waterfall may use: the cash balance less what is already owed out of it to
    unit holders (distributions payable) and to the tax office (withholding payable) — by
    ``through_on`` if given, else on everything posted."""
    cash_debits, cash_credits = account_totals(session, contract.id, "cash",
                                               through_on=through_on)
    reserved = 0
    for code in [f"distributions-payable:{u.id}" for u in contract.unit_classes] + \
            ["withholding-payable"]:
        debits, credits = account_totals(session, contract.id, code, through_on=through_on)
        reserved += credits - debits
    return cash_debits - cash_credits - reserved


def _provider_claims(contract: Contract, receipts: dict[str, int]) -> list[Claim]:
    claims = []
    for provider in contract.providers:
        if provider.outcome_share is None:
            continue
        payers = provider.outcome_share_of_payers or contract.payer_ids
        base = sum(receipts.get(p, 0) for p in payers)
        fee = round_minor(Fraction(base) * Fraction(provider.outcome_share),
                          contract.rounding.mode)
        if fee > 0:
            claims.append(Claim("provider_fees", provider.party, provider.party, fee))
    return claims


def _investor_claims(session: Session, contract: Contract, on: date,
                     final: bool) -> list[Claim]:
    """Per unit class with capital outstanding: its return owed at ``on`` by its rule and
    the capital owed back (on its redemption schedule, or all of it at the end), from the
    ledger's facts (:func:`class_facts`) through :func:`settlement.class_returns.class_claims`
    — the simulation calls the same function on its own books."""
    claims = []
    for unit_class in contract.unit_classes:
        claims += class_claims(contract, unit_class,
                               class_facts(session, contract, unit_class, on), on, final)
    return claims


def class_facts(session: Session, contract: Contract, unit_class: UnitClass,
                on: date) -> ClassFacts:
    """What a class's return and capital depend on, read from the ledger at ``on``: its
    capital timeline (``units:<class>``), the returns paid to it (``distributions:<class>``),
    its target-return schedule as the contract's versions set it, and for a tiered class the
    audited final results of its KPI."""
    class_id = unit_class.id
    returns_paid = [(p.effective_on, p.amount_minor if p.side == DEBIT else -p.amount_minor)
                    for p in read.postings(session, contract.id,
                                           account=Code.distributions(class_id),
                                           through_on=on)]
    results: dict[int, Measure] = {}
    terms = unit_class.returns
    if terms is not None and terms.rule in ("tiered", "curve") and terms.basis != "kpi":
        results = year_measures(contract, terms, received_by_results_year(session, contract.id,
                                                                           on))
    elif terms is not None and terms.rule in ("tiered", "curve") and terms.kpi is not None:
        for year in range(unit_class.first_sale_fiscal_year, contract.last_fiscal_year + 1):
            row = current_audited(session, contract.id, year).get((terms.kpi, ""))
            if row is not None:
                results[year] = Decimal(row.value)
    rates = return_rates(session, contract, class_id) if terms is None else None
    return ClassFacts(tuple(capital_changes(session, contract.id, class_id, on)),
                      tuple(returns_paid), rates, results)


def investor_return_owed(session: Session, contract: Contract, class_id: str,
                         on: date, final: bool = False) -> ReturnOwed | None:
    """The return a unit class is owed at ``on``, from the ledger alone: the return accrued
    by the class's rule to ``on`` (a simple target return on its capital timeline
    ``units:<class>``, or a rule of :mod:`settlement.class_returns`), rounded once, less the
    returns already distributed to it (``distributions:<class>``) by ``on``. None when the
    class has no return. Computed again after it is paid, it is zero; paid in part, the rest
    is owed again at the next distribution."""
    unit_class = next(u for u in contract.unit_classes if u.id == class_id)
    return return_owed_by_rule(contract, unit_class,
                               class_facts(session, contract, unit_class, on), on, final)


def return_rates(session: Session, contract: Contract, class_id: str) -> RateSchedule | None:
    """The target return of a unit class as each fiscal year's terms set it: an amendment
    effective from FY n changes the rate from the first day of FY n, never before (earlier
    years keep the rate they were settled under). The last year's rate runs on after the term.
    None when no version gives the class a target return."""
    parsed = [(row.effective_from, row.version, contract_from_row(row))
              for row in versions(session, contract.id)]
    periods: list[tuple[date, Fraction | None]] = []
    for year in range(contract.first_fiscal_year, contract.last_fiscal_year + 1):
        governing = [v for v in parsed if v[0] <= year]
        terms = max(governing or parsed, key=lambda v: v[1])[2]
        unit_class = next((u for u in terms.unit_classes if u.id == class_id), None)
        rate = Fraction(Decimal(str(unit_class.target_return_annual))) \
            if unit_class is not None and unit_class.target_return_annual is not None else None
        starts = date.min if not periods else \
            contract.fiscal_year_bounds(year)[0]
        if not periods or periods[-1][1] != rate:
            periods.append((starts, rate))
    if all(rate is None for _, rate in periods):
        return None
    return RateSchedule(tuple((on, rate if rate is not None else Fraction(0))
                              for on, rate in periods))


def capital_changes(session: Session, contract_id: str, class_id: str,
                    through_on: date) -> list[CapitalChange]:
    """The capital timeline of a unit class from its ledger account ``units:<class>``: each
    credit (a subscription) starts earning on its date, each debit (capital returned, a
    guarantee draw, a write-down) stops earning on its date. A reversal cancels the entry it
    reverses from that entry's own date, as if it had never been posted."""
    rows = read.postings(session, contract_id, account=Code.units(class_id),
                         through_on=through_on)
    reversed_ids = {p.reverses_entry_id for p in rows if p.reverses_entry_id is not None}
    original_on = {e.id: e.effective_on
                   for e in read.entries(session, contract_id, ids=reversed_ids)} \
        if reversed_ids else {}
    return [CapitalChange(original_on[p.reverses_entry_id] if p.reverses_entry_id is not None
                          else p.effective_on,
                          p.amount_minor if p.side == CREDIT else -p.amount_minor,
                          f"{p.kind} (entry {p.entry_id})") for p in rows]


def distribute(session: Session, contract_id: str, on: date, final: bool = False,
               reference: str = "") -> Distribution:
    """Run the waterfall on the outcome money received and not yet distributed, and post it.

    The money a distribution may spend is what it applies of the receipts (those received on
    or before ``on``; only those under ``reference`` when one is given), up to the cash the SPV
    holds: each receipt is applied once, in the order received, and the applications are
    recorded with the entries, so a second distribution of the same money finds nothing left
    (``NOTHING_TO_DISTRIBUTE``), whatever its date or reference. What the claims leave of the
    applied money stays in cash until the end of the contract.

    Debt service runs first (:func:`settlement.debt_service.service` through ``on``): every
    instalment due by then is paid on its own due date from the cash there was, arrears with
    their default interest; the waterfall pays no loan before the end. A surplus left by the
    claims prepays the loans whose terms sweep it (:func:`settlement.debt_service.sweep`). At
    the end of the contract (``final``: refused before the last fiscal year is settled, and
    done once) each loan is paid off — the interest booked to the day before and the principal
    outstanding — and every instrument's unpaid principal becomes a loss: covered in part by a
    guarantee, the rest written down. A run repeated on the same date and reference is refused
    (``ALREADY_DISTRIBUTED``).
    """
    contract = get_contract(session, contract_id)
    get_book(session, contract.id, lock=True)  # distributions of one contract, one at a time
    tag = f"{contract.id}:waterfall:{on.isoformat()}:{reference}"
    _refuse_if_distributed(session, contract, tag, on, reference)
    _refuse_if_before_latest(session, contract, on)
    if final:
        _refuse_final_too_early(session, contract)
    serviced = service(session, contract.id, on)
    # The payoff's interest to the day before: the final distribution's own entries (under
    # its key, so that running it again is ALREADY_DISTRIBUTED), listed with the others.
    accrued = accrue_to(session, contract, on - timedelta(days=1), f"{tag}:final") \
        if final else []
    cash = max(free_cash(session, contract), 0)
    # The final distribution is the end: it applies every receipt left, whatever its reference.
    unapplied = [r for r in receipts(session, contract.id, through_on=on,
                                     reference=None if final else reference or None)
                 if r.unapplied_minor > 0]
    # Outcome money is applied up to the cash still held (debt service on a due date may
    # have spent part of it); the final distribution applies every receipt left, so that the
    # providers' shares are of all the outcome money received.
    received = sum(r.unapplied_minor for r in unapplied)
    applied = _apply(unapplied, received if final else min(received, cash))
    if not applied and not final:
        raise Conflict(_nothing_left(contract, on, reference), "NOTHING_TO_DISTRIBUTE",
                       "reference")
    per_payer: dict[str, int] = {}
    for receipt, amount in applied:
        per_payer[receipt.payer] = per_payer.get(receipt.payer, 0) + amount
    available = cash if final else sum(per_payer.values())
    claims = claims_at(session, contract, on, per_payer, final)
    result = run_waterfall(available, claims, contract.waterfall)
    out = Distribution(on, result, applied=applied, service=serviced)
    out.entries += serviced.entries + accrued
    for allocation in result.allocations:
        if allocation.paid_minor > 0:
            out.entries.append(_post_allocation(session, contract, allocation, on, tag,
                                                final).id or 0)
    if final:
        _write_down(session, contract, result, on, tag, out)
        if result.left_minor > 0:
            out.entries += _residual(session, contract, result.left_minor, on, tag)
    elif result.left_minor > 0:
        out.entries += sweep(session, contract, result.left_minor, on, tag)
    _record_applications(session, contract, tag, on, applied)
    return out


def _residual(session: Session, contract: Contract, left_minor: int, on: date,
              tag: str) -> list[int]:
    """The surplus of the final distribution to whom the contract's residual term names:
    the payers, back in proportion to what each paid the vehicle (their outcome income and
    cost reduced, in both books); a provider's bonus (a fee); a unit class's holders (a
    distribution, paid to them with their withholding); or nobody (the vehicle keeps it)."""
    residual = contract.residual
    if residual is None or residual.to == "vehicle":
        return []
    links: dict[str, Any] = {"contract": contract.id, "step": "residual", "final": True,
                             "distribution": tag}
    cur = contract.currency
    if residual.to == "provider":
        party = residual.party or ""
        return [_post(session, contract.id, f"{tag}:residual:{party}", Kind.PROVIDER_FEE, on,
                      left_minor, Code.fees(party), Code.CASH,
                      f"Residual to the provider — {party}", {**links, "provider": party},
                      cur).id or 0]
    if residual.to == "unit_class":
        class_id = residual.party or ""
        return [_post(session, contract.id, f"{tag}:residual:{class_id}",
                      Kind.INVESTOR_DISTRIBUTION, on, left_minor, Code.distributions(class_id),
                      Code.distributions_payable(class_id),
                      f"Residual to the holders — {class_id}",
                      {**links, "unit_class": class_id}, cur).id or 0]
    paid = {payer: read.totals(session, contract.id, Code.receivable(payer),
                               kinds=[Kind.OUTCOME_RECEIPT]).credits_minor
            for payer in contract.payer_ids}
    out = []
    for payer, part in residual_split(left_minor, paid):
        refund = {**links, "payer": payer}
        out.append(_post(session, contract.id, f"{tag}:residual:{payer}",
                         Kind.RESIDUAL_REFUND, on, part, Code.outcome_income(payer), Code.CASH,
                         f"Residual returned to the payer — {payer}", refund, cur).id or 0)
        out.append(_post(session, payers_book_code(contract.id),
                         f"{tag}:residual-received:{payer}", Kind.RESIDUAL_REFUND, on, part,
                         Code.bank(payer), Code.outcome_cost(payer),
                         f"Residual received from the SPV — {payer}", refund, cur).id or 0)
    return out


def _apply(unapplied: list[Receipt], amount_minor: int) -> list[tuple[Receipt, int]]:
    """Take ``amount_minor`` from the receipts in the order received: (receipt, amount)."""
    applied = []
    left = amount_minor
    for receipt in sorted(unapplied, key=lambda r: (r.received_on, r.entry_id)):
        take = min(receipt.unapplied_minor, left)
        if take <= 0:
            break
        applied.append((receipt, take))
        left -= take
    return applied


def _nothing_left(contract: Contract, on: date, reference: str) -> str:
    which = f" under {reference!r}" if reference else ""
    return (f"no outcome payment received{which} on or before {on} is left to distribute for "
            f"{contract.id}: every receipt has already been applied by a distribution, or none "
            "was received; record the payment first")


def _record_applications(session: Session, contract: Contract, tag: str, on: date,
                         applied: list[tuple[Receipt, int]]) -> None:
    now = datetime.now(UTC)
    session.add_all([ReceiptApplication(contract_id=contract.id, distribution_key=tag,
                                        receipt_entry_id=receipt.entry_id,
                                        payer_id=receipt.payer, amount_minor=amount,
                                        applied_on=on, recorded_at=now)
                     for receipt, amount in applied])
    session.flush()


def _refuse_final_too_early(session: Session, contract: Contract) -> None:
    """The final distribution pays everything out and writes down what is left: once, and
    only after the contract's last fiscal year is settled (or, for a contract with nothing to
    settle that year, closed)."""
    settled = session.scalar(select(func.count()).select_from(SettlementRun).where(
        col(SettlementRun.contract_id) == contract.id,
        col(SettlementRun.fiscal_year) == contract.last_fiscal_year))
    last_day = contract.fiscal_year_bounds(contract.last_fiscal_year)[1]
    closed_through = get_book(session, contract.id).closed_through_on
    if not settled and (closed_through is None or closed_through < last_day):
        raise Conflict(f"the final distribution of {contract.id} pays out everything and writes "
                       f"down what is unpaid: it comes after FY{contract.last_fiscal_year}, the "
                       "contract's last fiscal year, is settled", "FINAL_BEFORE_TERM_END",
                       "final")
    done = read.entries(session, contract.id, links={"final": True})
    if done:
        raise Conflict(f"the final distribution of {contract.id} was already posted on "
                       f"{done[0].effective_on}", "FINAL_ALREADY_DISTRIBUTED", "final")


def _refuse_if_before_latest(session: Session, contract: Contract, on: date) -> None:
    """Distributions run in date order: what a distribution owes (interest to its date, the
    return accrued to its date less what was already paid) assumes every earlier-dated one is
    already in the books. One dated before the latest would pay a return again."""
    latest = session.scalar(select(func.max(col(ReceiptApplication.applied_on))).where(
        col(ReceiptApplication.contract_id) == contract.id))
    if latest is not None and on < latest:
        raise Conflict(f"a distribution of {contract.id} is already posted on {latest}; a "
                       f"distribution on {on}, before it, would pay what that one paid again: "
                       "date it on or after the latest", "DISTRIBUTION_BEFORE_LATEST", "on")


def _refuse_if_distributed(session: Session, contract: Contract, tag: str, on: date,
                           reference: str) -> None:
    done = session.scalar(select(func.count()).select_from(ReceiptApplication).where(
        col(ReceiptApplication.distribution_key) == tag)) or \
        read.entries(session, contract.id, key_prefix=f"{tag}:")
    if done:
        raise Conflict(f"the waterfall of {on} on the receipts {reference!r} was already "
                       "posted; it is not run twice", "ALREADY_DISTRIBUTED", "reference")


def _post_allocation(session: Session, contract: Contract, allocation: Any, on: date,
                     tag: str, final: bool) -> EntryRecord:
    claim = allocation.claim
    instrument = claim.instrument
    is_loan = any(loan.id == instrument for loan in contract.loans)
    account, kind, link = {
        "provider_fees": (Code.fees(instrument), Kind.PROVIDER_FEE, "provider"),
        "interest": (Code.interest_payable(instrument), Kind.INTEREST_PAYMENT, "loan"),
        "investor_returns": (Code.distributions(instrument), Kind.INVESTOR_DISTRIBUTION,
                             "unit_class"),
        "principal": (Code.loan(instrument), Kind.PRINCIPAL_REPAYMENT, "loan") if is_loan
        else (Code.units(instrument), Kind.CAPITAL_RETURN, "unit_class"),
    }[claim.step]
    links: dict[str, Any] = {"contract": contract.id, "step": claim.step, "party": claim.party,
                             "distribution": tag, link: instrument}
    if final:
        links["final"] = True
    if is_loan and claim.step == "interest":
        # The payoff's interest is the current period's, to the day before: it settles the
        # period's due date ahead of it. Its principal is a prepayment (no due date).
        loan = next(ln for ln in contract.loans if ln.id == instrument)
        following = read_state(session, contract, loan, on).next_due
        if following is not None:
            links["due_on"] = following.due_on.isoformat()
        links["component"] = "interest"
    elif is_loan:
        links["component"] = "principal"
        links["payoff"] = True
    # Money for unit holders waits in a payable until it is paid to each holder, net of the
    # tax withheld (investors package); everything else leaves the cash account now.
    paid_from = Code.distributions_payable(instrument) if link == "unit_class" else Code.CASH
    return _post(session, contract.id, f"{tag}:{claim.step}:{instrument}", kind, on,
                 allocation.paid_minor, account, paid_from,
                 f"{kind.replace('_', ' ').capitalize()} — {instrument}", links,
                 contract.currency)


def _write_down(session: Session, contract: Contract, result: WaterfallResult, on: date,
                tag: str, out: Distribution) -> None:
    unpaid = [(a.claim.instrument, a.claim.party, a.unpaid_minor) for a in result.allocations
              if a.claim.step == "principal" and a.unpaid_minor > 0]
    guarantees = [(g.covers, Fraction(g.cover_percent) / 100 if g.cover_percent is not None
                   else None, g.cover_max_minor) for g in contract.guarantees]
    guarantee_of = {g.covers: g.id for g in contract.guarantees}
    for loss in losses(unpaid, guarantees, contract.rounding.mode):
        out.losses.append(loss)
        is_loan = any(loan.id == loss.instrument for loan in contract.loans)
        account = f"loan:{loss.instrument}" if is_loan else f"units:{loss.instrument}"
        links = {"contract": contract.id, "instrument": loss.instrument}
        if loss.guaranteed_minor:
            out.entries.append(_post(session, contract.id, f"{tag}:guarantee:{loss.instrument}",
                                     "guarantee_draw", on, loss.guaranteed_minor, account,
                                     f"guarantor-claim:{guarantee_of[loss.instrument]}",
                                     f"Loss covered by guarantee (guarantor subrogated) — "
                                     f"{loss.instrument}", links, contract.currency).id or 0)
        if loss.written_down_minor:
            out.entries.append(_post(session, contract.id, f"{tag}:write-down:{loss.instrument}",
                                     "write_down", on, loss.written_down_minor, account,
                                     "write-down-gain", f"Principal written down — "
                                     f"{loss.instrument}", links, contract.currency).id or 0)
