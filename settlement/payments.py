"""Money moving: loan draws, payer payments, fixed fees, and the waterfall of outcome money.

Every function posts through the ledger with idempotency keys derived from what it does, so a
retried command posts nothing twice; the cash account cannot go below zero (a balance limit),
so nothing is ever paid out that the SPV does not hold. Services never commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from contracts.chart import payers_book_code
from contracts.model import Contract
from contracts.store import contract_from_row, get_contract, versions
from ledger.calendar import fiscal_year_bounds
from ledger.entries import EntryDraft, credit, debit
from ledger.errors import Conflict, SibError
from ledger.money import from_minor
from ledger.rounding import round_minor
from ledger.schema import CREDIT, DEBIT, POSTED, Account, Entry, Posting
from ledger.service import get_book, post_entry
from settlement.loans import LoanPosition, loan_schedule, position
from settlement.trace import Trace
from settlement.unit_returns import CapitalChange, RateSchedule, ReturnOwed, return_owed
from settlement.waterfall import Claim, WaterfallResult, losses, run_waterfall


def _post(session: Session, book: str, key: str, kind: str, on: date, amount: int,
          debit_account: str, credit_account: str, description: str,
          links: dict[str, Any], currency: str) -> Entry:
    money = from_minor(amount, currency)
    return post_entry(session, EntryDraft(book, key, kind, on,
                                          [debit(debit_account, money),
                                           credit(credit_account, money)],
                                          description, links))


def account_totals(session: Session, book_code: str, account_code: str,
                   kinds: tuple[str, ...] | None = None,
                   through_on: date | None = None) -> tuple[int, int]:
    """Posted (debits, credits) of one account, optionally only from entries of ``kinds``."""
    book = get_book(session, book_code)
    query = (select(Posting.side, func.sum(Posting.amount_minor))
             .join(Account, Account.id == Posting.account_id)
             .join(Entry, Entry.id == Posting.entry_id)
             .where(Account.book_id == book.id, Account.code == account_code,
                    Posting.status == POSTED).group_by(Posting.side))
    if kinds is not None:
        query = query.where(Entry.kind.in_(kinds))
    if through_on is not None:
        query = query.where(Posting.effective_on <= through_on)
    sums = {side: int(total or 0) for side, total in session.execute(query)}
    return sums.get(DEBIT, 0), sums.get(CREDIT, 0)


# --------------------------------------------------------------------------- funding

def draw_loans(session: Session, contract_id: str, through_on: date) -> list[Entry]:
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
                  on: date, reference: str) -> Entry:
    """The national grant received by a payer (payers' book): its grant receivable is paid."""
    contract = get_contract(session, contract_id)
    _check_payer(contract, payer)
    book = payers_book_code(contract.id)
    debits, credits = account_totals(session, book, f"grant-receivable:{payer}")
    if amount_minor > debits - credits:
        raise SibError(f"{payer} has {debits - credits:,} of grant receivable; "
                       f"{amount_minor:,} is more", "GRANT_EXCEEDS_RECEIVABLE", "amount")
    return _post(session, book, f"{contract.id}:grant-receipt:{payer}:{reference}",
                 "grant_receipt", on, amount_minor, f"bank:{payer}", f"grant-receivable:{payer}",
                 f"Grant received — {payer} ({reference})",
                 {"contract": contract.id, "payer": payer, "reference": reference},
                 contract.currency)


def _check_payer(contract: Contract, payer: str) -> None:
    if payer not in contract.payer_ids:
        raise SibError(f"{payer!r} is not a payer of {contract.id}", "PAYER_UNKNOWN", "payer")


def record_payment(session: Session, contract_id: str, payer: str, amount_minor: int,
                   on: date, reference: str) -> tuple[Entry, Entry]:
    """A payer pays the SPV: its payable (payers' book) and the SPV's receivable are settled.
    More than the payer owes is refused."""
    contract = get_contract(session, contract_id)
    _check_payer(contract, payer)
    if amount_minor <= 0:
        raise SibError("a payment must be positive", "AMOUNT_NOT_POSITIVE", "amount")
    debits, credits = account_totals(session, contract.id, f"receivable:{payer}")
    if amount_minor > debits - credits:
        raise SibError(f"{payer} owes {debits - credits:,}; a payment of {amount_minor:,} is "
                       "more than is due", "PAYMENT_EXCEEDS_DUE", "amount")
    links = {"contract": contract.id, "payer": payer, "reference": reference}
    paid = _post(session, payers_book_code(contract.id),
                 f"{contract.id}:payment:{payer}:{reference}", "outcome_payment", on,
                 amount_minor, f"payable:{payer}", f"bank:{payer}",
                 f"Outcome payment to the SPV — {payer} ({reference})", links, contract.currency)
    received = _post(session, contract.id, f"{contract.id}:receipt:{payer}:{reference}",
                     "outcome_receipt", on, amount_minor, "cash", f"receivable:{payer}",
                     f"Outcome payment received — {payer} ({reference})", links,
                     contract.currency)
    return paid, received


def receipts_for(session: Session, contract_id: str, reference: str) -> dict[str, int]:
    """Outcome payments received under ``reference``, per payer."""
    book = get_book(session, contract_id)
    rows = session.execute(
        select(Entry.links, Posting.amount_minor).join(Posting, Posting.entry_id == Entry.id)
        .where(Entry.book_id == book.id, Entry.kind == "outcome_receipt",
               Posting.side == DEBIT))
    receipts: dict[str, int] = {}
    for links_text, amount in rows:
        links = json.loads(links_text)
        if links.get("reference") == reference:
            receipts[links["payer"]] = receipts.get(links["payer"], 0) + amount
    return receipts


def pay_fixed_fees(session: Session, contract_id: str, fiscal_year: int,
                   on: date) -> list[Entry]:
    """The SPV pays each provider's fixed fee for the year (those it pays itself)."""
    contract = get_contract(session, contract_id)
    entries = []
    for provider in contract.providers:
        fee = provider.fixed_by_year_minor.get(fiscal_year)
        if not fee or provider.paid_by in contract.payer_ids:
            continue
        entries.append(_post(session, contract.id,
                             f"{contract.id}:fixed-fee:{provider.party}:FY{fiscal_year}",
                             "service_fee", on, fee, f"fees:{provider.party}", "cash",
                             f"Fixed service fee FY{fiscal_year} — {provider.party}",
                             {"contract": contract.id, "provider": provider.party,
                              "fiscal_year": fiscal_year}, contract.currency))
    return entries


# --------------------------------------------------------------------------- waterfall

@dataclass
class Distribution:
    """A waterfall run posted: what each claim received, and any end-of-term losses.

    ``traces`` are the computed claims' traces (each investor return: its capital timeline,
    the return accrued, what was already paid, what was owed) followed by the waterfall's.
    """

    on: date
    waterfall: WaterfallResult
    entries: list[int] = field(default_factory=list)
    losses: list[Any] = field(default_factory=list)

    @property
    def traces(self) -> list[Trace]:
        claims = [a.claim.trace for a in self.waterfall.allocations
                  if a.claim.trace is not None]
        return claims + [self.waterfall.trace] + [loss.trace for loss in self.losses]


def claims_at(session: Session, contract: Contract, on: date,
              receipts: dict[str, int], final: bool) -> list[Claim]:
    """What is owed from outcome money at ``on``: provider outcome shares of ``receipts``,
    interest and principal due, investor returns (and, at the end, capital)."""
    claims = _provider_claims(contract, receipts)
    for loan in contract.loans:
        pos = loan_position(session, contract, loan, on)
        paid_interest, _ = account_totals(session, contract.id, f"interest-payable:{loan.id}",
                                          ("interest_payment",))
        repaid, drawn = account_totals(session, contract.id, f"loan:{loan.id}")
        interest = interest_owed(session, contract, loan, on, final) - paid_interest
        principal = drawn - repaid if (loan.repayment_from_outcomes or final) \
            else min(pos.principal_due_minor - repaid, drawn - repaid)
        if interest > 0:
            claims.append(Claim("interest", loan.id, loan.lender, interest, loan.seniority))
        if principal > 0:
            claims.append(Claim("principal", loan.id, loan.lender, principal, loan.seniority))
    claims += _investor_claims(session, contract, on, final)
    return claims


def loan_position(session: Session, contract: Contract, loan: Any, on: date) -> LoanPosition:
    """The loan's position at the end of ``on``. A loan repaid from outcome payments pays
    interest on the principal actually outstanding, not on its nominal schedule: the
    repayments (and any write-down) posted so far are taken into account."""
    schedule = loan_schedule(loan)
    if not loan.repayment_from_outcomes:
        return position(loan, schedule, on)
    return position(loan, schedule, on, _principal_reductions(session, contract, loan.id))


def interest_owed(session: Session, contract: Contract, loan: Any, on: date,
                  final: bool) -> int:
    """Interest the loan has earned in total by a distribution on ``on``.

    A scheduled loan: the interest of its due dates up to ``on`` (at the end of the contract,
    also what has run since the last one). A loan repaid from outcome payments is repaid
    whenever outcome money arrives, so it is paid its interest up to that day: what has run to
    the end of the day before (片端: the day of repayment is not counted).
    """
    if loan.repayment_from_outcomes:
        return loan_position(session, contract, loan,
                             on - timedelta(days=1)).interest_accrued_minor
    pos = loan_position(session, contract, loan, on)
    return pos.interest_accrued_minor if final else pos.interest_due_minor


def _principal_reductions(session: Session, contract: Contract,
                          loan_id: str) -> list[tuple[date, int]]:
    """(effective on, amount) of every debit to the loan account: repayments, guarantee
    draws and write-downs, each reducing the principal outstanding from its date."""
    book = get_book(session, contract.id)
    rows = session.execute(
        select(Posting.effective_on, Posting.amount_minor)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.book_id == book.id, Account.code == f"loan:{loan_id}",
               Posting.side == DEBIT, Posting.status == POSTED)
        .order_by(Posting.effective_on))
    return [(on, int(amount)) for on, amount in rows]


