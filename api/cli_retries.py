"""A command run again answers "already done" with what the first run did (issue 14, item 5).

A finance officer whose command was killed, or who is not sure it ran, runs it again. Where the
domain refuses the repeat — rightly, since the money was already moved — the command line looks
up what the first run recorded and reports it, exit 0, instead of a refusal that reads like a
failure (``ALREADY_DISTRIBUTED``, ``PAYMENT_EXCEEDS_DUE``, ``PERIOD_ALREADY_CLOSED``). Only an
exact repeat is "already done": the same distribution date and reference, the same payment
(payer, reference, amount and date), the same year. Anything else still meets the refusal.

Each function is a read within the command's unit of work: it writes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from contracts.chart import Code, Kind
from contracts.store import contract_for_year, get_contract
from ledger import read
from ledger.read import EntryView
from ledger.service import get_book
from settlement.tables import ReceiptApplication

ALREADY_DISTRIBUTED = "ALREADY_DISTRIBUTED"


def distribution_done(session: Session, contract_id: str, on: date,
                      reference: str) -> dict[str, Any]:
    """What the distribution of ``on`` under ``reference`` applied and paid, as recorded: the
    receipts it applied and the waterfall entries it posted (the owed figures are not stored,
    so ``owed`` is None)."""
    contract = get_contract(session, contract_id)
    rows = session.exec(select(ReceiptApplication).where(
        col(ReceiptApplication.contract_id) == contract.id,
        col(ReceiptApplication.applied_on) == on)).all()
    posted = [e for e in read.entries(session, contract.id, from_on=on, through_on=on)
              if e.links.get("step") and _of_reference(e.links.get("distribution"), on,
                                                       reference)]
    keys = {e.links["distribution"] for e in posted}
    applied = [row for row in rows if row.distribution_key in keys]
    receipts = {e.id: e for e in read.entries(session, contract.id,
                                              ids=[row.receipt_entry_id for row in applied])}
    return {"currency": contract.currency, "already_distributed": True,
            "available": sum(row.amount_minor for row in applied),
            "applied": [_application(row, receipts[row.receipt_entry_id]) for row in applied],
            "left": None,
            "allocations": [{"step": e.links["step"], "instrument": _instrument(e),
                             "party": e.links.get("party"), "owed": None,
                             "paid": sum(amount for _, side, amount in e.postings
                                         if side == "D")}
                            for e in posted],
            "losses": [], "traces": [], "trace_lines": []}


def _of_reference(key: Any, on: date, reference: str) -> bool:
    """Whether a distribution key is the one of ``on`` and ``reference`` (it ends so)."""
    return isinstance(key, str) and key.endswith(f":{on.isoformat()}:{reference}")


def _instrument(entry: EntryView) -> str:
    return str(next((entry.links[k] for k in ("provider", "loan", "unit_class")
                     if k in entry.links), ""))


def _application(row: ReceiptApplication, receipt: EntryView) -> dict[str, Any]:
    return {"receipt_entry": row.receipt_entry_id, "payer": row.payer_id,
            "reference": receipt.links.get("reference", ""),
            "received_on": receipt.effective_on.isoformat(),
            "received": receipt.amount_on(Code.CASH, "D"), "applied": row.amount_minor}


def payment_recorded(session: Session, contract_id: str, payer: str, amount_minor: int,
                     on: date, reference: str) -> EntryView | None:
    """The receipt of this very payment (payer, reference, amount, value date) if it is
    already in the SPV's books."""
    for entry in read.entries(session, contract_id, kinds=[Kind.OUTCOME_RECEIPT],
                              links={"payer": payer, "reference": reference}):
        if entry.effective_on == on and entry.amount_on(Code.CASH, "D") == amount_minor:
            return entry
    return None


def year_closed(session: Session, contract_id: str, fiscal_year: int) -> bool:
    """Whether FY ``fiscal_year`` of the contract's books is already closed."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    end = contract.fiscal_year_bounds(fiscal_year)[1]
    closed_through = get_book(session, contract.id).closed_through_on
    return closed_through is not None and closed_through >= end
