"""The portal's outcome simulation (issues 15 and 16): choose the assumptions (the contract's
example file or an uploaded YAML), the runs, the seed and the first simulated year; the
simulation runs as a background job of batches (:mod:`api.job_simulation`) whose page shows
its progress — read from the database, so a reload or a restarted worker shows where it is —
and then its figures as the PDF report shows them: each payer's payments by year as a fan
chart against its 債務負担行為, the probability of exceeding it, the probability of a
debt-service shortfall by due date per loan, each class's IRR histogram and probability of a
capital loss; with the PDF (Japanese, English) and the workbook to download.

Scoping is the API's: a payer's figures are shown only where the API's own
``GET …/payers/{payer}/authorisation`` (:func:`api.routes.contracts.payer_share`) answers
for the signed-in user — a finance office sees its own municipality only, the lead payer every
payer where the contract grants it — and the loans', lenders', classes' and public figures only
to the roles that read the whole contract (:data:`api.deps.FULL_READ_ROLES`). The PDF and the
workbook are cut the same way (:func:`api.routes.simulation.reader_scope`, which the API's
``…/simulation-jobs`` routes use too): a finance office's hold its payers only. A bank or an
investor is refused the page (403), as the other roles' pages refuse them. The pages' words
are in :mod:`api.portal.text`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from api.deps import FULL_READ_ROLES, SessionDep, payers_visible_to
from api.job_simulation import (
    SIMULATION,
    contract_example,
    job_summary,
    merged_simulation,
    simulation_job,
    start_simulation,
)
from api.jobs import JobView, list_jobs
from api.portal import charts, text
from api.portal.auth import PortalUser
from api.routes import contracts as contract_routes
from api.routes.simulation import JOB_READERS, JOB_STARTERS, reader_scope
from api.users import Caller
from contracts.model import Contract
from investors.formatting import format_multiple, format_rate
from ledger.errors import Forbidden, SibError
from settlement.simulation_batches import MAX_RUNS, RUNS_PER_BATCH
from settlement.simulation_scope import Scope

router = APIRouter()
VIEWERS = JOB_READERS
STARTERS = JOB_STARTERS
MAX_UPLOAD_BYTES = 1_000_000
DEFAULT_RUNS = 10_000


# --------------------------------------------------------------------------- scoping

def _viewer(user: Caller) -> None:
    if user.role not in VIEWERS:
        raise Forbidden("the outcome simulation is for the finance offices, the intermediary, "
                        "the evaluator and the auditor", "ROLE_FORBIDDEN", "role")


def _payers(session: Session, user: Caller, contract: Contract) -> list[str]:
    """The payers whose figures the user may see (:func:`api.deps.payers_visible_to`: a
    finance office its own, the lead payer every payer where the contract grants it), each
    confirmed by the API's authorisation read."""
    visible = payers_visible_to(user, contract)
    shown = [p for p in contract.payer_ids if p in visible]
    for payer in shown:
        contract_routes.payer_share(contract.id, payer, session, user)  # the API's scoping
    return shown


def _whole_contract(user: Caller) -> bool:
    """Whether the user reads the whole contract's figures (the simulation endpoint's
    roles): loans, lenders, classes, the public cost and the files."""
    return user.role in FULL_READ_ROLES


# --------------------------------------------------------------------------- the form

@router.get("/simulation", response_class=HTMLResponse)
def simulation_page(request: Request, session: SessionDep, user: PortalUser,
                    contract: str | None = None) -> HTMLResponse:
    """The form that starts a simulation, and the contract's simulations so far."""
    from api.portal.pages import _contract, _contracts, render
    _viewer(user)
    c = _contract(session, user, contract)
    _payers(session, user, c)
    views, _ = list_jobs(session, SIMULATION, limit=500)
    recent = [v for v in views if v.params.get("contract") == c.id][:20]
    return render(request, "simulation.html", contract=c, contracts=_contracts(session, user),
                  example=contract_example(c.id), recent=recent, may_start=user.role in STARTERS,
                  max_runs=MAX_RUNS, default_runs=DEFAULT_RUNS, batch_size=RUNS_PER_BATCH,
                  years=list(c.fiscal_years))


