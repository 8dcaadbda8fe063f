"""The portal's pages: one router, one page per role, each a report over the data the API and
the documents read, through the same route and service functions (a route function called
with the signed-in user is the API's own answer, its scoping included)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import Page, SessionDep, payers_visible_to
from api.portal import auth, charts, reads, text
from api.portal.auth import PortalUser
from api.portal.docs import DOCS_ASSETS, redoc_script_response
from api.problems import status_of
from api.routes import audit as audit_routes
from api.routes import contracts as contract_routes
from api.routes import investors as investor_routes
from api.routes import loans as loan_routes
from api.routes import settlement as settlement_routes
from api.users import Caller
from contracts.model import Contract
from contracts.store import get_contract
from investors import documents as docs
from ledger.errors import Forbidden, NotFound, SibError
from settlement import runs
from settlement.approvals import unapproved_years

HERE = Path(__file__).resolve().parent
FONT_DIR = Path(str(files("matplotlib_fontja") / "fonts"))
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True,
                        lstrip_blocks=True)
router = APIRouter()
ALL_ROWS = Page(limit=100_000, offset=0)
HOME = {"finance_officer": "/portal/payer", "lender": "/portal/bank",
        "intermediary": "/portal/workflow", "admin": "/portal/workflow",
        "investor": "/portal/investor", "auditor": "/portal/audit",
        "evaluator": "/portal/kpi"}
Csrf = Annotated[str | None, Form(alias=auth.CSRF_FIELD)]
FormKey = Annotated[str, Form(alias="form_key")]


# --------------------------------------------------------------------------- rendering

def lang_of(request: Request) -> str:
    lang = request.cookies.get(auth.LANG_COOKIE, "ja")
    return lang if lang in text.LANGS else "ja"


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the request's language, with the signed-in user and its CSRF token."""
    lang = lang_of(request)
    caller = getattr(request.state, "caller", None)
    # Amounts and years in the shown contract's own currency and naming (a page without a
    # contract shows yen).
    currency = str(getattr(context.get("contract"), "currency", "JPY"))
    page = TEMPLATES.get_template(template).render(
        lang=lang, user=caller, csrf=getattr(request.state, "csrf", ""),
        form_key=secrets.token_urlsafe(16), path=request.url.path,
        query=str(request.url.query), home=HOME.get(caller.role, "/portal/") if caller else "",
        w=lambda key: text.word(key, lang),
        yen=lambda minor, cur=None: text.yen(minor, lang, cur or currency),
        wire_money=lambda wire: text.money(wire, lang),
        plain=lambda minor: text.plain(minor, currency),
        day=lambda on: text.day(on, lang),
        fy=lambda year: text.fiscal_year(year, lang, currency),
        dec=text.decimal_text, **context)
    return HTMLResponse(page, status_code=status)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _money(value: dict[str, str] | Any) -> int:
    """Minor units of a ``{"amount", "currency"}`` (yen: no decimals)."""
    amount = value["amount"] if isinstance(value, dict) else value.amount
    return int(Decimal(str(amount)))


def _checked(request: Request, csrf: str | None) -> None:
    auth.check_csrf(getattr(request.state, "csrf", ""), csrf)


# --------------------------------------------------------------------------- contracts

def _contracts(session: Any, user: Caller) -> list[Contract]:
    """The contracts the user has a part in (all for the full-read roles), as the API lists
    them."""
    listed = contract_routes.list_contracts(session, user, ALL_ROWS).items
    found = [get_contract(session, c.contract) for c in listed]
    if user.role == "finance_officer":
        return [c for c in found if user.scope in c.payer_ids]
    if user.role == "lender":
        return [c for c in found if any(loan.lender == user.scope for loan in c.loans)]
    if user.role == "investor":
        return [c for c in found if c.unit_classes]
    return found


def _contract(session: Any, user: Caller, contract_id: str | None) -> Contract:
    """The contract asked for, if the user has a part in it (else 404), or its first."""
    mine = _contracts(session, user)
    if contract_id is None:
        if not mine:
            raise NotFound("no contract names your party", "CONTRACT_NOT_FOUND", "contract")
        return mine[0]
    for c in mine:
        if c.id == contract_id:
            return c
    raise NotFound(f"no contract {contract_id!r} that you may see", "CONTRACT_NOT_FOUND",
                   "contract")