def free_cash(session: Session, contract: Contract) -> int:
    """Cash the waterfall may use: the cash balance less what is already owed out of it to
    unit holders (distributions payable) and to the tax office (withholding payable)."""
    cash_debits, cash_credits = account_totals(session, contract.id, "cash")
    reserved = 0
    for code in [f"distributions-payable:{u.id}" for u in contract.unit_classes] + \
            ["withholding-payable"]:
        debits, credits = account_totals(session, contract.id, code)
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
    """Per unit class with capital outstanding: its return owed at ``on`` (see
    :func:`investor_return_owed`) and, at the end, its capital."""
    claims = []
    for unit_class in contract.unit_classes:
        returned, capital = account_totals(session, contract.id, f"units:{unit_class.id}")
        outstanding = capital - returned
        if outstanding <= 0:
            continue
        owed = investor_return_owed(session, contract, unit_class.id, on)
        if owed is not None and owed.owed_minor > 0:
            claims.append(Claim("investor_returns", unit_class.id, unit_class.id,
                                owed.owed_minor, unit_class.seniority + 100, owed.trace))
        if final:
            claims.append(Claim("principal", unit_class.id, unit_class.id, outstanding,
                                unit_class.seniority))
    return claims


def investor_return_owed(session: Session, contract: Contract, class_id: str,
                         on: date) -> ReturnOwed | None:
    """The return a unit class is owed at ``on``, from the ledger alone: the target return
    accrued on its capital timeline (``units:<class>``) to ``on``, rounded once, less the
    returns already distributed to it (``distributions:<class>``) by ``on``. None when the
    class has no target return. Computed again after it is paid, it is zero; paid in part, the
    rest is owed again at the next distribution."""
    rates = return_rates(session, contract, class_id)
    if rates is None:
        return None
    paid_debits, paid_credits = account_totals(session, contract.id, f"distributions:{class_id}",
                                               through_on=on)
    return return_owed(f"return owed to {class_id} on {on.isoformat()}",
                       capital_changes(session, contract.id, class_id, on),
                       rates, on, paid_debits - paid_credits, contract.rounding.mode)


