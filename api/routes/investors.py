"""Holders, their payments, the tax withheld from them, the documents (PDF) and the settlement
pack exports over HTTP.

An investor sees only its own holder record, payments and statements; a bank only its own
statement; a finance officer only its own municipality's notice (the lead payer every
payer's, read-only, where the contract grants it); the intermediary, the auditor
and the admin see everything. A document of another party answers 404. Only the intermediary
(and admin) pays withheld tax over to the tax office.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    ContractYear,
    CurrentUser,
    PageDep,
    SessionDep,
    require,
    require_visible_payer,
)
from api.output import money_text
from api.routes.money import MOVERS
from api.schemas import PageOf, file_responses
from api.users import Caller
from api.writes import run_write
from contracts.store import get_contract
from investors import documents as docs
from investors.holder_returns import as_json as returns_json
from investors.holder_returns import holder_returns
from investors.pack_export import write_pack
from investors.pdf import render
from investors.store import (
    HolderSpec,
    TaxRemittance,
    add_holder,
    get_holder,
    holder_payments,
    list_holders,
    payment_records,
    payment_records_summary,
    remit_withholding,
    subscribe,
)
from investors.tables import Holder
from investors.tax import SlipLine
from investors.withholding import PaymentRecord, RecordSummary
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


@router.get("/contracts/{contract_id}/returns")
def returns(contract_id: str, session: SessionDep, user: CurrentUser,
            as_of: date = Query(description="value on this day"),
            holder: str | None = Query(None, description="one holder's rows only")
            ) -> list[dict[str, Any]]:
    """Per holder and class (and, without ``holder``, per class): paid in, the return and the
    capital paid back, recovered from a guarantor, written down, tax withheld, residual value,
    IRR and multiple — the investor statement's figures. An investor sees only its own."""
    if user.role == "investor":
        if holder is not None and holder != user.scope:
            raise NotFound(f"no holder {holder!r} that you may see", "HOLDER_NOT_FOUND",
                           "holder")
        holder = user.scope
    else:
        require(user, *ALL)
    currency = get_contract(session, contract_id).currency
    return [returns_json(r, currency)
            for r in holder_returns(session, contract_id, as_of, holder)]


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
    """A municipality's payment notice (PDF): a finance officer's own, or every payer's for
    the lead payer of a contract that grants it (:func:`api.deps.payers_visible_to`)."""
    if user.role == "finance_officer":
        require_visible_payer(user, get_contract(session, contract_id), payer,
                              "DOCUMENT_NOT_FOUND")
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


# --------------------------------------------------------------------------- withheld tax

TOKYO = ZoneInfo("Asia/Tokyo")


def today_in_japan() -> date:
    """Today's date where the tax office is: a month that has not begun there is refused."""
    return datetime.now(TOKYO).date()


class TaxRemittanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(description="YYYY-MM: the month the holders were paid and the tax "
                                   "withheld")
    paid_on: date | None = Field(None, description="the day the tax is paid over; default: "
                                                   "the due date (the 10th of the next month, "
                                                   "or the next business day)")


class SlipLinePublic(BaseModel):
    income_type: str
    form: str = Field(description="the payment slip (所得税徴収高計算書) it is paid with")
    category: str = Field(description="the slip's row (区分)")
    category_en: str
    recipients: int = Field(description="人員: recipients paid with tax withheld")
    paid: MoneyJSON = Field(description="支払額: gross paid to them")
    withheld: MoneyJSON = Field(description="税額: income tax and surtax together")
    income_tax: MoneyJSON = Field(description="所得税: 税額 ÷ 102.1 %, truncated")
    reconstruction_tax: MoneyJSON = Field(description="復興特別所得税: the rest of 税額")


class SlipPublic(BaseModel):
    """The data a payment slip (納付書) for the month needs."""

    month: str
    form: str
    recipients: int
    paid: MoneyJSON
    withheld: MoneyJSON
    income_tax: MoneyJSON
    reconstruction_tax: MoneyJSON
    due_on: date
    lines: list[SlipLinePublic]


class TaxRemittancePublic(BaseModel):
    contract: str
    month: str
    status: str = Field(description="posted, already_posted or nothing_withheld")
    message: str
    entry_id: int | None
    paid_on: date | None
    due_on: date
    late: bool
    days_late: int
    slip: SlipPublic


def _line_public(line: SlipLine, cur: str) -> SlipLinePublic:
    c = line.category
    return SlipLinePublic(
        income_type=c.income_type, form=c.form_ja, category=c.category_ja,
        category_en=c.category_en, recipients=line.recipients,
        paid=MoneyJSON.from_minor(line.paid_minor, cur),
        withheld=MoneyJSON.from_minor(line.withheld_minor, cur),
        income_tax=MoneyJSON.from_minor(line.income_tax_minor, cur),
        reconstruction_tax=MoneyJSON.from_minor(line.reconstruction_tax_minor, cur))


def _remittance_message(r: TaxRemittance) -> str:
    slip = r.slip
    if r.paid_on is None:
        return f"nothing was withheld in {slip.month}: nothing to pay over"
    done = "paid over" if r.posted else "was already paid over"
    text = (f"{slip.month}: {money_text(slip.withheld_minor, slip.currency, True)} withheld from "
            f"{slip.recipients} recipients {done} on {r.paid_on.isoformat()} (entry "
            f"{r.entry_id}), due {slip.due_on.isoformat()}")
    if not r.posted:
        text += "; nothing posted again"
    if r.days_late:
        text += (f" — LATE by {r.days_late} days (the tax office may charge 延滞税 and "
                 "不納付加算税)")
    return text