def _settled_years(session: Any, contract_id: str) -> list[int]:
    return sorted({year for (year, evaluation) in runs.current_runs(session, contract_id)
                   if evaluation == "final"})


def _year(contract: Contract, fiscal_year: int | None, default: int) -> int:
    year = default if fiscal_year is None else fiscal_year
    if not contract.first_fiscal_year <= year <= contract.last_fiscal_year:
        raise NotFound(f"{contract.id} has no FY{year}", "FISCAL_YEAR_OUTSIDE_TERM",
                       "fiscal_year")
    return year


# --------------------------------------------------------------------------- sign-in

@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/portal/") -> HTMLResponse:  # noqa: A002
    pre = request.cookies.get(auth.PRE_SESSION_COOKIE) or auth.new_pre_session()
    response = render(request, "signin.html", pre=pre, next=_local(next), link=None)
    response.set_cookie(auth.PRE_SESSION_COOKIE, pre, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/portal")
    return response


@router.get("/signin/link/{token}", response_class=HTMLResponse)
def signin_link_page(request: Request, token: str) -> HTMLResponse:
    """The page a one-time link opens: a button that signs in (a link preview or a mail
    scanner fetching the link does not use it up)."""
    pre = request.cookies.get(auth.PRE_SESSION_COOKIE) or auth.new_pre_session()
    response = render(request, "signin.html", pre=pre, next="/portal/", link=token)
    response.set_cookie(auth.PRE_SESSION_COOKIE, pre, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/portal")
    return response


def _local(url: str) -> str:
    """Only a path of the portal as a place to go after signing in (no open redirect)."""
    return url if url.startswith("/portal/") and not url.startswith("//") else "/portal/"


@router.post("/signin")
def signin(request: Request, session: SessionDep, code: Annotated[str, Form()],
           csrf: Csrf = None, username: Annotated[str, Form()] = "",
           next: Annotated[str, Form()] = "/portal/",  # noqa: A002
           ) -> Response:
    """Sign in (:func:`api.portal.auth.sign_in`). Whether the code is a one-time link to use
    up is the stored token's purpose, never a field of the form (the link page's ``one_time``
    field is ignored)."""
    auth.check_csrf(request.cookies.get(auth.PRE_SESSION_COOKIE, ""), csrf)
    caller, token = auth.sign_in(request, session, code, username or None)
    response = _see_other(_local(next) if next != "/portal/" else HOME.get(caller.role,
                                                                             "/portal/"))
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/",
                        max_age=auth.SESSION_DAYS * 86400)
    response.delete_cookie(auth.PRE_SESSION_COOKIE, path="/portal")
    return response


@router.post("/signout")
def signout(request: Request, session: SessionDep, user: PortalUser, csrf: Csrf = None
            ) -> Response:
    _checked(request, csrf)
    auth.sign_out(request, session, user)
    response = _see_other("/portal/signin")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str = "/portal/") -> Response:  # noqa: A002
    response = _see_other(_local(next))
    response.set_cookie(auth.LANG_COOKIE, lang if lang in text.LANGS else "ja",
                        samesite="lax", path="/", max_age=365 * 86400)
    return response


@router.get("/docs-assets/redoc.standalone.js", include_in_schema=False)
def redoc_script() -> Response:
    return redoc_script_response()


@router.get("/")
def home(user: PortalUser) -> Response:
    return _see_other(HOME.get(user.role, "/portal/signin"))


# --------------------------------------------------------------------------- finance office

def _payer_of(user: Caller, payer: str | None, default: str | None = None) -> str:
    """The payer a finance-office page or form is about: the one named, else a finance
    officer's own (else ``default``). Whether the user may see it, or act for it, is the
    API's answer: each page goes through the API's route, which asks
    :func:`api.deps.payers_visible_to` (reading) or :func:`api.deps.require_own_payer`
    (approving, the Zengin file)."""
    chosen = payer or (str(user.scope) if user.role == "finance_officer" else default)
    if not chosen:
        raise NotFound("name the payer (?payer=)", "PAYER_NOT_FOUND", "payer")
    return chosen


def _acts_for(user: Caller, payer: str) -> bool:
    """Whether the page offers the user the payer's acts (検査・承認, the Zengin file): a
    finance officer on its own payer only — another payer it reads (the lead payer's view)
    is shown read-only."""
    return user.role == "finance_officer" and user.scope == payer


