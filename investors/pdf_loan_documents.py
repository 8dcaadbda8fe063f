"""The loan documents as PDF: the balance confirmation (残高証明書), the interest statement
(利息計算書) and the repayment notice (返済予定通知書), laid out as a Japanese bank's forms read —
title, date, addressee 御中 on the left and the issuer on the right, a sentence saying what is
confirmed or notified, the figures, 以上. Formats the data records of
:mod:`investors.loan_document_data`; computes no money."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from investors.formatting import format_rate
from investors.loan_document_data import (
    Arrear,
    BalanceConfirmation,
    InterestStatement,
    LoanDocument,
    LoanParties,
    RepaymentNotice,
)
from investors.pdf_layout import (
    CONTENT_WIDTH,
    MARGIN,
    Block,
    Cell,
    Column,
    Row,
    fields,
    fit_size,
    gap,
    heading,
    table,
    text_lines,
    title_rows,
)
from investors.pdf_pages import render_blocks, shared_texts
from investors.pdf_parts import DocumentFormat, document_format
from investors.trace_text import JAPANESE_WORDS
from ledger.errors import SibError
from ledger.rounding import RoundingMode, round_minor
from settlement.trace import ENGLISH_WORDS, ROUNDING_TERMS


def _right(text: str, size: float = 9.0) -> Row:  # float-ok: page geometry
    """A line of text against the right margin (a date, the issuer)."""
    fitted = fit_size(text, size, CONTENT_WIDTH)
    return Row(size * 1.7, (Cell(MARGIN + CONTENT_WIDTH, text, fitted, "right"),))


def _left(text: str, size: float = 9.0) -> Row:  # float-ok: page geometry
    fitted = fit_size(text, size, CONTENT_WIDTH)
    return Row(size * 1.7, (Cell(MARGIN, text, fitted),))


def _as_of(day: date, fmt: DocumentFormat) -> str:
    """``令和3年10月15日現在`` / ``at the end of 15 Oct 2021``."""
    return f"{fmt.day(day)}{fmt.label('as_of_end')}" if fmt.lang == "ja" \
        else f"{fmt.label('as_of_end')} {fmt.day(day)}"


def _rate(value: Fraction | None, fmt: DocumentFormat) -> str:
    return fmt.label("none") if value is None else format_rate(value, fmt.lang, 3)


def _letterhead(title_date: str, issued_on: date, to: str, by_label: str, by: str,
                fmt: DocumentFormat, kind: str, date_label: str = "issued_on") -> list[Block]:
    """Title, the document's date on the right, addressee (御中) on the left, issuer on the
    right."""
    blocks: list[Block] = title_rows(fmt.label(kind), title_date)
    blocks.append(_right(f"{fmt.label(date_label)}　{fmt.day(issued_on)}"))
    blocks.append(_left(f"{to}　{fmt.label('addressee')}" if fmt.lang == "ja"
                        else f"{fmt.label('addressee')}: {to}", 11))
    blocks.append(_right(f"{by_label}　{by}", 10))
    return blocks + [gap(6)]


def _loan_fields(loan: LoanParties, fmt: DocumentFormat) -> list[Row]:
    return fields([(fmt.label("loan_name"), fmt.name(loan.name)),
                   (fmt.label("loan_id"), loan.loan_id),
                   (fmt.label("lender"), fmt.name(loan.lender.name)),
                   (fmt.label("borrower"), fmt.name(loan.borrower.name)),
                   (fmt.label("interest_rate"), _rate(loan.rate_annual, fmt)),
                   (fmt.label("default_interest_rate"), _rate(loan.default_rate_annual, fmt)),
                   (fmt.label("day_count"), loan.day_count.get(fmt.lang))], columns=1,
                  label_width=110)


def _end_mark(fmt: DocumentFormat) -> Row:
    return _right(fmt.label("end_mark"))


# --------------------------------------------------------------------------- 残高証明書

def _arrears_table(arrears: tuple[Arrear, ...], fmt: DocumentFormat) -> Block:
    columns = [Column(fmt.label("due_date"), 1.5),
               Column(fmt.label("principal"), 1.3, "right"),
               Column(fmt.label("interest"), 1.1, "right"),
               Column(fmt.label("days_late"), 0.8, "right"),
               Column(fmt.label("default_interest"), 1.2, "right"),
               Column(fmt.label("default_interest_paid"), 1.1, "right"),
               Column(fmt.label("default_interest_unpaid"), 1.1, "right")]
    rows = [[fmt.day(a.due_on), fmt.amount(a.principal_minor), fmt.amount(a.interest_minor),
             f"{a.days_late:,}", fmt.amount(a.default_interest_minor),
             fmt.amount(a.default_interest_paid_minor), fmt.amount(a.default_interest_owed_minor)]
            for a in arrears]
    total = [fmt.label("total"), fmt.amount(sum(a.principal_minor for a in arrears)),
             fmt.amount(sum(a.interest_minor for a in arrears)), "",
             fmt.amount(sum(a.default_interest_minor for a in arrears)),
             fmt.amount(sum(a.default_interest_paid_minor for a in arrears)),
             fmt.amount(sum(a.default_interest_owed_minor for a in arrears))]
    return table(columns, rows, total, size=7.5)


def confirmation_blocks(data: BalanceConfirmation, lang: str) -> list[Block]:
    """The 残高証明書's rows, in reading order."""
    fmt = document_format(data.header, lang)
    blocks = _letterhead(_as_of(data.as_of, fmt), data.issued_on,
                         fmt.name(data.loan.borrower.name), fmt.label("confirmed_by"),
                         fmt.name(data.loan.lender.name), fmt, data.kind)
    blocks += text_lines([fmt.label("confirmation_intro")], size=9, indent=0)
    blocks += [gap(4), *_loan_fields(data.loan, fmt),
               *fields([(fmt.label("as_of"), _as_of(data.as_of, fmt))], columns=1,
                       label_width=110), gap(6)]
    blocks.append(heading(f"{fmt.label('balances')}（{_as_of(data.as_of, fmt)}）"
                          if lang == "ja" else
                          f"{fmt.label('balances')} ({_as_of(data.as_of, fmt)})"))
    blocks.append(table(
        [Column(fmt.label("item"), 3.2), Column(fmt.label("amount"), 1.2, "right")],
        [[fmt.label("principal_outstanding"), fmt.amount(data.principal_minor)],
         ["　" + fmt.label("of_which_overdue_principal"),
          fmt.amount(data.overdue_principal_minor)],
         [fmt.label("overdue_interest"), fmt.amount(data.overdue_interest_minor)],
         [fmt.label("default_interest_owed"), fmt.amount(data.default_interest_owed_minor)],
         [fmt.label("interest_running"), fmt.amount(data.interest_running_minor)]],
        size=9, share=0.8))
    blocks += [gap(6), *fields([(fmt.label("commitment"), fmt.amount(data.loan.commitment_minor)),
                                (fmt.label("drawn"), fmt.amount(data.drawn_minor)),
                                (fmt.label("undrawn"), fmt.amount(data.undrawn_minor))],
                               columns=3, label_width=60)]
    blocks += [gap(6), heading(fmt.label("next_due"))]
    if data.next_due is None:
        blocks += fields([(fmt.label("next_due"), fmt.label("none"))], columns=1)
    else:
        due = data.next_due
        blocks.append(table(
            [Column(fmt.label("due_date"), 1.5), Column(fmt.label("principal_scheduled"), 1.2,
                                                        "right"),
             Column(fmt.label("interest_scheduled"), 1.2, "right"),
             Column(fmt.label("scheduled_total"), 1.2, "right")],
            [[fmt.day(due.due_on), fmt.amount(due.principal_minor),
              fmt.amount(due.interest_minor), fmt.amount(due.total_minor)]], size=8.5,
            share=0.8))
    blocks += [gap(6), heading(fmt.label("arrears"))]
    blocks += [_arrears_table(data.arrears, fmt)] if data.arrears \
        else fields([(fmt.label("arrears"), fmt.label("no_arrears"))], columns=1)
    blocks += [gap(6), heading(fmt.label("booked")), *fields([
        (fmt.label("interest_payable_booked"), fmt.amount(data.interest_payable_minor)),
        (fmt.label("of_which_default_interest"),
         fmt.amount(data.default_interest_booked_minor))], columns=2, label_width=110)]
    blocks += text_lines([fmt.label("booked_note")], indent=0)
    return blocks + [gap(10), _end_mark(fmt)]


