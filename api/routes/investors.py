"""Holders, their payments, the documents (PDF) and the settlement pack exports over HTTP.

An investor sees only its own holder record, payments and statements; a bank only its own
statement; a finance officer only its own municipality's notice; the intermediary, the auditor
and the admin see everything. A document of another party answers 404.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ContractYear, CurrentUser, PageDep, SessionDep, require
from api.schemas import PageOf, file_responses
from api.users import Caller
from api.writes import run_write
from contracts.store import get_contract
from investors import documents as docs
from investors.pack_export import write_pack
from investors.pdf import render
from investors.store import (
    HolderSpec,
    add_holder,
    get_holder,
    holder_payments,
    list_holders,
    subscribe,
)
from investors.tables import Holder
from ledger.errors import NotFound
from ledger.money_json import MoneyJSON

router = APIRouter(tags=["investors"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Lang = Annotated[str, Query(pattern="^(ja|en)$")]
ALL = ("admin", "intermediary", "auditor")
PDF = file_responses("application/pdf", "The document (PDF)")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class HolderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)
    kind: str
    name_kanji: str = Field(min_length=1)
    name_kana: str = ""
    name_en: str = ""
    tax_category: str = "individual"
    email: str = ""
    address: str = ""


class HolderPublic(BaseModel):
    code: str
    kind: str
    name_kanji: str
    name_kana: str
    name_en: str
    tax_category: str


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_class: str
    holder: str
    units: int = Field(gt=0)
    subscribed_on: date


class PaymentPublic(BaseModel):
    unit_class: str
    paid_on: str
    kind: str
    gross: MoneyJSON
    withheld: MoneyJSON
    net: MoneyJSON


def _holder_public(h: Holder) -> HolderPublic:
    return HolderPublic(code=h.code, kind=h.kind, name_kanji=h.name_kanji,
                        name_kana=h.name_kana, name_en=h.name_en, tax_category=h.tax_category)


def _own_holder(user: Caller, code: str) -> None:
    if user.role == "investor":
        if user.scope != code:
            raise NotFound(f"no holder {code!r} that you may see", "HOLDER_NOT_FOUND", "holder")
    else:
        require(user, *ALL)


@router.get("/holders", response_model=PageOf[HolderPublic])
def holders(session: SessionDep, user: CurrentUser, page: PageDep) -> PageOf[HolderPublic]:
    """The holder registry; an investor sees only itself."""
    if user.role == "investor":
        rows = [get_holder(session, user.scope or "")]
        total = 1
    else:
        require(user, *ALL)
        total = len(list_holders(session))
        rows = list_holders(session, page.offset, page.limit)
    return PageOf[HolderPublic](items=[_holder_public(h) for h in rows], total=total,
                                limit=page.limit, offset=page.offset)


@router.post("/holders", status_code=201, response_model=HolderPublic)
def create_holder(body: HolderCreate, request: Request, session: SessionDep, user: CurrentUser,
                  idempotency_key: IdemKey = None) -> Response:
    """Register a holder (intermediary). No national identification number is accepted."""
    require(user, "admin", "intermediary")
    return run_write(request, session, user, idempotency_key, body, "holder.add",
                     lambda: (201, _holder_public(add_holder(session,
                                                             HolderSpec(**body.model_dump())))))


@router.get("/holders/{code}", response_model=HolderPublic)
def holder(code: str, session: SessionDep, user: CurrentUser) -> HolderPublic:
    _own_holder(user, code)
    return _holder_public(get_holder(session, code))


@router.post("/contracts/{contract_id}/subscriptions", status_code=201)
def create_subscription(contract_id: str, body: SubscriptionCreate, request: Request,
                        session: SessionDep, user: CurrentUser,
                        idempotency_key: IdemKey = None) -> Response:
    """A holder buys units (intermediary)."""
    require(user, "admin", "intermediary")

    def work() -> tuple[int, Any]:
        row = subscribe(session, contract_id, body.unit_class, body.holder, body.units,
                        body.subscribed_on)
        return 201, {"holder": body.holder, "unit_class": row.unit_class, "units": row.units,
                     "entry_id": row.entry_id}
    return run_write(request, session, user, idempotency_key, body, "holder.subscribe", work)


@router.get("/contracts/{contract_id}/holders/{code}/payments",
            response_model=PageOf[PaymentPublic])
def payments(contract_id: str, code: str, session: SessionDep, user: CurrentUser,
             page: PageDep) -> PageOf[PaymentPublic]:
    """A holder's distributions, capital returns and write-downs, with tax withheld."""
    _own_holder(user, code)
    rows = holder_payments(session, contract_id, get_holder(session, code).id)
    cur = get_contract(session, contract_id).currency
    items = [PaymentPublic(unit_class=p.unit_class, paid_on=p.paid_on.isoformat(), kind=p.kind,
                           gross=MoneyJSON.from_minor(p.gross_minor, cur),
                           withheld=MoneyJSON.from_minor(p.withheld_minor, cur),
                           net=MoneyJSON.from_minor(p.net_minor, cur)) for p in rows]
    return PageOf[PaymentPublic](items=items[page.offset:page.offset + page.limit],
                                 total=len(items), limit=page.limit, offset=page.offset)


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/contracts/{contract_id}/years/{fiscal_year}/documents/lenders/{lender}",
            response_class=Response, responses=PDF)
