"""Writing every document of a contract-year, on all cores.

Document data is built in the calling process (a few queries per contract), then rendering —
pure CPU, no database — is spread over worker processes, each writing its files directly so
that only the small data records cross process boundaries. The output is deterministic: the
same ledger state gives the same files, whatever the number of processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from contracts.chart import Code, Kind, notice_payees
from investors import documents
from investors.files import write_atomic
from investors.loan_document_data import LoanDocument
from investors.loan_documents import balance_confirmation
from investors.pdf import render
from investors.statement_data import Document
from ledger import read

KIND_DIRS = {"lender_statement": "lenders", "investor_statement": "investors",
             "payment_notice": "notices", "year_end_report": "year-end",
             "loan_confirmation": "lenders/confirmations"}
LOAN_KINDS = ("loan_confirmation", "interest_statement", "repayment_notice")


@dataclass(frozen=True)
class Job:
    """One document to render: where it goes (relative to the output folder) and its data."""

    path: str
    document: Document | LoanDocument
    lang: str


def _name(document: Document | LoanDocument) -> str:
    if document.kind in LOAN_KINDS:  # <kind>/<contract>/<loan>/<date>: the loan and the date
        return "_".join(document.header.document_id.split("/")[2:])
    return document.header.document_id.split("/", 3)[-1].replace("/", "_")


def jobs_for_year(session: Session, contract_id: str, fiscal_year: int,
                  langs: Sequence[str] = ("ja", "en"),
                  generated_at: datetime | None = None) -> list[Job]:
    """Every document of the year: :func:`contract_documents` and a statement per holder and
    class — in each language."""
    ctx = documents.context(session, contract_id, fiscal_year, generated_at)
    return jobs_of([*contract_documents(session, ctx),
                    *documents.investor_statements(session, ctx)], langs)


def contract_documents(session: Session,
                       ctx: documents.Context) -> list[Document | LoanDocument]:
    """Every document of the year but the investor statements: a statement per lender, a
    notice per payer and payee (where the contract pays on outcomes: a fixed-fee programme's
    municipality pays its providers itself, and is sent no notice), the year-end report, and a
    balance confirmation (残高証明書) at the year end of each loan outstanding in the year."""
    contract_id = ctx.contract.id
    docs: list[Document | LoanDocument] = [documents.year_end_report(session, ctx)]
    if ctx.contract.pays_on_outcomes:
        # One notice per (payer, payee): the SPV's, and each provider's a tranche pays directly.
        docs += [documents.payment_notice(session, ctx, p.party, payee)
                 for p in ctx.contract.payers
                 for payee in notice_payees(ctx.contract, p.party)]
    docs += [documents.lender_statement(session, ctx, lender)
             for lender in dict.fromkeys(loan.lender for loan in ctx.contract.loans)]
    # A balance confirmation (残高証明書) of every loan at the year end, as each bank's
    # auditors ask for it: every loan outstanding at some time in the year.
    docs += [balance_confirmation(session, contract_id, loan.id, ctx.end_on)
             for loan in ctx.contract.loans
             if _outstanding_in(session, contract_id, loan.id, ctx.start_on, ctx.end_on)]
    return docs


def jobs_of(docs: Sequence[Document | LoanDocument], langs: Sequence[str]) -> list[Job]:
    """Each document in each language, with the path it is written to."""
    return [Job(f"{KIND_DIRS[d.kind]}/{_name(d)}.{lang}.pdf", d, lang)
            for d in docs for lang in langs]


def _outstanding_in(session: Session, contract_id: str, loan_id: str, start_on: date,
                    end_on: date) -> bool:
    """The loan owed something at the start or the end of the period, or was drawn in it."""
    account = Code.loan(loan_id)
    return bool(read.balance_as_of(session, contract_id, account, start_on - timedelta(days=1))
                or read.balance_as_of(session, contract_id, account, end_on)
                or read.totals(session, contract_id, account, kinds=[Kind.LOAN_DRAWDOWN],
                               from_on=start_on, through_on=end_on).credits_minor)


def write_job(out_dir: Path, job: Job) -> None:
    """Render one document and write it, whole or not at all."""
    write_atomic(out_dir / job.path, render(job.document, job.lang))


def _render_chunk(out_dir: str, chunk: Sequence[Job]) -> int:
    for job in chunk:
        write_job(Path(out_dir), job)
    return len(chunk)


def _chunks(jobs: Sequence[Job], size: int) -> Iterable[Sequence[Job]]:
    for start in range(0, len(jobs), size):
        yield jobs[start:start + size]


def write_documents(jobs: Sequence[Job], out_dir: Path, processes: int | None = None,
                    on_progress: Callable[[int], None] | None = None) -> int:
    """Render and write ``jobs`` into ``out_dir`` with ``processes`` workers (default: all
    cores); ``on_progress`` is called with the number of documents finished by each chunk."""
    out_dir.mkdir(parents=True, exist_ok=True)
    processes = processes or os.cpu_count() or 1
    if processes == 1 or len(jobs) < 8:
        done = 0
        for chunk in _chunks(jobs, 16):
            done += _render_chunk(str(out_dir), chunk)
            if on_progress:
                on_progress(len(chunk))
        return done
    size = max(1, min(64, len(jobs) // (processes * 4) or 1))
    done = 0
    with ProcessPoolExecutor(max_workers=processes) as pool:
        futures = [pool.submit(_render_chunk, str(out_dir), chunk)
                   for chunk in _chunks(jobs, size)]
        for future in futures:
            finished = future.result()
            done += finished
            if on_progress:
                on_progress(finished)
    return done