class SimulationStart(BaseModel):
    """What the portal's form asked for (the write's body, for its idempotency record)."""

    model_config = ConfigDict(extra="forbid")
    contract: str
    source: str
    assumptions_sha256: str
    runs: int
    seed: int
    from_fiscal_year: int | None
    batch_size: int


def _number(value: str, field: str, low: int, high: int) -> int:
    try:
        number = int(value.strip().replace(",", ""))
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise SibError(f"{field} must be a whole number from {low:,} to {high:,}",
                       "FORM_VALUE_INVALID", field)
    return number


@router.post("/simulation")
async def start(request: Request, session: SessionDep, user: PortalUser,
                contract: Annotated[str, Form()], form_key: Annotated[str, Form()],
                runs: Annotated[str, Form()], seed: Annotated[str, Form()] = "0",
                from_year: Annotated[str, Form()] = "",
                batch_size: Annotated[str, Form()] = str(RUNS_PER_BATCH),
                source: Annotated[str, Form()] = "example",
                file: Annotated[UploadFile | None, File()] = None,
                csrf: Annotated[str | None, Form()] = None) -> Response:
    """Start the simulation as a job (its page follows it). The same form sent twice is the
    same job."""
    from fastapi.concurrency import run_in_threadpool

    from api.portal.pages import _checked, _contract, _see_other
    _checked(request, csrf)
    _viewer(user)
    if user.role not in STARTERS:
        raise Forbidden("the finance office or the intermediary starts a simulation",
                        "ROLE_FORBIDDEN", "role")
    upload = await file.read(MAX_UPLOAD_BYTES + 1) if file is not None and file.filename \
        else b""

    def begin() -> Response:
        import hashlib

        from api.job_worker import kick
        from api.writes import run_write
        c = _contract(session, user, contract)
        _payers(session, user, c)
        document, name = _assumptions(c, source, upload, file.filename if file else "")
        numbers = {"runs": _number(runs, "runs", 1, MAX_RUNS),
                   "seed": _number(seed, "seed", 0, 2**63 - 1),
                   "batch_size": _number(batch_size, "batch_size", 1, MAX_RUNS)}
        year = _number(from_year, "from_year", c.first_fiscal_year, c.last_fiscal_year) \
            if from_year.strip() else None
        body = SimulationStart(contract=c.id, source=name,
                               assumptions_sha256=hashlib.sha256(document.encode()).hexdigest(),
                               from_fiscal_year=year, **numbers)
        response = run_write(request, session, user, f"portal:{form_key}", body,
                             "job.simulation", lambda: (202, _started(start_simulation(
                                 session, c.id, document, name, numbers["runs"],
                                 numbers["seed"], user.username, year,
                                 numbers["batch_size"]))))
        kick(getattr(request.app.state, "database_url", None))
        job = json.loads(bytes(response.body))
        return _see_other(f"/portal/simulation/jobs/{int(job['id'])}")

    return await run_in_threadpool(begin)


def _started(view: JobView) -> dict[str, Any]:
    return {"id": view.id, "kind": view.kind, "state": view.state,
            "tasks_total": view.tasks_total, "units_total": view.units_total}


def _assumptions(contract: Contract, source: str, upload: bytes, filename: str
                 ) -> tuple[str, str]:
    """The simulation file's text and name: the contract's example, or the uploaded one."""
    if source == "example":
        example = contract_example(contract.id)
        if example is None:
            raise SibError(f"{contract.id} has no example simulation file: upload one",
                           "ASSUMPTIONS_MISSING", "file")
        return example.read_text(encoding="utf-8"), f"examples/simulations/{example.name}"
    if not upload:
        raise SibError("choose a simulation file (YAML) to upload", "ASSUMPTIONS_MISSING",
                       "file")
    if len(upload) > MAX_UPLOAD_BYTES:
        raise SibError(f"the file has more than {MAX_UPLOAD_BYTES:,} bytes",
                       "DOCUMENT_TOO_LARGE", "file")
    try:
        return upload.decode("utf-8"), Path(filename or "upload.yaml").name
    except UnicodeDecodeError:
        raise SibError("the file is not UTF-8 text; save it as UTF-8", "FILE_NOT_UTF8",
                       "file") from None