# --------------------------------------------------------------------------- 利息計算書

def _exact(value: Fraction, fmt: DocumentFormat) -> str:
    """An exact amount to six places, ``…`` marking digits cut off (99,726.027397…円)."""
    scaled = round_minor(value * 10**6, RoundingMode.TRUNCATE)
    cut = Fraction(scaled, 10**6) != value
    units, fraction = divmod(abs(scaled), 10**6)
    digits = f"{fraction:06d}".rstrip("0")
    text = f"{'-' if value < 0 else ''}{units:,}" + (f".{digits}" if digits else "") \
        + ("…" if cut else "")
    if fmt.currency != "JPY":  # minor units of another currency: name the unit
        return f"{text} ({fmt.currency} minor units)"
    return f"{text}円" if fmt.lang == "ja" else f"JPY {text}"


def _rounding_word(mode: RoundingMode, lang: str) -> str:
    words = JAPANESE_WORDS if lang == "ja" else ENGLISH_WORDS
    label = words[ROUNDING_TERMS[mode]].label
    assert isinstance(label, str)
    return label


def _period(start_on: date, due_on: date, fmt: DocumentFormat) -> str:
    if fmt.lang == "ja":
        return f"{fmt.label('period_from')} {fmt.day(start_on)}　{fmt.label('period_to')} " \
               f"{fmt.day(due_on)}"
    return f"{fmt.day(start_on)} – {fmt.day(due_on)}"


