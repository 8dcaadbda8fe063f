"""Settling in the database: audited results → one settlement run, posted through the ledger.

A run resolves each payer's pending commitment of each tranche for the earned amount (the rest
is released), records consumption tax on the payer's receivable, and, in the payers' book,
each payer's outcome cost, what it owes and the grant's share. Settling the same audited inputs
again returns the first run. When an audited result is corrected after settlement, a new run
posts only the differences: each changed figure's entry is reversed and a new entry posted, and
both runs are kept. Services never commit.

A tranche that names a provider as payee (:func:`contracts.chart.provider_payee`) is owed to that
provider, not to the SPV: nothing of it is posted in the SPV book (it has no commitment there).
Its earned amount is posted per tranche in the payers' book, outcome cost / payable to the
provider (``payable:<payer>:<provider>``), and the tax added on top of that provider's invoice
once per invoice; the payer's outcome cost is so its whole cost (budget and grant), its
``payable:<payer>`` what it owes the SPV. The run's summary keeps the SPV's invoice (earned,
tax, spv_due), the whole cost (due) and each provider's invoice (providers).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from moneyed import Money
from sqlalchemy import select
from sqlmodel import Session, col

from contracts.chart import Code, Kind, payers_book_code, provider_payee
from contracts.model import Contract
from contracts.store import active_commitments, contract_for_year
from ledger.entries import EntryDraft, PostingDraft, credit, debit
from ledger.errors import Problem, SibError
from ledger.money import from_minor
from ledger.seals import altered
from ledger.service import (
    get_book,
    post_entry,
    post_pending,
    reverse_entry,
    utc_now,
    void_pending,
)
from settlement.engine import YearBefore, YearSettlement, invoice_key, settle_year
from settlement.payouts import KpiInput, kpi_input
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
        per_person = tuple(json.loads(row.outcomes_per_person)) \
            if row.outcomes_per_person else None
        inputs[(kpi_id, payer)] = kpi_input(contract, kpi_id, payer, row.fiscal_year,
                                            Decimal(row.value), per_person)
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
                                             dict[str, int], YearBefore]:
    """Per payer: earned, due and grant of the other runs in force, the part of the due owed
    for ``fiscal_year`` itself (its other evaluation), and what that other evaluation earned
    and booked as tax (one invoice covers the year: its tax is computed once)."""
    earned: dict[str, int] = {}
    due: dict[str, int] = {}
    grant: dict[str, int] = {}
    due_in_year: dict[str, int] = {}
    year_before = YearBefore()
    for (year, ev), run in current_runs(session, contract_id).items():
        if (year, ev) == (fiscal_year, evaluation):
            continue
        for payer, figures in json.loads(run.summary)["payers"].items():
            providers = figures.get("providers", {})
            earned[payer] = earned.get(payer, 0) + figures["earned"] + sum(
                invoice["earned"] for invoice in providers.values())
            due[payer] = due.get(payer, 0) + figures["due"]
            grant[payer] = grant.get(payer, 0) + figures["grant"]
            if year == fiscal_year:
                due_in_year[payer] = due_in_year.get(payer, 0) + figures["due"]
                year_before.add(payer, figures["earned"], figures["tax"])
                for provider, invoice in providers.items():
                    year_before.add(invoice_key(payer, provider), invoice["earned"],
                                    invoice["tax"])
    return earned, due, grant, due_in_year, year_before


def inputs_hash(rows: dict[tuple[str, str], KpiResult]) -> str:
    body = sorted((k, p, r.id, r.version, r.value, r.outcomes_per_person or "")
                  for (k, p), r in rows.items())
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def preview(session: Session, contract_id: str, fiscal_year: int,
            evaluation: str = "final") -> YearSettlement:
    """What settling would post now, with every trace; writes nothing."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    rows = current_audited(session, contract_id, fiscal_year, evaluation)
    earned, due, grant, in_year, year_before = _totals_before(session, contract_id,
                                                              fiscal_year, evaluation)
    return settle_year(contract, fiscal_year, evaluation, kpi_inputs(contract, rows), earned,
                       due, grant, in_year, year_before)