# --------------------------------------------------------------------------- the job's page

@router.get("/simulation/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, session: SessionDep, user: PortalUser, job_id: int
             ) -> HTMLResponse:
    """The simulation's progress until it is done (the page reloads itself every two
    seconds), then its figures."""
    from api.job_worker import kick
    from api.portal.pages import _contract, lang_of, render
    _viewer(user)
    view = simulation_job(session, job_id)
    c = _contract(session, user, view.params["contract"])  # another party's: 404
    payers = _payers(session, user, c)
    if not view.finished:
        kick(getattr(request.app.state, "database_url", None))
    figures = None
    if view.state == "done":
        summary, _ = job_summary(session, view)
        figures = _figures(summary, c, payers, _whole_contract(user), lang_of(request))
    done = 100 * view.units_done // view.units_total if view.units_total else 0
    lang = lang_of(request)
    return render(request, "simulation_job.html", job=view, contract=c, percent=done,
                  finished=view.finished, figures=figures, whole=_whole_contract(user),
                  params={k: v for k, v in view.params.items() if k != "assumptions"},
                  pct=lambda p: percent(p, lang), rate=lambda r: irr_text(r, lang),
                  multiple=lambda m: multiple_text(m, lang))


def _files_allowed(session: Session, user: Caller, job_id: int) -> tuple[JobView, Scope]:
    """The job and what the user may see of it (a finance office: its payers only)."""
    from api.portal.pages import _contract
    _viewer(user)
    view = simulation_job(session, job_id)
    c = _contract(session, user, view.params["contract"])  # another party's: 404
    _payers(session, user, c)
    return view, reader_scope(user, c)


@router.get("/simulation/jobs/{job_id}/report.pdf")
def report_pdf(session: SessionDep, user: PortalUser, job_id: int, lang: str = "ja"
               ) -> Response:
    """The PDF report of the simulation (as ``sib simulate --pdf`` writes it), cut to what
    the user may see."""
    from investors.pdf_simulation import render as render_pdf
    view, scope = _files_allowed(session, user, job_id)
    summary, found = job_summary(session, view)
    lang = lang if lang in text.LANGS else "ja"
    return Response(render_pdf(summary, found, lang, scope), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="simulation-'
                             f'{found.id}-job{view.id}-{lang}.pdf"'})


@router.get("/simulation/jobs/{job_id}/report.xlsx")
def report_xlsx(session: SessionDep, user: PortalUser, job_id: int, lang: str = "ja"
                ) -> Response:
    """The workbook (the figures and every scenario), as ``sib simulate --xlsx``, cut to
    what the user may see."""
    from investors.simulation_xlsx import write
    view, scope = _files_allowed(session, user, job_id)
    summary, found = job_summary(session, view)
    lang = lang if lang in text.LANGS else "ja"
    return Response(write(summary, merged_simulation(session, view), lang, scope),
                    media_type="application/vnd.openxmlformats-officedocument."
                               "spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="simulation-'
                             f'{found.id}-job{view.id}.xlsx"'})


# --------------------------------------------------------------------------- figures

def percent(probability: str | None, lang: str) -> str:
    """A probability (decimal text) in percent to one place, as the PDF writes it."""
    return format_rate(None if probability is None else Decimal(probability), lang, 1)


def irr_text(rate: str | None, lang: str) -> str:
    """An IRR (decimal text) in percent to two places, as the PDF writes it."""
    return format_rate(None if rate is None else Decimal(rate), lang, 2)


def multiple_text(value: str | None, lang: str) -> str:
    return format_multiple(None if value is None else Decimal(value), lang)


