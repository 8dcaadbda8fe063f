"""Tie-out: every figure a document shows, held against the ledger's figure for the same thing.

An auditor's first check of a document is that it agrees with the books. This module makes that
check a function: given a document's data (as :mod:`investors.documents` builds it) it reads
the ledger through its read model — independently of how the document was computed — and
returns a :class:`Mismatch` for every figure that differs, naming the document, the figure and
both values. ``tie_out_year`` checks every document of a contract year.

What is held against what:
- payment notice from a provider (a tranche naming it as payee): the amount due = what the
  payers' book says the payer owes that provider for the year (its payable to the provider,
  payments aside); the tax = the tax posted on top of the invoice, or (tax included) the tax
  inside the earned total, once; the grant = 0 (stated on the SPV's notice); and the SPV book
  holds nothing for the provider's tranches of the year.
- payment notice from the SPV: the amount due = what was posted to the payer's receivable for
  the year's settlement (earned and consumption tax, net of corrections); the earned total =
  the payer's outcome income for the year as earned (before tax inside it is moved out); the
  tax = the tax payable posted for the payer and year; the
  grant = the grant receivable recognised for the payer and year; the lines add up to the total.
- lender statement, per loan: opening and closing principal = the loan account's balance the
  day before the year and on its last day; every point of the balance chart = the balance on
  that day; draws, repayments, interest accrued and interest paid = the accounts' movements of
  those kinds in the year; opening + draws − repaid − written down = closing.
- investor statements, per class: the holders' distributions in the year = what the ledger
  paid out of the class's distributions payable to holders in the year; tax withheld likewise.
- year-end report: every trial balance row = the ledger's trial balance at year end, which
  balances; every lender row = the loan's figures as above.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypedDict

from sqlmodel import Session

from contracts.chart import (
    Code,
    Kind,
    notice_payees,
    payers_book_code,
    provider_payee,
    provider_payees,
)
from contracts.liability import tax_inside
from contracts.model import Contract
from contracts.store import contract_for_year, get_contract
from investors import documents
from investors import statement_data as sd
from ledger import read
from ledger.money import amount_text


@dataclass(frozen=True)
class Mismatch:
    """A document figure that is not the ledger's."""

    document: str
    figure: str
    document_minor: int
    ledger_minor: int
    currency: str = "JPY"

    def __str__(self) -> str:
        return (f"{self.document}: {self.figure} is "
                f"{amount_text(self.document_minor, self.currency)} on the document but "
                f"{amount_text(self.ledger_minor, self.currency)} in the ledger")


class _Window(TypedDict):
    """A date window of ``read.totals`` (both days included)."""

    from_on: date
    through_on: date


class _Check:
    def __init__(self, document: str, currency: str) -> None:
        self.document, self.currency = document, currency
        self.found: list[Mismatch] = []

    def same(self, figure: str, on_document: int, in_ledger: int) -> None:
        if on_document != in_ledger:
            self.found.append(Mismatch(self.document, figure, on_document, in_ledger,
                                       self.currency))


def _year_postings(session: Session, book: str, account: str, fiscal_year: int,
                   **links: object) -> list[read.PostingView]:
    """Postings to ``account`` by entries that link to the fiscal year (settlement entries)."""
    return [p for p in read.postings(session, book, account=account)
            if p.links.get("fiscal_year") == fiscal_year
            and all(p.links.get(k) == v for k, v in links.items())]


def _net_debit(postings: Iterable[read.PostingView]) -> int:
    return sum(p.debit_minor - p.credit_minor for p in postings)


def notice_mismatches(session: Session, notice: sd.PaymentNotice) -> list[Mismatch]:
    """The payment notice against the payer's accounts for its fiscal year."""
    c, fy, payer = notice.header.contract_id, notice.header.fiscal_year, notice.payer.party_id
    contract = contract_for_year(session, c, fy)
    if (payer, notice.payee.party_id) in provider_payees(contract):
        return _provider_notice_mismatches(session, contract, notice)
    check = _Check(notice.header.document_id, notice.header.currency)
    check.same("amount due", notice.amount_due_minor,
               _net_debit(_year_postings(session, c, Code.receivable(payer), fy)))
    # The earned amounts are the outcome income the settlement entries booked; tax inside
    # tax-inclusive amounts is then moved out of it (outcome_tax entries), not unearned.
    check.same("earned total", notice.earned_total_minor,
               -_net_debit(p for p in _year_postings(session, c, Code.outcome_income(payer), fy)
                           if p.kind not in ("outcome_tax", "outcome_tax_correction")))
    check.same("consumption tax", notice.consumption_tax_minor,
               -_net_debit(_year_postings(session, c, Code.TAX_PAYABLE, fy, payer=payer)))
    check.same("grant covered", notice.grant_covered_minor,
               _net_debit(_year_postings(session, payers_book_code(c),
                                         Code.grant_receivable(payer), fy)))
    check.same("sum of the earned lines", sum(x.earned_minor for x in notice.earned_lines),
               notice.earned_total_minor)
    return check.found


