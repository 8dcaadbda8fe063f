"""The typed, immutable contract: parties, payers and their authorisations, providers, KPIs,
payment tranches, caps, tax, waterfall and amendment history.

A :class:`Contract` is built from a document (YAML or JSON) by :mod:`contracts.validate`, which
also runs the cross-field checks; constructing one directly only checks each field's shape.
Amounts are ``int`` minor units in attributes named ``*_minor``; in documents the key drops the
suffix and the amount is written in the contract currency (``max_amount: "3,000,000"``).
``contract.model_dump(by_alias=True)`` gives the document form back (see :func:`to_document`).
Models are frozen; mappings inside them must be treated as read-only.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from contracts.instruments import (
    Contribution,
    Draw,
    Grant,
    Guarantee,
    Instrument,
    Loan,
    Repayment,
    UnitClass,
)
from contracts.rules import (
    BinaryThresholdRule,
    FixedRule,
    LinearRule,
    PaymentRule,
    ProRataRule,
    RateCardRule,
    SavingsShareRule,
    SteppedRule,
    Tier,
)
from contracts.values import (
    AmountMinor,
    CurrencyCode,
    ExactDecimal,
    FiscalYear,
    InvoiceNumber,
    Percent,
    Slug,
    UnitRate,
    currency_scope,
)
from ledger.calendar import (
    NAMED_BY_START,
    FiscalYearNaming,
    fiscal_year_bounds,
    fiscal_year_of,
)
from ledger.errors import NotFound
from ledger.rounding import RemainderPolicy, RoundingMode

# The one code for "this party is not a payer of this contract", wherever it is found.
PAYER_NOT_FOUND = "PAYER_NOT_FOUND"


def not_a_payer(contract_id: str, party_id: str) -> str:
    """The message of :data:`PAYER_NOT_FOUND`."""
    return f"{party_id!r} is not a payer of {contract_id}"

__all__ = [
    "Amendment", "Authorisation", "BinaryThresholdRule", "Caps", "Cohort", "ConsumptionTax",
    "Contract", "Contribution", "Draw", "FixedRule", "FixedShares", "Grant", "Guarantee",
    "Instrument", "Kpi", "LinearRule", "Loan", "Party", "Payer", "PayerShares", "PaymentRule",
    "ProRataRule", "ProportionalShares", "ProviderTerms", "RateCardRule", "Repayment",
    "RoundingPolicy", "SavingsShareRule", "ScheduledShares", "SteppedRule", "Tier", "Tranche",
    "UnitClass", "ROLES", "WATERFALL_STEPS", "to_document",
]

Role = Literal["outcome_payer", "intermediary", "service_provider", "sub_provider", "evaluator",
               "lender", "investor", "grantor", "guarantor", "contributor"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]

PartyKind = Literal["municipality", "prefecture", "national_government", "company", "bank",
                    "university", "foundation", "npo", "spv", "individual", "other"]

WaterfallStep = Literal["provider_fees", "costs", "interest", "principal", "investor_returns"]
WATERFALL_STEPS: tuple[str, ...] = WaterfallStep.__args__  # type: ignore[attr-defined]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoundingPolicy(_Frozen):
    """How this contract's payments are rounded and split.

    Attributes:
        mode: fraction of a minor unit → whole (``truncate``: the municipal rule 端数切捨て).
        remainder_policy: where a split's leftover minor units go (``first_part``: to the
            first payer or instalment, 端数計算法; ``largest_remainder``: Hamilton).
    """

    mode: RoundingMode = RoundingMode.TRUNCATE
    remainder_policy: RemainderPolicy = RemainderPolicy.FIRST_PART


class Party(_Frozen):
    """Someone who signs, pays, is paid, lends, invests, grants, guarantees or evaluates.

    Attributes:
        id: short id used everywhere else in the contract (``ube``, ``yamaguchi-bank``).
        name_ja, name_en: names as printed on documents.
        kind: legal kind (``municipality``, ``company``, ``bank``…).
        roles: what the party does in this contract.
        invoice_registration_number: 適格請求書発行事業者登録番号 (``T`` + 13 digits), for
            parties issuing qualified invoices.
    """

    id: Slug
    name_ja: str = ""
    name_en: str = ""
    kind: PartyKind
    roles: tuple[Role, ...] = Field(min_length=1)
    invoice_registration_number: InvoiceNumber | None = None


class Authorisation(_Frozen):
    """A payer's budget authorisation for the contract (債務負担行為): a maximum over a period.

    Attributes:
        max_amount_minor: the limit over the whole period (document key ``max_amount``).
        from_fiscal_year, to_fiscal_year: the authorised period.
        limits_by_year_minor: per-year limits, where the council set them
            (document key ``limits_by_year``).
        account: the budget account it is charged to (一般会計, 国民健康保険特別会計…).
    """

    max_amount_minor: AmountMinor = Field(alias="max_amount")
    from_fiscal_year: FiscalYear
    to_fiscal_year: FiscalYear
    limits_by_year_minor: dict[FiscalYear, AmountMinor] = Field(default_factory=dict,
                                                                alias="limits_by_year")
    account: str = ""


class Payer(_Frozen):
    """An outcome payer: its own budget and authorisation. The first payer listed is the lead
    payer (contract representative) and, under ``first_part``, receives split remainders.

    Attributes:
        party: the paying party's id (role ``outcome_payer``).
        authorisation: its budget authorisation for this contract.
    """

    party: Slug
    authorisation: Authorisation


class FixedShares(_Frozen):
    """Payers share every payment in fixed percentages (summing to 100).

    Attributes:
        percent: payer id → percentage.
    """

    basis: Literal["fixed"] = "fixed"
    percent: dict[Slug, Percent]


class ProportionalShares(_Frozen):
    """Payers share in proportion to a quantity such as population or participants.

    Attributes:
        quantity_name: what is counted (``population``, ``participants``).
        quantities: payer id → quantity, for every year.
        quantities_by_year: fiscal year → payer id → quantity, overriding ``quantities``.
    """

    basis: Literal["proportional"] = "proportional"
    quantity_name: str
    quantities: dict[Slug, Annotated[int, Field(ge=0)]]
    quantities_by_year: dict[FiscalYear, dict[Slug, Annotated[int, Field(ge=0)]]] = Field(
        default_factory=dict)


class ScheduledShares(_Frozen):
    """A separate percentage per payer for each fiscal year (each year summing to 100).

    Attributes:
        percent_by_year: fiscal year → payer id → percentage.
    """

    basis: Literal["schedule"] = "schedule"
    percent_by_year: dict[FiscalYear, dict[Slug, Percent]]


PayerShares = Annotated[FixedShares | ProportionalShares | ScheduledShares,
                        Field(discriminator="basis")]
"""How outcome payments are split between payers, chosen by ``basis``."""


class ProviderTerms(_Frozen):
    """What a service provider or sub-provider is paid: fixed fees, an outcome share, or both.

    Attributes:
        party: the provider's id.
        paid_by: who pays the fees: the intermediary, or a payer directly (then the fixed
            fees count against that payer's authorisation).
        fixed_by_year_minor: fixed fee per fiscal year (document key ``fixed_by_year``).
        outcome_share: share of the outcome payments received (``"0.50"``).
        outcome_share_of_payers: payers whose outcome payments the share is taken from
            (empty: all payers).
        cohorts: cohort ids the provider serves.
        parent: for a sub-provider, the provider it works under.
    """

    party: Slug
    paid_by: Slug
    fixed_by_year_minor: dict[FiscalYear, AmountMinor] = Field(default_factory=dict,
                                                              alias="fixed_by_year")
    outcome_share: UnitRate | None = None
    outcome_share_of_payers: tuple[Slug, ...] = ()
    cohorts: tuple[Slug, ...] = ()
    parent: Slug | None = None


class Cohort(_Frozen):
    """A group of participants served by one programme (e.g. low-to-middle risk → Vitality).

    Attributes:
        id, name_ja, name_en: identity.
        description: who belongs to it.
        programme_months: length of the programme per participant.
        planned_participants: planned number of participants, if stated.
    """

    id: Slug
    name_ja: str = ""
    name_en: str = ""
    description: str = ""
    programme_months: int | None = Field(default=None, ge=1)
    planned_participants: int | None = Field(default=None, ge=0)


class Kpi(_Frozen):
    """A key performance indicator the evaluator audits.

    Attributes:
        id, name_ja, name_en: identity.
        unit: ``count``, ``people``, ``percent``, ``steps``, ``money`` (contract currency),
            ``yen``, ``ratio`` or ``score``.
        direction: ``higher`` or ``lower`` is better.
        definition: what exactly is measured, as the evaluator applies it.
        measured: ``per_contract`` (one result) or ``per_payer`` (one per municipality).
        targets: fiscal year → target value for the contract as a whole.
        targets_by_payer: payer id → fiscal year → target, for KPIs measured per payer.
        evaluator: the party auditing it, if not the contract's only evaluator.
        cohort: the cohort it measures, if one.
        minimum, maximum: the range a result may take, where the unit's own is not right (a
            percentage up to 160 % of a baseline, a change or a difference that may be
            negative); None: the unit's (0–100 for a percentage, 0 upwards for counts, people,
            steps, amounts, ratios and scores).
        decimals: how many decimal places a result may have; None: the unit's (none for
            counts, people and yen, the currency's for money, any for the others).
    """

    id: Slug
    name_ja: str = ""
    name_en: str = ""
    unit: Literal["count", "people", "percent", "steps", "money", "yen", "ratio", "score"]
    direction: Literal["higher", "lower"]
    definition: str = ""
    measured: Literal["per_contract", "per_payer"] = "per_contract"
    targets: dict[FiscalYear, ExactDecimal] = Field(default_factory=dict)
    targets_by_payer: dict[Slug, dict[FiscalYear, ExactDecimal]] = Field(default_factory=dict)
    evaluator: Slug | None = None
    cohort: Slug | None = None
    minimum: ExactDecimal | None = None
    maximum: ExactDecimal | None = None
    decimals: int | None = Field(default=None, ge=0, le=6)

    def bounds(self) -> tuple[Decimal | None, Decimal | None]:
        """The lowest and highest result allowed (None: no bound on that side)."""
        low, high = UNIT_RANGES.get(self.unit, (None, None))
        return (self.minimum if self.minimum is not None else low,
                self.maximum if self.maximum is not None else high)

    def places(self, currency_exponent: int) -> int | None:
        """How many decimal places a result may have (None: any)."""
        if self.decimals is not None:
            return self.decimals
        if self.unit == "money":
            return currency_exponent
        return 0 if self.unit in ("count", "people", "yen") else None


UNIT_RANGES: dict[str, tuple[Decimal | None, Decimal | None]] = {
    "percent": (Decimal(0), Decimal(100)),
    **{u: (Decimal(0), None) for u in ("count", "people", "steps", "money", "yen", "ratio",
                                        "score")}}
"""Each KPI unit's own range of results, unless the KPI states ``minimum`` / ``maximum``."""


