"""The intermediary's year as a checklist: each step's state read from the books (not kept
apart), who did it and when, and the next step open only when the one before is done.

The order is the demo's, the order the books need: results audited (by someone other than who
submitted them), preview, settle, close (interest accrued to the year end, the notices issued),
each finance office's inspection and approval, receipts, the waterfall, the holders' payments,
then the year's documents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlmodel import Session, col

from api.cli_retries import year_closed
from api.deps import SessionDep, require
from api.portal import charts, text, whatif
from api.portal.auth import PortalUser
from api.routes import investors as investor_routes
from api.routes import money as money_routes
from api.routes import settlement as settlement_routes
from api.tables import AuditRecord
from contracts.chart import Kind
from contracts.model import Contract
from contracts.store import get_contract
from investors.store import holder_payments, units_held
from ledger import read
from ledger.calendar import fiscal_year_bounds, next_business_day
from ledger.errors import SibError
from ledger.money import parse_major
from ledger.money_json import MoneyJSON
from settlement import close as closing
from settlement import results, runs
from settlement.approvals import unapproved_years
from settlement.budget import due_on

router = APIRouter()
SETTLERS = ("admin", "intermediary")
Csrf = Annotated[str | None, Form(alias="csrf")]
FormKey = Annotated[str, Form(alias="form_key")]


@dataclass(frozen=True)
class Step:
    """One line of the checklist.

    Attributes:
        key: the step's name (``kpi``, ``settle``…), its label's key too.
        done: whether the books show it done.
        enabled: whether it may be done now (the step before is done).
        who, at: who did it and when, as recorded (empty when nobody has).
        note: a figure or state worth reading beside it.
        amount_minor: an amount worth reading beside it (what is still to be received).
    """

    key: str
    done: bool
    enabled: bool
    who: str = ""
    at: datetime | date | None = None
    note: str = ""
    amount_minor: int | None = None


def _recorded(session: Session, action: str, target_part: str) -> tuple[str, datetime | None]:
    """Who made the newest successful write ``action`` whose target names ``target_part``, and
    when (the audit log)."""
    row = session.scalars(select(AuditRecord).where(
        col(AuditRecord.action) == action, col(AuditRecord.status) < 300,
        col(AuditRecord.target).contains(target_part)).order_by(
        col(AuditRecord.id).desc()).limit(1)).first()
    return (row.username, row.at) if row is not None else ("", None)


def waterfall_of(session: Session, contract_id: str, reference: str
                 ) -> tuple[date | None, datetime | None]:
    """The date of the waterfall run under ``reference`` and when it was recorded, if any."""
    for entry in read.entries(session, contract_id):
        key = entry.links.get("distribution")
        if entry.links.get("step") and isinstance(key, str) and key.endswith(f":{reference}"):
            return entry.effective_on, entry.recorded_at
    return None, None


def steps(session: Session, c: Contract, fy: int) -> tuple[list[Step], dict[str, Any]]:
    """The checklist of ``fy`` and the figures its forms need."""
    reference = f"FY{fy}"
    where = f"/contracts/{c.id}/years/{fy}/"
    rows = results.results_for(session, c.id, fy)
    pending = results.pending_audit(session, c.id, fy, "final")
    audited = results.current_audited(session, c.id, fy, "final")
    kpi_done = bool(audited) and not pending
    last = max(rows, key=lambda r: r.audited_at or r.submitted_at, default=None)
    run = next(iter(reversed(runs.runs_of(session, c.id, fy, "final"))), None)
    closed = year_closed(session, c.id, fy)
    pack = closing.build_pack(session, c, fy).as_dict() if run is not None else None
    payers = [p for p in (pack["payers"] if pack else []) if p["due"]]
    unapproved = [p["payer"] for p in payers if fy in unapproved_years(session, c,
                                                                       p["payer"])]
    outstanding = sum(p["outstanding"] for p in payers)
    receipts = read.entries(session, c.id, kinds=[Kind.OUTCOME_RECEIPT],
                            links={"reference": reference})
    waterfall_on, waterfall_at = waterfall_of(session, c.id, reference)
    paid_holders = [p for p in holder_payments(session, c.id) if p.paid_on == waterfall_on] \
        if waterfall_on else []
    # Holders are owed a payment only once someone holds units (sold from year 3 in the demo).
    holders_due = waterfall_on is not None and any(
        units_held(session, c.id, unit_class.id, waterfall_on) for unit_class in c.unit_classes)
    out = [Step("kpi", kpi_done, True, _who_kpi(last), _kpi_time(last),
                f"{len(audited)} / {len(audited) + len(pending)}")]
    out.append(Step("preview", kpi_done, kpi_done))  # a read: open once the results are
    who, at = _recorded(session, "settlement.run", where)
    out.append(Step("settle", run is not None, kpi_done, who or (run.created_by if run else ""),
                    at or (run.settled_on if run else None)))
    who, at = _recorded(session, "settlement.close", where)
    out.append(Step("close", closed, run is not None, who, at))
    out.append(Step("approval", closed and not unapproved, closed, note=", ".join(unapproved)))
    # The pack counts what is owed at the year end; a receipt in the closing period is
    # recorded under the year's reference: each payer owing something has one.
    paying = {p["payer"] for p in payers if p["outstanding"]}
    received_from = {str(e.links.get("payer")) for e in receipts}
    received = closed and not unapproved and bool(receipts) and paying <= received_from
    outstanding -= sum(e.amount_on("cash", "D") for e in receipts)
    out.append(Step("receipts", received, closed and not unapproved,
                    *_recorded(session, "money.receive", f"/{c.id}/"),
                    amount_minor=max(outstanding, 0)))
    who, _ = _recorded(session, "money.distribute", f"/{c.id}/")
    out.append(Step("waterfall", waterfall_on is not None, received, who, waterfall_at,
                    waterfall_on.isoformat() if waterfall_on else ""))
    # Done when holders were paid that day, or the payment was run for the year (in a year
    # before any unit was sold it pays nobody).
    who, at = _recorded(session, "holder.pay", where)
    out.append(Step("holders", bool(paid_holders) or at is not None
                    or (waterfall_on is not None and not holders_due),
                    waterfall_on is not None, who, at, str(len(paid_holders))))
    out.append(Step("documents", out[-1].done, out[-1].done))
    # A step is open only when every step before it is done.
    opened = []
    before_done = True
    for s in out:
        opened.append(Step(s.key, s.done, s.enabled and before_done, s.who, s.at, s.note,
                           s.amount_minor))
        before_done = before_done and s.done
    # The forms' suggested dates, from the contract's own year end (31 March: 20 and 29 May,
    # inside the closing period; a June year end: 19 and 28 August).
    year_end = c.fiscal_year_bounds(fy)[1]
    figures = {"payers": payers, "reference": reference, "received_from": received_from,
               "waterfall_on": waterfall_on,
               "receive_on": next_business_day(year_end + timedelta(days=50)),
               "distribute_on": next_business_day(year_end + timedelta(days=59)),
               "due_on": due_on(c, fy), "final": fy == c.last_fiscal_year}
    return opened, figures


def _who_kpi(row: Any) -> str:
    if row is None:
        return ""
    return f"{row.submitted_by} → {row.audited_by}" if row.audited_by else row.submitted_by


def _kpi_time(row: Any) -> datetime | None:
    return None if row is None else (row.audited_at or row.submitted_at)


def _settler(user: Any) -> None:
    require(user, *SETTLERS)


@router.get("/workflow", response_class=HTMLResponse)
def workflow_page(request: Request, session: SessionDep, user: PortalUser,
                  contract: str | None = None, fy: int | None = None) -> HTMLResponse:
    from api.portal.pages import _contract, _contracts, _next_year, _year, render
    _settler(user)
    c = _contract(session, user, contract)
    year = _year(c, fy, _next_year(session, c))
    checklist, figures = steps(session, c, year)
    return render(request, "workflow.html", contract=c, contracts=_contracts(session, user),
                  fiscal_year=year, steps=checklist, figures=figures,
                  jobs=recent_jobs(request, session, user, c.id, year),
                  years=list(range(c.first_fiscal_year, c.last_fiscal_year + 1)))


def _back(contract: str, fy: int, page: str = "workflow") -> Response:
    from api.portal.pages import _see_other
    return _see_other(f"/portal/{page}?{urlencode({'contract': contract, 'fy': fy})}")


def _check(request: Request, csrf: str | None) -> None:
    from api.portal.pages import _checked
    _checked(request, csrf)


@router.post("/contracts/{contract}/years/{fy}/settle")
def settle(request: Request, session: SessionDep, user: PortalUser, contract: str, fy: int,
           form_key: FormKey, csrf: Csrf = None) -> Response:
    _check(request, csrf)
    settlement_routes.settle(contract, fy, settlement_routes.SettleRequest(), request,
                             session, user, idempotency_key=f"portal:{form_key}")
    return _back(contract, fy)


@router.post("/contracts/{contract}/years/{fy}/close")
def close(request: Request, session: SessionDep, user: PortalUser, contract: str, fy: int,
          form_key: FormKey, csrf: Csrf = None) -> Response:
    _check(request, csrf)
    settlement_routes.close(contract, fy, request, session, user, None,
                            idempotency_key=f"portal:{form_key}")
    return _back(contract, fy)


@router.post("/contracts/{contract}/years/{fy}/receipts")
def receive(request: Request, session: SessionDep, user: PortalUser, contract: str, fy: int,
            payer: Annotated[str, Form()], amount: Annotated[str, Form(max_length=40)],
            on: Annotated[date, Form()], reference: Annotated[str, Form()],
            form_key: FormKey, csrf: Csrf = None) -> Response:
    _check(request, csrf)
    # Typed in major units of the contract's currency (5479139 yen, 519810.75 dollars).
    currency = get_contract(session, contract).currency
    money_routes.post_receipt(contract, money_routes.ReceiptCreate(
        payer=payer, amount=MoneyJSON.from_minor(parse_major(amount, currency, "amount"),
                                                 currency), received_on=on,
        reference=reference, fiscal_year=fy), request, session, user,
        idempotency_key=f"portal:{form_key}")
    return _back(contract, fy)


@router.post("/contracts/{contract}/years/{fy}/waterfall")
def waterfall(request: Request, session: SessionDep, user: PortalUser, contract: str, fy: int,
              on: Annotated[date, Form()], reference: Annotated[str, Form()],
              form_key: FormKey, final: Annotated[str, Form()] = "",
              csrf: Csrf = None) -> Response:
    _check(request, csrf)
    money_routes.post_distribution(contract, money_routes.DistributionRequest(
        on=on, reference=reference, final=bool(final)), request, session, user,
        idempotency_key=f"portal:{form_key}")
    return _back(contract, fy)


@router.post("/contracts/{contract}/years/{fy}/holder-payments")
def pay_holders(request: Request, session: SessionDep, user: PortalUser, contract: str,
                fy: int, on: Annotated[date, Form()], form_key: FormKey,
                csrf: Csrf = None) -> Response:
    _check(request, csrf)
    money_routes.post_holder_payments(contract, money_routes.HolderPaymentsRequest(on=on),
                                      request, session, user,
                                      idempotency_key=f"portal:{form_key}")
    return _back(contract, fy)


# --------------------------------------------------------------------------- background jobs

@router.post("/contracts/{contract}/years/{fy}/statement-jobs")
def start_statements(request: Request, session: SessionDep, user: PortalUser, contract: str,
                     fy: int, form_key: FormKey, csrf: Csrf = None) -> Response:
    """Every document of the year written by a background job (the jobs' own service, as
    ``POST …/statement-jobs``); the job's page follows it."""
    from api.portal.pages import _see_other
    from api.routes import jobs as job_routes
    _check(request, csrf)
    response = job_routes.start_statements_job(
        contract, fy, job_routes.StatementsJobCreate(), request, session, user,
        idempotency_key=f"portal:{form_key}")
    job = json.loads(bytes(response.body))
    return _see_other(f"/portal/jobs/{int(job['id'])}")


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, session: SessionDep, user: PortalUser, job_id: int
             ) -> HTMLResponse:
    """A job's progress, read from the database: a reload (or a restarted worker) shows where
    it is; the page reloads itself every two seconds until the job is finished."""
    from api.portal.pages import render
    from api.routes import jobs as job_routes
    job = job_routes.get_job(job_id, request, session, user)
    return render(request, "job.html", job=job,
                  finished=job.state in ("done", "failed"))


