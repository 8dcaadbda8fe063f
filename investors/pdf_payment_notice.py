"""The payment notice to a municipality, written as the payee's qualified invoice (適格請求書)
and payment request: who issues it (name and registration number), to whom (御中), when, what
for, the amount per tax rate with the tax, the due date and where to pay; then the KPI results
and the audit they rest on, the amounts they earn (each with its trace), and the budget
authorisation the payment draws on."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import date

from investors.formatting import format_period, format_tax_by_rate, format_tax_rate
from investors.pdf_layout import (
    CONTENT_WIDTH,
    MARGIN,
    Block,
    Cell,
    CellText,
    Column,
    Row,
    Table,
    fields,
    fit_size,
    gap,
    heading,
    table,
    text_lines,
    title_rows,
)
from investors.pdf_pages import render_blocks, shared_texts
from investors.pdf_parts import DocumentFormat, document_format, kpi_table
from investors.statement_data import (
    KpiResult,
    PaymentNotice,
    RemitAccount,
    Text,
    column_total,
)

_RIGHT = MARGIN + CONTENT_WIDTH
_FIELD_LABEL_WIDTH = 92.0  # pdf_layout.fields' default label column


def _right(text: str, size: float, height: float = 13.0) -> Row:  # float-ok: page geometry
    """A line set flush right (the issuer's block of an invoice)."""
    return Row(height, (Cell(_RIGHT, text, fit_size(text, size, CONTENT_WIDTH * 0.6),
                             "right"),))


def _with_rate(data: PaymentNotice, fmt: DocumentFormat, key: str) -> str:
    """A tax label with the contract's rate beside it: ``消費税額（10%）``."""
    rate = "" if data.tax_rate is None else format_tax_rate(data.tax_rate)
    if not rate:
        return fmt.label(key)
    return f"{fmt.label(key)}（{rate}）" if fmt.lang == "ja" else f"{fmt.label(key)} ({rate})"


def _is_invoice(data: PaymentNotice) -> bool:
    """Whether the notice presents itself as a qualified invoice: the payee is registered.
    A payment bearing no consumption tax under an unregistered payee (a pound contract) is a
    plain notice, and says nothing about registration."""
    return data.registration_number is not None


def _heading_blocks(data: PaymentNotice, fmt: DocumentFormat) -> list[Block]:
    """Title; the recipient (御中) on the left; number, date of issue, issuer and registration
    number on the right, as a Japanese invoice sets them."""
    subtitle = fmt.fiscal_year(data.header.fiscal_year)
    if _is_invoice(data):
        subtitle += f"　{fmt.label('qualified_invoice')}"
    payer = data.payer.name
    addressee = f"{payer.ja} 御中" if fmt.lang == "ja" else f"To: {fmt.name(payer)}"
    number = f"{fmt.label('document_id')}: {data.header.document_id}"
    blocks: list[Block] = title_rows(fmt.label("payment_notice"), subtitle)
    blocks += [Row(18, (Cell(MARGIN, addressee, fit_size(addressee, 12, CONTENT_WIDTH * 0.5)),
                        Cell(_RIGHT, number, 8.5, "right"))),
               _right(f"{fmt.label('issued_on')}: {fmt.day(data.issued_on)}", 8.5), gap(4),
               _right(f"{fmt.label('invoice_issuer')}: {fmt.name(data.payee.name)}", 9.5, 15)]
    if data.payee.address:
        blocks.append(_right(data.payee.address, 8))
    if _is_invoice(data) or data.tax_rate is not None:
        number_text = data.registration_number or fmt.label("not_registered")
        blocks.append(_right(f"{fmt.label('registration_number')}: {number_text}", 9.5, 15))
    blocks += [gap(6), Row(14, (Cell(MARGIN, fmt.label("invoice_request"), 9),)), gap(4)]
    return blocks


def _contract_text(data: PaymentNotice, fmt: DocumentFormat) -> str:
    """The contract's name and id; in English, without the Japanese original when both do not
    fit the line at a readable size (the running title and the footer still name it)."""
    name, contract_id = data.header.contract_name, data.header.contract_id
    if fmt.lang == "ja":
        return f"{name.ja}（{contract_id}）"
    full = f"{name.with_original('en')} ({contract_id})"
    room = CONTENT_WIDTH - _FIELD_LABEL_WIDTH - 3
    return full if fit_size(full, 8.5, room) >= 7.5 else f"{name.en} ({contract_id})"


def _amount_blocks(data: PaymentNotice, fmt: DocumentFormat) -> list[Block]:
    """What the notice is for, the amount due (with its tax per rate) and the due date."""
    start, end = data.header.bounds()
    contract = _contract_text(data, fmt)
    subject = f"{fmt.fiscal_year(data.header.fiscal_year)} {fmt.label('outcome_payment')}"
    blocks: list[Block] = [*fields([(fmt.label("subject"), subject),
                                    (fmt.label("contract"), contract),
                                    (fmt.label("period"), format_period(start, end, fmt.lang))],
                                   columns=1)]
    amount = fmt.amount(data.amount_due_minor)
    if data.tax_rate is not None:
        amount += fmt.label("tax_included_mark") if fmt.lang == "ja" \
            else f" {fmt.label('tax_included_mark')}"
    due = f"{fmt.label('due_on')} {fmt.day(data.due_on)}"
    blocks += [gap(4), Row(24, (Cell(MARGIN, fmt.label("amount_due"), 10),
                                Cell(MARGIN + _FIELD_LABEL_WIDTH, amount, 14),
                                Cell(_RIGHT, due, 10, "right")), rule=0.8)]
    if data.tax_rate is not None:
        blocks += fields([(fmt.label("by_tax_rate"), format_tax_by_rate(
            data.tax_rate, data.earned_total_minor, data.consumption_tax_minor,
            data.tax_included, data.header.currency, fmt.lang))], columns=1, size=9)
    return blocks


def _kana(text: str) -> str:
    """A registered name as a person reads it: banks hold names in half-width kana
    (``ﾔﾏｸﾞﾁｷﾞﾝｺｳ``); the notice prints the same name in full-width (``ヤマグチギンコウ``)."""
    return unicodedata.normalize("NFKC", text)


def _account_text(account: RemitAccount, fmt: DocumentFormat) -> list[tuple[str, str]]:
    """Bank and branch with their codes, account type and number, and the holder's name."""
    def coded(name: str, code: str) -> str:
        return f"{_kana(name)}（{code}）" if fmt.lang == "ja" else f"{_kana(name)} ({code})"

    return [(fmt.label("bank"), coded(account.bank_name, account.bank_code)),
            (fmt.label("branch"), coded(account.branch_name, account.branch_code)),
            (fmt.label("account_number"),
             f"{fmt.label('account_type_' + account.account_type)} {account.account_number}"),
            (fmt.label("account_holder"), _kana(account.holder_kana))]


def _remit_blocks(data: PaymentNotice, fmt: DocumentFormat) -> list[Block]:
    """Where to pay: the payee's registered account, or a plain statement that it has none."""
    blocks: list[Block] = [gap(6), heading(fmt.label("remit_to"))]
    if data.remit_to is None:
        return blocks + [Row(16, (Cell(MARGIN, fmt.label("no_bank_account"), fit_size(
            fmt.label("no_bank_account"), 9.5, CONTENT_WIDTH)),))]
    return blocks + fields(_account_text(data.remit_to, fmt))


def _audit_table(results: tuple[KpiResult, ...], fmt: DocumentFormat) -> list[Block]:
    """Who audited the results and when, one row per evaluator, auditor and day."""
    groups: dict[tuple[Text | None, str, date], list[KpiResult]] = defaultdict(list)
    for r in results:
        if r.audited_on is not None:
            groups[(r.evaluator, r.audited_by, r.audited_on)].append(r)
    if not groups:
        return []
    rows: list[list[CellText]] = [
        [fmt.names(evaluator), audited_by, fmt.day(day),
         fmt.label("all_results") if len(members) == len(results) else
         ("、" if fmt.lang == "ja" else ", ").join(dict.fromkeys(
             m.name.get(fmt.lang) for m in members))]
        for (evaluator, audited_by, day), members in groups.items()]
    return [gap(6), Row(14, (Cell(MARGIN, fmt.label("kpi_audit"), 9),)), table(
        [Column(fmt.label("evaluator"), 3.2), Column(fmt.label("audited_by"), 2.2),
         Column(fmt.label("audited_on"), 1.5), Column(fmt.label("audited_results"), 2.6)],
        rows, size=7.5)]


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


def _totals_table(data: PaymentNotice, fmt: DocumentFormat) -> Table:
    """Total earned, its consumption tax at the contract's rate (none where none applies),
    the amount due and the grant's part (where a grant subsidises the payer)."""
    rows = [[fmt.label("earned_total_included" if data.tax_included and data.tax_rate
                       is not None else "earned_total"), fmt.amount(data.earned_total_minor)]]
    if data.tax_rate is not None:
        rows.append([_with_rate(data, fmt, "consumption_tax_included" if data.tax_included
                                else "consumption_tax"), fmt.amount(data.consumption_tax_minor)])
    grant = [[fmt.label("grant_covered"), fmt.amount(data.grant_covered_minor)]] \
        if data.grant_applies or data.grant_covered_minor else []
    return table(
        [Column(fmt.label("total"), 4.5), Column(fmt.label("amount"), 2.6, "right")], rows,
        [fmt.label("amount_due"), fmt.amount(data.amount_due_minor)], size=9.0,
        trailing=grant)


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
    blocks = _heading_blocks(data, fmt) + _amount_blocks(data, fmt) + _remit_blocks(data, fmt)
    blocks += [gap(), heading(fmt.label("kpi_results")),
               kpi_table(data.kpi_results, fmt, with_amounts=False)]
    blocks += _audit_table(data.kpi_results, fmt)
    blocks += [gap(10), heading(fmt.label("earned_lines")), _earned_table(data, fmt), gap(6),
               _totals_table(data, fmt)]
    blocks += [gap(10)] + _authorisation_blocks(data, fmt)
    return blocks


def render_payment_notice(data: PaymentNotice, lang: str = "ja") -> bytes:
    """The payment notice as PDF bytes."""
    return render_blocks(payment_notice_blocks(data, lang), data.header, data.kind, lang,
                         shared_texts(data.header, data.payee.name))