def settle(session: Session, contract_id: str, fiscal_year: int, evaluation: str = "final",
           on: date | None = None, by: str = "", now: datetime | None = None) -> RunResult:
    """Settle a contract-year evaluation from its audited results (idempotent). ``now``: the
    moment of the settlement (the payment notice's issue date) when it is recorded after the
    fact; the clock otherwise."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    # Settlements of one contract one at a time: a second, concurrent one waits here and then
    # finds the first's run (the same inputs: nothing to do) instead of racing it to run 1.
    get_book(session, contract.id, lock=True)
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
    tampered = altered(session, "settlement_kpi_result", [r.id for r in rows.values() if r.id])
    if tampered:
        # An audited result changed outside the service is not money anyone agreed to pay.
        raise SibError([Problem("RECORD_TAMPERED", f"KPI result {row_id} does not match what "
                                "was submitted and audited (changed outside the service); "
                                "nothing is settled from it: run sib verify", "kpi")
                        for row_id in tampered])
    digest = inputs_hash(rows)
    previous = runs_of(session, contract_id, fiscal_year, evaluation)
    if previous and previous[-1].inputs_hash == digest:
        return RunResult(previous[-1], False)
    earned, due, grant, in_year, year_before = _totals_before(session, contract_id,
                                                              fiscal_year, evaluation)
    result = settle_year(contract, fiscal_year, evaluation, kpi_inputs(contract, rows), earned,
                         due, grant, in_year, year_before)
    if result.problems:
        raise SibError(result.problems)
    on = on or contract.fiscal_year_bounds(fiscal_year)[1]
    run_no = previous[-1].run_no + 1 if previous else 1
    run = SettlementRun(contract_id=contract_id, fiscal_year=fiscal_year, evaluation=evaluation,
                        run_no=run_no, contract_version=_version_for(session, contract),
                        inputs_hash=digest,
                        supersedes_run_id=previous[-1].id if previous else None,
                        settled_on=now or utc_now(), created_by=by,
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
        self.payers_book = payers_book_code(contract.id)
        self.payees = {t.id: provider_payee(contract, t) for t in contract.tranches}

    def _money(self, minor: int) -> Money:
        return from_minor(minor, self.cur)

    def first(self, result: YearSettlement) -> dict[str, Any]:
        """Resolve each commitment for its earned amount; post tax, cost and grant."""
        commitments = {(c.tranche_id, c.payer_id): c for c in active_commitments(
            self.session, self.contract.id, self.run.fiscal_year)
            if c.evaluation == self.run.evaluation}
        for line in result.lines:
            commitment = commitments.get((line.tranche_id, line.payer))
            if self.payees.get(line.tranche_id) is not None:
                self._line(line, self._provider_line(line, commitment))
                continue
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
            provider = self.payees.get(line.tranche_id)
            if old is None or old.earned_minor != line.earned_minor:
                key = f"{self.key}:{line.tranche_id}:{line.payer}"
                book = self.contract.id if provider is None else self.payers_book
                if entry_id is not None:
                    reverse_entry(self.session, book, entry_id, f"{key}:reverse",
                                  self.on, f"Correction of FY{self.run.fiscal_year} "
                                  f"{line.tranche_id} — {line.payer}", "outcome_correction",
                                  dict(self.links, corrects_entry=entry_id,
                                       tranche=line.tranche_id, payer=line.payer))
                    entry_id = None
                if provider is not None:
                    entry_id = self._provider_line(line, None, " (corrected)")
                elif line.earned_minor > 0:
                    entry_id = self._post(key, "outcome_earned", [
                        debit(f"receivable:{line.payer}", self._money(line.earned_minor)),
                        credit(f"outcome-income:{line.payer}", self._money(line.earned_minor))],
                        f"Earned FY{self.run.fiscal_year} {line.tranche_id} — {line.payer} "
                        f"(corrected)", dict(self.links, tranche=line.tranche_id,
                                             payer=line.payer))
            self._line(line, entry_id)
        return self._payer_entries(result, json.loads(previous.summary)["payers"])

    def _provider_line(self, line: Any, commitment: Any, note: str = "") -> int | None:
        """A line paid to a provider: its earned amount is the payer's cost and a payable to
        the provider, in the payers' book; nothing in the SPV book. (A commitment the SPV book
        holds for it from before tranches were routed by payee is voided.)"""
        provider = self.payees[line.tranche_id]
        assert provider is not None
        key = f"{self.key}:{line.tranche_id}:{line.payer}"
        links = dict(self.links, tranche=line.tranche_id, payer=line.payer, payee=provider)
        if commitment is not None:
            void_pending(self.session, self.contract.id, commitment.entry_id, f"{key}:void",
                         self.on, f"Paid to {provider}, not the SPV: FY{self.run.fiscal_year} "
                         f"{line.tranche_id} — {line.payer}", kind="outcome_not_earned",
                         links=links)
        if line.earned_minor <= 0:
            return None
        amount = self._money(line.earned_minor)
        return self._post(key, Kind.PROVIDER_OUTCOME_OWED,
                          [debit(Code.outcome_cost(line.payer), amount),
                           credit(Code.payable_to(line.payer, provider), amount)],
                          f"Owed to {provider} FY{self.run.fiscal_year} {line.tranche_id} — "
                          f"{line.payer}{note}", links, self.payers_book)

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
            # The cost entry is what the payer owes the SPV; what it owes a provider is
            # posted per tranche (_provider_line), and the tax added on top of that provider's
            # invoice here, once (tax inside a tax-inclusive amount is already in it).
            figures = {"tax": (totals.tax_minor, self.contract.id,
                               tax_from, Code.TAX_PAYABLE, "outcome_tax"),
                       "cost": (totals.spv_due_minor, payers_book, f"outcome-cost:{payer}",
                                f"payable:{payer}", "outcome_cost"),
                       "grant": (totals.grant_minor, payers_book, f"grant-receivable:{payer}",
                                 f"grant-income:{payer}", "grant_recognised")}
            previously = {"tax": old.get("tax", 0), "cost": old.get("spv_due", old.get("due", 0)),
                          "grant": old.get("grant", 0)}
            old_providers = old.get("providers", {})
            for provider, invoice in totals.providers.items():
                name = f"tax:{provider}"
                figures[name] = (0 if invoice.tax_included else invoice.tax_minor, payers_book,
                                 Code.outcome_cost(payer), Code.payable_to(payer, provider),
                                 Kind.PROVIDER_OUTCOME_TAX)
                was = old_providers.get(provider, {})
                previously[name] = 0 if was.get("tax_included") else was.get("tax", 0)
            for name, (amount, book, dr, cr, kind) in figures.items():
                previous = previously[name]
                links = dict(self.links, payer=payer)
                if name.startswith("tax:"):
                    links["payee"] = name.removeprefix("tax:")
                if amount == previous and (name in entries or amount == 0):
                    continue
                key = f"{self.key}:{name}:{payer}"
                if entries.get(name):
                    reverse_entry(self.session, book, entries.pop(name), f"{key}:reverse",
                                  self.on, f"Correction of {kind} FY{self.run.fiscal_year} — "
                                  f"{payer}", f"{kind}_correction", links)
                if amount > 0:
                    entries[name] = self._post(key, kind, [debit(dr, self._money(amount)),
                                                           credit(cr, self._money(amount))],
                                               f"{kind.replace('_', ' ').capitalize()} "
                                               f"FY{self.run.fiscal_year} — {payer}", links,
                                               book)
            summary["payers"][payer] = {"earned": totals.earned_minor, "tax": totals.tax_minor,
                                        "due": totals.due_minor, "grant": totals.grant_minor,
                                        "spv_due": totals.spv_due_minor, "entries": entries}
            if totals.providers:
                summary["payers"][payer]["providers"] = {
                    provider: {"earned": i.earned_minor, "tax": i.tax_minor,
                               "due": i.due_minor, "tax_included": i.tax_included}
                    for provider, i in totals.providers.items()}
        return summary
