"""KPI results from a CSV or XLSX file (pandas): every bad row reported, nothing imported if any.

Expected columns: ``contract``, ``fiscal_year``, ``kpi``, ``payer`` (may be empty), ``value``,
and optionally ``evaluation`` (default ``final``). Row numbers are those a person sees in a
spreadsheet: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ledger.errors import Problem, SibError
from settlement.kpi import ResultInput

REQUIRED = ("contract", "fiscal_year", "kpi", "value")


def read_results_file(path: Path, problems_out: list[Problem] | None = None
                      ) -> tuple[list[ResultInput], list[str]]:
    """The file's rows as results with their ``file:row N`` sources.

    Rows that cannot even be read (a fiscal year that is not a number) are problems: raised at
    once, or — with ``problems_out`` — collected there so that the caller can report them
    together with the checks of the other rows.
    """
    if path.suffix.lower() in (".xlsx", ".xls"):
        frame = pd.read_excel(path, dtype=str, keep_default_na=False)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    else:
        raise SibError(f"{path.name}: use a .csv or .xlsx file", "FILE_FORMAT", "file")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise SibError([Problem("COLUMN_MISSING", f"the file has no column {c!r}", c, path.name)
                        for c in missing])
    results, sources, problems = [], [], []
    for index, row in frame.iterrows():
        where = f"{path.name}:row {int(index) + 2}"
        year_text = str(row["fiscal_year"]).strip()
        if not year_text.isdigit():
            problems.append(Problem("FISCAL_YEAR_INVALID", f"{year_text!r} is not a fiscal year",
                                    "fiscal_year", where))
            continue
        results.append(ResultInput(contract=str(row["contract"]).strip(),
                                   fiscal_year=int(year_text), kpi=str(row["kpi"]).strip(),
                                   value=str(row["value"]).strip(),
                                   payer=str(row.get("payer", "")).strip(),
                                   evaluation=str(row.get("evaluation", "") or "final").strip()))
        sources.append(where)
    if problems and problems_out is None:
        raise SibError(problems)
    if problems_out is not None:
        problems_out.extend(problems)
    if not results and not problems:
        raise SibError(f"{path.name} has no rows", "FILE_EMPTY", "file")
    return results, sources