@router.get("/payer", response_class=HTMLResponse)
def payer_page(request: Request, session: SessionDep, user: PortalUser,
               contract: str | None = None, payer: str | None = None) -> HTMLResponse:
    """A finance office's contract: its budget authorisation by year with a chart, its KPI
    results against targets, its notices (view, PDF, approval, Zengin file). The lead payer
    of a contract that grants it also sees every payer's budget and latest notice in one
    table, and each other payer's page, read-only."""
    c = _contract(session, user, contract)
    payer_id = _payer_of(user, payer, c.payer_ids[0])
    rows = contract_routes.payer_share(c.id, payer_id, session, user)  # scoping: the API's
    settled = _settled_years(session, c.id)
    notices = [docs.payment_notice(session, docs.context(session, c.id, year), payer_id)
               for year in settled]
    unapproved = set(unapproved_years(session, c, payer_id))
    budget = _budget_table(rows, notices[-1] if notices else None)
    all_payers = _all_payers(session, user, c, settled, payer_id,
                             {payer_id: (budget, notices[-1] if notices else None)})
    kpis = _kpi_series(session, c, payer_id, settled)
    years = [text.fiscal_year(r["fiscal_year"], lang_of(request), c.currency)
             for r in budget["years"]]
    budget_chart = charts.bar_chart(
        text.word("budget", lang_of(request)), years,
        [charts.Series(text.word("planned", lang_of(request)),
                       tuple(r["planned"] for r in budget["years"])),
         charts.Series(text.word("paid", lang_of(request)),
                       tuple(r["paid"] for r in budget["years"]))],
        marker=charts.Series(text.word("authorised", lang_of(request)),
                             tuple(r["authorised"] for r in budget["years"])))
    kpi_charts = [(k, charts.bar_chart(
        k["name"], [text.fiscal_year(y, lang_of(request), c.currency) for y in k["years"]],
        [charts.Series(text.word("value", lang_of(request)),
                       tuple(float(v) for v in k["values"]))],
        value_label="{:,.1f}",
        marker=charts.Series(text.word("target", lang_of(request)),
                             tuple(None if t is None else float(t) for t in k["targets"]))))
        for k in kpis]
    return render(request, "payer.html", contract=c, contracts=_contracts(session, user),
                  payer=payer_id, budget=budget, budget_chart=budget_chart,
                  kpi_charts=kpi_charts, notices=notices, unapproved=unapproved,
                  all_payers=all_payers, read_only=_read_only(user, payer_id))


def _read_only(user: Caller, payer: str) -> bool:
    """Whether a finance officer reads another payer's page (the lead payer's view)."""
    return user.role == "finance_officer" and not _acts_for(user, payer)


def _all_payers(session: Any, user: Caller, c: Contract, settled: list[int], shown: str,
                known: dict[str, tuple[dict[str, Any], Any]]) -> list[dict[str, Any]]:
    """The lead payer's five-payer table: each payer it may read (the API's answer,
    :func:`api.deps.payers_visible_to`, through ``payer_share``) with its 債務負担行為
    limit, paid, planned and headroom and its latest notice — empty unless a finance officer
    reads more than its own payer."""
    visible = payers_visible_to(user, c)
    if user.role != "finance_officer" or len(visible) < 2:
        return []
    table = []
    for payer in (p for p in c.payer_ids if p in visible):
        if payer in known:
            budget, notice = known[payer]
        else:
            rows = contract_routes.payer_share(c.id, payer, session, user)
            notice = docs.payment_notice(session, docs.context(session, c.id, settled[-1]),
                                         payer) if settled else None
            budget = _budget_table(rows, notice)
        table.append({"payer": payer, "party": c.party(payer), "budget": budget,
                      "notice": notice, "shown": payer == shown,
                      "acts": _acts_for(user, payer),
                      "approved": notice is not None and notice.header.fiscal_year
                      not in unapproved_years(session, c, payer)})
    return table