def interest_statement_blocks(data: InterestStatement, lang: str) -> list[Block]:
    """The 利息計算書's rows, in reading order."""
    fmt = document_format(data.header, lang)
    number = f"第{data.number}回" if lang == "ja" else f"No. {data.number}"
    blocks = _letterhead(f"{fmt.label('due_date')} {fmt.day(data.due_on)}（{number}）"
                         if lang == "ja" else
                         f"{fmt.label('due_date')} {fmt.day(data.due_on)} ({number})",
                         data.as_of, fmt.name(data.loan.borrower.name),
                         fmt.label("confirmed_by"), fmt.name(data.loan.lender.name), fmt,
                         data.kind)
    blocks += [*_loan_fields(data.loan, fmt), *fields([
        (fmt.label("instalment"), number),
        (fmt.label("interest_period"), _period(data.period_start_on, data.due_on, fmt)),
        (fmt.label("as_of"), _as_of(data.as_of, fmt))], columns=1, label_width=110), gap(6)]
    blocks.append(heading(fmt.label("interest_period")))
    rows = [[fmt.day(s.since_on), fmt.day(s.until_on), fmt.amount(s.principal_minor),
             f"{s.days:,}/{s.basis_days:,}", format_rate(s.rate_annual, lang, 3),
             _exact(s.exact_minor, fmt)] for s in data.stretches]
    blocks.append(table(
        [Column(fmt.label("period_from"), 1.4), Column(fmt.label("period_to"), 1.4),
         Column(fmt.label("principal_balance"), 1.3, "right"),
         Column(fmt.label("days"), 0.8, "right"), Column(fmt.label("rate"), 0.8, "right"),
         Column(fmt.label("interest_exact"), 1.6, "right")],
        rows, [fmt.label("total"), "", "", f"{sum(s.days for s in data.stretches):,}", "",
               _exact(data.exact_minor, fmt)], size=8))
    blocks += text_lines([fmt.label("interest_note")], indent=0)
    blocks += [gap(4), *fields([
        (fmt.label("interest_exact"), _exact(data.exact_minor, fmt)),
        (fmt.label("rounding"), _rounding_word(data.rounding, lang)),
        (fmt.label("rounding_dropped"), _exact(data.rounding_dropped_minor, fmt)),
        (fmt.label("interest_due"), fmt.amount(data.interest_minor))], columns=2,
        label_width=110)]
    blocks += [gap(6), heading(fmt.label("payments"))]
    paid = [[fmt.label("interest"), fmt.day(p.paid_on), fmt.amount(p.amount_minor)]
            for p in data.payments]
    paid += [[fmt.label("default_interest"), fmt.day(p.paid_on), fmt.amount(p.amount_minor)]
             for p in data.default_interest_payments]
    if not paid:
        paid = [[fmt.label("interest"), fmt.label("not_paid"), fmt.amount(0)]]
    blocks.append(table([Column(fmt.label("item"), 1.6), Column(fmt.label("paid_on"), 1.4),
                         Column(fmt.label("amount"), 1.2, "right")], paid, size=8.5, share=0.7))
    blocks += [gap(4), *fields([
        (fmt.label("interest_due"), fmt.amount(data.interest_minor)),
        (fmt.label("interest_paid"), fmt.amount(data.interest_paid_minor)),
        (fmt.label("interest_unpaid"), fmt.amount(data.interest_unpaid_minor)),
        (fmt.label("default_interest"), fmt.amount(data.default_interest_minor)),
        (fmt.label("default_interest_paid"), fmt.amount(data.default_interest_paid_minor))],
        columns=2, label_width=110)]
    blocks += [gap(6), heading(fmt.label("trace"))]
    blocks += text_lines([line.get(lang) for line in data.trace], indent=0)
    return blocks + [gap(10), _end_mark(fmt)]


