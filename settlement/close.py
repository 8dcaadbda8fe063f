"""Year-end close: accrue interest to the fiscal year's last day, settle what is audited but not
yet settled, build the settlement pack, close the period in both books.

Balances carry forward by construction: the ledger keeps cumulative balances and the close
snapshots them, so the next year opens with exactly the closing figures.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from contracts.chart import payers_book_code
from contracts.model import Contract
from contracts.store import contract_for_year
from ledger.calendar import fiscal_year_bounds
from ledger.errors import SibError
from ledger.periods import close_period
from ledger.reports import trial_balance
from ledger.service import get_book
from ledger.verify import ledger_state_hash
from settlement.loans import loan_schedule
from settlement.payments import _post, account_totals, loan_position
from settlement.results import current_audited, results_for
from settlement.runs import current_runs, settle
from settlement.schedules import compare


@dataclass
class SettlementPack:
    """The year-end settlement pack data (amounts in minor units of ``currency``).

    Attributes:
        payers: per payer: authorised (total and year limit), earned, tax, due, grant, paid in
            the year, outstanding at year end.
        lenders: per loan: drawn, repaid, outstanding, interest accrued and paid, schedule
            against actual.
        providers: per provider: fixed fees and outcome fees of the year.
        investor_classes: per class: capital, distributions, capital returned, written down.
        kpis: the audited results of the year.
        trial_balance: the SPV book at year end.
        ledger_hash: the head of the SPV book's hash chain when the pack was built.
    """

    contract_id: str
    name_ja: str
    name_en: str
    currency: str
    fiscal_year: int
    period_start: date
    period_end: date
    payers: list[dict[str, Any]] = field(default_factory=list)
    lenders: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    investor_classes: list[dict[str, Any]] = field(default_factory=list)
    kpis: list[dict[str, Any]] = field(default_factory=list)
    trial_balance: list[dict[str, Any]] = field(default_factory=list)
    ledger_hash: str = ""
    closed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def close_year(session: Session, contract_id: str, fiscal_year: int, actor: str = "",
               now: datetime | None = None) -> SettlementPack:
    """Close FY ``fiscal_year`` of a contract and return its settlement pack."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    start, end = fiscal_year_bounds(fiscal_year, contract.fiscal_year_start_month)
    book = get_book(session, contract_id)
    if book.closed_through_on is not None and book.closed_through_on >= end:
        raise SibError(f"FY{fiscal_year} of {contract_id} is already closed",
                       "PERIOD_ALREADY_CLOSED", "fiscal_year")
    _settle_audited(session, contract, fiscal_year, by=actor)
    _accrue_to_year_end(session, contract, fiscal_year, end)
    pack = build_pack(session, contract, fiscal_year)
    reason = f"year-end close FY{fiscal_year}"
    close_period(session, contract_id, fiscal_year, actor, reason, now)
    close_period(session, payers_book_code(contract_id), fiscal_year, actor, reason, now)
    pack.closed = True
    pack.ledger_hash = ledger_state_hash(session, contract_id)
    return pack


def _settle_audited(session: Session, contract: Contract, fiscal_year: int, by: str) -> None:
    """Audited results not yet settled become receivables before the books close."""
    for evaluation in ("interim", "final"):
        if current_audited(session, contract.id, fiscal_year, evaluation):
            settle(session, contract.id, fiscal_year, evaluation, by=by)


def _accrue_to_year_end(session: Session, contract: Contract, fiscal_year: int,
                        end: date) -> None:
    for loan in contract.loans:
        target = loan_position(session, contract, loan, end).interest_accrued_minor
        _, accrued = account_totals(session, contract.id, f"interest-payable:{loan.id}")
        if target > accrued:
            _post(session, contract.id, f"{contract.id}:close:FY{fiscal_year}:accrue:{loan.id}",
                  "interest_accrual", end, target - accrued, f"interest-expense:{loan.id}",
                  f"interest-payable:{loan.id}", f"Interest accrued to {end} — {loan.id}",
                  {"contract": contract.id, "loan": loan.id, "fiscal_year": fiscal_year},
                  contract.currency)


def _movement(session: Session, book: str, account: str, start: date, end: date,
              kinds: tuple[str, ...] | None = None) -> tuple[int, int]:
    d_end, c_end = account_totals(session, book, account, kinds, end)
    d_start, c_start = account_totals(session, book, account, kinds,
                                      date.fromordinal(start.toordinal() - 1))
    return d_end - d_start, c_end - c_start


