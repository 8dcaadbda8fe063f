"""The settlement pack of a contract year as tables, written as .xlsx and CSV.

Tables (one sheet each): payers, lenders, schedule (against actual), providers, investor
classes, KPI results, trial balance. Amount columns end in ``_minor`` so that
:mod:`investors.exports` formats them in the currency's major unit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session

from contracts.store import contract_for_year
from investors.exports import write_settlement_pack
from settlement.close import SettlementPack, build_pack


def pack_tables(pack: SettlementPack) -> dict[str, list[dict[str, Any]]]:
    """The pack's tables, rows as dicts with the same keys."""
    return {
        "payers": [{"payer": p["payer"], "name": p["name_ja"],
                    "authorised_total_minor": p["authorised_total"],
                    "authorised_year_minor": p["authorised_year"] or 0,
                    "earned_minor": p["earned"], "tax_minor": p["tax"], "due_minor": p["due"],
                    "grant_minor": p["grant"], "paid_minor": p["paid"],
                    "outstanding_minor": p["outstanding"]} for p in pack.payers],
        "lenders": [{"loan": ln["loan"], "lender": ln["lender_name_ja"],
                     "commitment_minor": ln["commitment"], "drawn_minor": ln["drawn"],
                     "repaid_minor": ln["repaid"], "written_down_minor": ln["written_down"],
                     "outstanding_minor": ln["outstanding"],
                     "interest_accrued_minor": ln["interest_accrued_year"],
                     "interest_paid_minor": ln["interest_paid_year"]} for ln in pack.lenders],
        "schedule": [{"loan": ln["loan"], "number": r["number"], "due_on": str(r["due_on"]),
                      "scheduled_principal_minor": r["scheduled_principal"],
                      "actual_principal_minor": r["actual_principal"],
                      "scheduled_interest_minor": r["scheduled_interest"],
                      "actual_interest_minor": r["actual_interest"]}
                     for ln in pack.lenders for r in ln["schedule_vs_actual"]],
        "providers": [{"provider": p["provider"], "name": p["name_ja"],
                       "fixed_fees_minor": p["fixed_fees"],
                       "outcome_fees_minor": p["outcome_fees"]} for p in pack.providers],
        "investor classes": [{"class": c["unit_class"], "name": c["name_ja"],
                              "capital_minor": c["capital"],
                              "distributions_minor": c["distributions"],
                              "capital_returned_minor": c["capital_returned"],
                              "written_down_minor": c["written_down"]}
                             for c in pack.investor_classes],
        "kpi results": [{"kpi": k["kpi"], "payer": k["payer"], "evaluation": k["evaluation"],
                         "version": k["version"], "value": k["value"], "target": k["target"],
                         "state": k["state"]} for k in pack.kpis],
        "trial balance": [{"account": r["account"], "name": r["name_ja"], "type": r["type"],
                           "debit_minor": r["debit"], "credit_minor": r["credit"]}
                          for r in pack.trial_balance],
    }


def write_pack(session: Session, contract_id: str, fiscal_year: int,
               directory: Path) -> list[Path]:
    """Write ``settlement-pack-FY<year>.xlsx`` and its CSV files; returns the paths."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    pack = build_pack(session, contract, fiscal_year)
    return write_settlement_pack(pack_tables(pack), directory,
                                 f"settlement-pack-FY{fiscal_year}", contract.currency)