def _provider_notice_mismatches(session: Session, contract: Contract,
                                notice: sd.PaymentNotice) -> list[Mismatch]:
    """A provider's notice against the payer's payable to that provider for the year."""
    fy, payer, provider = notice.header.fiscal_year, notice.payer.party_id, \
        notice.payee.party_id
    check = _Check(notice.header.document_id, notice.header.currency)
    owed = [p for p in _year_postings(session, payers_book_code(contract.id),
                                      Code.payable_to(payer, provider), fy)
            if p.kind != Kind.OUTCOME_PAYMENT]
    taxed = [p for p in owed if p.kind.startswith(Kind.PROVIDER_OUTCOME_TAX)]
    earned = -_net_debit(p for p in owed if p not in taxed)
    check.same("amount due", notice.amount_due_minor, -_net_debit(owed))
    check.same("earned total", notice.earned_total_minor, earned)
    check.same("consumption tax", notice.consumption_tax_minor,
               tax_inside(contract, earned, "outcome_payments") if notice.tax_included
               else -_net_debit(taxed))
    check.same("grant covered", notice.grant_covered_minor, 0)
    mine = {t.id for t in contract.tranches if provider_payee(contract, t) == provider}
    check.same("SPV book entries for the provider's tranches", 0, len([
        p for p in read.postings(session, contract.id)
        if p.links.get("fiscal_year") == fy and p.links.get("tranche") in mine]))
    check.same("sum of the earned lines", sum(x.earned_minor for x in notice.earned_lines),
               notice.earned_total_minor)
    return check.found


def loan_mismatches(session: Session, contract_id: str, document: str, loan: sd.LoanSection,
                    start_on: date, end_on: date) -> list[Mismatch]:
    """One loan's section (lender statement) against the loan's accounts."""
    check = _Check(f"{document} {loan.loan_id}",
                   get_contract(session, contract_id).currency)
    account = Code.loan(loan.loan_id)
    check.same("opening balance", loan.opening_balance_minor,
               read.balance_as_of(session, contract_id, account, start_on - timedelta(days=1)))
    check.same("closing balance", loan.closing_balance_minor,
               read.balance_as_of(session, contract_id, account, end_on))
    for point in loan.balance_series:
        check.same(f"balance on {point.on}", point.balance_minor,
                   read.balance_as_of(session, contract_id, account, point.on))
    within: _Window = {"from_on": start_on, "through_on": end_on}
    check.same("drawn", sum(d.amount_minor for d in loan.draws),
               read.totals(session, contract_id, account, kinds=[Kind.LOAN_DRAWDOWN],
                           **within).credits_minor)
    check.same("principal repaid", loan.principal_repaid_minor,
               read.totals(session, contract_id, account, kinds=[Kind.PRINCIPAL_REPAYMENT],
                           **within).debits_minor)
    check.same("interest paid", loan.interest_paid_minor,
               read.totals(session, contract_id, Code.interest_payable(loan.loan_id),
                           kinds=[Kind.INTEREST_PAYMENT], **within).debits_minor)
    check.same("interest accrued", loan.interest_accrued_minor,
               read.totals(session, contract_id, Code.interest_expense(loan.loan_id),
                           kinds=[Kind.INTEREST_ACCRUAL], **within).net_debit_minor)
    check.same("default interest accrued", loan.default_interest_minor,
               read.totals(session, contract_id, Code.interest_expense(loan.loan_id),
                           kinds=[Kind.DEFAULT_INTEREST_ACCRUAL], **within).net_debit_minor)
    check.same("opening + drawn − repaid − written down", loan.opening_balance_minor
               + sum(d.amount_minor for d in loan.draws) - loan.principal_repaid_minor
               - loan.written_down_minor, loan.closing_balance_minor)
    return check.found


