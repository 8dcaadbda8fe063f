"""What several documents share: formatting bound to one document, the contract rows under a
title and the table of KPI results."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from investors.formatting import (
    check_lang,
    format_amount,
    format_date,
    format_fiscal_year,
    format_kpi_value,
    format_percent,
    label,
)
from investors.pdf_layout import CellText, Column, Row, Table, fields, table
from investors.statement_data import DocumentHeader, KpiResult, Text
from ledger.money import HOME_CURRENCY

# A Japanese term in brackets after an English label ("Budget authorisation (債務負担行為)"):
# it helps a reader in Japan and means nothing to one abroad.
_JAPANESE_GLOSS = re.compile(r"\s*\((?=[^)]*[\u3040-\u30ff\u3400-\u9fff])[^)]*\)")


@dataclass(frozen=True)
class DocumentFormat:
    """Formatting for one document: its language, currency and fiscal-year start.

    A contract in another currency than the yen is not a Japanese contract: its English
    documents carry no Japanese glosses after the labels and no Japanese originals after the
    names."""

    lang: str
    currency: str
    start_month: int = 4

    @property
    def abroad(self) -> bool:
        """An English document of a contract outside Japan (not in yen)."""
        return self.lang == "en" and self.currency != HOME_CURRENCY

    def amount(self, amount_minor: int) -> str:
        return format_amount(amount_minor, self.currency, self.lang)

    def day(self, day: date | None) -> str:
        return "" if day is None else format_date(day, self.lang)

    def fiscal_year(self, fiscal_year: int) -> str:
        return format_fiscal_year(fiscal_year, self.lang, self.start_month,
                                  with_western=self.lang == "ja", currency=self.currency)

    def label(self, key: str) -> str:
        text = label(key, self.lang)
        return _JAPANESE_GLOSS.sub("", text) if self.abroad else text

    def name(self, text: Text | None) -> str:
        if text is None:
            return ""
        return text.get(self.lang) if self.abroad else text.with_original(self.lang)

    def names(self, text: Text | None) -> tuple[str, ...]:
        """For a table cell: the name with its Japanese original, or the name alone."""
        return ("",) if text is None else (self.name(text), text.get(self.lang))


def document_format(header: DocumentHeader, lang: str) -> DocumentFormat:
    """The formatting of a document in ``lang`` (checked) with its header's currency."""
    return DocumentFormat(check_lang(lang), header.currency, header.fiscal_year_start_month)


def contract_rows(header: DocumentHeader, fmt: DocumentFormat) -> list[Row]:
    """The contract on a line of its own (names are long) and the fiscal year."""
    name = fmt.name(header.contract_name)
    contract = f"{name}（{header.contract_id}）" if fmt.lang == "ja" \
        else f"{name} ({header.contract_id})"
    return fields([(fmt.label("contract"), contract),
                   (fmt.label("fiscal_year"), fmt.fiscal_year(header.fiscal_year))], columns=1)


def _target_cell(result: KpiResult, fmt: DocumentFormat) -> str:
    """The target, or for a rate card without one the price of an outcome (the payment is
    outcomes × price: no achievement rate to show)."""
    if result.target is not None:
        return format_kpi_value(result.target, result.unit, fmt.lang)
    if result.price_minor is not None:
        price = fmt.amount(result.price_minor)
        return f"単価 {price}" if fmt.lang == "ja" else f"{price} each"
    return ""


def kpi_table(results: Sequence[KpiResult], fmt: DocumentFormat, with_amounts: bool) -> Table:
    """The KPI results against their targets; ``with_amounts`` adds the maximum and earned."""
    columns = [Column(fmt.label("kpi"), 3.2), Column(fmt.label("payer"), 1.6),
               Column(fmt.label("target"), 1.1, "right"),
               Column(fmt.label("result"), 1.1, "right"),
               Column(fmt.label("achievement"), 1.0, "right")]
    if with_amounts:
        columns += [Column(fmt.label("maximum"), 1.3, "right"),
                    Column(fmt.label("earned"), 1.3, "right")]
    rows: list[list[CellText]] = []
    for r in results:
        achievement = r.achievement_percent
        row: list[CellText] = [r.name.get(fmt.lang) + ("" if r.evaluation == "final"
                                   else f"（{fmt.label('evaluation_interim')}）"),
               fmt.names(r.payer),
               _target_cell(r, fmt),
               format_kpi_value(r.value, r.unit, fmt.lang),
               "" if achievement is None else format_percent(achievement, 1)]
        if with_amounts:
            row += ["" if r.maximum_minor is None else fmt.amount(r.maximum_minor),
                    "" if r.earned_minor is None else fmt.amount(r.earned_minor)]
        rows.append(row)
    return table(columns, rows, size=7.5)