def _budget_table(rows: list[Any], notice: Any) -> dict[str, Any]:
    """Limit, planned, paid and headroom per year: the limits are the contract's table, the
    planned and paid the latest notice's (the PDF's own figures)."""
    planned = {y.fiscal_year: (y.planned_minor, y.paid_minor)
               for y in (notice.authorisation.years if notice else ())}
    years = []
    for r in rows:
        if r.fiscal_year is None:
            continue
        authorised = _money(r.authorised) if r.authorised is not None else None
        plan, paid = planned.get(r.fiscal_year, (None, 0))
        years.append({"fiscal_year": r.fiscal_year, "authorised": authorised,
                      "max_liability": _money(r.max_liability), "planned": plan,
                      "paid": paid, "headroom": None if authorised is None
                      else authorised - paid})
    limit = notice.authorisation.limit_minor if notice else next(
        (_money(r.authorised) for r in rows if r.fiscal_year is None and r.authorised), None)
    paid_total = sum(y["paid"] for y in years)
    return {"years": years, "limit": limit, "paid": paid_total,
            "notice": notice.header.document_id if notice else "",
            "planned": sum(y["planned"] or 0 for y in years),
            "remaining": None if limit is None else limit - paid_total}


def _kpi_series(session: Any, c: Contract, payer: str, years: list[int]) -> list[dict[str, Any]]:
    """Per KPI, its final results and targets by year (the notices' KPI table)."""
    found: dict[str, dict[str, Any]] = {}
    for year in years:
        ctx = docs.context(session, c.id, year)
        for r in docs.kpi_results(session, ctx, payer):
            if r.evaluation != "final":
                continue
            k = found.setdefault(r.kpi_id, {"kpi": r.kpi_id, "name": r.name.ja,
                                            "name_en": r.name.en, "unit": r.unit,
                                            "years": [], "values": [], "targets": []})
            k["years"].append(year)
            k["values"].append(r.value)
            k["targets"].append(r.target)
    return list(found.values())


@router.get("/payer/notice", response_class=HTMLResponse)
def notice_page(request: Request, session: SessionDep, user: PortalUser, contract: str,
                fy: int, payer: str | None = None, done: str = "") -> HTMLResponse:
    c = _contract(session, user, contract)
    payer_id = _payer_of(user, payer)
    contract_routes.payer_share(c.id, payer_id, session, user)  # 404 for a payer not seen
    if fy not in _settled_years(session, c.id):
        raise NotFound(f"FY{fy} of {c.id} is not settled: no notice yet", "DOCUMENT_NOT_FOUND",
                       "fiscal_year")
    notice = docs.payment_notice(session, docs.context(session, c.id, fy), payer_id)
    approved = fy not in unapproved_years(session, c, payer_id)
    return render(request, "notice.html", contract=c, payer=payer_id, fiscal_year=fy,
                  notice=notice, approved=approved, done=done,
                  approvals=reads.notice_approvals(session, c.id, payer_id, fy),
                  acts=_acts_for(user, payer_id), read_only=_read_only(user, payer_id))


@router.post("/payer/approve")
def approve_notice(request: Request, session: SessionDep, user: PortalUser,
                   contract: Annotated[str, Form()], fy: Annotated[int, Form()],
                   form_key: FormKey, payer: Annotated[str | None, Form()] = None,
                   csrf: Csrf = None) -> Response:
    """The notice page's 検査・承認 (the API's ``POST …/payers/{payer}/approval``): a finance
    officer approves its own payer's notice only, whichever it may read."""
    _checked(request, csrf)
    payer_id = _payer_of(user, payer)
    settlement_routes.approve(contract, fy, payer_id, request, session, user,
                              idempotency_key=f"portal:{form_key}")
    return _see_other("/portal/payer/notice?" + urlencode(
        {"contract": contract, "fy": fy, "payer": payer_id}) + "&done=approved")


@router.get("/files/notice.pdf")
def notice_pdf(session: SessionDep, user: PortalUser, contract: str, fy: int,
               payer: str | None = None, lang: str = "ja") -> Response:
    return investor_routes.payment_notice_document(contract, fy, _payer_of(user, payer),
                                                   session, user, _lang(lang))


