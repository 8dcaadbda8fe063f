"""The lender statement: each loan of the lender to the intermediary — its figures for the
period, its draws, its schedule against what was paid and its balance over time — and the KPI
results the repayments depend on."""

from __future__ import annotations

from investors import charts
from investors.formatting import format_percent, format_period
from investors.pdf_layout import (
    Block,
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
from investors.statement_data import LenderStatement, LoanSection, column_total


def _loan_blocks(loan: LoanSection, fmt: DocumentFormat) -> list[Block]:
    blocks: list[Block] = [heading(f"{fmt.label('loan')}: {fmt.name(loan.name)}"
                                    f"（{loan.loan_id}）" if fmt.lang == "ja" else
                                    f"{fmt.label('loan')}: {fmt.name(loan.name)} "
                                    f"({loan.loan_id})")]
    blocks += fields([
        (fmt.label("commitment"), fmt.amount(loan.commitment_minor)),
        (fmt.label("interest_rate"), format_percent(loan.interest_rate_percent, 3)),
        (fmt.label("opening_balance"), fmt.amount(loan.opening_balance_minor)),
        (fmt.label("day_count"), fmt.name(loan.day_count)),
        (fmt.label("drawn"), fmt.amount(loan.drawn_minor)),
        (fmt.label("interest_accrued"), fmt.amount(loan.interest_accrued_minor)),
        (fmt.label("principal_repaid"), fmt.amount(loan.principal_repaid_minor)),
        (fmt.label("interest_paid"), fmt.amount(loan.interest_paid_minor)),
        # A guarantor's payment is money the bank received; written down is what nobody paid.
        (fmt.label("recovered_from_guarantee"), fmt.amount(loan.recovered_minor)),
        (fmt.label("written_down"), fmt.amount(loan.written_down_minor)),
        (fmt.label("closing_balance"), fmt.amount(loan.closing_balance_minor)),
        (fmt.label("overdue_at_end"), fmt.amount(loan.overdue_minor)),
        (fmt.label("default_interest_accrued"), fmt.amount(loan.default_interest_minor)),
    ])
    if loan.draws:
        blocks += [gap(4), table(
            [Column(fmt.label("draw_date"), 1), Column(fmt.label("drawn"), 1, "right")],
            [[fmt.day(d.drawn_on), fmt.amount(d.amount_minor)] for d in loan.draws],
            [fmt.label("total"), fmt.amount(loan.drawn_minor)], share=0.5)]
    if loan.schedule:
        blocks += [gap(6), heading(fmt.label("schedule_vs_actual")), _schedule_table(loan, fmt)]
    if loan.balance_series:
        blocks += [gap(6), heading(fmt.label("balance_chart")), chart(charts.balance_chart(
            [(p.on, p.balance_minor) for p in loan.balance_series], fmt.amount, fmt.day))]
    return blocks + [gap(10)]


def _schedule_table(loan: LoanSection, fmt: DocumentFormat) -> Table:
    """Each due date of the period: scheduled, paid (and when), what is still overdue, the
    遅延損害金 it ran up and its status (paid on time / late / overdue / …)."""
    columns = [Column(fmt.label("due_date"), 1.35),
               Column(fmt.label("principal_scheduled"), 1.2, "right"),
               Column(fmt.label("interest_scheduled"), 1.0, "right"),
               Column(fmt.label("principal_paid"), 1.2, "right"),
               Column(fmt.label("interest_paid"), 1.0, "right"),
               Column(fmt.label("paid_on"), 1.35),
               Column(fmt.label("overdue_amount"), 1.0, "right"),
               Column(fmt.label("default_interest_column"), 0.9, "right"),
               Column(fmt.label("instalment_status"), 1.0)]
    rows = [[fmt.day(r.due_on), fmt.amount(r.principal_scheduled_minor),
             fmt.amount(r.interest_scheduled_minor), fmt.amount(r.principal_paid_minor),
             fmt.amount(r.interest_paid_minor),
             fmt.day(r.paid_on) if r.paid_on else fmt.label("not_paid"),
             fmt.amount(r.overdue_minor), fmt.amount(r.default_interest_minor),
             fmt.label(f"status_{r.status}")] for r in loan.schedule]
    total = [fmt.label("total")] + [fmt.amount(column_total(loan.schedule, name)) for name in (
        "principal_scheduled_minor", "interest_scheduled_minor", "principal_paid_minor",
        "interest_paid_minor")] + ["", fmt.amount(column_total(loan.schedule, "overdue_minor")),
                                   fmt.amount(column_total(loan.schedule,
                                                           "default_interest_minor")), ""]
    return table(columns, rows, total, size=6.5)


def lender_statement_blocks(data: LenderStatement, lang: str) -> list[Block]:
    """The lender statement's rows, in reading order."""
    fmt = document_format(data.header, lang)
    blocks: list[Block] = title_rows(fmt.label("lender_statement"),
                                     format_period(data.period_start_on, data.period_end_on, lang))
    blocks += fields([(fmt.label("lender"), fmt.name(data.lender.name)),
                      (fmt.label("borrower"), fmt.name(data.borrower.name))])
    blocks += contract_rows(data.header, fmt)
    blocks.append(gap())
    for loan in data.loans:
        blocks += _loan_blocks(loan, fmt)
    if data.kpi_results:
        blocks += [heading(fmt.label("kpi_results")),
                   kpi_table(data.kpi_results, fmt, with_amounts=True)]
    return blocks


def render_lender_statement(data: LenderStatement, lang: str = "ja") -> bytes:
    """The lender statement as PDF bytes."""
    return render_blocks(lender_statement_blocks(data, lang), data.header, data.kind, lang,
                         shared_texts(data.header, data.lender.name, data.borrower.name))

