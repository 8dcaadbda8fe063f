"""The year-end settlement report: payers, lenders, providers and investor classes for the
year, KPI achievement (as a chart and a table) and the trial balance."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from investors import charts
from investors.formatting import format_percent
from investors.pdf_layout import (
    Block,
    CellText,
    Column,
    Table,
    chart,
    fields,
    gap,
    heading,
    table,
    title_rows,
)
from investors.pdf_pages import render_blocks, shared_texts
from investors.pdf_parts import DocumentFormat, contract_rows, document_format, kpi_table
from investors.statement_data import KpiResult, YearEndReport, column_total


def _sum_row(rows: Sequence[object], names: Sequence[str], fmt: DocumentFormat,
             leading: int = 1) -> list[str]:
    return [fmt.label("total")] + [""] * (leading - 1) + [
        fmt.amount(column_total(rows, name)) for name in names]


def _payers_table(data: YearEndReport, fmt: DocumentFormat) -> Table:
    """Each payer's year; the grant-covered part only where a grant applies."""
    keys = ("authorised", "earned", "paid", "outstanding") + (
        ("grant_covered",) if data.has_grants or column_total(
            data.payers, "grant_covered_minor") else ())
    names = tuple(f"{k}_minor" for k in keys)
    return table([Column(fmt.label("payer"), 2.2)] + [
        Column(fmt.label(k), 1.2, "right") for k in keys],
        [[fmt.names(r.payer.name)] + [fmt.amount(getattr(r, n)) for n in names]
         for r in data.payers], _sum_row(data.payers, names, fmt), size=7.5)


def _lenders_table(data: YearEndReport, fmt: DocumentFormat) -> Table:
    names = ("opening_minor", "drawn_minor", "repaid_minor", "recovered_minor",
             "written_down_minor", "closing_minor", "interest_accrued_minor",
             "interest_paid_minor")
    keys = ("opening_balance", "drawn", "principal_repaid", "recovered_from_guarantee",
            "written_down", "closing_balance", "interest_accrued", "interest_paid")
    return table([Column(fmt.label("lender"), 1.8)] + [Column(fmt.label(k), 1.0, "right")
                                                        for k in keys],
                 [[fmt.names(r.lender.name)] + [fmt.amount(getattr(r, n)) for n in names]
                  for r in data.lenders], _sum_row(data.lenders, names, fmt), size=7.0)


def _providers_table(data: YearEndReport, fmt: DocumentFormat) -> Table:
    names = ("fixed_fees_minor", "outcome_fees_minor", "paid_minor")
    return table([Column(fmt.label("provider"), 2.4)] + [
        Column(fmt.label(k), 1.2, "right") for k in ("fixed_fees", "outcome_fees", "paid")],
        [[fmt.names(r.provider.name)] + [fmt.amount(getattr(r, n)) for n in names]
         for r in data.providers], _sum_row(data.providers, names, fmt), size=7.5)


def _classes_table(data: YearEndReport, fmt: DocumentFormat) -> Table:
    names = ("opening_minor", "contributions_minor", "distributions_gross_minor",
             "distributions_withheld_minor", "recoveries_minor", "write_downs_minor",
             "closing_minor")
    keys = ("opening", "contributions", "distributions_gross", "withheld",
            "recovered_from_guarantee", "write_downs", "closing")
    accounts = [r.account for r in data.investor_classes]
    rows: list[list[CellText]] = [
        [fmt.names(r.name), f"{r.holders:,}", f"{r.units:,}",
         *(fmt.amount(getattr(r.account, n)) for n in names)] for r in data.investor_classes]
    total = [fmt.label("total"), f"{column_total(data.investor_classes, 'holders'):,}",
             f"{column_total(data.investor_classes, 'units'):,}"] + [
        fmt.amount(column_total(accounts, n)) for n in names]
    return table([Column(fmt.label("class"), 1.7), Column(fmt.label("holders_count"), 0.6,
                                                            "right"),
                  Column(fmt.label("units"), 0.7, "right")] +
                 [Column(fmt.label(k), 1.0, "right") for k in keys], rows, total, size=7.0)


def _trial_balance_table(data: YearEndReport, fmt: DocumentFormat) -> Table:
    return table([Column(fmt.label("account_code"), 0.8), Column(fmt.label("account"), 3.0),
                  Column(fmt.label("debit"), 1.3, "right"),
                  Column(fmt.label("credit"), 1.3, "right")],
                 [[r.account_code, fmt.names(r.name),
                   fmt.amount(r.debit_minor) if r.debit_minor else "",
                   fmt.amount(r.credit_minor) if r.credit_minor else ""]
                  for r in data.trial_balance],
                 _sum_row(data.trial_balance, ("debit_minor", "credit_minor"), fmt, 2),
                 size=7.5)


def _achievement_bars(results: Sequence[KpiResult], lang: str) -> list[tuple[str, Decimal]]:
    bars = []
    for r in results:
        achievement = r.achievement_percent
        if achievement is not None:
            name = r.name.get(lang) + (f" / {r.payer.get(lang)}" if r.payer else "")
            bars.append((name, achievement))
    return bars


def year_end_report_blocks(data: YearEndReport, lang: str) -> list[Block]:
    """The year-end report's rows, in reading order."""
    fmt = document_format(data.header, lang)
    blocks: list[Block] = title_rows(fmt.label("year_end_report"),
                                     fmt.fiscal_year(data.header.fiscal_year))
    blocks += fields([(fmt.label("intermediary"), fmt.name(data.intermediary.name))], columns=1)
    blocks += contract_rows(data.header, fmt)
    sections: list[tuple[str, Table]] = [
        ("payers", _payers_table(data, fmt)), ("lenders", _lenders_table(data, fmt)),
        ("providers", _providers_table(data, fmt)),
        ("investor_classes", _classes_table(data, fmt))]
    for key, section in sections:
        blocks += [gap(), heading(fmt.label(key)), section]
    bars = _achievement_bars(data.kpi_results, lang)
    if bars:
        blocks += [gap(), heading(fmt.label("kpi_chart")), chart(charts.achievement_chart(
            bars, lambda v: format_percent(v, 1)))]
    blocks += [gap(), heading(fmt.label("kpi_results")),
               kpi_table(data.kpi_results, fmt, with_amounts=True),
               gap(), heading(fmt.label("trial_balance")), _trial_balance_table(data, fmt)]
    return blocks


def render_year_end_report(data: YearEndReport, lang: str = "ja") -> bytes:
    """The year-end settlement report as PDF bytes."""
    return render_blocks(year_end_report_blocks(data, lang), data.header, data.kind, lang,
                         shared_texts(data.header, data.intermediary.name))

