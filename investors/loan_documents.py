"""The loan documents from the database: the balance confirmation (残高証明書), the interest
statement (利息計算書) and the repayment notice (返済予定通知書) of one loan.

Every figure is the ledger's: balances are the loan's accounts read through the ledger's read
model, and what is overdue, the 遅延損害金, the interest of a period and its trace come from
:func:`settlement.debt_service.read_state` — the state debt service itself pays from — never
from a second computation. The loan is named as the lender statement names it, and the
documents are stamped with the ledger state they were read from (see
:mod:`investors.documents`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction

from sqlmodel import Session

from contracts.chart import Code, Kind
from contracts.instruments import Loan
from contracts.model import Contract
from contracts.store import get_contract
from investors import documents as docs
from investors import loan_document_data as ld
from investors.statement_data import DocumentHeader
from investors.trace_text import TraceStyle, trace_text
from ledger import read
from ledger.errors import NotFound, SibError
from ledger.money import HOME_CURRENCY, amount_text
from settlement.debt_service import find_loan, read_record, read_state
from settlement.servicing import Instalment, LoanState, loan_state, owed_on
from settlement.trace import Figure, Phrase, Step, Trace

# Kinds of the documents' ids (``<kind>/<contract>/<loan>/<date>``).
CONFIRMATION = "loan-confirmation"
INTEREST_STATEMENT = "interest-statement"
REPAYMENT_NOTICE = "repayment-notice"


def _context(session: Session, contract_id: str, on: date) -> docs.Context:
    """The contract's terms for the fiscal year of ``on`` and the ledger state read."""
    return docs.context(session, contract_id, get_contract(session, contract_id)
                        .fiscal_year_of(on))


def ledger_day(ctx: docs.Context) -> date:
    """The day of the ledger state a document is built from, in the contract's zone: the
    default date a document is issued on."""
    return ctx.generated_at.astimezone(docs.document_zone(ctx.contract)).date()


def _header(ctx: docs.Context, kind: str, loan: Loan, on: date) -> DocumentHeader:
    return replace(docs._header(ctx, kind, loan.lender),
                   document_id=f"{kind}/{ctx.contract.id}/{loan.id}/{on.isoformat()}")


def _parties(contract: Contract, loan: Loan) -> ld.LoanParties:
    """The loan as a bank names it (the lender statement's name for it) and its parties."""
    default = loan.default_interest_rate_annual
    return ld.LoanParties(
        loan_id=loan.id, name=docs._loan_name(contract, loan),
        lender=docs._party(contract, loan.lender), borrower=docs._party(contract, loan.borrower),
        rate_annual=Fraction(loan.rate_annual),
        default_rate_annual=None if default is None else Fraction(default),
        day_count=docs._day_count(loan, contract.currency == HOME_CURRENCY),
        commitment_minor=loan.commitment_minor)


def _loan(ctx: docs.Context, loan_id: str) -> Loan:
    return find_loan(ctx.contract, loan_id)


def _instalment(state: LoanState, due_on: date) -> Instalment:
    """The instalment falling due on ``due_on``; another date is refused, naming the loan's."""
    found = next((i for i in state.instalments if i.due_on == due_on), None)
    if found is None:
        dates = ", ".join(i.due_on.isoformat() for i in state.instalments)
        raise NotFound(f"loan {state.loan_id} has no due date {due_on}; its due dates: {dates}",
                       "LOAN_DUE_DATE_NOT_FOUND", "due")
    return found


# --------------------------------------------------------------------------- 残高証明書

def balance_confirmation(session: Session, contract_id: str, loan_id: str, as_of: date,
                         issued_on: date | None = None) -> ld.BalanceConfirmation:
    """残高証明書 of the loan at the end of ``as_of``, issued on ``issued_on`` (by default the
    day of the ledger state, or ``as_of`` when that is later)."""
    ctx = _context(session, contract_id, as_of)
    contract, loan = ctx.contract, _loan(ctx, loan_id)
    state = read_state(session, contract, loan, as_of)
    principal = read.totals(session, contract.id, Code.loan(loan.id),
                            through_on=as_of).net_credit_minor
    if principal != state.outstanding_minor:  # one ledger, read twice: they must agree
        raise SibError(f"loan {loan.id} on {as_of}: the loan account holds "
                       f"{amount_text(principal, contract.currency)}, its record "
                       f"{amount_text(state.outstanding_minor, contract.currency)}",
                       "LOAN_STATE_MISMATCH", "loan")
    payable = read.totals(session, contract.id, Code.interest_payable(loan.id),
                          through_on=as_of)
    default_booked = read.totals(session, contract.id, Code.interest_payable(loan.id),
                                 kinds=[Kind.DEFAULT_INTEREST_ACCRUAL,
                                        Kind.DEFAULT_INTEREST_PAYMENT], through_on=as_of)
    drawn = read.totals(session, contract.id, Code.loan(loan.id), kinds=[Kind.LOAN_DRAWDOWN],
                        through_on=as_of).credits_minor
    arrears = tuple(
        ld.Arrear(i.due_on, i.overdue_principal_minor, i.overdue_interest_minor,
                  (as_of - i.due_on).days, i.default_interest_minor,
                  i.default_interest_paid_minor)
        for i in state.instalments
        if i.is_due and (i.overdue_minor or i.default_interest_owed_minor))
    following = state.next_due
    return ld.BalanceConfirmation(
        header=_header(ctx, CONFIRMATION, loan, as_of), loan=_parties(contract, loan),
        as_of=as_of, issued_on=issued_on or max(ledger_day(ctx), as_of),
        principal_minor=principal, drawn_minor=drawn,
        overdue_principal_minor=state.overdue_principal_minor,
        overdue_interest_minor=state.overdue_interest_minor,
        default_interest_owed_minor=state.default_interest_owed_minor,
        interest_running_minor=state.interest_running_minor,
        interest_payable_minor=payable.net_credit_minor,
        default_interest_booked_minor=default_booked.net_credit_minor,
        arrears=arrears,
        next_due=None if following is None else ld.ScheduledDue(
            following.number, following.due_on, following.principal_minor,
            following.interest_minor))