@router.get("/files/zengin")
def zengin_file(request: Request, session: SessionDep, user: PortalUser, contract: str,
                on: date, csrf: str | None = None, payer: str | None = None) -> Response:
    """The payer's Zengin file (the API's GET …/payers/{payer}/zengin). A GET, as in the API:
    the request reads in a read-only transaction while the file's payees are recorded in one
    of their own (a write transaction held by the request would keep that one waiting). The
    form still carries the session's CSRF token, checked here. A finance officer takes its
    own payer's file only (the API refuses another's with 404)."""
    _checked(request, csrf)
    return settlement_routes.payer_zengin(contract, _payer_of(user, payer), on, request,
                                          session, user)


def _lang(lang: str) -> Any:
    return lang if lang in text.LANGS else "ja"


# --------------------------------------------------------------------------- bank

@router.get("/bank", response_class=HTMLResponse)
def bank_page(request: Request, session: SessionDep, user: PortalUser,
              contract: str | None = None, fy: int | None = None,
              loan: str | None = None) -> HTMLResponse:
    """A bank's loans: balance over time, the year's schedule against actual with what is
    overdue, its statements and balance confirmations."""
    if user.role != "lender":
        raise Forbidden("this page is a bank's", "ROLE_FORBIDDEN", "role")
    c = _contract(session, user, contract)
    if loan is not None:
        settlement_routes.schedule(c.id, loan, session, user)  # another bank's loan: 404
    mine = settlement_routes.schedules(c.id, session, user)
    settled = _settled_years(session, c.id)
    year = _year(c, fy, settled[-1] if settled else c.first_fiscal_year)
    lender = str(user.scope)
    statements = {y: docs.lender_statement(session, docs.context(session, c.id, y), lender)
                  for y in range(c.first_fiscal_year, max(year, settled[-1] if settled
                                                          else year) + 1)}
    sections = []
    for item in mine:
        if loan is not None and item.loan != loan:
            continue
        series = sorted({(p.on, p.balance_minor) for st in statements.values()
                         for s in st.loans if s.loan_id == item.loan
                         for p in s.balance_series})
        section = next(s for s in statements[year].loans if s.loan_id == item.loan)
        sections.append({"loan": item.loan, "section": section, "chart": charts.step_chart(
            f"{item.loan}: {text.word('balance', lang_of(request))}", series,
            name=text.word("principal", lang_of(request)))})
    fy_end = c.fiscal_year_bounds(year)[1]
    return render(request, "bank.html", contract=c, contracts=_contracts(session, user),
                  fiscal_year=year, years=list(range(c.first_fiscal_year,
                                                     c.last_fiscal_year + 1)),
                  sections=sections, lender=lender, statement=statements[year],
                  as_of=fy_end)


@router.get("/files/lender.pdf")
def lender_pdf(session: SessionDep, user: PortalUser, contract: str, fy: int,
               lang: str = "ja") -> Response:
    return investor_routes.lender_document(contract, fy, str(user.scope), session, user,
                                           _lang(lang))


@router.get("/files/confirmation.pdf")
def confirmation_pdf(session: SessionDep, user: PortalUser, contract: str, loan: str,
                     as_of: date, lang: str = "ja") -> Response:
    return loan_routes.confirmation(contract, loan, session, user, as_of=as_of,
                                    issued_on=None, format="pdf", lang=_lang(lang))


# --------------------------------------------------------------------------- investor

@router.get("/investor", response_class=HTMLResponse)
def investor_page(request: Request, session: SessionDep, user: PortalUser,
                  contract: str | None = None, as_of: date | None = None) -> HTMLResponse:
    """A holder's units: returns (IRR, multiple), distributions with tax withheld,
    statements."""
    if user.role != "investor":
        raise Forbidden("this page is an investor's", "ROLE_FORBIDDEN", "role")
    c = _contract(session, user, contract)
    code = str(user.scope)
    day = as_of or c.fiscal_year_bounds(c.last_fiscal_year + 1)[1]
    returns = investor_routes.returns(c.id, session, user, as_of=day, holder=code)
    paid = investor_routes.payments(c.id, code, session, user, ALL_ROWS).items
    years = sorted({int(p.paid_on[:4]) for p in paid})
    statement_years = [y for y in _settled_years(session, c.id)
                       if y >= min(years, default=c.last_fiscal_year + 1) - 1]
    returns_paid = [p for p in paid if p.kind == "distribution"]  # capital back apart
    chart = charts.bar_chart(
        text.word("distributions", lang_of(request)), [str(y) for y in years],
        [charts.Series(text.word("net", lang_of(request)),
                       tuple(sum(_money(p.net) for p in returns_paid
                                 if p.paid_on.startswith(str(y))) for y in years)),
         charts.Series(text.word("withheld", lang_of(request)),
                       tuple(sum(_money(p.withheld) for p in returns_paid
                                 if p.paid_on.startswith(str(y))) for y in years))])
    return render(request, "investor.html", contract=c, contracts=_contracts(session, user),
                  holder=code, returns=[r for r in returns if r["holder"] == code],
                  payments=paid, as_of=day, chart=chart, statement_years=statement_years,
                  money=_money)