def return_rates(session: Session, contract: Contract, class_id: str) -> RateSchedule | None:
    """The target return of a unit class as each fiscal year's terms set it: an amendment
    effective from FY n changes the rate from the first day of FY n, never before (earlier
    years keep the rate they were settled under). The last year's rate runs on after the term.
    None when no version gives the class a target return."""
    parsed = [(row.effective_from, row.version, contract_from_row(row))
              for row in versions(session, contract.id)]
    periods: list[tuple[date, Fraction]] = []
    for year in range(contract.first_fiscal_year, contract.last_fiscal_year + 1):
        governing = [v for v in parsed if v[0] <= year]
        terms = max(governing or parsed, key=lambda v: v[1])[2]
        unit_class = next((u for u in terms.unit_classes if u.id == class_id), None)
        rate = Fraction(Decimal(str(unit_class.target_return_annual))) \
            if unit_class is not None and unit_class.target_return_annual is not None else None
        starts = date.min if not periods else \
            fiscal_year_bounds(year, contract.fiscal_year_start_month)[0]
        if not periods or periods[-1][1] != rate:
            periods.append((starts, rate))  # type: ignore[arg-type]
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
    book = get_book(session, contract_id)
    rows = session.execute(
        select(Posting.effective_on, Posting.side, Posting.amount_minor, Entry.id, Entry.kind,
               Entry.reverses_entry_id)
        .join(Account, Account.id == Posting.account_id)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Account.book_id == book.id, Account.code == f"units:{class_id}",
               Posting.status == POSTED, Posting.effective_on <= through_on)
        .order_by(Posting.effective_on, Entry.id)).all()
    reversed_ids = {row[5] for row in rows if row[5] is not None}
    original_on = dict(session.execute(select(Entry.id, Entry.effective_on).where(
        Entry.id.in_(reversed_ids))).all()) if reversed_ids else {}
    return [CapitalChange(original_on[reverses] if reverses is not None else effective_on,
                          amount if side == CREDIT else -amount, f"{kind} (entry {entry_id})")
            for effective_on, side, amount, entry_id, kind, reverses in rows]


