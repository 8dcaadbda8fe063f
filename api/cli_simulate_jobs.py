"""``sib simulate`` through the job queue (issue 16, item 4): ``--batch-size`` runs the
simulation as a job of batches that this command draws itself, in ``--processes`` processes
(and any ``sib worker`` may help on PostgreSQL); ``--background`` only queues it for the
workers; ``--job N`` prints (and writes) a finished simulation job's result. The figures are
those :func:`settlement.simulation.summarise` gives; with one batch, the direct run's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from sqlmodel import Session

from api import cli_audit
from api.output import print_json, report_error
from ledger.errors import SibError


def simulate_as_job(contract: str | None, assumptions: Path | None, runs: int, seed: int,
                    from_year: int | None, batch_size: int | None, processes: int | None,
                    background: bool, job: int | None, as_json: bool, xlsx: Path | None,
                    pdf: Path | None, lang: str) -> dict[str, Any] | None:
    """Start (and, unless ``background``, run) a simulation job, or read job ``job``; the
    summary to print, or None when the job was only queued."""
    from api import jobs
    from api.cli_jobs import _url, default_processes
    from api.job_simulation import start_simulation
    from api.job_worker import run_inline
    from settlement.simulation_batches import RUNS_PER_BATCH
    if job is None:
        if contract is None or assumptions is None:
            report_error(SibError("name the contract (--contract) and the simulation file "
                                  "(--assumptions)", "OPTION_MISSING", "contract"))
            raise typer.Exit(1)
        try:
            text = assumptions.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            report_error(SibError(f"{assumptions} cannot be read: {error}", "FILE_UNREADABLE",
                                  "assumptions"))
            raise typer.Exit(1) from None
        size = batch_size or RUNS_PER_BATCH
        queue = jobs.DEFAULT_QUEUE if background else jobs.INLINE_QUEUE
        view = cli_audit.run(lambda s: start_simulation(
            s, contract, text, str(assumptions), runs, seed, jobs.started_by_cli(), from_year,
            size, queue=queue))
        if background:
            if as_json:
                print_json({"job": view.id, "state": view.state, "tasks": view.tasks_total})
            else:
                typer.echo(f"simulation job {view.id} {view.state}: {view.tasks_total} batches "
                           f"of up to {size:,} runs for the workers (sib worker); follow it "
                           f"with `sib job show {view.id}`, read it with `sib simulate --job "
                           f"{view.id}`")
            return None
        try:
            run_inline(_url(), view.id, processes or default_processes())
        except SibError as error:
            report_error(error)
            raise typer.Exit(1) from None
        job = view.id
    return _result(job, as_json, xlsx, pdf, lang)


def _result(job_id: int, as_json: bool, xlsx: Path | None, pdf: Path | None,
            lang: str) -> dict[str, Any]:
    from api.job_simulation import job_summary, merged_simulation, simulation_job
    from investors.files import write_atomic
    from settlement.simulation import as_json as summary_json

    def work(session: Session) -> dict[str, Any]:
        view = simulation_job(session, job_id)
        summary, contract = job_summary(session, view)
        if xlsx is not None:
            from investors.simulation_xlsx import write
            write_atomic(xlsx, write(summary, merged_simulation(session, view), lang))
        if pdf is not None:
            from investors.pdf_simulation import render
            write_atomic(pdf, render(summary, contract, lang))
        return summary_json(summary, contract.currency) if as_json else summary

    summary: dict[str, Any] = cli_audit.run(work)
    return summary
