"""The outcome simulation (issue 16) as a workbook: the summary's tables and one row per
scenario, through the settlement pack's sheet writer (:mod:`investors.exports`: amounts as
currency cells from integer minor units, headers in the reader's language).

A workbook carries the moment it was saved (document properties and every zip entry's time);
:func:`reproducible` sets both to a fixed moment, so the same seed gives the same bytes.

A workbook is made for a reader's :class:`~settlement.simulation_scope.Scope`: a finance
office's has only the payers it may read (their sheet rows and scenario columns) and none of
the contract-wide sheets or columns (all payers' payments, loans, fixed fees, classes). The
whole scope (the default) is the workbook as it always was, to the byte.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from investors.exports import Column, Sheet, workbook
from settlement.simulation import Simulation
from settlement.simulation_scope import WHOLE, Scope, scoped

_FIXED_MOMENT = "2000-01-01T00:00:00Z"
_STAMP = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def reproducible(data: bytes) -> bytes:
    """The workbook with its saved-at moments fixed: the zip entries rewritten in the same
    order with a fixed date, the core properties' created/modified set to 2000-01-01."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = _STAMP.sub(rb"\g<1>" + _FIXED_MOMENT.encode() + rb"\g<3>", content)
            info = zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, content)
    return out.getvalue()


def _t(lang: str, ja: str, en: str) -> str:
    return ja if lang == "ja" else en


def sheets(summary: Mapping[str, Any], sim: Simulation, lang: str,
           scope: Scope = WHOLE) -> list[Sheet]:
    """The summary's tables and the scenarios, as sheets, for a reader of ``scope``."""
    summary = scoped(summary, scope)
    out: list[Sheet] = []
    if scope.whole:
        out.append(Sheet("payments", _t(lang, "年度別支払額", "Payments by year"), (
            Column("fiscal_year", _t(lang, "成果年度", "Results year"), "count"),
            Column("budget_fiscal_year", _t(lang, "予算年度", "Budget year"), "count"),
            *[Column(k, k.upper(), "amount", False)
              for k in ("p5", "p25", "p50", "p75", "p95")],
            Column("mean", _t(lang, "平均", "Mean"), "amount", False)),
            tuple(summary["payments_by_year"])))
    payer_rows = []
    for p in summary["payers"]:
        for y in p["years"]:
            payer_rows.append({
                "payer": p["payer"], "fiscal_year": y["fiscal_year"],
                "due_p5": y["due"]["p5"], "due_p50": y["due"]["p50"], "due_p95": y["due"]["p95"],
                "grant_p50": y["grant"]["p50"], "year_limit": y["year_limit"],
                "p_year": y["probability_above_year_limit"] or "",
                "p_total": y["probability_above_authorisation"]})
    out.append(Sheet("payers", _t(lang, "支払者", "Payers"), (
        Column("payer", _t(lang, "支払者", "Payer")),
        Column("fiscal_year", _t(lang, "成果年度", "Results year"), "count"),
        Column("due_p5", "P5", "amount", False), Column("due_p50", "P50", "amount", False),
        Column("due_p95", "P95", "amount", False),
        Column("grant_p50", _t(lang, "交付金（中央値）", "Grant (median)"), "amount", False),
        Column("year_limit", _t(lang, "年度限度額", "Year limit"), "amount", False),
        Column("p_year", _t(lang, "年度限度額超過確率", "P(above year limit)"), "number"),
        Column("p_total", _t(lang, "債務負担行為超過確率", "P(above authorisation)"), "number")),
        tuple(payer_rows)))
    if scope.whole:
        out += _contract_sheets(summary, lang)
    out.append(_scenarios(sim, lang, scope))
    return out