# --------------------------------------------------------------------------- 返済予定通知書

def notice_blocks(data: RepaymentNotice, lang: str) -> list[Block]:
    """The 返済予定通知書's rows, in reading order."""
    fmt = document_format(data.header, lang)
    number = f"第{data.number}回" if lang == "ja" else f"No. {data.number}"
    blocks = _letterhead(f"{fmt.label('repayment_date')} {fmt.day(data.due_on)}",
                         data.notice_on, fmt.name(data.loan.lender.name),
                         fmt.label("notified_by"), fmt.name(data.loan.borrower.name), fmt,
                         data.kind, "notice_on")
    blocks += text_lines([fmt.label("notice_intro")], size=9, indent=0)
    blocks += [gap(4), *_loan_fields(data.loan, fmt), *fields([
        (fmt.label("repayment_date"), fmt.day(data.due_on)),
        (fmt.label("instalment"), number)], columns=2, label_width=110), gap(6)]
    words = {"principal": "principal", "interest": "interest",
             "default_interest": "default_interest"}
    # Arrears first, oldest first, each as it is settled (遅延損害金, interest, principal),
    # then this instalment's interest and principal.
    order = list(words)
    lines = sorted(data.lines, key=lambda line: (line.due_on == data.due_on, line.due_on,
                                                 order.index(line.component)))
    rows = [[fmt.label("this_instalment") if line.due_on == data.due_on
             else fmt.label("in_arrears"), fmt.day(line.due_on), fmt.label(words[line.component]),
             fmt.amount(line.amount_minor)] for line in lines]
    blocks.append(table(
        [Column(fmt.label("item"), 1.2), Column(fmt.label("due_date"), 1.5),
         Column(fmt.label("component"), 1.3), Column(fmt.label("amount"), 1.3, "right")],
        rows, [fmt.label("total_due"), "", "", fmt.amount(data.total_minor)], size=9,
        share=0.85))
    blocks += [gap(4), *fields([(fmt.label("principal_after"),
                                 fmt.amount(data.principal_after_minor))], columns=1,
                               label_width=110)]
    blocks += text_lines([fmt.label("notice_note")], indent=0)
    return blocks + [gap(10), _end_mark(fmt)]


def render_loan_document(data: LoanDocument, lang: str = "ja") -> bytes:
    """A loan document as PDF bytes."""
    if isinstance(data, BalanceConfirmation):
        blocks = confirmation_blocks(data, lang)
    elif isinstance(data, InterestStatement):
        blocks = interest_statement_blocks(data, lang)
    elif isinstance(data, RepaymentNotice):
        blocks = notice_blocks(data, lang)
    else:
        raise SibError(f"no renderer for {type(data).__name__}", "DOCUMENT_KIND_UNKNOWN",
                       "document")
    return render_blocks(blocks, data.header, data.kind, lang,
                         shared_texts(data.header, data.loan.lender.name,
                                      data.loan.borrower.name))