def build_pack(session: Session, contract: Contract, fiscal_year: int) -> SettlementPack:
    """The settlement pack of a year from the ledger and the settlement runs."""
    start, end = fiscal_year_bounds(fiscal_year, contract.fiscal_year_start_month)
    pack = SettlementPack(contract.id, contract.name_ja, contract.name_en, contract.currency,
                          fiscal_year, start, end)
    runs = {ev: json.loads(run.summary) for (year, ev), run in
            current_runs(session, contract.id).items() if year == fiscal_year}
    for payer in contract.payers:
        p = payer.party
        figures = [r["payers"].get(p, {}) for r in runs.values()]
        paid, _ = _movement(session, payers_book_code(contract.id), f"payable:{p}",
                            *_payment_window(contract, start, end), ("outcome_payment",))
        receivable_d, receivable_c = account_totals(session, contract.id, f"receivable:{p}",
                                                    None, end)
        pack.payers.append({
            "payer": p, "name_ja": contract.party(p).name_ja,
            "name_en": contract.party(p).name_en,
            "authorised_total": payer.authorisation.max_amount_minor,
            "authorised_year": payer.authorisation.limits_by_year_minor.get(fiscal_year),
            "earned": sum(f.get("earned", 0) for f in figures),
            "tax": sum(f.get("tax", 0) for f in figures),
            "due": sum(f.get("due", 0) for f in figures),
            "grant": sum(f.get("grant", 0) for f in figures),
            "paid": paid, "outstanding": receivable_d - receivable_c})
    for loan in contract.loans:
        pack.lenders.append(_lender_row(session, contract, loan, start, end))
    for provider in contract.providers:
        fixed, _ = _movement(session, contract.id, f"fees:{provider.party}", start, end,
                             ("service_fee",))
        outcome, _ = _movement(session, contract.id, f"fees:{provider.party}", start, end,
                               ("provider_fee",))
        pack.providers.append({"provider": provider.party,
                               "name_ja": contract.party(provider.party).name_ja,
                               "name_en": contract.party(provider.party).name_en,
                               "fixed_fees": fixed, "outcome_fees": outcome})
    for unit_class in contract.unit_classes:
        returned, capital = account_totals(session, contract.id, f"units:{unit_class.id}",
                                           None, end)
        distributed, _ = _movement(session, contract.id, f"distributions:{unit_class.id}",
                                   start, end)
        written, _ = account_totals(session, contract.id, f"units:{unit_class.id}",
                                    ("write_down", "guarantee_draw"), end)
        pack.investor_classes.append({"unit_class": unit_class.id,
                                      "name_ja": unit_class.name_ja,
                                      "name_en": unit_class.name_en, "capital": capital,
                                      "distributions": distributed,
                                      "capital_returned": returned - written,
                                      "written_down": written})
    for row in results_for(session, contract.id, fiscal_year):
        pack.kpis.append({"kpi": row.kpi_id, "payer": row.payer_id,
                          "evaluation": row.evaluation, "version": row.version,
                          "value": row.value, "state": row.state,
                          "target": str(contract.kpi(row.kpi_id).targets.get(fiscal_year, ""))})
    for r in trial_balance(session, contract.id, end).rows:
        if r.debits_posted or r.credits_posted:
            pack.trial_balance.append({"account": r.code, "name_ja": r.name_ja,
                                       "name_en": r.name_en, "type": r.type,
                                       "debit": r.debit_minor, "credit": r.credit_minor})
    pack.ledger_hash = ledger_state_hash(session, contract.id)
    return pack


def _payment_window(contract: Contract, start: date, end: date) -> tuple[date, date]:
    """The dates of the payments that count for a fiscal year. With an April year, a payment
    made in the closing period (出納整理期間, to 31 May) belongs to the year just ended: the
    year's window runs from 1 June to 31 May after it, and April–May go to the year before."""
    if contract.fiscal_year_start_month != 4:
        return start, end
    return date(start.year, 6, 1), date(end.year, 5, 31)


def _lender_row(session: Session, contract: Contract, loan: Any, start: date,
                end: date) -> dict[str, Any]:
    schedule = loan_schedule(loan)
    repaid, drawn = account_totals(session, contract.id, f"loan:{loan.id}",
                                   ("loan_drawdown", "principal_repayment"), end)
    written, _ = account_totals(session, contract.id, f"loan:{loan.id}",
                                ("write_down", "guarantee_draw"), end)
    accrued_year, _ = _movement(session, contract.id, f"interest-expense:{loan.id}", start, end)
    paid_year, _ = _movement(session, contract.id, f"interest-payable:{loan.id}", start, end,
                             ("interest_payment",))
    actual = _actual_payments(session, contract, loan.id, end)
    return {"loan": loan.id, "lender": loan.lender,
            "lender_name_ja": contract.party(loan.lender).name_ja,
            "lender_name_en": contract.party(loan.lender).name_en,
            "commitment": loan.commitment_minor, "drawn": drawn, "repaid": repaid,
            "written_down": written, "outstanding": drawn - repaid - written,
            "interest_accrued_year": accrued_year, "interest_paid_year": paid_year,
            "schedule_vs_actual": [
                {"number": r.number, "due_on": r.due_on, "scheduled_principal":
                 r.scheduled_principal, "actual_principal": r.actual_principal,
                 "scheduled_interest": r.scheduled_interest,
                 "actual_interest": r.actual_interest,
                 "scheduled_closing": r.scheduled_closing_principal,
                 "actual_closing": r.actual_closing_principal}
                for r in compare(schedule, actual)]}


def _actual_payments(session: Session, contract: Contract, loan_id: str,
                     through: date) -> list[tuple[date, int, int]]:
    """(paid on, principal, interest) per payment date, from the ledger."""
    from ledger.schema import Account, Entry, Posting
    book = get_book(session, contract.id)
    rows = session.execute(
        select(Entry.effective_on, Entry.kind, Posting.amount_minor)
        .join(Posting, Posting.entry_id == Entry.id)
        .join(Account, Account.id == Posting.account_id)
        .where(Entry.book_id == book.id, Entry.effective_on <= through,
               Entry.kind.in_(("principal_repayment", "interest_payment")),
               Account.code.in_((f"loan:{loan_id}", f"interest-payable:{loan_id}")),
               Posting.side == "D"))
    by_day: dict[date, list[int]] = {}
    for on, kind, amount in rows:
        slot = by_day.setdefault(on, [0, 0])
        slot[0 if kind == "principal_repayment" else 1] += amount
    return [(on, p, i) for on, (p, i) in sorted(by_day.items())]
