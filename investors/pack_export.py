"""The settlement pack of a contract year as sheets, written as .xlsx and CSV.

What an intermediary hands to the municipalities' finance offices and to the auditor: one sheet
each for the payers, the loans (the year's movement and the closing balance in separate
columns), the repayment schedule against what was paid, the service providers, the investor
classes, the KPI results and the SPV's trial balance — in Japanese by default (sheet names,
headers, labels and party names), in English with ``lang="en"``. Every money figure comes from
:func:`settlement.close.build_pack`, which reads the ledger through its read model; this module
only chooses words and columns (:mod:`investors.exports` writes the files).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlmodel import Session

from contracts.store import contract_for_year
from investors.exports import Column, ColumnKind, Lang, Sheet, write_pack_files
from investors.formatting import format_fiscal_year, label
from settlement.close import SettlementPack, build_pack

# Sheet titles: (Japanese, English), keyed by the ASCII key that names the CSV file.
TITLES: dict[str, tuple[str, str]] = {
    "payers": ("支払者", "Payers"),
    "lenders": ("借入金", "Loans"),
    "schedule": ("返済予定と実績", "Repayment schedule"),
    "providers": ("サービス提供者", "Service providers"),
    "investor-classes": ("出資", "Investor classes"),
    "kpi-results": ("成果指標", "KPI results"),
    "trial-balance": ("試算表", "Trial balance"),
}

# Column headers: key → (Japanese, English).
HEADERS: dict[str, tuple[str, str]] = {
    "code": ("コード", "Code"),
    "name": ("名称", "Name"),
    "authorised_total": ("債務負担行為限度額", "Authorised, whole contract"),
    "authorised_year": ("当年度限度額", "Authorised for the year"),
    "earned": ("成果連動支払額（税抜）", "Outcome payments earned (excl. tax)"),
    "tax": ("消費税額", "Consumption tax"),
    "due": ("支払義務額（税込）", "Due (incl. tax)"),
    "grant": ("うち交付金充当額", "Of which covered by grant"),
    "paid": ("当年度支払額（出納整理期間を含む）", "Paid for the year (incl. closing period)"),
    "outstanding": ("年度末未収金残高", "Receivable at year end"),
    "provider_due": ("事業者への直接支払義務額（税込）", "Due to providers directly (incl. tax)"),
    "provider_paid": ("事業者への直接支払額", "Paid to providers directly"),
    "provider_outstanding": ("事業者への未払額", "Still owed to providers"),
    "loan": ("借入", "Loan"),
    "lender": ("貸付人", "Lender"),
    "commitment": ("融資枠", "Commitment"),
    "opening": ("期首元金残高", "Principal at the start"),
    "drawn_year": ("当期借入額", "Drawn in the year"),
    "repaid_year": ("当期返済額", "Repaid in the year"),
    "guaranteed_year": ("当期保証履行額", "Paid by guarantor in the year"),
    "written_down_year": ("当期債務免除額", "Written down in the year"),
    "closing": ("期末元金残高", "Principal at year end"),
    "interest_payable_opening": ("期首未払利息", "Interest payable at the start"),
    "interest_accrued_year": ("当期支払利息（発生額）", "Interest accrued in the year"),
    "interest_paid_year": ("当期利息支払額", "Interest paid in the year"),
    "interest_payable": ("期末未払利息", "Interest payable at year end"),
    "number": ("回", "No."),
    "due_on": ("期日", "Due on"),
    "scheduled_principal": ("予定元金", "Scheduled principal"),
    "actual_principal": ("元金支払実績", "Principal paid"),
    "scheduled_interest": ("予定利息", "Scheduled interest"),
    "actual_interest": ("利息支払実績", "Interest paid"),
    "scheduled_closing": ("予定残高（支払後）", "Scheduled balance after"),
    "actual_closing": ("実績残高（支払後）", "Actual balance after"),
    "paid_on": ("支払日（全て）", "Paid on (every payment)"),
    "overdue": ("延滞額（期末）", "Overdue at year end"),
    "default_interest": ("遅延損害金", "Default interest"),
    "status": ("状況", "Status"),
    "provider": ("サービス提供者", "Provider"),
    "fixed_fees": ("当期固定委託料", "Fixed fees in the year"),
    "outcome_fees": ("当期成果連動委託料", "Outcome fees in the year"),
    "unit_class": ("出資クラス", "Class"),
    "class_opening": ("期首出資残高", "Capital at the start"),
    "contributed_year": ("当期出資額", "Subscribed in the year"),
    "returned_year": ("当期出資返還額", "Capital returned in the year"),
    "class_guaranteed_year": ("当期保証充当額", "Covered by guarantee in the year"),
    "class_written_down_year": ("当期減損額", "Written down in the year"),
    "class_closing": ("期末出資残高", "Capital at year end"),
    "distributions": ("当期分配額", "Distributions in the year"),
    "kpi": ("指標", "KPI"),
    "kpi_name": ("指標名", "KPI name"),
    "payer": ("支払者", "Payer"),
    "evaluation": ("評価", "Evaluation"),
    "version": ("版", "Version"),
    "state": ("状態", "State"),
    "unit": ("単位", "Unit"),
    "target": ("目標値", "Target"),
    "value": ("実績値", "Result"),
    "account": ("勘定コード", "Account"),
    "account_name": ("勘定科目", "Account name"),
    "type": ("区分", "Type"),
    "debit": ("借方残高", "Debit"),
    "credit": ("貸方残高", "Credit"),
}

# Words inside cells: key → (Japanese, English).
WORDS: dict[str, tuple[str, str]] = {
    "total": ("合計", "Total"),
    "contract": ("契約全体", "Whole contract"),
    "interim": ("中間評価", "Interim"), "final": ("最終評価", "Final"),
    "draft": ("下書き", "Draft"), "submitted": ("提出済", "Submitted"),
    "audited": ("監査済", "Audited"), "settled": ("精算済", "Settled"),
    "asset": ("資産", "Asset"), "liability": ("負債", "Liability"),
    "equity": ("純資産", "Equity"), "income": ("収益", "Income"),
    "expense": ("費用", "Expense"),
    "count": ("件", "count"), "people": ("人", "people"), "percent": ("%", "%"),
    "steps": ("歩", "steps"), "yen": ("円", "yen"), "ratio": ("比率", "ratio"),
    "score": ("点", "score"), "money": ("金額", "amount"),
}


def _word(key: str, lang: Lang) -> str:
    """A word in the reader's language (the key itself if it has no translation)."""
    pair = WORDS.get(key)
    return (pair[0] if lang == "ja" else pair[1]) if pair else key