def lender_mismatches(session: Session, statement: sd.LenderStatement) -> list[Mismatch]:
    out = []
    for loan in statement.loans:
        out += loan_mismatches(session, statement.header.contract_id,
                               statement.header.document_id, loan, statement.period_start_on,
                               statement.period_end_on)
    return out


def investor_mismatches(session: Session, contract_id: str, statements: list[sd.InvestorStatement],
                        class_ids: Iterable[str], start_on: date,
                        end_on: date) -> list[Mismatch]:
    """The holders' statements of each class, together, against what the ledger paid the
    class's holders in the year (gross out of its distributions payable, and tax withheld)."""
    out: list[Mismatch] = []
    for class_id in class_ids:
        mine = [s for s in statements if s.class_id == class_id]
        year = f"FY{mine[0].header.fiscal_year}" if mine else f"{start_on} – {end_on}"
        check = _Check(f"investor statements {contract_id} {year} {class_id}",
                       mine[0].header.currency if mine else "JPY")
        paid = [p for p in read.postings(session, contract_id, kinds=[Kind.HOLDER_PAYMENT],
                                         from_on=start_on, through_on=end_on)
                if p.links.get("unit_class") == class_id]
        check.same("distributions to holders (gross)",
                   sum(d.gross_minor for s in mine for d in s.distributions),
                   sum(p.debit_minor for p in paid
                       if p.account == Code.distributions_payable(class_id)))
        check.same("tax withheld", sum(d.withheld_minor for s in mine for d in s.distributions),
                   sum(p.credit_minor for p in paid if p.account == Code.WITHHOLDING_PAYABLE))
        out += check.found
    return out


def year_end_mismatches(session: Session, report: sd.YearEndReport, start_on: date,
                        end_on: date) -> list[Mismatch]:
    """The year-end report's trial balance against the ledger's at year end."""
    c = report.header.contract_id
    check = _Check(report.header.document_id, report.header.currency)
    ledger_rows = {r.code: r for r in read.trial_balance(session, c, end_on).rows
                   if r.debit_minor or r.credit_minor}
    shown = {r.account_code: r for r in report.trial_balance}
    for code in sorted(set(ledger_rows) | set(shown)):
        row, in_ledger = shown.get(code), ledger_rows.get(code)
        check.same(f"trial balance {code} debit", row.debit_minor if row else 0,
                   in_ledger.debit_minor if in_ledger else 0)
        check.same(f"trial balance {code} credit", row.credit_minor if row else 0,
                   in_ledger.credit_minor if in_ledger else 0)
    check.same("trial balance: debits = credits",
               sum(r.debit_minor for r in report.trial_balance),
               sum(r.credit_minor for r in report.trial_balance))
    return check.found


def tie_out_year(session: Session, contract_id: str, fiscal_year: int) -> list[Mismatch]:
    """Every document of the contract year held against the ledger: [] when all agree."""
    ctx = documents.context(session, contract_id, fiscal_year)
    c = ctx.contract
    out: list[Mismatch] = []
    for payer in c.payer_ids if c.pays_on_outcomes else ():
        for payee in notice_payees(c, payer):
            out += notice_mismatches(session,
                                     documents.payment_notice(session, ctx, payer, payee))
    for lender in dict.fromkeys(loan.lender for loan in c.loans):
        out += lender_mismatches(session, documents.lender_statement(session, ctx, lender))
    out += investor_mismatches(session, c.id, documents.investor_statements(session, ctx),
                               [u.id for u in c.unit_classes], ctx.start_on, ctx.end_on)
    report = documents.year_end_report(session, ctx)
    out += year_end_mismatches(session, report, ctx.start_on, ctx.end_on)
    for row, loan in zip(report.lenders, c.loans):
        # Only the figures are compared: the rate (an int 0, not a Decimal) and the day count
        # are placeholders.
        section = sd.LoanSection(loan.id, row.lender.name, loan.commitment_minor, 0, "",  # type: ignore[arg-type]
                                 row.opening_minor, (sd.LoanDraw(ctx.end_on, row.drawn_minor),),
                                 row.repaid_minor, row.written_down_minor,
                                 row.opening_minor + row.drawn_minor - row.repaid_minor
                                 - row.written_down_minor, row.interest_accrued_minor,
                                 row.interest_paid_minor,
                                 default_interest_minor=row.default_interest_minor)
        out += loan_mismatches(session, c.id, report.header.document_id, section,
                               ctx.start_on, ctx.end_on)
    return out