def _figures(summary: dict[str, Any], contract: Contract, payers: list[str], whole: bool,
             lang: str) -> dict[str, Any]:
    """What the page shows of the summary, with its charts (the PDF's figures)."""
    def fy(year: int) -> str:
        return text.fiscal_year(year, lang, contract.currency)

    def name(party: str) -> str:
        p = contract.party(party)
        return (p.name_ja if lang == "ja" else p.name_en) or party

    out: dict[str, Any] = {"summary": summary, "payers": [], "loans": [], "classes": []}
    for p in summary["payers"]:
        if p["payer"] not in payers:
            continue
        rows = p["years"]
        # Against the year's limits where the 債務負担行為 sets them; else the payments so far
        # against its total.
        yearly = any(r["year_limit"] is not None for r in rows)
        key = "due" if yearly else "cumulative_due"
        what = text.word("sim_payments" if yearly else "sim_cumulative", lang)
        chart = fan_chart(
            f"{name(p['payer'])}: {what}",
            [fy(r["fiscal_year"]) for r in rows],
            outer=[(r[key]["p5"], r[key]["p95"]) for r in rows], inner=None,
            median=[r[key]["p50"] for r in rows],
            limit=[r["year_limit"] if yearly else p["authorisation"] for r in rows],
            names=(text.word("sim_band_outer", lang), "", text.word("sim_median", lang),
                   text.word("authorised" if yearly else "budget", lang)))
        out["payers"].append({"payer": p["payer"], "name": name(p["payer"]), "chart": chart,
                              "rows": rows, "authorisation": p["authorisation"],
                              "total": p["total_due"]})
    if whole:
        rows = summary["payments_by_year"]
        out["total_chart"] = fan_chart(
            text.word("sim_total", lang), [fy(r["fiscal_year"]) for r in rows],
            outer=[(r["p5"], r["p95"]) for r in rows],
            inner=[(r["p25"], r["p75"]) for r in rows], median=[r["p50"] for r in rows],
            limit=None, names=(text.word("sim_band_outer", lang),
                               text.word("sim_band_inner", lang),
                               text.word("sim_median", lang), ""))
        for ln in summary["loans"]:
            dues = ln["shortfall_by_due_date"]
            # A loan never short in any run has its 0.0 % in the table; no empty chart.
            chart = probability_chart(
                f"{ln['loan']}: {text.word('sim_shortfall_by_due', lang)}",
                [f"{d['due_on'][:4]}/{int(d['due_on'][5:7])}" if lang == "ja"
                 else d["due_on"][:7] for d in dues],
                [d["probability"] for d in dues], text.word("sim_p_shortfall", lang)) \
                if any(Decimal(d["probability"]) for d in dues) else ""
            out["loans"].append({**ln, "lender_name": name(ln["lender"]), "chart": chart})
        for c in summary["classes"]:
            hist = c["irr_histogram"]
            chart = charts.bar_chart(
                f"{_class_name(contract, c['class'], lang)}: {text.word('sim_irr_chart', lang)}",
                [f"{Decimal(h['from']) * 100:.1f}" if i % 5 == 0 else ""
                 for i, h in enumerate(hist)],
                [charts.Series(text.word("sim_runs_count", lang),
                               tuple(float(h["count"]) for h in hist))]) if hist else ""
            out["classes"].append({**c, "name": _class_name(contract, c["class"], lang),
                                   "chart": chart})
    return out


def _class_name(contract: Contract, class_id: str, lang: str) -> str:
    unit = next(u for u in contract.unit_classes if u.id == class_id)
    return (unit.name_ja if lang == "ja" else unit.name_en) or class_id