def lender_document(contract_id: str, fiscal_year: ContractYear, lender: str, session: SessionDep,
                    user: CurrentUser, lang: Lang = "ja") -> Response:
    """A bank's statement (PDF)."""
    if user.role == "lender":
        if user.scope != lender:
            raise NotFound(f"no statement for {lender!r} that you may see",
                           "DOCUMENT_NOT_FOUND", "lender")
    else:
        require(user, *ALL)
    ctx = docs.context(session, contract_id, fiscal_year)
    return _pdf(render(docs.lender_statement(session, ctx, lender), lang),
                f"{lender}-FY{fiscal_year}.{lang}.pdf")


@router.get("/contracts/{contract_id}/years/{fiscal_year}/documents/payers/{payer}",
            response_class=Response, responses=PDF)
def payment_notice_document(contract_id: str, fiscal_year: ContractYear, payer: str,
                            session: SessionDep, user: CurrentUser,
                            lang: Lang = "ja") -> Response:
    """A municipality's payment notice (PDF)."""
    if user.role == "finance_officer":
        if user.scope != payer:
            raise NotFound(f"no notice for {payer!r} that you may see", "DOCUMENT_NOT_FOUND",
                           "payer")
    else:
        require(user, *ALL)
    ctx = docs.context(session, contract_id, fiscal_year)
    return _pdf(render(docs.payment_notice(session, ctx, payer), lang),
                f"{payer}-FY{fiscal_year}.{lang}.pdf")


@router.get("/contracts/{contract_id}/years/{fiscal_year}/documents/holders/{code}",
            response_class=Response, responses=PDF)
def investor_document(contract_id: str, fiscal_year: ContractYear, code: str, session: SessionDep,
                      user: CurrentUser, lang: Lang = "ja") -> Response:
    """A holder's statement(s) (PDF; one per class, the first if several)."""
    _own_holder(user, code)
    ctx = docs.context(session, contract_id, fiscal_year)
    statements = docs.investor_statements(session, ctx, [code])
    if not statements:
        raise NotFound(f"{code} holds no units of {contract_id} in FY{fiscal_year}",
                       "DOCUMENT_NOT_FOUND", "holder")
    return _pdf(render(statements[0], lang), f"{code}-FY{fiscal_year}.{lang}.pdf")


@router.get("/contracts/{contract_id}/years/{fiscal_year}/documents/year-end",
            response_class=Response, responses=PDF)
def year_end_document(contract_id: str, fiscal_year: ContractYear, session: SessionDep,
                      user: CurrentUser, lang: Lang = "ja") -> Response:
    """The intermediary's year-end settlement report (PDF)."""
    require(user, *ALL)
    ctx = docs.context(session, contract_id, fiscal_year)
    return _pdf(render(docs.year_end_report(session, ctx), lang),
                f"year-end-FY{fiscal_year}.{lang}.pdf")


@router.get("/contracts/{contract_id}/years/{fiscal_year}/pack.xlsx", response_class=Response,
            responses=file_responses(XLSX, "The settlement pack workbook"))
def pack_xlsx(contract_id: str, fiscal_year: ContractYear, session: SessionDep,
              user: CurrentUser, lang: Lang = "ja") -> Response:
    """The settlement pack workbook (one sheet per table, with totals), in Japanese or
    English."""
    require(user, *ALL)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_pack(session, contract_id, fiscal_year, Path(tmp),
                           "en" if lang == "en" else "ja")
        data = paths[0].read_bytes()
    return Response(data, media_type=XLSX, headers={
                        "Content-Disposition":
                        f'attachment; filename="settlement-pack-FY{fiscal_year}.xlsx"'})


@router.get("/contracts/{contract_id}/years/{fiscal_year}/pack.csv.zip", response_class=Response,
            responses=file_responses("application/zip", "The settlement pack as zipped CSV"))
def pack_csv(contract_id: str, fiscal_year: ContractYear, session: SessionDep,
             user: CurrentUser, lang: Lang = "ja") -> Response:
    """The settlement pack as CSV files (UTF-8 with BOM, headers in Japanese or English),
    zipped."""
    require(user, *ALL)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_pack(session, contract_id, fiscal_year, Path(tmp),
                           "en" if lang == "en" else "ja")
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths[1:]:
                archive.write(path, path.name)
    return Response(buffer.getvalue(), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="settlement-pack-FY{fiscal_year}.zip"'})