class Condition(_Frozen):
    """One KPI's test in a tranche's conditions: its audited value meets ``threshold`` in the
    KPI's direction (at or above where higher is better, at or below where lower is).

    Attributes:
        kpi: the KPI tested (its result for the tranche's fiscal year and evaluation).
        threshold: the value to meet; None: the KPI's target for that fiscal year (per payer
            where the KPI has targets by payer).
    """

    kpi: Slug
    threshold: ExactDecimal | None = None


class Conditions(_Frozen):
    """What must hold, over several KPIs, for a tranche to pay at all: every condition of
    ``all_of``, or at least one of ``any_of`` (one of the two lists, not both). When they do
    not hold the tranche pays 0 whatever its own rule says; when they do, its rule decides."""

    all_of: tuple[Condition, ...] = ()
    any_of: tuple[Condition, ...] = ()

    @property
    def mode(self) -> Literal["all_of", "any_of"]:
        return "all_of" if self.all_of else "any_of"

    @property
    def items(self) -> tuple[Condition, ...]:
        return self.all_of or self.any_of


class Tranche(_Frozen):
    """One KPI-conditional payment: for a KPI and fiscal year, a maximum and a rule.

    Attributes:
        id: tranche id (the ledger's pending entry references it).
        kpi: the KPI it depends on; None only for a ``fixed`` rule.
        fiscal_year: the fiscal year whose result it pays for.
        evaluation: ``interim`` or ``final`` evaluation.
        max_amount_minor: the most it can pay (document key ``max_amount``).
        weight: the KPI's weight in the year, as agreed (informative; checked to sum to 1).
        rule: how the audited value becomes a payment.
        payers: payers sharing this tranche (empty: all payers, by the contract's shares).
        payee: who receives it (None: the intermediary).
        cohort: the cohort it pays for, if one.
        conditions: tests over several KPIs that must hold for it to pay (``all_of`` /
            ``any_of``); None: only its rule decides.
    """

    id: Slug
    name_ja: str = ""
    name_en: str = ""
    kpi: Slug | None = None
    fiscal_year: FiscalYear
    evaluation: Literal["interim", "final"] = "final"
    max_amount_minor: AmountMinor = Field(alias="max_amount")
    weight: ExactDecimal | None = None
    rule: PaymentRule
    payers: tuple[Slug, ...] = ()
    payee: Slug | None = None
    cohort: Slug | None = None
    conditions: Conditions | None = None

    @property
    def kpi_ids(self) -> tuple[str, ...]:
        """Every KPI whose result this tranche needs: its own, then its conditions'."""
        ids = [self.kpi] if self.kpi else []
        for condition in self.conditions.items if self.conditions else ():
            if condition.kpi not in ids:
                ids.append(condition.kpi)
        return tuple(ids)