def probability_chart(title: str, categories: list[str], probabilities: list[str],
                      name: str) -> str:
    """Bars of probabilities (decimal text) on a 0–100 % axis, one per category (every
    label shown while they fit, else every few)."""
    W, H, L, R, T, B = (charts.WIDTH, charts.HEIGHT, charts.LEFT, charts.RIGHT, charts.TOP,
                        charts.BOTTOM)
    plot_w, plot_h = W - L - R, H - T - B
    slot = plot_w / max(len(categories), 1)
    every = max(1, -(-len(categories) // 10))
    body = charts._axis(100.0, "{:.0f} %")
    for i, (label, p) in enumerate(zip(categories, probabilities)):
        share = float(Decimal(p) * 100)
        h = plot_h * share / 100
        body.append(f'<rect x="{L + i * slot + slot * 0.15:.1f}" y="{H - B - h:.1f}" '
                    f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{charts.COLOURS[0]}">'
                    f'<title>{escape(label)}: {share:.1f} %</title></rect>')
        if i % every == 0:
            body.append(f'<text x="{L + (i + 0.5) * slot:.1f}" y="{H - B + 16}" '
                        f'text-anchor="middle" font-size="10">{escape(label)}</text>')
    body += charts._legend([charts.Series(name, ())])
    desc = ", ".join(f"{c} {float(Decimal(p) * 100):.1f} %"
                     for c, p in zip(categories, probabilities))
    return charts._frame(title, desc, body)


def fan_chart(title: str, categories: list[str], outer: list[tuple[int, int]],
              inner: list[tuple[int, int]] | None, median: list[int],
              limit: list[int | None] | None, names: tuple[str, str, str, str]) -> str:
    """Bands of the payments per year (P5–P95, and P25–P75 when given), the median as a
    line, and each year's limit (債務負担行為) as a dashed red tick: SVG, as
    :mod:`api.portal.charts` draws its charts."""
    W, H, L, R, T, B = (charts.WIDTH, charts.HEIGHT, charts.LEFT, charts.RIGHT, charts.TOP,
                        charts.BOTTOM)
    values = [v for lo_hi in outer for v in lo_hi] + [v for v in (limit or []) if v]
    top = charts._scale(max(values, default=0))
    plot_w, plot_h = W - L - R, H - T - B
    n = max(len(categories), 1)

    def x(i: int) -> float:
        return L + plot_w * (i + 0.5) / n

    def y(value: int) -> float:
        return H - B - plot_h * value / top

    def band(pairs: list[tuple[int, int]], colour: str, label: str) -> str:
        points = [(x(i), y(hi)) for i, (_, hi) in enumerate(pairs)] + \
            [(x(i), y(lo)) for i, (lo, _) in reversed(list(enumerate(pairs)))]
        return (f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in points)}" '
                f'fill="{colour}" stroke="none"><title>{escape(label)}</title></polygon>')

    body = charts._axis(top, "{:,.0f}")
    body.append(band(outer, "#c9dcef", names[0]))
    if inner:
        body.append(band(inner, "#7fa9d6", names[1]))
    line = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}"
                    for i, v in enumerate(median))
    body.append(f'<path d="{line}" fill="none" stroke="#1f4e79" stroke-width="2.5"/>')
    for i, (v, (lo, hi)) in enumerate(zip(median, outer)):
        body.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="#1f4e79"><title>'
                    f'{escape(categories[i])}: P5 {lo:,} / P50 {v:,} / P95 {hi:,}</title>'
                    f'</circle>')
        body.append(f'<text x="{x(i):.1f}" y="{H - B + 16}" text-anchor="middle" '
                    f'font-size="11">{escape(categories[i])}</text>')
    for i, value in enumerate(limit or []):
        if value is None:
            continue
        half = plot_w / n * 0.35
        body.append(f'<line x1="{x(i) - half:.1f}" y1="{y(value):.1f}" x2="{x(i) + half:.1f}" '
                    f'y2="{y(value):.1f}" stroke="#b00020" stroke-width="3" '
                    f'stroke-dasharray="6 3"><title>{escape(names[3])} '
                    f'{escape(categories[i])}: {value:,}</title></line>')
    keys = [(names[0], '<rect width="10" height="10" fill="#c9dcef"/>')]
    if inner:
        keys.append((names[1], '<rect width="10" height="10" fill="#7fa9d6"/>'))
    keys.append((names[2], '<rect y="4" width="12" height="3" fill="#1f4e79"/>'))
    if limit:
        keys.append((names[3], '<rect y="4" width="12" height="3" fill="#b00020"/>'))
    left = L
    for label, mark in keys:
        body.append(f'<g transform="translate({left},{H - 14})">{mark}<text x="15" y="9" '
                    f'font-size="11">{escape(label)}</text></g>')
        left += 24 + 7 * len(label) + 18
    desc = "; ".join(
        f"{c}: P5 {lo:,}, P50 {m:,}, P95 {hi:,}"
        + (f", {names[3]} {limit[i]:,}" if limit and limit[i] is not None else "")
        for i, (c, (lo, hi), m) in enumerate(zip(categories, outer, median)))
    return charts._frame(title, desc, body)
