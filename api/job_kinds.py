"""The kinds of background job: every document of a year, a KPI results file.

Each kind is a plan (run where the job is started, in the starter's transaction: parameters
checked and normalised, the work cut into tasks) and a task function (run by whichever worker
claims a task). A new kind registers itself with :func:`api.jobs.register`; the simulation of
issue 16 is meant to become one the same way — a ``plan`` cutting the runs into tasks and a
``run_task`` doing a batch of them — without touching the queue, the workers or the pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from api import jobs
from api.jobs import DEFAULT_QUEUE, JobKind, JobView, Plan, TaskRun, TaskSpec
from ledger.errors import SibError

STATEMENTS = "statements"
KPI_IMPORT = "kpi-import"
LANGS = ("ja", "en")
# Holders per task. A task reads only its own holders' subscriptions and payments (chosen in
# the database by investors.documents.investor_statements), then renders their two statements
# each (about 3.6 ms a holder). 2,500 holders make a task of a few seconds whose fixed costs
# (the books' hash, the contract) are small beside it, and 20,000 holders still make eight
# tasks, which two or four workers share evenly.
HOLDERS_PER_TASK = 2500


# --------------------------------------------------------------------------- statements

def _langs(value: Any) -> list[str]:
    langs = [value] if isinstance(value, str) else list(value or LANGS)
    if not langs or any(lang not in LANGS for lang in langs):
        raise SibError("langs must be ja, en or both", "LANG_UNKNOWN", "langs")
    return [lang for lang in LANGS if lang in langs]


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SibError(f"{name} must be a whole number of at least 1", "JOB_PARAMS_INVALID",
                       name)
    return value


def _holder_classes(session: Session, contract_id: str, end_on: Any) -> list[tuple[str, str]]:
    """(holder code, class) of every statement of the year, in the statements' order."""
    from investors.tables import Holder, Subscription
    return sorted({(code, unit_class) for code, unit_class in session.execute(
        select(Holder.code, Subscription.unit_class)
        .join(Subscription, col(Subscription.holder_id) == col(Holder.id))
        .where(col(Subscription.contract_id) == contract_id,
               col(Subscription.subscribed_on) <= end_on))})


def plan_statements(session: Session, params: Mapping[str, Any]) -> Plan:
    """Every document of a contract year, as ``sib statements`` writes it: one task for the
    contract's own documents (year-end report, notices, lender statements, confirmations),
    then one per :data:`HOLDERS_PER_TASK` holders. The documents' time stamp and the ledger
    state they cite are fixed here, so every task writes what one run would."""
    from investors import documents
    contract_id, year = str(params.get("contract", "")), params.get("fiscal_year")
    year = _positive(year, "fiscal_year")
    langs = _langs(params.get("langs"))
    if not params.get("out"):
        raise SibError("say where the documents go (out)", "JOB_PARAMS_INVALID", "out")
    per_task = _positive(params.get("holders_per_task", HOLDERS_PER_TASK), "holders_per_task")
    stamp = params.get("generated_at")
    ctx = documents.context(session, contract_id, year,
                            datetime.fromisoformat(stamp) if stamp else None)
    normalised = {"contract": contract_id, "fiscal_year": year, "langs": langs,
                  "out": str(Path(params["out"]).resolve()),
                  "generated_at": ctx.generated_at.isoformat(), "ledger_hash": ctx.ledger_hash,
                  "holders_per_task": per_task}
    c = ctx.contract
    tasks = [TaskSpec({"part": "contract"},
                      (1 + len(c.payers) + len(c.loans) * 2) * len(langs))]
    holders = [(code, len(list(rows))) for code, rows in
               groupby(_holder_classes(session, contract_id, ctx.end_on), key=lambda r: r[0])]
    for start in range(0, len(holders), per_task):
        chunk = holders[start:start + per_task]
        tasks.append(TaskSpec({"part": "holders", "holders": [code for code, _ in chunk]},
                              sum(n for _, n in chunk) * len(langs)))
    return Plan(normalised, tasks)


