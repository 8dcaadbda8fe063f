"""Benchmark: settling one contract-year with 5 payers, 6 KPIs, 5 loans and N unit holders.

Timed: settle the year's interim and final evaluations, close the year, record the five
payments, run the waterfall and pay every holder net of withholding — compute and post, no
PDFs — on SQLite, for N = 2,000, 20,000 and 200,000 holders (``SIB_BENCH_HOLDERS`` overrides,
comma-separated). Goal: ≤ 1 s at 20,000 holders, and time growing linearly with N. The set-up
(contract, holders, a subscription round) is not timed.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert
from sqlmodel import Session

from api.db import make_engine, upgrade
from contracts.store import load_contract
from contracts.validate import validate_document
from investors.store import pay_holders, subscribe_round
from investors.tables import Holder
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import distribute, draw_loans, pay_fixed_fees, record_payment
from settlement.results import audit_result, submit_results

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "contracts" / "examples" / "sib-2019-five-municipalities.yaml"
C = "sib-2019-five-municipalities"


def _document(holders: int) -> dict[str, Any]:
    """The five-municipality example with six KPIs and units on sale from the first year."""
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for extra in ("steps-average", "high-risk-reached"):
        kpi = copy.deepcopy(next(k for k in doc["kpis"] if k["id"] == "guideline-share"))
        kpi.update(id=extra, name_en=extra, name_ja=extra)
        doc["kpis"].append(kpi)
        for tranche in [t for t in doc["tranches"] if t["kpi"] == "guideline-share"]:
            twin = copy.deepcopy(tranche)
            twin.update(id=tranche["id"].replace("guideline", extra), kpi=extra,
                        max_amount="1,000,000")
            twin.pop("weight", None)
            doc["tranches"].append(twin)
    for tranche in doc["tranches"]:
        tranche.pop("weight", None)
    for payer in doc["payers"]:
        payer["authorisation"]["max_amount"] = "999,000,000"
        payer["authorisation"].pop("limits_by_year", None)
    for instrument in doc["instruments"]:
        if instrument["type"] == "unit_class":
            instrument.update(units_offered=holders * 2, first_sale_fiscal_year=2019,
                              unit_price="10,000")
    return doc


def _setup(url: str, holders: int) -> None:
    contract, problems = validate_document(_document(holders), "bench")
    assert contract is not None, problems
    engine = make_engine(url)
    with Session(engine) as s:
        load_contract(s, contract)
        draw_loans(s, C, date(2020, 3, 31))
        pay_fixed_fees(s, C, 2019, date(2019, 9, 30))
        now = datetime.now(UTC)
        s.execute(insert(Holder), [dict(code=f"h{i:06d}", kind="individual",
                                        name_kanji=f"市民 {i}", name_kana="ｼﾐﾝ",
                                        name_en="", email="", address="",
                                        tax_category="corporate" if i % 10 == 0
                                        else "individual", created_at=now)
                                   for i in range(holders)])
        subscribe_round(s, C, "citizen-units", [(f"h{i:06d}", 1 + i % 3)
                                                for i in range(holders)],
                        date(2019, 6, 3), "bench")
        values = {"participants": "7000", "inactive-share": "52.5", "guideline-share": "37",
                  "steps-average": "41", "high-risk-reached": "44"}
        inputs = [ResultInput(C, 2019, k, v) for k, v in values.items()]
        inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in
                   (("ube", "68"), ("tono", "71"), ("yawata", "59"), ("ibusuki", "65"),
                    ("misato", "70"))]
        inputs.append(ResultInput(C, 2019, "participants", "3700", evaluation="interim"))
        for row in submit_results(s, inputs, "bench"):
            audit_result(s, row.id or 0, "bench-auditor")
        s.commit()
    engine.dispose()


def _settle_year(url: str) -> dict[str, float]:
    """The timed part, phase by phase."""
    engine = make_engine(url)
    phases: dict[str, float] = {}
    with Session(engine) as s:
        t0 = time.perf_counter()
        pack = close_year(s, C, 2019, "bench")  # settles interim and final, then closes
        t1 = time.perf_counter()
        received = {}
        for p in pack.payers:
            record_payment(s, C, p["payer"], p["outstanding"], date(2020, 5, 20), "FY2019")
            received[p["payer"]] = p["outstanding"]
        distribute(s, C, date(2020, 5, 29), reference="FY2019")
        t2 = time.perf_counter()
        paid = pay_holders(s, C, date(2020, 5, 29))
        s.commit()
        t3 = time.perf_counter()
    engine.dispose()
    assert paid, "no holder was paid"
    phases.update(settle_and_close=t1 - t0, payments_and_waterfall=t2 - t1,
                  pay_holders=t3 - t2, total=t3 - t0)
    return phases


def measure(holders: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        started = time.perf_counter()
        _setup(url, holders)
        setup = time.perf_counter() - started
        result = _settle_year(url)
    return {"holders": holders, "setup_s": round(setup, 2),
            **{f"{k}_s": round(v, 3) for k, v in result.items()}}


def run() -> dict[str, Any]:
    sizes = [int(x) for x in os.environ.get("SIB_BENCH_HOLDERS",
                                            "2000,20000,200000").split(",")]
    rows = [measure(n) for n in sizes]
    base = rows[0]
    for row in rows:
        row["seconds_per_1000_holders"] = round(row["total_s"] / row["holders"] * 1000, 4)
        row["growth_vs_smallest"] = round(row["total_s"] / base["total_s"], 2)
        row["holders_ratio"] = row["holders"] / base["holders"]
    at_20k = next((r for r in rows if r["holders"] == 20000), None)
    return {"rows": rows, "goal": "≤ 1 s at 20,000 holders; linear in holders",
            "met": None if at_20k is None else at_20k["total_s"] <= 1.0}


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
