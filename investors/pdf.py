"""The four documents rendered from their data records to PDF bytes: the entry point.

Every document: A4; all text in the embedded IPAexGothic; the document language sets labels,
number and date forms and the PDF's ``/Lang``; the footer carries the page number, the
generation timestamp taken from the data (never the clock) and the ledger state hash with the
instruction to check it with ``sib ledger verify``. Rendering the same ledger state twice gives
identical files.

Where things are: :mod:`investors.pdf_layout` (the row model and the blocks built from it),
:mod:`investors.pdf_pages` (pagination, drawing, page furniture, the PDF bytes),
:mod:`investors.pdf_parts` (what several documents share), and one module per document.
"""

from __future__ import annotations

from collections.abc import Callable

from investors.formatting import check_lang
from investors.loan_document_data import (
    BalanceConfirmation,
    InterestStatement,
    LoanDocument,
    RepaymentNotice,
)
from investors.pdf_investor_statement import investor_statement_blocks, render_investor_statement
from investors.pdf_lender_statement import lender_statement_blocks, render_lender_statement
from investors.pdf_loan_documents import render_loan_document
from investors.pdf_pages import KIND_LABELS, page_count
from investors.pdf_payment_notice import payment_notice_blocks, render_payment_notice
from investors.pdf_year_end_report import render_year_end_report, year_end_report_blocks
from investors.statement_data import (
    Document,
    InvestorStatement,
    LenderStatement,
    PaymentNotice,
    YearEndReport,
)
from ledger.errors import SibError

__all__ = ["KIND_LABELS", "investor_statement_blocks", "lender_statement_blocks", "page_count",
           "payment_notice_blocks", "render", "render_investor_statement",
           "render_lender_statement", "render_payment_notice", "render_year_end_report",
           "year_end_report_blocks"]

_RENDERERS: dict[type, Callable[..., bytes]] = {
    LenderStatement: render_lender_statement,
    InvestorStatement: render_investor_statement,
    PaymentNotice: render_payment_notice,
    YearEndReport: render_year_end_report,
    BalanceConfirmation: render_loan_document,
    InterestStatement: render_loan_document,
    RepaymentNotice: render_loan_document,
}


def render(document: Document | LoanDocument, lang: str = "ja") -> bytes:
    """Any document as PDF bytes, by the type of its data record."""
    renderer = _RENDERERS.get(type(document))
    if renderer is None:
        raise SibError(f"no renderer for {type(document).__name__}", "DOCUMENT_KIND_UNKNOWN",
                       "document")
    return renderer(document, check_lang(lang))

