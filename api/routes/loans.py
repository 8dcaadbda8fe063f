"""A loan's documents over HTTP: the balance confirmation (残高証明書), the interest statement
(利息計算書) of a due date and the repayment notice (返済予定通知書), each as PDF (ja/en) or JSON
(amounts as ``{"amount": "…", "currency": "JPY"}``).

A bank sees only its own loans: another bank's loan answers 404 ``LOAN_NOT_FOUND`` exactly like
a loan that does not exist; the intermediary, the auditor, the evaluator and the admin see
every loan.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from api.deps import FULL_READ_ROLES, CurrentUser, SessionDep, require
from api.users import Caller
from investors import loan_documents
from investors.loan_document_data import LoanDocument, document_json
from investors.pdf_loan_documents import render_loan_document
from ledger.errors import NotFound

router = APIRouter(tags=["loan documents"])
Lang = Annotated[Literal["ja", "en"], Query(description="document language")]
Format = Annotated[Literal["pdf", "json"], Query(description="pdf or json")]
PDF_OR_JSON: dict[int | str, dict[str, Any]] = {200: {
    "description": "The document: PDF (the default), or JSON with format=json",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}}}}}


def _may_see(session: Session, user: Caller, contract_id: str, loan_id: str) -> None:
    """A bank reads only its own loans; the others need a full-read role."""
    if user.role == "lender":
        try:
            lender = loan_documents.lender_of(session, contract_id, loan_id)
        except NotFound:
            lender = None
        if lender != user.scope:
            raise NotFound(f"no loan {loan_id!r} in {contract_id} that you may see",
                           "LOAN_NOT_FOUND", "loan_id")
        return
    require(user, *FULL_READ_ROLES)


def _answer(document: LoanDocument, fmt: str, lang: str, name: str) -> Response:
    if fmt == "json":
        return JSONResponse(document_json(document))
    return Response(render_loan_document(document, lang), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.{lang}.pdf"'})


@router.get("/contracts/{contract_id}/loans/{loan_id}/confirmation", response_class=Response,
            responses=PDF_OR_JSON)
def confirmation(contract_id: str, loan_id: str, session: SessionDep, user: CurrentUser,
                 as_of: Annotated[date, Query(description="balances at the end of this day")],
                 issued_on: Annotated[date | None, Query(description="date of issue (default: "
                                                         "the ledger state's day)")] = None,
                 format: Format = "pdf", lang: Lang = "ja") -> Response:
    """残高証明書: the loan's principal, arrears, 遅延損害金 and interest at the end of
    ``as_of``, from the ledger."""
    _may_see(session, user, contract_id, loan_id)
    doc = loan_documents.balance_confirmation(session, contract_id, loan_id, as_of, issued_on)
    return _answer(doc, format, lang, f"{loan_id}-confirmation-{as_of}")


@router.get("/contracts/{contract_id}/loans/{loan_id}/interest-statements/{due_on}",
            response_class=Response, responses=PDF_OR_JSON)
def interest_statement(contract_id: str, loan_id: str, due_on: date, session: SessionDep,
                       user: CurrentUser,
                       as_of: Annotated[date | None, Query(description="payments and 遅延損害金 "
                                                           "counted to this day")] = None,
                       format: Format = "pdf", lang: Lang = "ja") -> Response:
    """利息計算書 of the interest due on ``due_on``: period, principal per stretch, days, rate,
    day count, exact amount, rounding, payments and 遅延損害金."""
    _may_see(session, user, contract_id, loan_id)
    doc = loan_documents.interest_statement(session, contract_id, loan_id, due_on, as_of)
    return _answer(doc, format, lang, f"{loan_id}-interest-{due_on}")


@router.get("/contracts/{contract_id}/loans/{loan_id}/repayment-notices/{due_on}",
            response_class=Response, responses=PDF_OR_JSON)
def repayment_notice(contract_id: str, loan_id: str, due_on: date, session: SessionDep,
                     user: CurrentUser,
                     on: Annotated[date | None, Query(description="the notice's date (default: "
                                                      "the ledger state's day, at the latest "
                                                      "the day before the due date)")] = None,
                     format: Format = "pdf", lang: Lang = "ja") -> Response:
    """返済予定通知書: what the loan will owe on ``due_on`` (interest, principal, arrears and
    their 遅延損害金 to that date) as the ledger stands on ``on``."""
    _may_see(session, user, contract_id, loan_id)
    doc = loan_documents.repayment_notice(session, contract_id, loan_id, due_on, on)
    return _answer(doc, format, lang, f"{loan_id}-notice-{due_on}")


__all__ = ["router"]
