"""Settling in the database: audited results → one settlement run, posted through the ledger.

A run resolves each payer's pending commitment of each tranche for the earned amount (the rest
is released), records consumption tax on the payer's receivable, and, in the payers' book,
each payer's outcome cost, what it owes and the grant's share. Settling the same audited inputs
again returns the first run. When an audited result is corrected after settlement, a new run
posts only the differences: each changed figure's entry is reversed and a new entry posted, and
both runs are kept. Services never commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from moneyed import Money
from sqlalchemy import select
from sqlmodel import Session, col

from contracts.chart import Code, payers_book_code
from contracts.model import Contract
from contracts.store import active_commitments, contract_for_year
from ledger.calendar import fiscal_year_bounds
from ledger.entries import EntryDraft, PostingDraft, credit, debit
from ledger.errors import Problem, SibError
from ledger.money import from_minor
from ledger.service import post_entry, post_pending, reverse_entry, utc_now, void_pending
from settlement.engine import YearSettlement, settle_year
from settlement.payouts import KpiInput
from settlement.results import current_audited, pending_audit
from settlement.tables import KpiResult, SettlementLine, SettlementRun


@dataclass(frozen=True)
class RunResult:
    """A settlement run and whether this call created it."""

    run: SettlementRun
    created: bool


def kpi_inputs(contract: Contract, rows: dict[tuple[str, str], KpiResult]
               ) -> dict[tuple[str, str], KpiInput]:
    """Audited rows as the rules' inputs, with the KPI's direction and target."""
    inputs = {}
    for (kpi_id, payer), row in rows.items():
        kpi = contract.kpi(kpi_id)
        target = kpi.targets_by_payer.get(payer, {}).get(row.fiscal_year) if payer else None
        if target is None:
            target = kpi.targets.get(row.fiscal_year)
        per_person = tuple(json.loads(row.outcomes_per_person)) \
            if row.outcomes_per_person else None
        inputs[(kpi_id, payer)] = KpiInput(Decimal(row.value), kpi.direction, target, per_person)
    return inputs


def runs_of(session: Session, contract_id: str, fiscal_year: int | None = None,
            evaluation: str | None = None) -> list[SettlementRun]:
    """Runs in order (a correction's run after the one it supersedes)."""
    query = select(SettlementRun).where(col(SettlementRun.contract_id) == contract_id)
    if fiscal_year is not None:
        query = query.where(col(SettlementRun.fiscal_year) == fiscal_year)
    if evaluation is not None:
        query = query.where(col(SettlementRun.evaluation) == evaluation)
    return list(session.scalars(query.order_by(col(SettlementRun.fiscal_year),
                                               col(SettlementRun.evaluation),
                                               col(SettlementRun.run_no))))


def current_runs(session: Session, contract_id: str) -> dict[tuple[int, str], SettlementRun]:
    """(fiscal year, evaluation) → the run in force (the newest)."""
    out: dict[tuple[int, str], SettlementRun] = {}
    for run in runs_of(session, contract_id):
        out[(run.fiscal_year, run.evaluation)] = run
    return out


def _totals_before(session: Session, contract_id: str, fiscal_year: int,
                   evaluation: str) -> tuple[dict[str, int], dict[str, int], dict[str, int],
                                             dict[str, int]]:
    """Per payer: earned, due and grant of the other runs in force, and the part of the due
    owed for ``fiscal_year`` itself (its other evaluation)."""
    earned: dict[str, int] = {}
    due: dict[str, int] = {}
    grant: dict[str, int] = {}
    due_in_year: dict[str, int] = {}
    for (year, ev), run in current_runs(session, contract_id).items():
        if (year, ev) == (fiscal_year, evaluation):
            continue
        for payer, figures in json.loads(run.summary)["payers"].items():
            earned[payer] = earned.get(payer, 0) + figures["earned"]
            due[payer] = due.get(payer, 0) + figures["due"]
            grant[payer] = grant.get(payer, 0) + figures["grant"]
            if year == fiscal_year:
                due_in_year[payer] = due_in_year.get(payer, 0) + figures["due"]
    return earned, due, grant, due_in_year


def inputs_hash(rows: dict[tuple[str, str], KpiResult]) -> str:
    body = sorted((k, p, r.id, r.version, r.value, r.outcomes_per_person or "")
                  for (k, p), r in rows.items())
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def preview(session: Session, contract_id: str, fiscal_year: int,
            evaluation: str = "final") -> YearSettlement:
    """What settling would post now, with every trace; writes nothing."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    rows = current_audited(session, contract_id, fiscal_year, evaluation)
    earned, due, grant, in_year = _totals_before(session, contract_id, fiscal_year, evaluation)
    return settle_year(contract, fiscal_year, evaluation, kpi_inputs(contract, rows), earned,
                       due, grant, in_year)


def settle(session: Session, contract_id: str, fiscal_year: int, evaluation: str = "final",
           on: date | None = None, by: str = "") -> RunResult:
    """Settle a contract-year evaluation from its audited results (idempotent)."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    if not contract.first_fiscal_year <= fiscal_year <= contract.last_fiscal_year:
        raise SibError(f"FY{fiscal_year} is outside the term of {contract_id} "
                       f"(FY{contract.first_fiscal_year}–FY{contract.last_fiscal_year})",
                       "FISCAL_YEAR_OUTSIDE_TERM", "fiscal_year")
    waiting = [r for r in pending_audit(session, contract_id, fiscal_year, evaluation)]
    if waiting:
        raise SibError([Problem("KPI_RESULT_NOT_AUDITED", f"{r.kpi_id} FY{r.fiscal_year} "
                                f"{r.payer_id or 'contract'} version {r.version} is {r.state}; "
                                "it must be audited before settlement", "kpi")
                        for r in waiting])
    rows = current_audited(session, contract_id, fiscal_year, evaluation)
    digest = inputs_hash(rows)
    previous = runs_of(session, contract_id, fiscal_year, evaluation)
    if previous and previous[-1].inputs_hash == digest:
        return RunResult(previous[-1], False)
    earned, due, grant, in_year = _totals_before(session, contract_id, fiscal_year, evaluation)
    result = settle_year(contract, fiscal_year, evaluation, kpi_inputs(contract, rows), earned,
                         due, grant, in_year)
    if result.problems:
        raise SibError(result.problems)
    on = on or fiscal_year_bounds(fiscal_year, contract.fiscal_year_start_month)[1]
    run_no = previous[-1].run_no + 1 if previous else 1
    run = SettlementRun(contract_id=contract_id, fiscal_year=fiscal_year, evaluation=evaluation,
                        run_no=run_no, contract_version=_version_for(session, contract),
                        inputs_hash=digest,
                        supersedes_run_id=previous[-1].id if previous else None,
                        settled_on=utc_now(), created_by=by,
                        trace=json.dumps([t.as_dict() for t in result.traces],
                                         ensure_ascii=False))
    session.add(run)
    session.flush()
    poster = _Poster(session, contract, run, on)
    if previous:
        summary = poster.correct(result, previous[-1])
    else:
        summary = poster.first(result)
    run.summary = json.dumps(summary, ensure_ascii=False, sort_keys=True)
    for row in rows.values():
        if row.state != "settled":
            row.state, row.settled_run_id = "settled", run.id
            session.add(row)
    session.add(run)
    session.flush()
    return RunResult(run, True)


def _version_for(session: Session, contract: Contract) -> int:
    return contract.version


class _Poster:
    """Posts one run's figures in the SPV book and the payers' book."""

    def __init__(self, session: Session, contract: Contract, run: SettlementRun,
                 on: date) -> None:
        self.session, self.contract, self.run, self.on = session, contract, run, on
        self.cur = contract.currency
        self.key = f"{contract.id}:settle:FY{run.fiscal_year}:{run.evaluation}:run{run.run_no}"
        self.links = {"contract": contract.id, "settlement_run": run.id,
                      "fiscal_year": run.fiscal_year, "evaluation": run.evaluation}

    def _money(self, minor: int) -> Money:
        return from_minor(minor, self.cur)

    def first(self, result: YearSettlement) -> dict[str, Any]:
        """Resolve each commitment for its earned amount; post tax, cost and grant."""
        commitments = {(c.tranche_id, c.payer_id): c for c in active_commitments(
            self.session, self.contract.id, self.run.fiscal_year)
            if c.evaluation == self.run.evaluation}
        for line in result.lines:
            commitment = commitments.get((line.tranche_id, line.payer))
            if commitment is None:
                raise SibError(f"no commitment for {line.tranche_id} / {line.payer}",
                               "COMMITMENT_MISSING", "tranche")
            key = f"{self.key}:{line.tranche_id}:{line.payer}"
            links = dict(self.links, tranche=line.tranche_id, payer=line.payer)
            if line.earned_minor > 0:
                entry = post_pending(self.session, self.contract.id, commitment.entry_id, key,
                                     self.on, amount=self._money(line.earned_minor),
                                     description=f"Earned FY{self.run.fiscal_year} "
                                     f"{line.tranche_id} — {line.payer}", kind="outcome_earned",
                                     links=links)
                entry_id = entry.id
            else:
                void_pending(self.session, self.contract.id, commitment.entry_id, key, self.on,
                             f"Not earned FY{self.run.fiscal_year} {line.tranche_id} — "
                             f"{line.payer}", kind="outcome_not_earned", links=links)
                entry_id = None
            self._line(line, entry_id)
        return self._payer_entries(result, {})

    def correct(self, result: YearSettlement, previous: SettlementRun) -> dict[str, Any]:
        """Post only what changed since ``previous``: reverse and re-post each changed line."""
        old_lines = {(ln.tranche_id, ln.payer_id): ln for ln in self.session.scalars(
            select(SettlementLine).where(col(SettlementLine.run_id) == previous.id))}
        for line in result.lines:
            old = old_lines.get((line.tranche_id, line.payer))
            entry_id = old.entry_id if old else None
            if old is None or old.earned_minor != line.earned_minor:
                key = f"{self.key}:{line.tranche_id}:{line.payer}"
                if entry_id is not None:
                    reverse_entry(self.session, self.contract.id, entry_id, f"{key}:reverse",
                                  self.on, f"Correction of FY{self.run.fiscal_year} "
                                  f"{line.tranche_id} — {line.payer}", "outcome_correction",
                                  dict(self.links, corrects_entry=entry_id,
                                       tranche=line.tranche_id, payer=line.payer))
                    entry_id = None
                if line.earned_minor > 0:
                    entry_id = self._post(key, "outcome_earned", [
                        debit(f"receivable:{line.payer}", self._money(line.earned_minor)),
                        credit(f"outcome-income:{line.payer}", self._money(line.earned_minor))],
                        f"Earned FY{self.run.fiscal_year} {line.tranche_id} — {line.payer} "
                        f"(corrected)", dict(self.links, tranche=line.tranche_id,
                                             payer=line.payer))
            self._line(line, entry_id)
        return self._payer_entries(result, json.loads(previous.summary)["payers"])

    def _line(self, line: Any, entry_id: int | None) -> None:
        self.session.add(SettlementLine(run_id=self.run.id or 0, tranche_id=line.tranche_id,
                                        kpi_id=line.kpi_id, payer_id=line.payer,
                                        maximum_minor=line.maximum_minor,
                                        earned_minor=line.earned_minor, entry_id=entry_id))

    def _post(self, key: str, kind: str, postings: list[PostingDraft], description: str,
              links: dict[str, Any], book: str | None = None) -> int:
        entry = post_entry(self.session, EntryDraft(book or self.contract.id, key, kind, self.on,
                                                    postings, description, links))
        return entry.id or 0

    def _payer_entries(self, result: YearSettlement, before: dict[str, Any]) -> dict[str, Any]:
        """Tax on the SPV side; cost, payable and grant on the payers' side, per payer."""
        payers_book = payers_book_code(self.contract.id)
        summary: dict[str, Any] = {"payers": {}, "earned": result.earned_minor}
        for payer, totals in result.payers.items():
            old = before.get(payer, {})
            entries = dict(old.get("entries", {}))
            # Tax added on top is owed by the payer (its receivable grows); tax inside a
            # tax-inclusive amount is part of what it owes already, so it is moved out of the
            # outcome income into 仮受消費税.
            tax_from = Code.outcome_income(payer) if totals.tax_included \
                else Code.receivable(payer)
            figures = {"tax": (totals.tax_minor, self.contract.id,
                               tax_from, Code.TAX_PAYABLE, "outcome_tax"),
                       "cost": (totals.due_minor, payers_book, f"outcome-cost:{payer}",
                                f"payable:{payer}", "outcome_cost"),
                       "grant": (totals.grant_minor, payers_book, f"grant-receivable:{payer}",
                                 f"grant-income:{payer}", "grant_recognised")}
            for name, (amount, book, dr, cr, kind) in figures.items():
                previous = old.get({"tax": "tax", "cost": "due", "grant": "grant"}[name], 0)
                if amount == previous and (name in entries or amount == 0):
                    continue
                key = f"{self.key}:{name}:{payer}"
                if entries.get(name):
                    reverse_entry(self.session, book, entries.pop(name), f"{key}:reverse",
                                  self.on, f"Correction of {kind} FY{self.run.fiscal_year} — "
                                  f"{payer}", f"{kind}_correction", dict(self.links, payer=payer))
                if amount > 0:
                    entries[name] = self._post(key, kind, [debit(dr, self._money(amount)),
                                                           credit(cr, self._money(amount))],
                                               f"{kind.replace('_', ' ').capitalize()} "
                                               f"FY{self.run.fiscal_year} — {payer}",
                                               dict(self.links, payer=payer), book)
            summary["payers"][payer] = {"earned": totals.earned_minor, "tax": totals.tax_minor,
                                        "due": totals.due_minor, "grant": totals.grant_minor,
                                        "entries": entries}
        return summary