def _name(row: Mapping[str, Any], lang: Lang, fallback: str, prefix: str = "name") -> str:
    """A party's or a class's name in the reader's language, else the other one, else its id."""
    ja, en = row.get(f"{prefix}_ja") or "", row.get(f"{prefix}_en") or ""
    return (ja or en if lang == "ja" else en or ja) or fallback


def _columns(lang: Lang, *spec: tuple[str, ColumnKind] | tuple[str, ColumnKind, str]
             ) -> tuple[Column, ...]:
    """Columns from (row key, kind[, header key if not the row key]) in the reader's
    language."""
    out = []
    for item in spec:
        ja, en = HEADERS[item[2] if len(item) == 3 else item[0]]
        out.append(Column(item[0], ja if lang == "ja" else en, item[1]))
    return tuple(out)


def _sheet(key: str, lang: Lang, columns: tuple[Column, ...],
           rows: list[dict[str, Any]]) -> Sheet:
    ja, en = TITLES[key]
    return Sheet(key, ja if lang == "ja" else en, columns, tuple(rows), _word("total", lang))


def pack_sheets(pack: SettlementPack, lang: Lang = "ja") -> list[Sheet]:
    """The pack's sheets in the reader's language (a pure function of the pack)."""
    payer_names = {p["payer"]: _name(p, lang, p["payer"]) for p in pack.payers}
    return [
        _sheet("payers", lang, _columns(
            lang, ("code", "text"), ("name", "text"), ("authorised_total", "amount"),
            ("authorised_year", "amount"), ("earned", "amount"), ("tax", "amount"),
            ("due", "amount"), ("grant", "amount"), ("paid", "amount"),
            ("outstanding", "amount"), ("provider_due", "amount"), ("provider_paid", "amount"),
            ("provider_outstanding", "amount")),
            [dict(p, code=p["payer"], name=payer_names[p["payer"]]) for p in pack.payers]),
        _sheet("lenders", lang, _columns(
            lang, ("loan", "text"), ("lender", "text"), ("commitment", "amount"),
            ("opening", "amount"), ("drawn_year", "amount"), ("repaid_year", "amount"),
            ("guaranteed_year", "amount"), ("written_down_year", "amount"),
            ("closing", "amount"), ("interest_payable_opening", "amount"),
            ("interest_accrued_year", "amount"),
            ("interest_paid_year", "amount"), ("interest_payable", "amount")),
            [dict(ln, lender=_name(ln, lang, ln["lender"], "lender_name"))
             for ln in pack.lenders]),
        _sheet("schedule", lang, _schedule_columns(lang),
               [dict(r, loan=ln["loan"], status=label(f"status_{r['status']}", lang))
                for ln in pack.lenders for r in ln["schedule_vs_actual"]]),
        _sheet("providers", lang, _columns(
            lang, ("provider", "text"), ("name", "text"), ("fixed_fees", "amount"),
            ("outcome_fees", "amount")),
            [dict(p, name=_name(p, lang, p["provider"])) for p in pack.providers]),
        _sheet("investor-classes", lang, _columns(
            lang, ("unit_class", "text"), ("name", "text"), ("opening", "amount", "class_opening"),
            ("contributed_year", "amount"), ("returned_year", "amount"),
            ("guaranteed_year", "amount", "class_guaranteed_year"),
            ("written_down_year", "amount", "class_written_down_year"),
            ("closing", "amount", "class_closing"), ("distributions", "amount")),
            [dict(c, name=_name(c, lang, c["unit_class"])) for c in pack.investor_classes]),
        _sheet("kpi-results", lang, _columns(
            lang, ("kpi", "text"), ("kpi_name", "text"), ("payer", "text"),
            ("evaluation", "text"), ("version", "count"), ("state", "text"), ("unit", "text"),
            ("target", "number"), ("value", "number")),
            [dict(k, kpi_name=_name(k, lang, k["kpi"]),
                  payer=payer_names.get(k["payer"], k["payer"]) or _word("contract", lang),
                  evaluation=_word(k["evaluation"], lang), state=_word(k["state"], lang),
                  unit=_word(k.get("unit", ""), lang)) for k in pack.kpis]),
        _sheet("trial-balance", lang, _columns(
            lang, ("account", "text"), ("account_name", "text"), ("type", "text"),
            ("debit", "amount"), ("credit", "amount")),
            [dict(r, account_name=_name(r, lang, r["account"]), type=_word(r["type"], lang))
             for r in pack.trial_balance]),
    ]


