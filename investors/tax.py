"""Withheld tax paid over to the tax office: the month's payment slip (納付書) data and its due
date. Pure: the store (``investors.store.remit_withholding``) reads the month's payments and
posts the remittance; this module only says what the slip carries.

The law, as the slip follows it:

- **Due date (納期限).** Tax withheld from a 匿名組合 distribution is paid to the State by the
  10th of the month after the month it was withheld in (所得税法第210条 for residents, §212③ for
  domestic companies; quoted in 国税不服審判所 裁決 平成25年3月1日,
  http://www.kfs.go.jp/service/JP/90/07/index.html). A due date falling on a Saturday, Sunday,
  public holiday or 12-29 … 1-3 moves to the next day that is none of them (国税通則法第10条第2項
  and 通則令第2条第2項; 基本通達 第10条関係 4,
  https://www.nta.go.jp/law/tsutatsu/kihon/tsusoku/01/03/10.htm). A 10th never falls in the year
  end, so the bank calendar's :func:`ledger.calendar.next_business_day` gives the same day.
- **Which slip.** Withholding on 匿名組合契約等に基づく利益の分配 paid to residents and domestic
  companies is paid with the 「利子等の所得税徴収高計算書（納付書）」 — the slip whose notes say
  it is used for interest, investment-trust and specified-trust distributions and 匿名組合
  distributions (National Tax Agency, 源泉所得税の納付書の記載要領,
  http://www.nta.go.jp/law/jimu-unei/shotoku/gensen/080623/01_02.htm), not the 報酬・料金等 one.
  Payments to non-residents would go on the 非居住者・外国法人 slip; the registry holds none.
- **Two taxes, one figure.** From 2013 to 2037 the 復興特別所得税 (2.1 % of the income tax) is
  withheld with the income tax as one figure (20.42 % = 20 % × 102.1 %) and paid on the same
  slip. The parts are derived from the slip row's total: the income tax is what was withheld
  ÷ 102.1 %, truncated to the yen, and the rest is the surtax (20,420 → 20,000 + 420). Splitting
  each payment instead (payment × 20 %, truncated) would push every payment's truncated fraction
  into the surtax: for the demo's 120 small payments of May 2023 it gives a surtax of 72 where
  2.1 % of the income tax is 106.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from investors.withholding import DIVIDEND, TOKUMEI_KUMIAI
from ledger.calendar import next_business_day
from ledger.errors import SibError
from ledger.rounding import RoundingMode, round_minor

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, the period of one slip (``2022-05``)."""

    year: int
    month: int

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Month:
        """The following month (December → January of the next year)."""
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def parse_month(text: str) -> Month:
    """``YYYY-MM`` as a :class:`Month`; anything else is refused (``TAX_MONTH_INVALID``)."""
    found = _MONTH.match(text.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1900:
        raise SibError(f"month must be written YYYY-MM (e.g. 2022-05), not {text!r}",
                       "TAX_MONTH_INVALID", "month")
    return Month(int(found.group(1)), int(found.group(2)))


def month_of(day: date) -> Month:
    return Month(day.year, day.month)


def due_on(month: Month) -> date:
    """納期限 of tax withheld in ``month``: the 10th of the next month, or the next business
    day when the 10th is not one (2022-06-10 is a Friday: due that day; 2023-06-10 is a
    Saturday: due Monday 2023-06-12)."""
    return next_business_day(date(month.next().year, month.next().month, 10))


def days_late(due: date, paid_on: date) -> int:
    """Days after the due date (0 when paid on or before it). Paying late is allowed; the tax
    office then charges 延滞税 and 不納付加算税, which this system does not compute."""
    return max((paid_on - due).days, 0)


@dataclass(frozen=True)
class SlipCategory:
    """Where an income type's withholding goes on a slip.

    Attributes:
        income_type: the withholding table's income type (``tokumei_kumiai``).
        form_ja / form_en: the slip (所得税徴収高計算書) used to pay it.
        category_ja / category_en: the slip's row (区分) for it.
    """

    income_type: str
    form_ja: str
    form_en: str
    category_ja: str
    category_en: str


INTEREST_ETC_FORM_JA = "利子等の所得税徴収高計算書（納付書）"
INTEREST_ETC_FORM_EN = "Income tax collection statement (payment slip): interest etc."

# The 匿名組合 row and the dividend row are known (a class of tax category none withholds
# nothing, so it is on no slip): interest withheld from an individual also carries the local
# 住民税利子割, which is paid to the prefecture on another slip, so it is refused rather than put
# on this one whole.
SLIP_CATEGORIES: tuple[SlipCategory, ...] = (
    SlipCategory(TOKUMEI_KUMIAI, INTEREST_ETC_FORM_JA, INTEREST_ETC_FORM_EN,
                 "匿名組合契約等に基づく利益の分配",
                 "Profit distributions under silent-partnership (tokumei kumiai) contracts"),
    SlipCategory(DIVIDEND, "配当等の所得税徴収高計算書（納付書）",
                 "Income tax collection statement (payment slip): dividends",
                 "非上場株式等の配当等", "Dividends of unlisted shares"),
)


@dataclass(frozen=True)
class SurtaxPeriod:
    """A surtax levied as a percentage of the income tax withheld, for payments in a period.

    Attributes:
        first_on / last_on: the payments it applies to (inclusive).
        percent_of_income_tax: its rate, in percent of the income tax.
    """

    first_on: date
    last_on: date
    percent_of_income_tax: Decimal


# 復興特別所得税: 2.1 % of the income tax on payments from 2013-01-01 to 2037-12-31.
RECONSTRUCTION_SURTAX = SurtaxPeriod(date(2013, 1, 1), date(2037, 12, 31), Decimal("2.1"))


@dataclass(frozen=True)
class WithheldPayment:
    """One payment to a recipient with the tax withheld from it, as a slip counts it.

    Attributes:
        recipient: the holder's code (a recipient is counted once per row).
        paid_on: the payment date; it decides the slip's month.
        income_type: the withholding table's income type.
        gross_minor / withheld_minor: paid before withholding, and withheld.
    """

    recipient: str
    paid_on: date
    income_type: str
    gross_minor: int
    withheld_minor: int


@dataclass(frozen=True)
class SlipLine:
    """One row (区分) of the slip: the month's figures for one income type.

    Attributes:
        recipients: 人員, the recipients paid with tax withheld.
        paid_minor: 支払額, gross paid to them.
        withheld_minor: 税額, income tax and surtax together (what is paid over).
        income_tax_minor / reconstruction_tax_minor: the two parts of ``withheld_minor``.
    """

    category: SlipCategory
    recipients: int
    paid_minor: int
    withheld_minor: int
    income_tax_minor: int
    reconstruction_tax_minor: int


@dataclass(frozen=True)
class RemittanceSlip:
    """The data of one month's slip (所得税徴収高計算書) and when it is due.

    Attributes:
        month: the month the tax was withheld in (支払年月).
        currency: ISO 4217 code of every amount.
        due_on: 納期限.
        lines: one per income type paid with tax withheld, in the table's order; none when
            nothing was withheld in the month.
        recipients: distinct recipients over all lines.
        last_paid_on: the latest payment of the month (None without payments): the tax
            cannot be paid over before it is withheld.
    """

    month: Month
    currency: str
    due_on: date
    lines: tuple[SlipLine, ...]
    recipients: int
    last_paid_on: date | None

    @property
    def paid_minor(self) -> int:
        return sum(line.paid_minor for line in self.lines)

    @property
    def withheld_minor(self) -> int:
        return sum(line.withheld_minor for line in self.lines)

    @property
    def income_tax_minor(self) -> int:
        return sum(line.income_tax_minor for line in self.lines)

    @property
    def reconstruction_tax_minor(self) -> int:
        return sum(line.reconstruction_tax_minor for line in self.lines)


def split_surtax(withheld_minor: int, month: Month,
                 surtax: SurtaxPeriod = RECONSTRUCTION_SURTAX) -> tuple[int, int]:
    """``(income tax, surtax)`` inside what was withheld in ``month``: the income tax is
    withheld ÷ (100 % + the surtax rate), truncated to the yen; the surtax is the rest
    (25,208 ÷ 102.1 % = 24,689.52 → 24,689 + 519). Outside the surtax's period it is all
    income tax."""
    if not surtax.first_on <= month.first_day <= surtax.last_on:
        return withheld_minor, 0
    income_tax = round_minor(Fraction(withheld_minor) * 100
                             / (100 + Fraction(surtax.percent_of_income_tax)),
                             RoundingMode.TRUNCATE)
    return income_tax, withheld_minor - income_tax


def _category(income_type: str,
              categories: Sequence[SlipCategory]) -> SlipCategory:
    found = next((c for c in categories if c.income_type == income_type), None)
    if found is None:
        raise SibError(f"no payment slip is known for tax withheld on {income_type!r}",
                       "TAX_SLIP_CATEGORY_UNKNOWN", "income_type")
    return found


def _line(month: Month, category: SlipCategory,
          payments: Sequence[WithheldPayment]) -> SlipLine:
    withheld = sum(p.withheld_minor for p in payments)
    return SlipLine(category, len({p.recipient for p in payments}),
                    sum(p.gross_minor for p in payments), withheld,
                    *split_surtax(withheld, month))


def remittance_slip(month: Month, payments: Sequence[WithheldPayment], currency: str,
                    categories: Sequence[SlipCategory] = SLIP_CATEGORIES) -> RemittanceSlip:
    """The slip of ``month`` from the payments made in it.

    Only payments with tax withheld count (a tax-exempt holder's payment is not on the slip).
    A payment dated in another month is refused (``TAX_PAYMENT_OUTSIDE_MONTH``), and so is an
    income type without a known slip row (``TAX_SLIP_CATEGORY_UNKNOWN``).
    """
    for p in payments:
        if month_of(p.paid_on) != month:
            raise SibError(f"a payment of {p.paid_on.isoformat()} is not in {month}",
                           "TAX_PAYMENT_OUTSIDE_MONTH", "paid_on")
    taxed = [p for p in payments if p.withheld_minor > 0]
    types = {p.income_type for p in taxed}
    used = [_category(t, categories) for t in sorted(types)]
    ordered = [c for c in categories if c in used]
    lines = tuple(_line(month, c, [p for p in taxed if p.income_type == c.income_type])
                  for c in ordered)
    return RemittanceSlip(month, currency, due_on(month), lines,
                          len({p.recipient for p in taxed}),
                          max((p.paid_on for p in taxed), default=None))