class Caps(_Frozen):
    """Overall caps on outcome payments.

    Attributes:
        per_fiscal_year_minor: fiscal year → most paid that year over all tranches
            (document key ``per_fiscal_year``).
        contract_total_minor: most paid over the whole contract (``contract_total``); applied
            cumulatively by settlement.
    """

    per_fiscal_year_minor: dict[FiscalYear, AmountMinor] = Field(default_factory=dict,
                                                                alias="per_fiscal_year")
    contract_total_minor: AmountMinor | None = Field(default=None, alias="contract_total")


class ConsumptionTax(_Frozen):
    """Consumption tax (消費税) on this contract's payments.

    Attributes:
        rate: the rate (``"0.10"``).
        applies_to: ``outcome_payments`` and/or ``service_fees``; loan interest never bears it.
        amounts_include_tax: whether the amounts in the contract already include the tax
            (税込). If not, tax is added once per invoice per rate.
        exempt_reason: set instead of a rate when the payments bear no consumption tax
            (a payer outside its scope, a non-taxable transfer): why, as the contract says.
    """

    rate: UnitRate = Decimal(0)
    applies_to: tuple[Literal["outcome_payments", "service_fees"], ...] = ()
    amounts_include_tax: bool = True
    exempt_reason: str = ""


class PaymentTerms(_Frozen):
    """How the payers pay each fiscal year's outcomes: from which budget, until when.

    A payment belongs to the budget year of its obligation (支出負担行為), never to the year of
    its cash date alone. Whether results evaluated after the year ends are an obligation of
    that year (paid from its budget inside the closing period, 出納整理期間) or of the next is
    written in the contract.

    Attributes:
        budget_year: ``obligation_year`` — FY-N results are paid from the FY-N budget;
            ``following_year`` — from the FY-N+1 budget.
        closing_period_months: months after a fiscal year's end in which that year's
            obligations may still be paid (2: to 31 May for an April–March year, the local
            government 出納整理期間); 0 for none.
        due_months_after_year_end: the payment notice's due date, as months after the end of
            the fiscal year it settles (its last day, moved to the previous business day).
    """

    budget_year: Literal["obligation_year", "following_year"] = "obligation_year"
    closing_period_months: int = Field(default=2, ge=0, le=11)
    due_months_after_year_end: int = Field(default=2, ge=0, le=24)