# --------------------------------------------------------------------------- 利息計算書

def _figure(step: Step, name: str) -> Figure:
    value = step.params[name]
    assert isinstance(value, Figure), f"{step.phrase}: {name} is not a figure"
    return value


def _stretches(trace: Trace) -> tuple[ld.InterestStretch, ...]:
    """The period's stretches of constant principal, as the trace's data records them (each
    step's figures, never its sentence)."""
    out = []
    for step in trace.steps:
        if step.phrase is not Phrase.INTEREST_ON:
            continue
        since, until = _figure(step, "since").value, _figure(step, "until").value
        principal, days_counted = _figure(step, "amount").value, _figure(step, "days").value
        basis, rate = _figure(step, "basis").value, _figure(step, "rate").value
        assert isinstance(since, date) and isinstance(until, date)
        assert isinstance(principal, int) and isinstance(days_counted, int)
        assert isinstance(basis, int) and not isinstance(rate, date)
        assert isinstance(step.value, Figure) and not isinstance(step.value.value, date)
        out.append(ld.InterestStretch(since, until, principal, days_counted, basis,
                                      Fraction(rate), Fraction(step.value.value)))
    return tuple(out)


def interest_statement(session: Session, contract_id: str, loan_id: str, due_on: date,
                       as_of: date | None = None) -> ld.InterestStatement:
    """利息計算書 of the loan's interest due on ``due_on``, with what was paid of it and the
    遅延損害金 it ran up to ``as_of`` (by default the day of the ledger state, or the due date
    when that is later)."""
    ctx = _context(session, contract_id, due_on)
    contract, loan = ctx.contract, _loan(ctx, loan_id)
    on = as_of or max(ledger_day(ctx), due_on)
    row = _instalment(read_state(session, contract, loan, on), due_on)
    trace = row.interest_trace
    assert trace.rounding is not None, "a period's interest is always rounded once"
    payments = [p for p in read_record(session, contract.id, loan.id, on).payments
                if p.due_on == due_on]
    return ld.InterestStatement(
        header=_header(ctx, INTEREST_STATEMENT, loan, due_on), loan=_parties(contract, loan),
        as_of=on, number=row.number, due_on=due_on, period_start_on=row.period_start,
        stretches=_stretches(trace), exact_minor=trace.rounding.exact,
        rounding=trace.rounding.mode, interest_minor=row.interest_minor,
        payments=tuple(ld.Paid(p.paid_on, p.amount_minor) for p in payments
                       if p.component == "interest"),
        default_interest_minor=row.default_interest_minor,
        default_interest_payments=tuple(ld.Paid(p.paid_on, p.amount_minor) for p in payments
                                        if p.component == "default_interest"),
        trace=trace_text(trace, TraceStyle(contract.currency)))


# --------------------------------------------------------------------------- 返済予定通知書

def repayment_notice(session: Session, contract_id: str, loan_id: str, due_on: date,
                     notice_on: date | None = None) -> ld.RepaymentNotice:
    """返済予定通知書 for ``due_on``: what the loan will owe on that date — its interest and
    principal, and any arrears with their 遅延損害金 run up to it — as the ledger stands at
    the end of ``notice_on`` (by default the day of the ledger state, and at the latest the day
    before the due date): the same state debt service pays from, carried to the due date."""
    ctx = _context(session, contract_id, due_on)
    contract, loan = ctx.contract, _loan(ctx, loan_id)
    on = notice_on or min(ledger_day(ctx), due_on - timedelta(days=1))
    if on > due_on:
        raise SibError(f"a notice for {due_on} cannot be dated {on}, after it",
                       "NOTICE_AFTER_DUE_DATE", "on")
    state = loan_state(loan, read_record(session, contract.id, loan.id, on), due_on)
    row = _instalment(state, due_on)
    lines = tuple(ld.NoticeLine(d.component, d.due_on, d.amount_minor)
                  for d in owed_on(loan, state))
    principal_due = sum(line.amount_minor for line in lines if line.component == "principal")
    return ld.RepaymentNotice(
        header=_header(ctx, REPAYMENT_NOTICE, loan, due_on), loan=_parties(contract, loan),
        notice_on=on, due_on=due_on, number=row.number, lines=lines,
        principal_after_minor=state.outstanding_minor - principal_due)


def lender_of(session: Session, contract_id: str, loan_id: str) -> str:
    """The lender of a loan (to scope a bank's access before anything else is read)."""
    return find_loan(get_contract(session, contract_id), loan_id).lender


__all__ = ["balance_confirmation", "interest_statement", "lender_of", "ledger_day",
           "repayment_notice"]