@router.get("/files/investor.pdf")
def investor_pdf(session: SessionDep, user: PortalUser, contract: str, fy: int,
                 holder: str | None = None, lang: str = "ja") -> Response:
    return investor_routes.investor_document(contract, fy, holder or str(user.scope), session,
                                             user, _lang(lang))


# --------------------------------------------------------------------------- auditor

@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, user: PortalUser,
               username: str = "", action: str = "", status: str = "",
               since: date | None = None, until: date | None = None) -> HTMLResponse:
    """The audit log filtered (who, what, status, dates), the latest verification and a
    button to run it."""
    rows = audit_routes.audit_log(session, user, ALL_ROWS).items  # auditor and admin only
    latest = next((r for r in rows if r.action == "portal.verify"), None)
    shown = [r for r in rows
             if (not username or username.lower() in r.username.lower())
             and (not action or action.lower() in r.action.lower())
             and (not status or str(r.status) == status)
             and (since is None or r.at[:10] >= since.isoformat())
             and (until is None or r.at[:10] <= until.isoformat())]
    return render(request, "audit.html", rows=shown[:500], total=len(shown), latest=latest,
                  filters={"username": username, "action": action, "status": status,
                           "since": since.isoformat() if since else "",
                           "until": until.isoformat() if until else ""})


@router.post("/audit/verify")
def run_verify(request: Request, session: SessionDep, user: PortalUser,
               csrf: Csrf = None) -> Response:
    """``sib verify`` from the page: the ledger and every sealed record; the result is kept
    in the audit log (the page shows the latest)."""
    _checked(request, csrf)
    audit_routes.audit_log(session, user, Page(limit=1, offset=0))  # auditor and admin only
    from api.audit_log import audit, request_id_of
    from api.seals import verify_everything
    ledger, records = verify_everything(session)
    problems = [*ledger.problems, *records.problems]
    detail = "OK" if not problems else "; ".join(f"{p.code}: {p.message}"
                                                 for p in problems)[:2000]
    audit(session, user, "portal.verify", "/ledger/verify", "", 200 if not problems else 409,
          request_id_of(request), detail)
    session.commit()
    return _see_other("/portal/audit")


# --------------------------------------------------------------------------- evaluator

@router.get("/kpi", response_class=HTMLResponse)
def kpi_page(request: Request, session: SessionDep, user: PortalUser,
             contract: str | None = None, fy: int | None = None) -> HTMLResponse:
    """The evaluator's results of a year: import a file, audit what someone else
    submitted."""
    c = _contract(session, user, contract)
    year = _year(c, fy, _next_year(session, c))
    rows = settlement_routes.list_results(c.id, session, user, ALL_ROWS, fiscal_year=year)
    return render(request, "kpi.html", contract=c, contracts=_contracts(session, user),
                  fiscal_year=year, results=rows.items,
                  years=list(range(c.first_fiscal_year, c.last_fiscal_year + 1)))


def _next_year(session: Any, c: Contract) -> int:
    settled = _settled_years(session, c.id)
    return min(settled[-1] + 1, c.last_fiscal_year) if settled else c.first_fiscal_year


@router.post("/kpi/import")
def kpi_import(request: Request, session: SessionDep, user: PortalUser,
               contract: Annotated[str, Form()], fy: Annotated[int, Form()],
               form_key: FormKey, file: Annotated[UploadFile, File()],
               csrf: Csrf = None) -> Response:
    _checked(request, csrf)
    settlement_routes.upload(request, session, user, file=file,
                             idempotency_key=f"portal:{form_key}")
    return _see_other(f"/portal/kpi?{urlencode({'contract': contract, 'fy': fy})}")


