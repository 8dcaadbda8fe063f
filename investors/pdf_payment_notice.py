"""The payment notice to a municipality: the KPI results, the amounts they earn (each with its
trace), the amount due and where to remit it, and the budget authorisation it draws on."""

from __future__ import annotations

from investors.pdf_layout import (
    MARGIN,
    Block,
    Cell,
    Column,
    Row,
    Table,
    fields,
    gap,
    heading,
    table,
    text_lines,
    title_rows,
)
from investors.pdf_pages import render_blocks, shared_texts
from investors.pdf_parts import DocumentFormat, contract_rows, document_format, kpi_table
from investors.statement_data import PaymentNotice, column_total


def _earned_table(data: PaymentNotice, fmt: DocumentFormat) -> Table:
    """Each earned line followed by its trace, under one header that repeats on a new page."""
    columns = [Column(fmt.label("kpi"), 4.5), Column(fmt.label("maximum"), 1.3, "right"),
               Column(fmt.label("earned"), 1.3, "right")]
    rows: list[Row] = []
    for line in data.earned_lines:
        rows += table(columns, [[fmt.name(line.name), fmt.amount(line.maximum_minor),
                                 fmt.amount(line.earned_minor)]], size=8.0).rows
        if line.trace_lines:
            rows += text_lines([f"{fmt.label('trace')}:",
                                *(text.get(fmt.lang) for text in line.trace_lines)], 6.5)
            rows.append(gap(3))
    return Table(table(columns, [], size=8.0).header, tuple(rows))


def _authorisation_blocks(data: PaymentNotice, fmt: DocumentFormat) -> list[Block]:
    auth = data.authorisation
    period = f"{fmt.fiscal_year(auth.first_fiscal_year)} – {fmt.fiscal_year(auth.last_fiscal_year)}"
    blocks: list[Block] = [heading(fmt.label("authorisation"))]
    blocks += fields([(fmt.label("name"), fmt.name(auth.name))], columns=1)
    blocks += fields([(fmt.label("authorisation_period"), period),
                      (fmt.label("limit"), fmt.amount(auth.limit_minor)),
                      (fmt.label("paid_to_date"), fmt.amount(data.paid_to_date_minor)),
                      (fmt.label("this_notice"), fmt.amount(data.amount_due_minor)),
                      (fmt.label("paid_after"), fmt.amount(data.paid_after_minor)),
                      (fmt.label("remaining"), fmt.amount(data.remaining_minor))])
    if auth.years:
        blocks += [gap(4), table(
            [Column(fmt.label("fiscal_year"), 2), Column(fmt.label("planned"), 1, "right"),
             Column(fmt.label("paid"), 1, "right")],
            [[fmt.fiscal_year(y.fiscal_year), fmt.amount(y.planned_minor),
              fmt.amount(y.paid_minor)] for y in auth.years],
            [fmt.label("total"), fmt.amount(column_total(auth.years, "planned_minor")),
             fmt.amount(column_total(auth.years, "paid_minor"))], share=0.7)]
    return blocks


def payment_notice_blocks(data: PaymentNotice, lang: str) -> list[Block]:
    """The payment notice's rows, in reading order."""
    fmt = document_format(data.header, lang)
    addressee = f"{data.payer.name.ja} 御中" if lang == "ja" else f"To: {fmt.name(data.payer.name)}"
    blocks: list[Block] = title_rows(fmt.label("payment_notice"),
                                     fmt.fiscal_year(data.header.fiscal_year))
    blocks += [Row(18, (Cell(MARGIN, addressee, 11),))]
    blocks += fields([(fmt.label("payer"), fmt.name(data.payer.name)),
                      (fmt.label("payee"), fmt.name(data.payee.name)),
                      (fmt.label("amount_due"), fmt.amount(data.amount_due_minor)),
                      (fmt.label("due_on"), fmt.day(data.due_on))])
    blocks += contract_rows(data.header, fmt)
    if data.remit_to:
        blocks += fields([(fmt.label("remit_to"), data.remit_to)], columns=1)
    blocks += [gap(), heading(fmt.label("kpi_results")),
               kpi_table(data.kpi_results, fmt, with_amounts=False), gap(10),
               heading(fmt.label("earned_lines"))]
    blocks += [_earned_table(data, fmt), gap(6), table(
        [Column(fmt.label("total"), 4.5), Column(fmt.label("amount"), 2.6, "right")],
        [[fmt.label("earned_total_included" if data.tax_included else "earned_total"),
          fmt.amount(data.earned_total_minor)],
         [fmt.label("consumption_tax_included" if data.tax_included else "consumption_tax"),
          fmt.amount(data.consumption_tax_minor)]],
        [fmt.label("amount_due"), fmt.amount(data.amount_due_minor)], size=9.0,
        trailing=[[fmt.label("grant_covered"), fmt.amount(data.grant_covered_minor)]])]
    blocks += [gap(10)] + _authorisation_blocks(data, fmt)
    return blocks


def render_payment_notice(data: PaymentNotice, lang: str = "ja") -> bytes:
    """The payment notice as PDF bytes."""
    return render_blocks(payment_notice_blocks(data, lang), data.header, data.kind, lang,
                         shared_texts(data.header, data.payee.name))

