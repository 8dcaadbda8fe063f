"""Withholding tax on payments to holders: rates as dated data, the tax on one payment, and the
payment-record data (支払調書) per recipient and calendar year.

Rates are data, not constants in code: a :class:`WithholdingRate` says which holder category and
income type it applies to and from which day, and is made of one or more *components*. A component
is a tax that is computed and truncated to the yen on its own:

- a silent-partnership (匿名組合) distribution to an individual bears 20.42 %, one figure —
  所得税 20 % plus 復興特別所得税 0.42 % (2.1 % of the 20 %) are computed together, as the
  National Tax Agency prescribes, so it is one component;
- interest paid to an individual bears 20.315 %: 15.315 % national (所得税及び復興特別所得税)
  and 5 % local (住民税利子割), two separate taxes, each truncated on its own.

Percentages are ``Decimal`` strings (``"20.42"``), never floats; the only rounding goes through
:func:`ledger.rounding.round_minor`.

A payment record is filed only above a legal threshold, which is data too
(:class:`FilingThreshold`): the 匿名組合 record (匿名組合契約等の利益の分配の支払調書,
所得税法第225条第1項, 所得税法施行規則第85条) is not required for a recipient paid ¥50,000 or
less in the year — filed for 50,001, not for 50,000 (the 提出の省略 rule as summarised at
https://tax-note.com/archives/1064). :func:`record_summary` gives the figures of the summary
sheet filed with the records (合計表).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ledger.errors import Problems, SibError
from ledger.rounding import RoundingMode, round_minor

# Holder tax categories and income types used by the default table. A contract may bring its own
# table with other names; these are only the names the default table knows.
INDIVIDUAL = "individual"
CORPORATE = "corporate"
TAX_EXEMPT = "tax_exempt"
TOKUMEI_KUMIAI = "tokumei_kumiai"
INTEREST = "interest"
DIVIDEND = "dividend"
NONE = "none"
INCOME_TYPES = (TOKUMEI_KUMIAI, INTEREST, DIVIDEND, NONE)
"""Every ``tax_category`` a unit class may have (contracts.instruments.UnitClass): each has a
rate for every holder category below, so that every class can be paid."""


@dataclass(frozen=True)
class WithholdingComponent:
    """One tax withheld, computed and truncated separately from the others.

    Attributes:
        code: stable identifier (``income_tax_and_reconstruction``, ``local_interest``).
        name_ja: the tax's name on Japanese documents (所得税及び復興特別所得税).
        name_en: the tax's name on English documents.
        percent: the rate in percent as a Decimal (``Decimal("15.315")``).
    """

    code: str
    name_ja: str
    name_en: str
    percent: Decimal


@dataclass(frozen=True)
class WithholdingRate:
    """The withholding that applies to one holder category and income type from a date on.

    Attributes:
        tax_category: the holder's category (``individual``, ``corporate``, ``tax_exempt``).
        income_type: what is paid (``tokumei_kumiai`` distribution, ``interest``).
        effective_on: first day of payment to which the rate applies; it applies until the
            next rate of the same category and income type takes effect.
        components: the taxes withheld; none means nothing is withheld.
        basis: where the rate comes from, for the reader of a statement.
    """

    tax_category: str
    income_type: str
    effective_on: date
    components: tuple[WithholdingComponent, ...]
    basis: str = ""

    @property
    def percent(self) -> Decimal:
        """The total rate in percent (``20.315`` for interest to an individual)."""
        return sum((c.percent for c in self.components), Decimal(0))


def _component(code: str, name_ja: str, name_en: str, percent: str) -> WithholdingComponent:
    return WithholdingComponent(code, name_ja, name_en, Decimal(percent))


_NATIONAL_TK = _component("income_tax_and_reconstruction", "所得税及び復興特別所得税",
                          "Income tax and special reconstruction income tax", "20.42")
_NATIONAL_INTEREST = _component("income_tax_and_reconstruction", "所得税及び復興特別所得税",
                                "Income tax and special reconstruction income tax", "15.315")
_NATIONAL_DIVIDEND = _component("income_tax_and_reconstruction", "所得税及び復興特別所得税",
                                "Income tax and special reconstruction income tax", "20.42")
_LOCAL_INTEREST = _component("local_interest", "住民税利子割", "Local inhabitant tax on interest",
                             "5")
# The special reconstruction income tax (復興特別所得税, 2.1 % of income tax) applies to payments
# from 2013-01-01; a change in the law is a new row with its effective date, not an edit.
_RECONSTRUCTION_FROM = date(2013, 1, 1)

DEFAULT_RATES: tuple[WithholdingRate, ...] = (
    WithholdingRate(INDIVIDUAL, TOKUMEI_KUMIAI, _RECONSTRUCTION_FROM, (_NATIONAL_TK,),
                    "所得税20% + 復興特別所得税0.42%"),
    WithholdingRate(INDIVIDUAL, INTEREST, _RECONSTRUCTION_FROM,
                    (_NATIONAL_INTEREST, _LOCAL_INTEREST),
                    "所得税15% + 復興特別所得税0.315% + 住民税利子割5%"),
    WithholdingRate(CORPORATE, TOKUMEI_KUMIAI, _RECONSTRUCTION_FROM, (_NATIONAL_TK,),
                    "所得税20% + 復興特別所得税0.42%"),
    WithholdingRate(CORPORATE, INTEREST, _RECONSTRUCTION_FROM, (_NATIONAL_INTEREST,),
                    "所得税15% + 復興特別所得税0.315% (法人に利子割なし)"),
    WithholdingRate(TAX_EXEMPT, TOKUMEI_KUMIAI, _RECONSTRUCTION_FROM, (),
                    "非課税 (公共法人等)"),
    WithholdingRate(TAX_EXEMPT, INTEREST, _RECONSTRUCTION_FROM, (),
                    "非課税 (公共法人等)"),
    # Dividends of an unlisted company (an SPV's shares are not listed): 20.42 % to individuals
    # and companies alike, with no local 配当割 (that is withheld on listed shares only).
    WithholdingRate(INDIVIDUAL, DIVIDEND, _RECONSTRUCTION_FROM, (_NATIONAL_DIVIDEND,),
                    "非上場株式等の配当等: 所得税20% + 復興特別所得税0.42%"),
    WithholdingRate(CORPORATE, DIVIDEND, _RECONSTRUCTION_FROM, (_NATIONAL_DIVIDEND,),
                    "非上場株式等の配当等: 所得税20% + 復興特別所得税0.42%"),
    WithholdingRate(TAX_EXEMPT, DIVIDEND, _RECONSTRUCTION_FROM, (),
                    "非課税 (公共法人等)"),
    # A class whose distributions bear no withholding by the contract's terms: paid gross.
    *(WithholdingRate(category, NONE, date(1900, 1, 1), (), "源泉徴収の対象外")
      for category in (INDIVIDUAL, CORPORATE, TAX_EXEMPT)),
)


def rate_for(tax_category: str, income_type: str, on: date,
             table: Sequence[WithholdingRate] = DEFAULT_RATES) -> WithholdingRate:
    """The rate in force on ``on`` for a holder category and income type.

    Refuses, with a named code, a category or income type the table does not know
    (``WITHHOLDING_CATEGORY_UNKNOWN`` / ``WITHHOLDING_INCOME_TYPE_UNKNOWN``) and a date before
    the first rate of that pair (``WITHHOLDING_RATE_NOT_IN_FORCE``): guessing a rate would put
    a wrong figure on a tax record.
    """
    if not any(r.tax_category == tax_category for r in table):
        raise SibError(f"no withholding rates for the tax category {tax_category!r}",
                       "WITHHOLDING_CATEGORY_UNKNOWN", "tax_category")
    candidates = [r for r in table
                  if r.tax_category == tax_category and r.income_type == income_type]
    if not candidates:
        raise SibError(f"no withholding rate for {income_type!r} paid to {tax_category!r}",
                       "WITHHOLDING_INCOME_TYPE_UNKNOWN", "income_type")
    in_force = [r for r in candidates if r.effective_on <= on]
    if not in_force:
        first = min(r.effective_on for r in candidates)
        raise SibError(f"no withholding rate for {income_type!r} paid to {tax_category!r} on "
                       f"{on.isoformat()}: the first rate takes effect on {first.isoformat()}",
                       "WITHHOLDING_RATE_NOT_IN_FORCE", "paid_on")
    return max(in_force, key=lambda r: r.effective_on)


def _check_gross(gross_minor: int) -> None:
    if not isinstance(gross_minor, int) or isinstance(gross_minor, bool):
        raise SibError("the gross amount must be an integer of minor units",
                       "AMOUNT_NOT_INTEGER", "gross_minor")
    if gross_minor < 0:
        raise SibError("withholding applies to payments, not refunds: the gross amount is "
                       "negative", "WITHHOLDING_NEGATIVE_GROSS", "gross_minor")


def component_taxes(gross_minor: int, rate: WithholdingRate,
                    rounding: RoundingMode | str = RoundingMode.TRUNCATE) -> tuple[int, ...]:
    """The tax of each component of ``rate`` on ``gross_minor``, each rounded on its own.

    Japanese withholding truncates each tax to the yen (1円未満切捨て), which is the default.
    """
    _check_gross(gross_minor)
    return tuple(round_minor(Fraction(gross_minor) * Fraction(c.percent) / 100, rounding)
                 for c in rate.components)


def withhold(gross_minor: int, rate: WithholdingRate,
             rounding: RoundingMode | str = RoundingMode.TRUNCATE) -> tuple[int, int]:
    """``(tax_minor, net_minor)`` for a gross payment: tax + net is always the gross.

    Example: 100,000 yen 匿名組合 distribution to an individual → (20,420, 79,580);
    12,345 yen interest to an individual → 1,890 + 617 = (2,507, 9,838).
    """
    tax_minor = sum(component_taxes(gross_minor, rate, rounding))
    return tax_minor, gross_minor - tax_minor


@dataclass(frozen=True)
class Recipient:
    """Who received payments, as a payment record names them. No national identification
    number is kept: the filing software adds it from its own protected source.

    Attributes:
        holder_id: the holder's id in the registry.
        name: name as registered (kanji for Japanese residents).
        name_kana: reading in katakana.
        address: address for the record.
    """

    holder_id: str
    name: str
    name_kana: str = ""
    address: str = ""


@dataclass(frozen=True)
class WithholdingPayment:
    """One payment to a recipient with the tax withheld from it.

    Attributes:
        paid_on: payment date; the payment record's year is the calendar year of this date.
        income_type: ``tokumei_kumiai``, ``interest``…
        gross_minor: amount before withholding, in minor units.
        withheld_minor: tax withheld, in minor units.
        currency: ISO 4217 code.
    """

    paid_on: date
    income_type: str
    gross_minor: int
    withheld_minor: int
    currency: str = "JPY"

    @property
    def net_minor(self) -> int:
        """What the recipient received in cash."""
        return self.gross_minor - self.withheld_minor


@dataclass(frozen=True)
class PaymentRecordLine:
    """Totals of one income type within a payment record.

    Attributes:
        income_type: the income type these totals are for.
        paid_minor: total gross paid.
        withheld_minor: total tax withheld.
        count: number of payments.
    """

    income_type: str
    paid_minor: int
    withheld_minor: int
    count: int


@dataclass(frozen=True)
class PaymentRecord:
    """The data of a payment record (支払調書) for one recipient and calendar year.

    Attributes:
        recipient: who was paid.
        year: calendar year (a payment record follows the calendar year, not the fiscal year).
        currency: ISO 4217 code of every amount.
        paid_minor: total gross paid in the year.
        withheld_minor: total tax withheld in the year.
        count: number of payments in the year.
        lines: the same totals per income type, in name order.
        must_file: whether the record is filed with the tax office: some line is paid more
            than its income type's threshold, or has no known threshold (filing one record
            too many costs nothing; leaving out a required one is an offence).
        threshold_minor: the threshold of the record's income types (the highest if they
            differ; None when none is known).
    """

    recipient: Recipient
    year: int
    currency: str
    paid_minor: int
    withheld_minor: int
    count: int
    lines: tuple[PaymentRecordLine, ...]
    must_file: bool = True
    threshold_minor: int | None = None


def _check_payments(payments: Sequence[WithholdingPayment]) -> None:
    problems = Problems()
    currencies = {p.currency for p in payments}
    if len(currencies) > 1:
        problems.add("CURRENCY_MIXED", f"payments in several currencies: {sorted(currencies)}",
                     "payments")
    for i, p in enumerate(payments):
        if not 0 <= p.withheld_minor <= p.gross_minor:
            problems.add("WITHHOLDING_INVALID", f"withheld {p.withheld_minor} is not between 0 "
                         f"and the gross {p.gross_minor}", f"payments[{i}].withheld_minor")
    problems.raise_if_any()


def _line(income_type: str, payments: Iterable[WithholdingPayment]) -> PaymentRecordLine:
    chosen = [p for p in payments if p.income_type == income_type]
    return PaymentRecordLine(income_type, sum(p.gross_minor for p in chosen),
                             sum(p.withheld_minor for p in chosen), len(chosen))


def payment_record(recipient: Recipient, year: int, payments: Sequence[WithholdingPayment],
                   currency: str = "JPY",
                   thresholds: Sequence[FilingThreshold] | None = None) -> PaymentRecord:
    """Totals paid and withheld for ``recipient`` in calendar ``year``, and whether the record
    is filed (``thresholds``: the default table unless given).

    ``payments`` may be the recipient's whole history: payments dated in other years are left
    out, which is what the record means. Mixed currencies and impossible withholding are
    refused with every problem named.
    """
    thresholds = DEFAULT_FILING_THRESHOLDS if thresholds is None else thresholds
    _check_payments(payments)
    in_year = [p for p in payments if p.paid_on.year == year]
    if in_year:
        currency = in_year[0].currency
    lines = tuple(_line(t, in_year) for t in sorted({p.income_type for p in in_year}))
    must_file, threshold = _filing(lines, currency, thresholds)
    return PaymentRecord(recipient, year, currency, sum(line.paid_minor for line in lines),
                         sum(line.withheld_minor for line in lines),
                         sum(line.count for line in lines), lines, must_file, threshold)


@dataclass(frozen=True)
class FilingThreshold:
    """The amount up to which a payment record of an income type is not filed.

    Attributes:
        income_type: the income type the record reports (``tokumei_kumiai``).
        currency: ISO 4217 code of ``threshold_minor``.
        threshold_minor: a recipient paid (gross) more than this in the calendar year gets a
            filed record; one paid this much or less does not.
        basis: where the rule comes from, for the reader.
    """

    income_type: str
    currency: str
    threshold_minor: int
    basis: str = ""


DEFAULT_FILING_THRESHOLDS: tuple[FilingThreshold, ...] = (
    FilingThreshold(TOKUMEI_KUMIAI, "JPY", 50_000,
                    "所得税法第225条第1項・所得税法施行規則第85条: 同一人への年間の支払金額が"
                    "5万円以下なら提出不要"),
    # 配当等の支払調書: not filed for a payment of at most 100,000 yen × the months of its
    # calculation period ÷ 12 — 100,000 a year for a class that distributes once a year, which
    # is what this yearly figure assumes (a class paying more often needs its own table).
    FilingThreshold(DIVIDEND, "JPY", 100_000,
                    "所得税法施行規則第83条: 年1回の配当で1回の支払金額が10万円以下なら提出不要"),
)


def filing_threshold(income_type: str, currency: str,
                     thresholds: Sequence[FilingThreshold] = DEFAULT_FILING_THRESHOLDS
                     ) -> FilingThreshold | None:
    """The filing threshold of an income type's record in ``currency`` (None if unknown)."""
    return next((t for t in thresholds
                 if t.income_type == income_type and t.currency == currency), None)