def distribute(session: Session, contract_id: str, on: date, receipts: dict[str, int],
               final: bool = False, reference: str = "") -> Distribution:
    """Run the waterfall on the outcome money received (``receipts`` per payer) and post it.

    Interest falls due (is accrued) as the schedule says, then is paid as far as money allows;
    at the end of the contract (``final``), unpaid principal of every instrument becomes a
    loss: covered in part by a guarantee, the rest written down. The same receipts are
    distributed once: a second run on the same date and reference is refused
    (``ALREADY_DISTRIBUTED``), since it would count the money received a second time.
    """
    contract = get_contract(session, contract_id)
    tag = f"{contract.id}:waterfall:{on.isoformat()}:{reference}"
    _refuse_if_distributed(session, contract, tag, on, reference)
    cash = free_cash(session, contract)
    available = min(sum(receipts.values()), cash) if not final else cash
    claims = claims_at(session, contract, on, receipts, final)
    result = run_waterfall(max(available, 0), claims, contract.waterfall)
    out = Distribution(on, result)
    _accrue_interest(session, contract, on, final, tag, out)
    for allocation in result.allocations:
        if allocation.paid_minor > 0:
            out.entries.append(_post_allocation(session, contract, allocation, on, tag).id or 0)
    if final:
        _write_down(session, contract, result, on, tag, out)
    return out


def _refuse_if_distributed(session: Session, contract: Contract, tag: str, on: date,
                           reference: str) -> None:
    book = get_book(session, contract.id)
    done = session.scalar(select(func.count()).select_from(Entry).where(
        Entry.book_id == book.id, Entry.idempotency_key.startswith(f"{tag}:", autoescape=True)))
    if done:
        raise Conflict(f"the waterfall of {on} on the receipts {reference!r} was already "
                       f"posted ({done} entries); it is not run twice", "ALREADY_DISTRIBUTED",
                       "reference")


def _accrue_interest(session: Session, contract: Contract, on: date, final: bool, tag: str,
                     out: Distribution) -> None:
    """Bring each loan's accrued interest up to what it has earned (see :func:`interest_owed`)."""
    for loan in contract.loans:
        _, accrued = account_totals(session, contract.id, f"interest-payable:{loan.id}")
        target = interest_owed(session, contract, loan, on, final)
        if target > accrued:
            out.entries.append(_post(
                session, contract.id, f"{tag}:accrue:{loan.id}", "interest_accrual", on,
                target - accrued, f"interest-expense:{loan.id}", f"interest-payable:{loan.id}",
                f"Interest due to {on} — {loan.id}", {"contract": contract.id,
                                                       "loan": loan.id}, contract.currency).id
                or 0)


def _post_allocation(session: Session, contract: Contract, allocation: Any, on: date,
                     tag: str) -> Entry:
    claim = allocation.claim
    accounts = {"provider_fees": (f"fees:{claim.instrument}", "provider_fee"),
                "interest": (f"interest-payable:{claim.instrument}", "interest_payment"),
                "investor_returns": (f"distributions:{claim.instrument}",
                                     "investor_distribution")}
    if claim.step == "principal":
        is_loan = any(loan.id == claim.instrument for loan in contract.loans)
        account, kind = (f"loan:{claim.instrument}", "principal_repayment") if is_loan else \
            (f"units:{claim.instrument}", "capital_return")
    else:
        account, kind = accounts[claim.step]
    links = {"contract": contract.id, "step": claim.step, "party": claim.party,
             ("loan" if kind in ("interest_payment", "principal_repayment") else "unit_class"
              if kind in ("investor_distribution", "capital_return") else "provider"):
             claim.instrument}
    # Money for unit holders waits in a payable until it is paid to each holder, net of the
    # tax withheld (investors package); everything else leaves the cash account now.
    paid_from = f"distributions-payable:{claim.instrument}" \
        if kind in ("investor_distribution", "capital_return") else "cash"
    return _post(session, contract.id, f"{tag}:{claim.step}:{claim.instrument}", kind, on,
                 allocation.paid_minor, account, paid_from,
                 f"{kind.replace('_', ' ').capitalize()} — {claim.instrument}", links,
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
