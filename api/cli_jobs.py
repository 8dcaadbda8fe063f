"""``sib worker`` and ``sib job`` (issue 15, long jobs).

``sib worker`` serves the job queue (on PostgreSQL, start one or more on every machine that sees
the database and the documents folder); ``sib job start`` starts a job for them, ``sib job list``
and ``sib job show`` say how far each has got (``stalled``: nobody works on it any more),
``sib job cancel`` stops one and ``sib job retry`` runs again what failed, was cancelled or was
abandoned. ``sib statements`` runs its job itself.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from api import cli_audit
from api.output import print_json, print_table

job_app = typer.Typer(help="Background jobs: start them, see their progress.",
                      no_args_is_help=True)
start_app = typer.Typer(help="Start a job for the workers (sib worker).", no_args_is_help=True)
job_app.add_typer(start_app, name="start")
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")

_run = cli_audit.run


def _url() -> str:
    from api.settings import get_settings
    return get_settings().database_url


def worker_command(
        once: bool = typer.Option(False, "--once", help="stop when nothing is left to claim "
                                  "(default: keep serving the queue)"),
        concurrency: int = typer.Option(1, "--concurrency", "-n", min=1,
                                        help="worker processes to run (default 1)"),
        lease: float = typer.Option(60.0, "--lease", min=1.0, help="seconds a claimed task "
                                    "is held without a heartbeat before another worker may "
                                    "take it over")) -> None:
    """Serve the job queue: claim tasks, run them, record their progress. Any number of
    workers on any number of machines share the work; a task whose worker dies is taken over
    when its lease runs out (at once by a worker restarted on the same machine)."""
    import logging

    from api.job_worker import serve
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    typer.echo(f"worker: {concurrency} process(es) serving the job queue"
               + (" until it is empty" if once else "; stop with Ctrl-C"), err=True)
    try:
        serve(_url(), concurrency, until_idle=once, lease_seconds=lease)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _row(view: Any) -> dict[str, Any]:
    row = asdict(view)
    row["percent"] = (100 * view.units_done // view.units_total) if view.units_total else 0
    return row


def _moment(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _describe(params: dict[str, Any]) -> str:
    if "runs" in params:  # a simulation (api.job_simulation)
        return f"{params['contract']} {params['runs']:,} runs from FY{params['from_fiscal_year']}"
    if "contract" in params:
        return f"{params['contract']} FY{params['fiscal_year']}"
    return Path(str(params.get("file", ""))).name


@job_app.command("list")
def job_list(kind: str | None = typer.Option(None, "--kind"),
             state: str | None = typer.Option(None, "--state",
                                              help="queued, running, stalled, done, failed "
                                                   "or cancelled"),
             limit: int = typer.Option(50, "--limit", min=1, max=500),
             as_json: bool = JsonOpt) -> None:
    """Jobs, newest first, with their progress."""
    from api.jobs import list_jobs
    views, total = _run(lambda s: list_jobs(s, kind, state, 0, limit))
    rows = [_row(v) for v in views]
    if as_json:
        print_json(rows)
        return
    print_table(f"Jobs ({len(rows)} of {total})",
                ["id", "kind", "what", "state", "done", "of", "%", "started by", "created"],
                [(r["id"], r["kind"], _describe(r["params"]), r["state"], r["units_done"],
                  r["units_total"], r["percent"], r["started_by"], _moment(r["created_at"]))
                 for r in rows], right=[4, 5, 6])


@job_app.command("show")
def job_show(job_id: int = typer.Argument(..., min=1), as_json: bool = JsonOpt) -> None:
    """A job: its progress, who started it and when, its tasks, and its error if it failed."""
    from api.jobs import get_job, job_tasks
    view, tasks = _run(lambda s: (get_job(s, job_id), job_tasks(s, job_id)))
    row = _row(view)
    if as_json:
        print_json({**row, "tasks": [asdict(t) for t in tasks]})
        return
    typer.echo(f"job {view.id} ({view.kind}, {_describe(view.params)}): {view.state}, "
               f"{view.units_done} of {view.units_total} ({row['percent']} %); "
               f"{view.tasks_done} of {view.tasks_total} tasks done")
    typer.echo(f"started by {view.started_by} at {_moment(view.created_at)}; running since "
               f"{_moment(view.started_at) or '—'}; finished {_moment(view.finished_at) or '—'}")
    if view.result:
        typer.echo(f"result: {view.result}")
    if view.error:
        typer.echo(f"error: {view.error}")
    print_table("Tasks", ["#", "state", "done", "of", "attempts", "worker", "lease until",
                          "error"],
                [(t.seq, t.state, t.units_done, t.units_total, t.attempts, t.claimed_by,
                  _moment(t.lease_expires_at), t.error[:80]) for t in tasks], right=[2, 3, 4])


def _started(view: Any, as_json: bool) -> None:
    if as_json:
        print_json(_row(view))
        return
    typer.echo(f"job {view.id} ({view.kind}, {_describe(view.params)}) {view.state}: "
               f"{view.tasks_total} tasks, {view.units_total} to do; follow it with "
               f"`sib job show {view.id}`")


@start_app.command("statements")
def start_statements(contract: str = typer.Option(..., "--contract", "-c"),
                     year: int = typer.Option(..., "--year", "-y"),
                     out: Path | None = typer.Option(
                         None, "--out", "-o", help="folder every worker writes to (default: "
                         "SIB_OUT_DIR/<contract>/FY<year>)"),
                     lang: str = typer.Option("both", "--lang", help="ja, en or both"),
                     holders_per_task: int | None = typer.Option(None, "--holders-per-task",
                                                                 min=1),
                     as_json: bool = JsonOpt) -> None:
    """Start writing every document of a contract year, for the workers (sib worker).
    Starting it again while it is queued or running gives the same job."""
    from api import jobs
    from api.job_kinds import STATEMENTS, statements_folder
    params: dict[str, Any] = {
        "contract": contract, "fiscal_year": year,
        "langs": ["ja", "en"] if lang == "both" else [lang],
        "out": str(out or statements_folder(contract, year))}
    if holders_per_task is not None:
        params["holders_per_task"] = holders_per_task
    _started(_run(lambda s: jobs.enqueue(s, STATEMENTS, params, jobs.started_by_cli())),
             as_json)


@start_app.command("kpi-import")
def start_kpi_import(file: Path = typer.Argument(..., help="a CSV or XLSX of results"),
                     by: str | None = typer.Option(None, "--by", help="who submits the "
                                                   "results (checked against the token)"),
                     token: str | None = typer.Option(None, "--token", envvar="SIB_TOKEN",
                                                      help="the evaluator's own API token"),
                     as_json: bool = JsonOpt) -> None:
    """Start importing a (large) KPI results file, for the workers: whole or not at all, as
    ``sib kpi import`` (signed with the evaluator's own token). The file must be where the
    workers can read it."""
    from api import jobs
    from api.cli_settlement import evaluator
    from api.job_kinds import KPI_IMPORT
    _started(_run(lambda s: jobs.enqueue(
        s, KPI_IMPORT, {"file": str(file), "by": evaluator(s, by, token)},
        jobs.started_by_cli())), as_json)


@job_app.command("cancel")
def job_cancel(job_id: int = typer.Argument(..., min=1), as_json: bool = JsonOpt) -> None:
    """Cancel a queued, running or stalled job: its tasks not started are cancelled now; a
    running task stops at the end of the document it is writing. Cancelling it again changes
    nothing."""
    from api.jobs import cancel
    view = _run(lambda s: cancel(s, job_id))
    if as_json:
        print_json(_row(view))
        return
    typer.echo(f"job {view.id} ({view.kind}, {_describe(view.params)}) cancelled: "
               f"{view.tasks_done} of {view.tasks_total} tasks done"
               + (f", {view.tasks_running} finishing the document it is writing"
                  if view.tasks_running else "")
               + f"; `sib job retry {view.id}` runs the rest")


@job_app.command("retry")
def job_retry(job_id: int = typer.Argument(..., min=1),
              wait: bool = typer.Option(False, "--wait", help="run it here, in --processes "
                                        "workers, and wait for it (as sib statements does) "
                                        "instead of leaving it to sib worker"),
              processes: int | None = typer.Option(None, "--processes", "-p", min=1,
                                                   help="with --wait: worker processes "
                                                        "(default: one per core)"),
              as_json: bool = JsonOpt) -> None:
    """Run again the failed, cancelled or abandoned tasks of a failed, cancelled or stalled
    job; its done tasks are left as they are. The job goes back to the workers' queue
    (sib worker; on SQLite the service's own thread), or is run here with --wait."""
    from api.jobs import retry
    view = _run(lambda s: retry(s, job_id))
    if wait:
        from api.job_worker import run_inline
        from ledger.errors import SibError
        try:
            view = run_inline(_url(), view.id, processes or default_processes())
        except SibError as error:
            from api.output import report_error
            report_error(error)
            raise typer.Exit(1) from None
    if as_json:
        print_json(_row(view))
        return
    typer.echo(f"job {view.id} ({view.kind}, {_describe(view.params)}) {view.state}: "
               f"{view.tasks_done} of {view.tasks_total} tasks done"
               + ("" if view.finished else
                  f"; the workers take it up (sib worker); follow it with `sib job show "
                  f"{view.id}`"))


def register(app: typer.Typer) -> None:
    """Adds the job commands to ``app``."""
    app.command("worker")(worker_command)
    app.add_typer(job_app, name="job")


def default_processes() -> int:
    """Worker processes a command runs its own job in by default: one per core."""
    return os.cpu_count() or 1