@router.post("/kpi/audit")
def kpi_audit(request: Request, session: SessionDep, user: PortalUser,
              contract: Annotated[str, Form()], fy: Annotated[int, Form()],
              result: Annotated[int, Form()], form_key: FormKey,
              csrf: Csrf = None) -> Response:
    _checked(request, csrf)
    settlement_routes.audit_result(result, request, session, user,
                                   idempotency_key=f"portal:{form_key}")
    return _see_other(f"/portal/kpi?{urlencode({'contract': contract, 'fy': fy})}")


# --------------------------------------------------------------------------- users (admin)

@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, user: PortalUser,
               done: str = "") -> HTMLResponse:
    """An administrator's list of users, with a form to set one's portal password."""
    from api.deps import require
    from api.users import list_users
    require(user, "admin")
    return render(request, "users.html", users=list_users(session), done=done)


@router.post("/users/password")
def set_user_password(request: Request, session: SessionDep, user: PortalUser,
                      username: Annotated[str, Form()], password: Annotated[str, Form()],
                      repeated: Annotated[str, Form()], form_key: FormKey,
                      csrf: Csrf = None) -> Response:
    """An administrator sets a user's password (as ``sib user password``): checked, stored as
    a salted scrypt key, the user's portal sessions ended; audited. The idempotency record
    keeps the user name only, never anything derived from the password."""
    from api.deps import require
    from api.users import set_password
    from api.writes import run_write
    _checked(request, csrf)
    require(user, "admin")
    run_write(request, session, user, f"portal:{form_key}", {"username": username},
              "user.password", lambda: (200, {"username": username, "sessions_ended":
                                              set_password(session, username, password,
                                                           repeated)}),
              detail=lambda body: f"{body['username']}: password set, "
                                  f"{body['sessions_ended']} portal session(s) ended")
    return _see_other(f"/portal/users?{urlencode({'done': username})}")


# --------------------------------------------------------------------------- jobs: cancel, retry

@router.post("/jobs/{job_id}/cancel")
def cancel_job(request: Request, session: SessionDep, user: PortalUser, job_id: int,
               form_key: FormKey, csrf: Csrf = None) -> Response:
    """The job page's Cancel (the API's ``POST /jobs/{id}/cancel``: its roles, its audit)."""
    from api.routes import jobs as job_routes
    _checked(request, csrf)
    job_routes.cancel_job(job_id, request, session, user, idempotency_key=f"portal:{form_key}")
    return _see_other(f"/portal/jobs/{job_id}")


@router.post("/jobs/{job_id}/retry")
def retry_job(request: Request, session: SessionDep, user: PortalUser, job_id: int,
              form_key: FormKey, csrf: Csrf = None) -> Response:
    """The job page's Retry (the API's ``POST /jobs/{id}/retry``)."""
    from api.routes import jobs as job_routes
    _checked(request, csrf)
    job_routes.retry_job(job_id, request, session, user, idempotency_key=f"portal:{form_key}")
    return _see_other(f"/portal/jobs/{job_id}")


# --------------------------------------------------------------------------- intermediary

from api.portal import workflow  # noqa: E402  (its routes use the helpers above)

router.include_router(workflow.router)


# --------------------------------------------------------------------------- the application

def portal_app(main: FastAPI) -> FastAPI:
    """The portal as an application of its own, mounted under ``/portal``: its routes stay
    out of the API's route table and OpenAPI document, its errors are pages, not JSON."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.database_url = main.state.database_url
    app.state.auth_limiter = main.state.auth_limiter
    app.include_router(router)
    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    # The Japanese font the PDFs use (IPAex Gothic, from matplotlib-fontja, with its licence):
    # the pages read the same on a machine with no Japanese font installed.
    app.mount("/static/fonts", StaticFiles(directory=FONT_DIR), name="fonts")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(auth.SignInRequired, _to_signin)
    app.add_exception_handler(SibError, _refused)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


async def _to_signin(request: Request, error: Exception) -> Response:
    where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _see_other(f"/portal/signin?{urlencode({'next': where})}")


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, SibError)
    status = status_of(error)
    return render(request, "error.html", status=status, status_code=status,
                  problems=list(error.problems))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    return render(request, "error.html", status=error.status_code,
                  status_code=error.status_code, problems=[])


Handler = Callable[..., Any]