def _contract_sheets(summary: Mapping[str, Any], lang: str) -> list[Sheet]:
    """The whole contract's sheets: loans, the fixed fees unpaid, the classes."""
    out: list[Sheet] = []
    loan_rows = []
    for ln in summary["loans"]:
        for row in ln["shortfall_by_due_date"]:
            loan_rows.append({"loan": ln["loan"], "lender": ln["lender"], "due_on": row["due_on"],
                              "p": row["probability"], "expected_loss": ln["expected_loss"],
                              "p_any": ln["probability_of_shortfall"]})
    out.append(Sheet("loans", _t(lang, "借入金", "Loans"), (
        Column("loan", _t(lang, "借入金", "Loan")), Column("lender", _t(lang, "貸付人", "Lender")),
        Column("due_on", _t(lang, "約定返済日", "Due date"), "date"),
        Column("p", _t(lang, "返済不足確率", "P(shortfall)"), "number"),
        Column("p_any", _t(lang, "いずれかの不足確率", "P(any shortfall)"), "number"),
        Column("expected_loss", _t(lang, "期待損失", "Expected loss"), "amount", False)),
        tuple(loan_rows)))
    fees = summary.get("fixed_fees_unpaid")
    if fees and fees["by_due_date"]:
        out.append(Sheet("fixed-fees", _t(lang, "固定委託料の支払不足", "Fixed fees unpaid"), (
            Column("provider", _t(lang, "委託先", "Provider")),
            Column("fiscal_year", _t(lang, "年度", "Fiscal year"), "count"),
            Column("due_on", _t(lang, "支払予定日", "Due date"), "date"),
            Column("fee", _t(lang, "固定委託料", "Fixed fee"), "amount", False),
            Column("p", _t(lang, "不足の確率", "P(unpaid)"), "number"),
            Column("p_by", _t(lang, "同日までの不足確率", "P(any unpaid by then)"), "number"),
            Column("expected_unpaid", _t(lang, "期待不足額", "Expected unpaid"), "amount",
                   False),
            Column("p_any", _t(lang, "固定委託料の支払不足が生じる確率",
                               "P(a fixed fee cannot be paid when due)"), "number"),
            Column("expected_total", _t(lang, "支払不足額の期待値（仲介者が手当てする資金）",
                                        "Expected amount unpaid (funding to arrange)"),
                   "amount", False)),
            tuple({"provider": r["provider"], "fiscal_year": r["fiscal_year"],
                   "due_on": r["due_on"], "fee": r["fee"], "p": r["probability_unpaid"],
                   "p_by": r["probability_unpaid_by_then"],
                   "expected_unpaid": r["expected_unpaid"], "p_any": fees["probability_unpaid"],
                   "expected_total": fees["expected_unpaid"]} for r in fees["by_due_date"])))
    out.append(Sheet("classes", _t(lang, "出資クラス", "Unit classes"), (
        Column("class", _t(lang, "クラス", "Class")),
        Column("irr_p5", "IRR P5", "number"), Column("irr_p50", "IRR P50", "number"),
        Column("irr_p95", "IRR P95", "number"),
        Column("p_loss", _t(lang, "元本毀損確率", "P(capital loss)"), "number")),
        tuple({"class": c["class"], "irr_p5": c["irr"]["p5"] or "", "irr_p50":
               c["irr"]["p50"] or "", "irr_p95": c["irr"]["p95"] or "",
               "p_loss": c["probability_of_capital_loss"]} for c in summary["classes"])))
    return out


def _scenarios(sim: Simulation, lang: str, scope: Scope) -> Sheet:
    """One row per scenario: each payer's payment per year the reader may see; and, for the
    whole contract's readers, each loan's loss, the fixed fees unpaid, each class's money
    back."""
    contract = sim.contract
    columns = [Column("run", _t(lang, "試行", "Run"), "count")]
    rows: list[dict[str, Any]] = [{"run": r + 1} for r in range(sim.runs)]
    for payer in contract.payer_ids:
        if not scope.shows_payer(payer):
            continue
        for year in contract.fiscal_years:
            key = f"{payer}-{year}"
            columns.append(Column(key, f"{payer} FY{year}", "amount", False))
            values = sim.payouts.due[payer][year]
            for r in range(sim.runs):
                rows[r][key] = int(values[r])
    if scope.whole:
        _contract_columns(sim, lang, columns, rows)
    return Sheet("scenarios", _t(lang, "試行別", "Scenarios"), tuple(columns), tuple(rows))


def _contract_columns(sim: Simulation, lang: str, columns: list[Column],
                      rows: list[dict[str, Any]]) -> None:
    """The scenario sheet's whole-contract columns, added to ``columns`` and ``rows``."""
    contract = sim.contract
    for loan in contract.loans:
        key = f"loss-{loan.id}"
        columns.append(Column(key, _t(lang, f"損失 {loan.id}", f"Loss {loan.id}"), "amount",
                              False))
        loss = sim.money.loan_written_down[loan.id] + sim.money.loan_interest_unpaid[loan.id]
        for r in range(sim.runs):
            rows[r][key] = int(loss[r])
    if sim.money.fee_unpaid:
        key = "fees-unpaid"
        columns.append(Column(key, _t(lang, "固定委託料の未払", "Fixed fees unpaid"), "amount",
                              False))
        unpaid = sum((v for by_year in sim.money.fee_unpaid.values() for v in by_year.values()),
                     np.zeros(sim.runs, dtype=np.int64))
        for r in range(sim.runs):
            rows[r][key] = int(unpaid[r])
    for unit in contract.unit_classes:
        key = f"back-{unit.id}"
        columns.append(Column(key, _t(lang, f"分配・償還 {unit.id}", f"Paid back {unit.id}"),
                              "amount", False))
        back = sim.money.class_returns[unit.id] + sim.money.class_capital_back[unit.id]
        for r in range(sim.runs):
            rows[r][key] = int(np.int64(back[r]))


def write(summary: Mapping[str, Any], sim: Simulation, lang: str = "ja",
          scope: Scope = WHOLE) -> bytes:
    """The workbook's bytes for a reader of ``scope`` (the whole contract's by default): the
    same for the same seed and scope."""
    title = _t(lang, "成果連動シミュレーション", "Outcome simulation")
    return reproducible(workbook(sheets(summary, sim, lang, scope), sim.contract.currency,
                                 "ja" if lang == "ja" else "en", f"{title} {sim.contract.id}"))