class Amendment(_Frozen):
    """One entry of the amendment history.

    Attributes:
        version: the contract version this amendment created (the original is version 1).
        effective_from: first fiscal year under the amended terms; earlier years keep the
            terms they were settled under.
        reason: why (targets renegotiated, a cohort cancelled, early termination…).
        amended_on: date the amendment was signed, if known.
    """

    version: int = Field(ge=2)
    effective_from: FiscalYear
    reason: str = Field(min_length=1)
    amended_on: date | None = None


DEFAULT_WATERFALL: tuple[WaterfallStep, ...] = (
    "provider_fees", "costs", "interest", "principal", "investor_returns")


class Residual(_Frozen):
    """Who receives what is left at the final distribution, once every claim is paid.

    Attributes:
        to: ``payers`` (back to the payers in proportion to what each paid the vehicle),
            ``provider`` (a bonus to the service provider ``party``), ``unit_class`` (to the
            holders of the class ``party``, as a distribution), or ``vehicle`` (the vehicle
            — the intermediary's book — keeps it).
        party: the provider's party id or the unit class's id, for those two.
    """

    to: Literal["payers", "provider", "unit_class", "vehicle"]
    party: Slug | None = None


class Contract(_Frozen):
    """A SIB or outcome-based contract, as validated data.

    Attributes:
        id: slug identifying the contract across versions; version: 1 + number of amendments.
        name_ja, name_en, description: names and a summary.
        currency: ISO code; every amount in the contract is in it.
        fiscal_year_start_month: first month of the fiscal year (4 = April–March).
        fiscal_year_named_by: how the contract names its fiscal years, ``start`` (the
            default: by the calendar year in which a year starts, as Japan does — 2019年度
            is April 2019 – March 2020) or ``end`` (by the year in which it ends, as a US
            state does — FY2026 is July 2025 – June 2026). Every fiscal year written in
            the contract (term, per-year caps, targets, budgets, tranches), typed at the
            command line or the API and printed on a document is this name. A January
            year is the same whichever naming. Fixed across amendments.
        first_fiscal_year, last_fiscal_year: the contract term.
        rounding: the rounding policy for payments and splits.
        parties: everyone involved; roles say what each does.
        payers: outcome payers in order (the first is the lead payer).
        lead_payer_sees_all_payers: whether the lead payer (the first of ``payers``, the
            representative municipality) may read every payer's share of the contract — each
            one's 債務負担行為 table, payment notices and KPI results — read-only (default
            false: each payer sees its own only). It grants reading, never acting: each payer
            still inspects and approves its own notice, pays with its own Zengin file and
            records its own donations. Needs at least two payers.
        payer_shares: how payments are split between payers (None: a single payer pays all).
        providers: fee terms of service providers and sub-providers.
        cohorts: participant groups served by distinct programmes.
        instruments: grants, loans, unit classes, guarantees, contributions.
        kpis: the audited indicators; tranches: the KPI-conditional payments.
        caps: caps per fiscal year and per contract.
        consumption_tax: tax on payments, if any.
        payment_terms: from which budget and until when each year's outcomes are paid; None:
            the Japanese local-government conventions (FY-N results from the FY-N budget,
            a two-month closing period, due two months after the year ends).
        waterfall: order in which received outcome money is applied.
        residual: who receives any surplus at the final distribution (None: the vehicle keeps
            it).
        amendments: amendment history, oldest first.
    """

    id: Slug
    version: int = Field(default=1, ge=1)
    name_ja: str
    name_en: str
    description: str = ""
    currency: CurrencyCode
    fiscal_year_start_month: int = Field(default=4, ge=1, le=12)
    fiscal_year_named_by: FiscalYearNaming = Field(
        default=NAMED_BY_START,
        description="How the fiscal years are named: 'start' (by the calendar year in "
                    "which a year starts: 2019 = April 2019 – March 2020) or 'end' (by "
                    "the year in which it ends: 2026 = July 2025 – June 2026). Every "
                    "fiscal year in the contract is written by this name.")
    first_fiscal_year: FiscalYear
    last_fiscal_year: FiscalYear
    rounding: RoundingPolicy = RoundingPolicy()
    parties: tuple[Party, ...] = Field(min_length=1)
    payers: tuple[Payer, ...] = Field(min_length=1)
    lead_payer_sees_all_payers: StrictBool = Field(
        default=False,
        description="Whether the lead payer (the first of payers) may read every payer's "
                    "債務負担行為 table, payment notices and KPI results, read-only; each "
                    "payer still approves and pays its own. Default false.")
    payer_shares: PayerShares | None = None
    providers: tuple[ProviderTerms, ...] = ()
    cohorts: tuple[Cohort, ...] = ()
    instruments: tuple[Instrument, ...] = ()
    kpis: tuple[Kpi, ...] = ()
    tranches: tuple[Tranche, ...] = ()
    caps: Caps = Caps()
    consumption_tax: ConsumptionTax | None = None
    payment_terms: PaymentTerms | None = None
    waterfall: tuple[WaterfallStep, ...] = DEFAULT_WATERFALL
    residual: Residual | None = None
    amendments: tuple[Amendment, ...] = ()

    @model_validator(mode="wrap")
    @classmethod
    def _in_currency(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Amounts inside are written in this contract's currency: parse them in it."""
        code = data.get("currency") if isinstance(data, dict) else None
        with currency_scope(code if isinstance(code, str) else None):
            return handler(data)

    @model_serializer(mode="wrap")
    def _out_currency(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Write amounts back in this contract's currency (document form, ``by_alias``)."""
        with currency_scope(self.currency):
            return handler(self)

    # --- lookups used by loading and settlement ------------------------------------------

    def fiscal_year_of(self, day: date) -> int:
        """The name of the fiscal year containing ``day``, as this contract names its years."""
        return fiscal_year_of(day, self.fiscal_year_start_month, self.fiscal_year_named_by)

    def fiscal_year_bounds(self, fiscal_year: int) -> tuple[date, date]:
        """First and last day of the fiscal year this contract names ``fiscal_year``."""
        return fiscal_year_bounds(fiscal_year, self.fiscal_year_start_month,
                                  self.fiscal_year_named_by)

    @property
    def fiscal_years(self) -> range:
        """Every fiscal year of the term, first to last."""
        return range(self.first_fiscal_year, self.last_fiscal_year + 1)

    @property
    def pays_on_outcomes(self) -> bool:
        """Whether any payment depends on a KPI (a fixed-fee programme pays on none: its
        payers pay their providers themselves, and receive no payment notice)."""
        return any(t.kpi_ids for t in self.tranches)

    @property
    def payer_ids(self) -> tuple[str, ...]:
        """Payer party ids in contract order (lead payer first)."""
        return tuple(p.party for p in self.payers)

    def party(self, party_id: str) -> Party:
        """The party with this id (KeyError if none)."""
        return _by_id(self.parties, party_id)

    def payer(self, party_id: str) -> Payer:
        """The payer entry of this party (KeyError if it is not a payer)."""
        for payer in self.payers:
            if payer.party == party_id:
                return payer
        raise KeyError(party_id)

    def require_payer(self, party_id: str, field: str = "payer") -> Payer:
        """The payer entry of this party, or the one refusal every caller gives when it is
        not a payer of this contract (:data:`PAYER_NOT_FOUND`)."""
        for payer in self.payers:
            if payer.party == party_id:
                return payer
        raise NotFound(not_a_payer(self.id, party_id), PAYER_NOT_FOUND, field)

    def kpi(self, kpi_id: str) -> Kpi:
        """The KPI with this id (KeyError if none)."""
        return _by_id(self.kpis, kpi_id)

    def tranche(self, tranche_id: str) -> Tranche:
        """The tranche with this id (KeyError if none)."""
        return _by_id(self.tranches, tranche_id)

    def instrument(self, instrument_id: str) -> Instrument:
        """The funding instrument with this id (KeyError if none)."""
        return _by_id(self.instruments, instrument_id)

    def tranches_in(self, fiscal_year: int) -> tuple[Tranche, ...]:
        """Tranches paying for ``fiscal_year``, in contract order."""
        return tuple(t for t in self.tranches if t.fiscal_year == fiscal_year)

    @property
    def grants(self) -> tuple[Grant, ...]:
        return tuple(i for i in self.instruments if isinstance(i, Grant))

    @property
    def loans(self) -> tuple[Loan, ...]:
        return tuple(i for i in self.instruments if isinstance(i, Loan))

    @property
    def unit_classes(self) -> tuple[UnitClass, ...]:
        return tuple(i for i in self.instruments if isinstance(i, UnitClass))

    @property
    def guarantees(self) -> tuple[Guarantee, ...]:
        return tuple(i for i in self.instruments if isinstance(i, Guarantee))

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        return tuple(i for i in self.instruments if isinstance(i, Contribution))

    def parties_with_role(self, role: str) -> tuple[Party, ...]:
        """Parties having ``role``, in contract order."""
        return tuple(p for p in self.parties if role in p.roles)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=_Identified)


def _by_id(items: tuple[_Item, ...], item_id: str) -> _Item:
    for item in items:
        if item.id == item_id:
            return item
    raise KeyError(item_id)


def to_document(contract: Contract) -> dict[str, Any]:
    """The contract as a JSON-ready document: amounts as decimal strings in its currency,
    rates as exact strings, keys as written in contract files. Validating it gives the same
    contract back."""
    document: dict[str, Any] = contract.model_dump(mode="json", by_alias=True)
    return document