def _filing(lines: Sequence[PaymentRecordLine], currency: str,
            thresholds: Sequence[FilingThreshold]) -> tuple[bool, int | None]:
    """(must file, threshold) for a record's lines; a record with no payment is not filed."""
    found = [filing_threshold(line.income_type, currency, thresholds) for line in lines]
    # Payments outside any withholding regime (a class of tax category none) have no record.
    must_file = any(rule is None or line.paid_minor > rule.threshold_minor
                    for line, rule in zip(lines, found)
                    if line.count and line.income_type != NONE)
    known = [rule.threshold_minor for rule in found if rule is not None]
    return must_file, max(known) if known else None


@dataclass(frozen=True)
class RecordSummary:
    """The figures of the summary sheet (合計表) of a year's payment records.

    Attributes:
        year: calendar year of the records.
        currency: ISO 4217 code of every amount.
        filed_count / filed_paid_minor / filed_withheld_minor: the records filed (人員,
            支払金額, 源泉徴収税額 of 提出するもの).
        below_count / below_paid_minor / below_withheld_minor: recipients at or below the
            threshold, whose records are not filed.
    """

    year: int
    currency: str
    filed_count: int
    filed_paid_minor: int
    filed_withheld_minor: int
    below_count: int
    below_paid_minor: int
    below_withheld_minor: int

    @property
    def total_count(self) -> int:
        return self.filed_count + self.below_count

    @property
    def total_paid_minor(self) -> int:
        return self.filed_paid_minor + self.below_paid_minor

    @property
    def total_withheld_minor(self) -> int:
        return self.filed_withheld_minor + self.below_withheld_minor


def record_summary(year: int, records: Sequence[PaymentRecord],
                   currency: str = "JPY") -> RecordSummary:
    """The 合計表 figures of ``records`` (the year's records, one per recipient): filed and
    not filed, each with its count, total paid and total withheld. Records with no payment in
    the year are not counted."""
    paid = [r for r in records if r.count]
    if paid:
        currency = paid[0].currency
    filed = [r for r in paid if r.must_file]
    below = [r for r in paid if not r.must_file]
    return RecordSummary(year, currency, len(filed), sum(r.paid_minor for r in filed),
                         sum(r.withheld_minor for r in filed), len(below),
                         sum(r.paid_minor for r in below), sum(r.withheld_minor for r in below))