def recent_jobs(request: Request, session: Session, user: Any, contract: str,
                fy: int) -> list[Any]:
    """The statements jobs of the contract-year, newest first (the jobs' own listing)."""
    from api.deps import Page
    from api.routes import jobs as job_routes
    listed = job_routes.list_jobs(request, session, user, Page(limit=200, offset=0),
                                  kind="statements", state=None).items
    return [j for j in listed if j.params.get("contract_id", j.params.get("contract")) ==
            contract and j.params.get("fiscal_year") == fy]


@router.get("/files/year-end.pdf")
def year_end_pdf(session: SessionDep, user: PortalUser, contract: str, fy: int,
                 lang: str = "ja") -> Response:
    return investor_routes.year_end_document(contract, fy, session, user,
                                             lang if lang in text.LANGS else "ja")


@router.get("/files/pack.xlsx")
def pack_xlsx(session: SessionDep, user: PortalUser, contract: str, fy: int,
              lang: str = "ja") -> Response:
    return investor_routes.pack_xlsx(contract, fy, session, user,
                                     lang if lang in text.LANGS else "ja")


# --------------------------------------------------------------------------- preview, what-if

def _preview_context(session: Session, user: Any, contract: str, fy: int) -> dict[str, Any]:
    from api.portal.pages import _contract
    c = _contract(session, user, contract)
    preview = settlement_routes.preview(c.id, fy, session, user)  # roles: the API's
    kpis = [(k, p) for k in c.kpis
            for p in (c.payer_ids if k.measured == "per_payer" else ("",))]
    audited = results.current_audited(session, c.id, fy, "final")
    values = {f"{k.id}|{p}": (audited[(k.id, p)].value if (k.id, p) in audited else "")
              for k, p in kpis}
    return {"contract": c, "fiscal_year": fy, "preview": preview, "kpis": kpis,
            "values": values}