def _schedule_columns(lang: Lang) -> tuple[Column, ...]:
    columns = _columns(lang, ("loan", "text"), ("number", "count"), ("due_on", "date"),
                       ("scheduled_principal", "amount"), ("actual_principal", "amount"),
                       ("scheduled_interest", "amount"), ("actual_interest", "amount"),
                       ("scheduled_closing", "amount"), ("actual_closing", "amount"),
                       ("paid_on", "text"), ("overdue", "amount"),
                       ("default_interest", "amount"), ("status", "text"))
    # Balances after each instalment do not add up: the total row leaves them blank.
    return tuple(Column(c.key, c.header, c.kind, False) if c.key.endswith("_closing") else c
                 for c in columns)


def pack_title(pack: SettlementPack, lang: Lang = "ja") -> str:
    """The pack's title: the contract's name and the fiscal year (令和元年度（2019年度） in
    Japanese)."""
    name = (pack.name_ja or pack.name_en if lang == "ja" else pack.name_en or pack.name_ja) \
        or pack.contract_id
    year = format_fiscal_year(pack.fiscal_year, lang, pack.period_start.month, True,
                              currency=pack.currency)
    return f"{name} {year} 精算資料" if lang == "ja" else f"{name} — {year} settlement pack"


def write_pack(session: Session, contract_id: str, fiscal_year: int, directory: Path,
               lang: Lang = "ja") -> list[Path]:
    """Write ``settlement-pack-FY<year>.xlsx`` and its CSV files; returns the paths, the
    workbook first."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    pack = build_pack(session, contract, fiscal_year)
    return write_pack_files(pack_sheets(pack, lang), directory,
                            f"settlement-pack-FY{fiscal_year}", contract.currency, lang,
                            pack_title(pack, lang))
