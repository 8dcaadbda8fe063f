"""Funding instruments of a contract: grants, loans, investor unit classes, guarantees and
contributions, as a discriminated union on ``type``.

They describe who puts money in and on what terms; settlement derives repayment schedules,
interest and distributions from them, and the ledger opens a sub-account per instrument.
Amount attributes are integer minor units (``*_minor``); the document keys drop the suffix.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.values import (
    AmountMinor,
    ExactDecimal,
    FiscalYear,
    GrantRate,
    Percent,
    Slug,
    UnitRate,
)
from ledger.rounding import RoundingMode


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Grant(_Frozen):
    """A public grant paying part of one or more payers' cost, such as 地方創生推進交付金.

    Attributes:
        id: instrument id.
        grantor: party id of the grantor (role ``grantor``).
        subsidises: payer party ids whose cost the grant subsidises.
        rate: exact share of the subsidised cost (``Fraction(1, 2)`` for "1/2").
        cap_minor: most the grant pays over its years (document key ``cap``), if capped.
        cap_per_year_minor: most it pays in one fiscal year (``cap_per_year``), if capped.
        first_fiscal_year, last_fiscal_year: the years it covers.
        name_ja, name_en: the programme's name.
        eligible: which of the payers' costs are eligible project cost under the grant's
            terms: outcome payments and/or the fixed fees a payer pays its providers.
        rounding_unit_minor: the grant is computed in this unit, fractions dropped
            (``rounding_unit: "1,000"`` for 千円未満切捨て); 1 by default.
    """

    type: Literal["grant"] = "grant"
    id: Slug
    name_ja: str = ""
    name_en: str = ""
    grantor: Slug
    subsidises: tuple[Slug, ...] = Field(min_length=1)
    rate: GrantRate
    cap_minor: AmountMinor | None = Field(default=None, alias="cap")
    cap_per_year_minor: AmountMinor | None = Field(default=None, alias="cap_per_year")
    first_fiscal_year: FiscalYear
    last_fiscal_year: FiscalYear
    eligible: tuple[Literal["outcome_payments", "fixed_fees"], ...] = Field(
        default=("outcome_payments",), min_length=1)
    rounding_unit_minor: AmountMinor = Field(default=1, alias="rounding_unit")


class Draw(_Frozen):
    """One drawdown of a loan.

    Attributes:
        drawn_on: value date of the draw.
        amount_minor: amount drawn (document key ``amount``).
    """

    drawn_on: date
    amount_minor: AmountMinor = Field(alias="amount")


class TableRow(_Frozen):
    """One due date of a custom repayment table (約定返済表).

    Attributes:
        due_on: the nominal due date (moved by the loan's business-day convention).
        principal_minor: principal due that day (document key ``principal``); 0 for a date
            that pays interest only.
    """

    due_on: date
    principal_minor: AmountMinor = Field(alias="principal")


class Repayment(_Frozen):
    """How a loan's principal comes back.

    Attributes:
        profile: ``bullet`` (all at the end), ``equal_principal`` (元金均等), ``annuity``
            (元利均等) or ``custom`` (the agreement's own table, ``table``).
        table: for ``custom``: every due date with its principal, in date order; the
            principal adds up to what is drawn. Interest is due on every date of it.
        grace_period_months: months after the first draw with interest only (据置期間).
        instalments: number of principal instalments (1 for a bullet).
        frequency_months: months between instalments.
        first_repayment_on: nominal due date of the first principal instalment, if fixed.
        first_due_on: nominal first due date of interest, when the agreement fixes it (the
            grace period's interest-only dates then run from it, every ``frequency_months``,
            and must meet ``first_repayment_on``); by default they are counted back from
            ``first_repayment_on`` to just after the first draw.
        end_of_month: 末日 stays 末日: when the due dates start on a month's last day, each is
            its month's last day (「毎年3月末日及び9月末日」: 30 Sep → 31 Mar, not 30 Mar).
            Default false: the same day of the month, clipped to the month's length.
        business_day: where a due date on a bank holiday (weekend, Japanese public holiday,
            31 Dec–3 Jan) moves: ``following`` (翌営業日, the default), ``modified_following``
            (翌営業日, or 前営業日 if that is in the next month), ``preceding`` (前営業日).
    """

    profile: Literal["bullet", "equal_principal", "annuity", "custom"]
    table: tuple[TableRow, ...] = ()
    grace_period_months: int = Field(default=0, ge=0)
    instalments: int = Field(default=1, ge=1)
    frequency_months: int = Field(default=12, ge=1, le=12)
    first_repayment_on: date | None = None
    first_due_on: date | None = None
    end_of_month: bool = False
    business_day: Literal["following", "modified_following", "preceding"] = "following"


class Prepayment(_Frozen):
    """When and how a loan may be repaid ahead of its schedule (期限前弁済).

    Attributes:
        allowed_from: the first date a prepayment may be made (any date when absent).
        minimum_minor: the smallest prepayment accepted (document key ``minimum``).
        fee_rate: a fee on the amount prepaid (``"0.005"`` = 0.5 %), paid to the lender with
            the prepayment; none by default.
        effect: what the prepayment does to the remaining schedule: ``shorten_term``
            (期間短縮型: the last instalments are cancelled, from the last one back, until the
            amount is used) or ``lower_instalment`` (返済額軽減型: the remaining instalments
            are rebuilt on the lower balance over the same due dates).
    """

    allowed_from: date | None = None
    minimum_minor: AmountMinor = Field(default=0, alias="minimum")
    fee_rate: UnitRate | None = None
    effect: Literal["shorten_term", "lower_instalment"] = "shorten_term"


class CashSweep(_Frozen):
    """A share of the money left after a waterfall's claims that prepays the loan.

    Attributes:
        share: the share of the surplus swept (``"0.5"`` = half).
        from_on: the first distribution date the sweep applies to.
    """

    share: UnitRate
    from_on: date


class Loan(_Frozen):
    """A bank loan to the intermediary or SPV, drawn once or several times.

    Interest defaults follow Japanese bank practice: ACT/365 fixed, counting the first day and
    not the last (片端), truncated to the minor unit; each is a per-loan setting.

    Attributes:
        id: instrument id.
        lender: party id (role ``lender``).
        borrower: party id of the borrower (the intermediary or SPV).
        commitment_minor: most that may be drawn (document key ``commitment``).
        draws: planned draws; their sum may not exceed the commitment.
        rate_annual: annual interest rate (``"0.015"`` = 1.5 %).
        day_count: ``ACT/365F``, ``ACT/360`` or ``30/360``.
        count_first_day, count_last_day: which ends of an interest period count (片端: first
            only; 両端: both).
        interest_rounding: how a fractional interest amount becomes whole minor units.
        repayment: the principal profile.
        seniority: 1 is the most senior; higher numbers are repaid later and lose first.
        repayment_from_outcomes: limited recourse to the outcome payments: the loan keeps its
            due dates like any other, and what the outcomes did not cover by the contract's
            final distribution is written down (after any guarantee) rather than left owing.
        default_interest_rate_annual: 遅延損害金: the yearly rate on an amount not paid on its
            due date, by the day from the day after the due date to the day it is paid
            (ACT/365, truncated per arrear and payment); none when absent.
        default_interest_on: which overdue amounts bear default interest: ``principal``
            and/or ``interest`` (「支払うべき金額」: both, by default).
        prepayment: the prepayment terms; a loan without them cannot be prepaid.
        cash_sweep: the share of each distribution's surplus that prepays the loan, if any.
    """

    type: Literal["loan"] = "loan"
    id: Slug
    name_ja: str = ""
    name_en: str = ""
    lender: Slug
    borrower: Slug
    commitment_minor: AmountMinor = Field(alias="commitment")
    draws: tuple[Draw, ...] = Field(min_length=1)
    rate_annual: UnitRate
    day_count: Literal["ACT/365F", "ACT/360", "30/360"] = "ACT/365F"
    count_first_day: bool = True
    count_last_day: bool = False
    interest_rounding: RoundingMode = RoundingMode.TRUNCATE
    repayment: Repayment
    seniority: int = Field(default=1, ge=1)
    repayment_from_outcomes: bool = False
    default_interest_rate_annual: UnitRate | None = None
    default_interest_on: tuple[Literal["principal", "interest"], ...] = ("principal",
                                                                          "interest")
    prepayment: Prepayment | None = None
    cash_sweep: CashSweep | None = None


class RateTier(_Frozen):
    """One row of a return tier table: an audited KPI value in ``[from, to)`` sets the rate.

    Attributes:
        from_value: lowest value of the tier (included; document key ``from``).
        to_value: value where the next tier starts (excluded; ``to``); None: no upper end.
        rate: the annual rate paid for the fiscal year.
    """

    from_value: ExactDecimal = Field(alias="from")
    to_value: ExactDecimal | None = Field(default=None, alias="to")
    rate: UnitRate


class CurvePoint(_Frozen):
    """A point of a return curve: at the KPI result ``value`` the rate is ``rate``."""

    value: ExactDecimal
    rate: UnitRate


class ReturnCap(_Frozen):
    """The most a class's return may reach: one of an annual rate (simple, on its capital),
    an IRR on its dated cash flows, or a multiple of the capital paid in (capital included:
    1.5 means the return is at most half the capital)."""

    rate: UnitRate | None = None
    irr: UnitRate | None = None
    multiple: ExactDecimal | None = None


class ReturnTerms(_Frozen):
    """How a unit class earns its return, as data (issue 13).

    Attributes:
        rule: ``simple`` (``rate`` a year on each amount of capital from the day it is paid in,
            ACT/365); ``compounding`` (``rate`` a year compounded once a year on the dated cash
            flows, simple within a year); ``irr`` (the payment that brings the class to
            exactly ``rate`` IRR on its dated cash flows, ACT/365); ``fixed_amount``
            (``amount`` in total, owed at the final distribution); ``tiered`` (each fiscal
            year's simple rate from ``tiers`` on the audited final result of ``kpi`` for that
            year; a year not yet audited earns the minimum, if any, until its result is in);
            ``curve``: the same, with the year's rate read off a piecewise-linear curve
            through ``points`` (the first point's rate below it, the last's above it).
        rate: the annual rate of ``simple``, ``compounding`` and ``irr``.
        amount_minor: the total return of ``fixed_amount`` (document key ``amount``).
        basis: what a ``tiered`` or ``curve`` rule reads each fiscal year: ``kpi`` (the
            audited final result of ``kpi``), ``outcome_payments`` (the outcome payments the
            vehicle has received for that year's results, in major units of the currency:
            tier bounds such as ``"10,000,000"``) or ``outcome_payments_percent`` (the same
            as a percentage of the most the year's tranches can pay). A year with nothing
            received yet earns the minimum, if any, until its payment is in.
        kpi, tiers, points: the KPI and the tier table of ``tiered`` or the points of
            ``curve``.
        minimum_rate, minimum_years: a minimum coupon: at least ``minimum_rate`` a year for
            the first ``minimum_years`` fiscal years from the first sale (``simple`` and
            ``tiered``).
        cap: the most the return may reach.
    """

    rule: Literal["simple", "compounding", "irr", "fixed_amount", "tiered", "curve"]
    rate: UnitRate | None = None
    amount_minor: AmountMinor | None = Field(default=None, alias="amount")
    basis: Literal["kpi", "outcome_payments", "outcome_payments_percent"] = "kpi"
    kpi: Slug | None = None
    tiers: tuple[RateTier, ...] = ()
    points: tuple[CurvePoint, ...] = ()
    minimum_rate: UnitRate | None = None
    minimum_years: int | None = Field(default=None, ge=1)
    cap: ReturnCap | None = None


class Redemption(_Frozen):
    """A scheduled return of capital: from ``on``, ``percent`` of the capital paid in is
    owed back (cumulatively: 25 then 100 returns a quarter, then the rest)."""

    on: date
    percent: Percent


class UnitClass(_Frozen):
    """A class of investor units, such as silent-partnership units (匿名組合出資) sold to
    citizens.

    Attributes:
        id: instrument id.
        issuer: party id issuing the units (the intermediary or SPV).
        unit_price_minor: price of one unit (document key ``unit_price``).
        units_offered: number of units offered.
        seniority: 1 is the most senior; a shortfall falls on the highest number first.
        principal: ``protected`` or ``at_risk``. A protected class names what protects it
            in ``protected_by``; it bears a write-down only after that protection is used up.
        protected_by: ids of the guarantees covering the class (each must cover it); required
            when ``principal`` is ``protected``.
        target_return_annual: target yearly return (``"0.02"`` = 2 %), simple interest; the
            same as ``returns: {rule: simple, rate: …}``.
        returns: the class's return rule when it is not a plain simple rate.
        redemptions: capital returned on a schedule before the end (the rest at the end).
        tax_category: what withholding applies to distributions (``tokumei_kumiai`` 20.42 %,
            ``interest`` 20.315 %, ``dividend``, ``none``); the rates themselves are data
            elsewhere, with effective dates.
        first_sale_fiscal_year: the fiscal year units are first sold.
        investors: party ids of named investors, if any (citizens are usually not parties).
    """

    type: Literal["unit_class"] = "unit_class"
    id: Slug
    name_ja: str = ""
    name_en: str = ""
    issuer: Slug
    unit_price_minor: AmountMinor = Field(alias="unit_price")
    units_offered: int = Field(ge=1)
    seniority: int = Field(default=1, ge=1)
    principal: Literal["protected", "at_risk"]
    protected_by: tuple[Slug, ...] = ()
    target_return_annual: UnitRate | None = None
    tax_category: Literal["tokumei_kumiai", "interest", "dividend", "none"]
    first_sale_fiscal_year: FiscalYear
    investors: tuple[Slug, ...] = ()
    returns: ReturnTerms | None = None
    redemptions: tuple[Redemption, ...] = ()


class Guarantee(_Frozen):
    """A guarantee covering part of the loss on a loan or unit class.

    Attributes:
        id: instrument id.
        guarantor: party id (role ``guarantor``).
        covers: id of the loan or unit class covered.
        cover_percent: percentage of the loss covered, if given.
        cover_max_minor: most the guarantor pays (document key ``cover_max``), if given.
            At least one of the two is required.
    """

    type: Literal["guarantee"] = "guarantee"
    id: Slug
    name_ja: str = ""
    name_en: str = ""
    guarantor: Slug
    covers: Slug
    cover_percent: Percent | None = None
    cover_max_minor: AmountMinor | None = Field(default=None, alias="cover_max")


class Contribution(_Frozen):
    """Money or in-kind value put in without expecting it back: a partner's own share of a
    programme's cost, or a donation through a municipality (ふるさと納税 etc.).

    Attributes:
        id: instrument id.
        contributor: party id (role ``contributor``).
        amount_minor: amount contributed (document key ``amount``).
        fiscal_year: the year of the contribution.
        towards: payer or cohort id the contribution is for, if specific.
        in_kind: true when the value is services rather than cash.
    """

    type: Literal["contribution"] = "contribution"
    id: Slug
    name_ja: str = ""
    name_en: str = ""
    contributor: Slug
    amount_minor: AmountMinor = Field(alias="amount")
    fiscal_year: FiscalYear
    towards: Slug | None = None
    in_kind: bool = False


class Donation(_Frozen):
    """Donations made through the municipalities for the programme (寄附（自治体経由）):
    ふるさと納税 by residents, 企業版ふるさと納税 by companies, or another designated gift.
    Each is the receiving municipality's revenue designated for the programme (a funding
    source of what it pays under the contract), not money the vehicle may keep. The contract
    names the scheme and who may receive them; no amount: donations are recorded as they
    arrive (``sib money donation``), each with its donor and date.

    Attributes:
        id: instrument id.
        via: the payers (municipalities) the donations are made to.
        scheme: ``kigyo_furusato`` (企業版ふるさと納税, 地方創生応援税制), ``furusato``
            (ふるさと納税) or ``other`` (another gift designated for the programme).
    """

    type: Literal["donation"] = "donation"
    id: Slug
    name_ja: str = ""
    name_en: str = ""
    via: tuple[Slug, ...] = Field(min_length=1)
    scheme: Literal["kigyo_furusato", "furusato", "other"] = "other"


Instrument = Annotated[Grant | Loan | UnitClass | Guarantee | Contribution | Donation,
                       Field(discriminator="type")]
"""Any funding instrument, chosen by its ``type``."""