@router.get("/workflow/preview", response_class=HTMLResponse)
def preview_page(request: Request, session: SessionDep, user: PortalUser, contract: str,
                 fy: int) -> HTMLResponse:
    """What settling would post now, each figure's trace expandable, and the what-if form."""
    from api.portal.pages import render
    return render(request, "preview.html", projection=None,
                  **_preview_context(session, user, contract, fy))


@router.post("/workflow/whatif", response_class=HTMLResponse)
async def whatif_page(request: Request, session: SessionDep, user: PortalUser) -> HTMLResponse:
    """The preview with projected values typed in: computed, shown as a projection, never
    stored (the session is rolled back; nothing is written)."""
    from fastapi.concurrency import run_in_threadpool

    from api.portal.pages import _checked, render
    form = await request.form()
    _checked(request, str(form.get("csrf") or ""))
    contract, fy = str(form.get("contract") or ""), int(str(form.get("fy") or 0))

    def compute() -> HTMLResponse:
        context = _preview_context(session, user, contract, fy)
        assumptions = []
        for key in context["values"]:
            typed = str(form.get(f"v:{key}") or "").strip()
            if typed and typed != context["values"][key]:
                kpi, payer = key.split("|")
                assumptions.append(whatif.parse_assumption(
                    f"{kpi}={typed}" + (f",{payer}" if payer else "")))
                context["values"][key] = typed
        projection = whatif.project(session, contract, fy, assumptions)
        session.rollback()
        return render(request, "preview.html", projection=projection, **context)
    return await run_in_threadpool(compute)


__all__ = ["router", "steps", "SibError", "charts", "fiscal_year_bounds"]