def tax_remittance_public(r: TaxRemittance) -> TaxRemittancePublic:
    """A remittance as the API and ``sib tax remit --json`` show it."""
    slip, cur = r.slip, r.slip.currency
    forms = sorted({line.category.form_ja for line in slip.lines})
    status = ("posted" if r.posted else "already_posted" if r.entry_id is not None
              else "nothing_withheld")
    return TaxRemittancePublic(
        contract=r.contract_id, month=str(slip.month), status=status,
        message=_remittance_message(r), entry_id=r.entry_id, paid_on=r.paid_on,
        due_on=slip.due_on, late=r.days_late > 0, days_late=r.days_late,
        slip=SlipPublic(
            month=str(slip.month), form=" / ".join(forms), recipients=slip.recipients,
            paid=MoneyJSON.from_minor(slip.paid_minor, cur),
            withheld=MoneyJSON.from_minor(slip.withheld_minor, cur),
            income_tax=MoneyJSON.from_minor(slip.income_tax_minor, cur),
            reconstruction_tax=MoneyJSON.from_minor(slip.reconstruction_tax_minor, cur),
            due_on=slip.due_on, lines=[_line_public(line, cur) for line in slip.lines]))


@router.post("/contracts/{contract_id}/tax-remittances", status_code=201,
             response_model=TaxRemittancePublic)
def post_tax_remittance(contract_id: str, body: TaxRemittanceCreate, request: Request,
                        session: SessionDep, user: CurrentUser,
                        idempotency_key: IdemKey = None) -> Response:
    """Pay over to the tax office the tax withheld from holder payments in a month
    (intermediary), with the data of its payment slip (納付書). Once per month: 201 when
    posted; the same month again answers 200 with the same remittance, and a month with
    nothing withheld answers 200 and posts nothing. Paying after the due date is allowed and
    marked late."""
    require(user, *MOVERS)

    def work() -> tuple[int, Any]:
        result = remit_withholding(session, contract_id, body.month, body.paid_on,
                                   today_in_japan())
        return (201 if result.posted else 200), tax_remittance_public(result)
    return run_write(request, session, user, idempotency_key, body, "tax.remit", work)


class RecordTotalsPublic(BaseModel):
    count: int
    paid: MoneyJSON
    withheld: MoneyJSON


class RecordFilingPublic(BaseModel):
    holder: str
    name: str
    paid: MoneyJSON
    withheld: MoneyJSON
    count: int
    must_file: bool


class RecordSummaryPublic(BaseModel):
    """The 合計表 figures of a year's 支払調書, and which records are filed."""

    year: int
    threshold: MoneyJSON | None = Field(description="a record is filed when the year's "
                                                    "payments to a recipient exceed it")
    filed: RecordTotalsPublic
    below_threshold: RecordTotalsPublic
    total: RecordTotalsPublic
    records: list[RecordFilingPublic]


def record_summary_public(records: list[PaymentRecord],
                          summary: RecordSummary) -> RecordSummaryPublic:
    """The 合計表 as the API and ``sib holder records --summary --json`` show it."""
    cur = summary.currency

    def totals(count: int, paid: int, withheld: int) -> RecordTotalsPublic:
        return RecordTotalsPublic(count=count, paid=MoneyJSON.from_minor(paid, cur),
                                  withheld=MoneyJSON.from_minor(withheld, cur))
    thresholds = [r.threshold_minor for r in records if r.threshold_minor is not None]
    return RecordSummaryPublic(
        year=summary.year,
        threshold=MoneyJSON.from_minor(max(thresholds), cur) if thresholds else None,
        filed=totals(summary.filed_count, summary.filed_paid_minor,
                     summary.filed_withheld_minor),
        below_threshold=totals(summary.below_count, summary.below_paid_minor,
                               summary.below_withheld_minor),
        total=totals(summary.total_count, summary.total_paid_minor,
                     summary.total_withheld_minor),
        records=[RecordFilingPublic(holder=r.recipient.holder_id, name=r.recipient.name,
                                    paid=MoneyJSON.from_minor(r.paid_minor, cur),
                                    withheld=MoneyJSON.from_minor(r.withheld_minor, cur),
                                    count=r.count, must_file=r.must_file)
                 for r in records if r.count])


@router.get("/contracts/{contract_id}/payment-records/summary",
            response_model=RecordSummaryPublic)
def payment_records_summary_route(contract_id: str, session: SessionDep, user: CurrentUser,
                                  calendar_year: Annotated[int, Query(ge=1900, le=2200)]
                                  ) -> RecordSummaryPublic:
    """The 合計表 of a calendar year's 支払調書 (intermediary, auditor): records filed (paid
    more than the legal threshold, ¥50,000 for 匿名組合 distributions) and those below it, each
    with its count, total paid and total withheld; and each record's filing mark."""
    require(user, *ALL)
    return record_summary_public(payment_records(session, contract_id, calendar_year),
                                 payment_records_summary(session, contract_id, calendar_year))
