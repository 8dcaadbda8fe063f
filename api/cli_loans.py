"""``sib loan confirm|interest|notice``: a loan's documents — the balance confirmation
(残高証明書), the interest statement (利息計算書) of a due date and the repayment notice
(返済予定通知書) — as a summary, as JSON (``--json``) or as a PDF (``--out FILE.pdf``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from sqlmodel import Session

from api import cli_audit
from api.output import money_text, print_json, print_table
from investors import loan_documents
from investors.files import write_atomic
from investors.formatting import check_lang, format_rate
from investors.loan_document_data import (
    BalanceConfirmation,
    InterestStatement,
    LoanDocument,
    RepaymentNotice,
    document_json,
)
from investors.pdf_loan_documents import render_loan_document
from ledger.calendar import parse_date

loan_app = typer.Typer(help="A loan's documents: 残高証明書 (confirm), 利息計算書 (interest), "
                       "返済予定通知書 (notice).", no_args_is_help=True)
ContractOpt = typer.Option(..., "--contract", "-c")
LoanOpt = typer.Option(..., "--loan", help="the loan's id in the contract")
LangOpt = typer.Option("ja", "--lang", help="ja or en")
JsonOpt = typer.Option(False, "--json", help="Print the document as JSON.")
OutOpt = typer.Option(None, "--out", "-o", help="write the document as PDF to this file")


def _emit(build: Callable[[Session], LoanDocument], lang: str, as_json: bool,
          out: Path | None) -> None:
    """Build the document in one unit of work; print it as JSON, write it as PDF, or print a
    summary."""
    check_lang(lang)
    doc = cli_audit.run(build)
    if out is not None:
        write_atomic(out, render_loan_document(doc, lang))
        typer.echo(f"wrote {out}")
    if as_json:
        print_json(document_json(doc))
    elif out is None:
        _summary(doc)


def _summary(doc: LoanDocument) -> None:
    cur = doc.header.currency
    rows: list[tuple[str, Any]]
    if isinstance(doc, BalanceConfirmation):
        title = f"{doc.loan.name.ja} ({doc.loan.loan_id}) — 残高証明書 as of {doc.as_of}"
        rows = [("principal outstanding", doc.principal_minor),
                ("of which overdue", doc.overdue_principal_minor),
                ("overdue interest", doc.overdue_interest_minor),
                ("default interest (遅延損害金) unpaid", doc.default_interest_owed_minor),
                ("interest since the last due date", doc.interest_running_minor),
                ("interest payable booked", doc.interest_payable_minor),
                ("commitment", doc.loan.commitment_minor), ("drawn", doc.drawn_minor)]
        if doc.next_due is not None:
            rows.append((f"next due {doc.next_due.due_on}", doc.next_due.total_minor))
    elif isinstance(doc, InterestStatement):
        title = (f"{doc.loan.name.ja} ({doc.loan.loan_id}) — 利息計算書, due {doc.due_on} "
                 f"(period {doc.period_start_on} – {doc.due_on})")
        rows = [(f"{s.since_on} – {s.until_on}: {money_text(s.principal_minor, cur)} × "
                 f"{format_rate(s.rate_annual, 'en', 3)} × "
                 f"{s.days}/{s.basis_days}", None) for s in doc.stretches]
        rows += [("interest due (rounded: " + doc.rounding.value + ")", doc.interest_minor),
                 *((f"paid on {p.paid_on}", p.amount_minor) for p in doc.payments),
                 ("interest unpaid", doc.interest_unpaid_minor),
                 (f"default interest to {doc.as_of}", doc.default_interest_minor),
                 ("default interest paid", doc.default_interest_paid_minor)]
    else:
        assert isinstance(doc, RepaymentNotice)
        title = (f"{doc.loan.name.ja} ({doc.loan.loan_id}) — 返済予定通知書 for {doc.due_on} "
                 f"(as recorded on {doc.notice_on})")
        rows = [(f"{line.component} due {line.due_on}", line.amount_minor)
                for line in doc.lines]
        rows += [("total due", doc.total_minor),
                 ("principal after payment", doc.principal_after_minor)]
    print_table(title, ["", cur], [(name, "" if amount is None else money_text(amount, cur))
                                   for name, amount in rows], right=[1])


@loan_app.command("confirm")
def confirm_command(contract: str = ContractOpt, loan: str = LoanOpt,
                    as_of: str = typer.Option(..., "--as-of", help="balances at the end of "
                                              "this day (2021-10-15, 令和3年10月15日)"),
                    issued_on: str | None = typer.Option(None, "--issued-on", help="date of "
                                                         "issue (default: the ledger state's "
                                                         "day)"),
                    lang: str = LangOpt, as_json: bool = JsonOpt,
                    out: Path | None = OutOpt) -> None:
    """残高証明書: the loan's balances at the end of a day, from the ledger."""
    on = parse_date(as_of, "as_of")
    issued = parse_date(issued_on, "issued_on") if issued_on else None
    _emit(lambda s: loan_documents.balance_confirmation(s, contract, loan, on, issued),
          lang, as_json, out)


@loan_app.command("interest")
def interest_command(contract: str = ContractOpt, loan: str = LoanOpt,
                     due: str = typer.Option(..., "--due", help="the due date"),
                     as_of: str | None = typer.Option(None, "--as-of", help="payments and "
                                                      "遅延損害金 counted to this day"),
                     lang: str = LangOpt, as_json: bool = JsonOpt,
                     out: Path | None = OutOpt) -> None:
    """利息計算書: how the interest due on a date was computed, and what was paid of it."""
    due_on = parse_date(due, "due")
    on = parse_date(as_of, "as_of") if as_of else None
    _emit(lambda s: loan_documents.interest_statement(s, contract, loan, due_on, on),
          lang, as_json, out)


@loan_app.command("notice")
def notice_command(contract: str = ContractOpt, loan: str = LoanOpt,
                   due: str = typer.Option(..., "--due", help="the due date"),
                   on: str | None = typer.Option(None, "--on", help="the notice's date "
                                                 "(default: the ledger state's day, at the "
                                                 "latest the day before the due date)"),
                   lang: str = LangOpt, as_json: bool = JsonOpt,
                   out: Path | None = OutOpt) -> None:
    """返済予定通知書: what the loan will owe on a due date, arrears and 遅延損害金 included."""
    due_on = parse_date(due, "due")
    notice_on = parse_date(on, "on") if on else None
    _emit(lambda s: loan_documents.repayment_notice(s, contract, loan, due_on, notice_on),
          lang, as_json, out)