def run_statements_task(run: TaskRun) -> dict[str, Any]:
    """Build one task's documents (a short read), then render and write each (atomically),
    counting them as they are written."""
    from investors import documents
    from investors.batch import contract_documents, jobs_of, write_job
    from investors.files import remove_leftovers
    p, part = run.job_params, run.task_params
    with run.unit_of_work() as session:
        ctx = documents.context(session, p["contract"], p["fiscal_year"],
                                datetime.fromisoformat(p["generated_at"]))
        if ctx.ledger_hash != p["ledger_hash"]:
            raise SibError(f"the books of {p['contract']} changed after this job was started "
                           "(new entries were posted); the documents would not match each "
                           "other: start the job again", "LEDGER_CHANGED", "ledger")
        docs = (contract_documents(session, ctx) if part["part"] == "contract"
                else documents.investor_statements(session, ctx, part["holders"]))
    todo = jobs_of(docs, p["langs"])
    run.set_total(len(todo))
    out = Path(p["out"])
    remove_leftovers(out)  # what a killed worker of this machine left half written
    for job in todo:
        write_job(out, job)
        run.advance(1)
    return {"documents": len(todo)}


def statements_folder(contract_id: str, fiscal_year: int) -> Path:
    """Where a job started from the service writes a year's documents: under the settings'
    folder for documents (``SIB_OUT_DIR``), which every worker must see at the same path."""
    from api.settings import get_settings
    return get_settings().out_dir / contract_id / f"FY{fiscal_year}"


def start_statements(session: Session, contract_id: str, fiscal_year: int, started_by: str,
                     langs: Sequence[str] = LANGS, out: Path | None = None,
                     generated_at: datetime | None = None,
                     queue: str = DEFAULT_QUEUE) -> JobView:
    """Start writing every document of a contract year (the portal's and the API's button,
    and ``sib statements``)."""
    params: dict[str, Any] = {
        "contract": contract_id, "fiscal_year": fiscal_year, "langs": list(langs),
        "out": str(out or statements_folder(contract_id, fiscal_year))}
    if generated_at is not None:
        params["generated_at"] = generated_at.isoformat()
    return jobs.enqueue(session, STATEMENTS, params, started_by, queue)


# --------------------------------------------------------------------------- KPI results file

def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plan_kpi_import(session: Session, params: Mapping[str, Any]) -> Plan:
    """One task: a results file is imported whole or not at all. The file's digest is kept,
    so that the worker imports the very file that was given."""
    path = Path(str(params.get("file", ""))).resolve()
    by = str(params.get("by", "")).strip()
    if not path.is_file():
        raise SibError(f"there is no file {path}", "FILE_NOT_FOUND", "file")
    if not by:
        raise SibError("say who submits the results (by)", "JOB_PARAMS_INVALID", "by")
    from api.users import require_user_role
    require_user_role(session, by, ("admin", "evaluator"))  # a registered evaluator submits
    return Plan({"file": str(path), "by": by, "sha256": _digest(path)}, [TaskSpec({}, 1)])


def run_kpi_import_task(run: TaskRun) -> None:
    """Import the file and mark the task done in the same transaction: the results are
    submitted exactly once, even if a worker dies at any point."""
    from settlement.results import import_results_file
    p = run.job_params
    path = Path(p["file"])
    if not path.is_file() or _digest(path) != p["sha256"]:
        raise SibError(f"{path} is missing or was changed after the import was started; "
                       "start it again", "FILE_CHANGED", "file")
    with run.unit_of_work() as session:
        rows = import_results_file(session, path, p["by"])
        # ... and only for the contracts its party evaluates (else nothing is imported).
        from api.users import require_evaluator_of, require_user_role
        require_evaluator_of(session, require_user_role(session, p["by"], ("admin", "evaluator")),
                             [r.contract_id for r in rows])
        run.complete_in(session, {"rows": len(rows)})


jobs.register(JobKind(STATEMENTS, plan_statements, run_statements_task,
                      "every document of a contract year (PDF)"))
jobs.register(JobKind(KPI_IMPORT, plan_kpi_import, run_kpi_import_task,
                      "import a KPI results file (CSV/XLSX)"))

import api.job_simulation  # noqa: E402, F401  (registers the simulation kind, issue 16)
