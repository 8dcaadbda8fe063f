"""Calculation traces: every computed figure carries its inputs, its rule and each step, as data.

A trace is what a municipal auditor reads next to a payment: "continuation rate 83.5 % against
a line from 79 % (0) to 87 % (full) → 56.25 % of 3,000,000 = 1,687,500 (truncated)". It is kept
as data, never as sentences:

- what it is about (:class:`About`: tranche, KPI, payer, fiscal year, evaluation, grant, loan
  or unit class…), so that a document finds the trace of a tranche × payer by those fields;
- the rule, the inputs and each step, every one a :class:`Step`: a stable phrase key
  (:class:`Phrase`), its named parameters and its value. A parameter or value is a
  :class:`Figure` (an exact ``int``, ``Decimal``, ``Fraction`` or date with its :class:`Unit`),
  a term (a :class:`Phrase` such as "higher is better"), a :class:`Party`, a nested step (a
  tier of a stepped rule, one payer's part) or a tuple of these;
- the rounding applied (:class:`Rounding`: mode, exact amount, result, dropped fraction).

Words are added only when a trace is rendered, by a :class:`Writer` holding a wording for every
phrase key: English here (:class:`English` for a contract's currency, :data:`ENGLISH` for yen;
the CLI's :meth:`Trace.lines`), Japanese in
:mod:`investors.trace_text`. Nothing reads a rendered sentence back.

Stored with the settlement run as JSON (:meth:`Trace.as_dict`, ``"version": 2``): figures as
exact strings (``"2000000/3"``, ``"83.5"``) with their unit, phrase keys as their values. The
``subject`` and each step's ``label`` in that JSON are the English rendering, for people reading
it; :meth:`Trace.from_dict` ignores them. Traces stored before version 2 were English text only
(:func:`is_structured` tells them apart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, Union

from ledger.money import HOME_CURRENCY, amount_text, exponent
from ledger.rounding import RoundingMode, round_minor

TRACE_VERSION = 2

Number = int | Decimal | Fraction


def exact_parts(value: Number) -> tuple[str, str | None]:
    """A number as exact text, and a 6-place approximation when the exact text is a fraction."""
    if isinstance(value, Fraction) and value.denominator != 1:
        as_decimal = Decimal(value.numerator) / Decimal(value.denominator)
        if Fraction(as_decimal) == value and len(str(as_decimal)) < 24:
            return f"{as_decimal:f}", None
        return f"{value.numerator}/{value.denominator}", f"{as_decimal:.6f}"
    if isinstance(value, Fraction):
        return str(value.numerator), None
    if isinstance(value, Decimal):
        return (f"{value.normalize():f}" if value == value.to_integral_value()
                else f"{value:f}"), None
    return str(value), None


def show(value: Any) -> str:
    """A figure as text, exactly: Decimals without exponent, Fractions as decimals when they
    terminate within 12 places, otherwise as ``a/b (≈x)``."""
    if isinstance(value, (int, Decimal, Fraction)) and not isinstance(value, bool):
        exact, approx = exact_parts(value)
        return exact if approx is None else f"{exact} (≈{approx})"
    return str(value)


def grouped(text: str) -> str:
    """A plain decimal text with its integer part grouped: ``-1687500.5`` → ``-1,687,500.5``."""
    sign = "-" if text.startswith("-") else ""
    units, _, decimals = text.lstrip("-").partition(".")
    return f"{sign}{int(units):,}" + (f".{decimals}" if decimals else "")


# --------------------------------------------------------------------------- the vocabulary

class Unit(StrEnum):
    """What a figure counts. The KPI units are those of ``contracts.model.Kpi.unit``."""

    MINOR = "minor"          # an amount in minor units of the contract's currency
    SHARE = "share"          # a fraction of one (0.5625: 56.25 % of something)
    RATE = "rate"            # a rate as a fraction of one (0.10: ten per cent)
    PERCENT = "percent"      # a figure already in per cent (a KPI, a tier's percentage)
    PEOPLE = "people"
    COUNT = "count"
    STEPS = "steps"
    MONEY = "money"          # a KPI in the contract's currency, in major units as measured
    YEN = "yen"
    RATIO = "ratio"
    SCORE = "score"
    KPI = "kpi"              # a KPI value whose unit the trace was not told
    DAYS = "days"
    DATE = "date"
    NUMBER = "number"        # a plain number (an instalment number, a seniority)


class Phrase(StrEnum):
    """Stable keys of everything a trace can say. Each writer has a wording for every one."""

    # terms: categorical values
    HIGHER_IS_BETTER = "term.higher_is_better"
    LOWER_IS_BETTER = "term.lower_is_better"
    YES = "term.yes"
    NO = "term.no"
    ALL_OF = "term.all_of"
    ANY_OF = "term.any_of"
    OUTCOME_PAYMENTS_RECEIVED = "term.outcome_payments_received"
    OUTCOME_PAYMENTS_SHARE = "term.outcome_payments_share"
    PAID_IN_FULL = "term.paid_in_full"
    PAID_IN_PART = "term.paid_in_part"
    PROVIDER_FEES = "term.provider_fees"
    COSTS = "term.costs"
    INTEREST = "term.interest"
    PRINCIPAL = "term.principal"
    DEFAULT_INTEREST = "term.default_interest"
    INVESTOR_RETURNS = "term.investor_returns"
    ACT_365F = "term.act_365f"
    ACT_360 = "term.act_360"
    THIRTY_360 = "term.30_360"
    FIRST_DAY_ONLY = "term.first_day_only"
    BOTH_ENDS = "term.both_ends"
    LAST_DAY_ONLY = "term.last_day_only"
    NEITHER_END = "term.neither_end"
    TRUNCATE = "term.truncate"
    HALF_UP = "term.half_up"
    HALF_EVEN = "term.half_even"
    # rules, and the parts of rules
    RULE_BINARY_THRESHOLD = "rule.binary_threshold"
    RULE_LINEAR = "rule.linear"
    RULE_PRO_RATA = "rule.pro_rata"
    RULE_STEPPED = "rule.stepped"
    RULE_RATE_CARD = "rule.rate_card"
    RULE_SAVINGS_SHARE = "rule.savings_share"
    RULE_FIXED = "rule.fixed"
    RULE_FIXED_ON_CONDITIONS = "rule.fixed_on_conditions"
    RULE_CONTRACT_CAP = "rule.contract_cap"
    RULE_CONSUMPTION_TAX = "rule.consumption_tax"
    RULE_CONSUMPTION_TAX_INCLUDED = "rule.consumption_tax_included"
    RULE_GRANT = "rule.grant"
    RULE_WATERFALL = "rule.waterfall"
    RULE_LOSS = "rule.loss"
    RULE_LOAN_INTEREST = "rule.loan_interest"
    RULE_TARGET_RETURN = "rule.target_return"
    RULE_TIERED_RETURN = "rule.tiered_return"
    RULE_CURVE_RETURN = "rule.curve_return"
    RULE_IRR_RETURN = "rule.irr_return"
    RULE_COMPOUNDING_RETURN = "rule.compounding_return"
    RULE_FIXED_RETURN = "rule.fixed_return"
    TIER_AMOUNT = "part.tier_amount"
    TIER_PERCENT = "part.tier_percent"
    PAYER_PART = "part.payer_part"
    RATE_FROM = "part.rate_from"
    # inputs
    MAXIMUM = "input.maximum"
    AUDITED_VALUE = "input.audited_value"
    DIRECTION = "input.direction"
    TARGET = "input.target"
    PERSONS = "input.persons"
    EARNED_BEFORE = "input.earned_before"
    EARNED_THIS_YEAR = "input.earned_this_year"
    AVAILABLE = "input.available"
    UNPAID = "input.unpaid"
    RATE_ANNUAL = "input.rate_annual"
    VALUED_ON = "input.valued_on"
    # steps
    THRESHOLD_MET = "step.threshold_met"
    CONDITION_MET = "step.condition_met"
    CONDITIONS_HOLD = "step.conditions_hold"
    SHARE_EARNED = "step.share_earned"
    AMOUNT_OF_SHARE = "step.amount_of_share"
    ACHIEVEMENT = "step.achievement"
    AMOUNT_OF_ACHIEVEMENT = "step.amount_of_achievement"
    TIER_BY_AMOUNT = "step.tier_by_amount"
    TIER_BY_PERCENT = "step.tier_by_percent"
    NO_TIER = "step.no_tier"
    EARNED_PER_PERSON = "step.earned_per_person"
    EARNED_OUTCOMES = "step.earned_outcomes"
    TOTAL_CAP = "step.total_cap"
    SHARE_BELOW_HURDLE = "step.share_below_hurdle"
    SHARE_ABOVE_HURDLE = "step.share_above_hurdle"
    CAPPED = "step.capped"
    SPLIT_BETWEEN_PAYERS = "step.split_between_payers"
    ROOM_UNDER_CAP = "step.room_under_cap"
    TAX = "step.tax"
    TAX_INSIDE = "step.tax_inside"
    TAX_BOOKED_BEFORE = "step.tax_booked_before"
    GRANT_COVERED = "step.grant_covered"
    GRANT_LIMIT = "step.grant_limit"
    WATERFALL_STEP = "step.waterfall_step"
    GUARANTEE = "step.guarantee"
    WRITTEN_DOWN = "step.written_down"
    INTEREST_ON = "step.interest_on"
    INTEREST_BEFORE_ROUNDING = "step.interest_before_rounding"
    PRINCIPAL_GRACE = "step.principal_grace"
    PRINCIPAL_LAST = "step.principal_last"
    PRINCIPAL_BULLET = "step.principal_bullet"
    PRINCIPAL_EQUAL = "step.principal_equal"
    PRINCIPAL_TABLE = "step.principal_table"
    PRINCIPAL_LEVEL = "step.principal_level"
    NEXT_DUE_DATE = "step.next_due_date"
    NO_OPEN_PERIOD = "step.no_open_period"
    CAPITAL_CHANGE = "step.capital_change"
    ACCRUED = "step.accrued"
    ACCRUED_ROUNDED = "step.accrued_rounded"
    ALREADY_PAID = "step.already_paid"
    OWED = "step.owed"
    YEAR_RATE = "step.year_rate"
    FLOW_VALUE = "step.flow_value"
    FLOWS_NET = "step.flows_net"
    FIXED_RETURN_DUE = "step.fixed_return_due"
    RETURN_CAPPED = "step.return_capped"


class Subject(StrEnum):
    """The kinds of figure a trace explains."""

    TRANCHE = "tranche"                    # a tranche's earned amount (one payer, or split)
    CONTRACT_CAP = "contract_cap"          # the contract's total cap applied to a year
    CONSUMPTION_TAX = "consumption_tax"    # a payer's consumption tax for a year
    GRANT = "grant"                        # the grant's part of a payer's cost for a year
    WATERFALL = "waterfall"                # one distribution of outcome money
    LOSS = "loss"                          # end-of-contract loss on an instrument
    INVESTOR_RETURN = "investor_return"    # the return a unit class is owed at a date
    INSTALMENT = "instalment"              # one row of a loan's repayment schedule
    ACCRUED_INTEREST = "accrued_interest"  # a loan's interest accrued to a date, not yet due


# Typed values of other packages as trace terms, defined once.
ROUNDING_TERMS: dict[RoundingMode, Phrase] = {
    RoundingMode.TRUNCATE: Phrase.TRUNCATE, RoundingMode.HALF_UP: Phrase.HALF_UP,
    RoundingMode.HALF_EVEN: Phrase.HALF_EVEN}
DIRECTION_TERMS: dict[str, Phrase] = {"higher": Phrase.HIGHER_IS_BETTER,
                                      "lower": Phrase.LOWER_IS_BETTER}
WATERFALL_TERMS: dict[str, Phrase] = {
    "provider_fees": Phrase.PROVIDER_FEES, "costs": Phrase.COSTS, "interest": Phrase.INTEREST,
    "principal": Phrase.PRINCIPAL, "investor_returns": Phrase.INVESTOR_RETURNS,
    "default_interest": Phrase.DEFAULT_INTEREST}
DAY_COUNT_TERMS: dict[str, Phrase] = {"ACT/365F": Phrase.ACT_365F, "ACT/360": Phrase.ACT_360,
                                      "30/360": Phrase.THIRTY_360}
DAY_ENDS_TERMS: dict[tuple[bool, bool], Phrase] = {
    (True, False): Phrase.FIRST_DAY_ONLY, (True, True): Phrase.BOTH_ENDS,
    (False, True): Phrase.LAST_DAY_ONLY, (False, False): Phrase.NEITHER_END}


# --------------------------------------------------------------------------- the data

@dataclass(frozen=True)
class Figure:
    """An exact figure and its unit. Floats are refused: money is never a float."""

    value: int | Decimal | Fraction | date
    unit: Unit

    def __post_init__(self) -> None:
        if isinstance(self.value, (float, bool)) or not isinstance(
                self.value, (int, Decimal, Fraction, date)):
            raise TypeError(f"a trace figure is an int, Decimal, Fraction or date, "
                            f"not {self.value!r}")


@dataclass(frozen=True)
class Party:
    """A party by its id (written by its name in a language that has one)."""

    id: str


Param = Union[Figure, Phrase, Party, "Step", tuple["Param", ...], None]


@dataclass(frozen=True)
class Step:
    """One phrase of a trace with its figures: the rule, an input, a step, or a part of one.

    Attributes:
        phrase: what is said (a stable key; the words are the writer's).
        value: the figure obtained (a step), the figure given (an input), or None (a rule).
        params: the named figures the phrase is made of (``floor``, ``maximum``…).
    """

    phrase: Phrase
    value: Param = None
    params: Mapping[str, Param] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def get(self, name: str) -> Param:
        return self.params.get(name)


@dataclass(frozen=True)
class Rounding:
    """The rounding applied to an exact amount: ``mode``, the exact amount and its result;
    ``after_steps`` is how many of the trace's steps came before it (None: all of them), so
    that the trace reads in the order it was computed (a tranche's total is rounded, then
    split between the payers)."""

    mode: RoundingMode
    exact: Fraction
    result_minor: int
    after_steps: int | None = None

    @property
    def dropped(self) -> Fraction:
        """What the rounding took away (negative when it rounded up)."""
        return self.exact - self.result_minor


@dataclass(frozen=True)
class About:
    """What a trace explains, as identifiers (only those that apply are set).

    Attributes:
        kind: the kind of figure.
        fiscal_year, evaluation: the contract year and evaluation (``interim``/``final``).
        tranche, kpi: the tranche and its KPI.
        payer: the payer (None for a tranche measured for the whole contract: its trace
            splits the amount between all payers).
        grant: the grant instrument.
        instrument: the loan or unit class.
        party: who receives what the trace is about (a loss: the lender or class).
        on: the date of the figure (a return owed, an accrual, an instalment's due date).
        instalment, nominal_on: a schedule row's number and its date before adjustment.
        name: a caller's own English description, for callers that give no identifiers.
    """

    kind: Subject
    fiscal_year: int | None = None
    evaluation: str | None = None
    tranche: str | None = None
    kpi: str | None = None
    payer: str | None = None
    grant: str | None = None
    instrument: str | None = None
    party: str | None = None
    on: date | None = None
    instalment: int | None = None
    nominal_on: date | None = None
    name: str | None = None

    def matches(self, **wanted: Any) -> bool:
        """Whether every given field has the given value (``payer=(None, "ube")``: any of
        a tuple's values)."""
        for key, value in wanted.items():
            have = getattr(self, key)
            if have != value and not (isinstance(value, tuple) and have in value):
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in _ABOUT_FIELDS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value.isoformat() if isinstance(value, date) else str(value) \
                    if isinstance(value, StrEnum) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> About:
        values: dict[str, Any] = {k: data[k] for k in _ABOUT_FIELDS if data.get(k) is not None}
        values["kind"] = Subject(values["kind"])
        for key in ("on", "nominal_on"):
            if key in values:
                values[key] = date.fromisoformat(values[key])
        return cls(**values)


_ABOUT_FIELDS = ("kind", "fiscal_year", "evaluation", "tranche", "kpi", "payer", "grant",
                 "instrument", "party", "on", "instalment", "nominal_on", "name")


@dataclass
class Trace:
    """How a figure came to be.

    Attributes:
        about: what was computed, as identifiers.
        rule: the rule and its parameters.
        inputs: the input figures, in order.
        steps: the intermediate figures, in order.
        rounding: the rounding applied at the end, if any.
        result_minor: the final amount in minor units.
    """

    about: About
    rule: Step
    inputs: list[Step] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    rounding: Rounding | None = None
    result_minor: int = 0

    def input(self, phrase: Phrase, value: Param) -> None:
        """Record an input figure."""
        self.inputs.append(Step(phrase, value))

    def step(self, phrase: Phrase, value: Param, **params: Param) -> None:
        """Record an intermediate figure and the figures it was made of."""
        self.steps.append(Step(phrase, value, params))

    def rounded(self, exact: Number, mode: RoundingMode | str) -> int:
        """Round ``exact`` once with ``mode`` (through :func:`ledger.rounding.round_minor`),
        record the rounding and return the result."""
        mode = RoundingMode(mode)
        result = round_minor(Fraction(exact), mode)
        self.rounding = Rounding(mode, Fraction(exact), result, len(self.steps))
        return result

    @property
    def subject(self) -> str:
        """What the trace is about, in English."""
        return ENGLISH.subject(self.about)

    def lines(self, currency: str) -> list[str]:
        """The trace as readable English lines, for the CLI, amounts in ``currency`` (the
        contract's): ``£1,250.50``; yen bare, ``1,250,500``."""
        writer = English(currency)
        body = writer.body(self)
        return ([f"{self.subject}: {body[0]}"] + [f"  {line}" for line in body[1:]]
                + [f"  result: {writer.amount(self.result_minor)}"])

    def as_dict(self) -> dict[str, Any]:
        """The trace as JSON data (version 2), as stored with the settlement run."""
        return {"version": TRACE_VERSION, "about": self.about.as_dict(),
                "subject": self.subject, "rule": _encode_step(self.rule),
                "inputs": [_encode_step(s) for s in self.inputs],
                "steps": [{**_encode_step(s), "label": ENGLISH.label(s)} for s in self.steps],
                "rounding": None if self.rounding is None else {
                    "mode": self.rounding.mode.value, "exact": _number_text(self.rounding.exact),
                    "result": str(self.rounding.result_minor),
                    "dropped": _number_text(self.rounding.dropped),
                    "after_steps": self.rounding.after_steps},
                "result": str(self.result_minor)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trace:
        """A trace from :meth:`as_dict`'s data; refused (``ValueError``) for another version."""
        if not is_structured(data):
            raise ValueError(f"not a version {TRACE_VERSION} trace (stored as English text "
                             "only): it cannot be read as data")
        rounding = data.get("rounding")
        return cls(About.from_dict(data["about"]), _decode_step(data["rule"]),
                   [_decode_step(s) for s in data["inputs"]],
                   [_decode_step(s) for s in data["steps"]],
                   None if rounding is None else Rounding(
                       RoundingMode(rounding["mode"]), Fraction(rounding["exact"]),
                       int(rounding["result"]), rounding.get("after_steps")),
                   int(data["result"]))


def is_structured(data: Mapping[str, Any]) -> bool:
    """Whether stored trace data is structured (version 2), not an English-only trace."""
    return data.get("version") == TRACE_VERSION


def find(traces: Iterable[Trace], **wanted: Any) -> list[Trace]:
    """The traces whose :class:`About` has the wanted fields (see :meth:`About.matches`)."""
    return [t for t in traces if t.about.matches(**wanted)]


# --------------------------------------------------------------------------- figures as JSON

def _number_text(value: Number) -> str:
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def _number(text: str) -> Number:
    if "/" in text:
        return Fraction(text)
    if "." in text:
        return Decimal(text)
    return int(text)


def _encode(value: Param) -> Any:
    if value is None:
        return None
    if isinstance(value, Figure):
        shown = value.value.isoformat() if isinstance(value.value, date) \
            else _number_text(value.value)
        return {"value": shown, "unit": value.unit.value}
    if isinstance(value, Phrase):
        return {"term": value.value}
    if isinstance(value, Party):
        return {"party": value.id}
    if isinstance(value, Step):
        return _encode_step(value)
    return [_encode(v) for v in value]


def _encode_step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"phrase": step.phrase.value}
    if step.params:
        out["params"] = {k: _encode(v) for k, v in step.params.items()}
    if step.value is not None:
        out["value"] = _encode(step.value)
    return out


def _decode(data: Any) -> Param:
    if data is None:
        return None
    if isinstance(data, list):
        return tuple(_decode(v) for v in data)
    if "unit" in data:
        unit = Unit(data["unit"])
        value = date.fromisoformat(data["value"]) if unit is Unit.DATE else _number(data["value"])
        return Figure(value, unit)
    if "term" in data:
        return Phrase(data["term"])
    if "party" in data:
        return Party(data["party"])
    return _decode_step(data)


def _decode_step(data: Mapping[str, Any]) -> Step:
    return Step(Phrase(data["phrase"]), _decode(data.get("value")),
                {k: _decode(v) for k, v in data.get("params", {}).items()})


# --------------------------------------------------------------------------- builders

def kpi_money_minor(value: Number, currency: str) -> Fraction:
    """A money KPI's value (measured in major units, ``1250.50`` pounds) in minor units, to be
    written as an amount (yen: the same figure)."""
    scale: int = 10**exponent(currency)
    return Fraction(value) * scale


def minor(value: Number) -> Figure:
    """An amount in minor units."""
    return Figure(value, Unit.MINOR)


def share(value: Number) -> Figure:
    """A fraction of one."""
    return Figure(value, Unit.SHARE)


def rate(value: Number) -> Figure:
    """A rate as a fraction of one."""
    return Figure(value, Unit.RATE)


def number(value: Number) -> Figure:
    """A plain number."""
    return Figure(value, Unit.NUMBER)


def day(value: date) -> Figure:
    """A date."""
    return Figure(value, Unit.DATE)


def days(value: int) -> Figure:
    """A number of days."""
    return Figure(value, Unit.DAYS)


# --------------------------------------------------------------------------- writing

Words = Callable[["Writer", Step], str]


@dataclass(frozen=True)
class Wording:
    """How one language says a phrase: a label (a rule's or term's whole text, an input's or a
    step's name), a step's formula, and what joins the formula to the value."""

    label: str | Words
    formula: str | Words | None = None
    joint: str = " = "


def _say(words: str | Words | None, writer: Writer, step: Step) -> str:
    if words is None:
        return ""
    return words if isinstance(words, str) else words(writer, step)


class Writer:
    """Trace data in one language: a wording for every :class:`Phrase`, one for every
    :class:`Subject`, and how figures are written. Subclasses give the language; rendering
    is pure and reads nothing but the data."""

    words: Mapping[Phrase, Wording] = {}
    subjects: Mapping[Subject, Callable[[Writer, About], str]] = {}
    separator = ", "

    # figures, which each language writes its own way
    def figure(self, figure: Figure) -> str:
        raise NotImplementedError

    def term(self, figure: Figure) -> str:
        """A figure as a term of a formula (amounts keep their currency, others bare)."""
        raise NotImplementedError

    def party(self, party: Party) -> str:
        return party.id

    def amount(self, value: Number) -> str:
        return self.figure(minor(value))

    def __call__(self, value: Param) -> str:
        """Any parameter or value, written in full."""
        if value is None:
            return "—"
        if isinstance(value, Figure):
            return self.figure(value)
        if isinstance(value, Phrase):
            return self.text(Step(value))
        if isinstance(value, Party):
            return self.party(value)
        if isinstance(value, Step):
            return self.text(value)
        return self.separator.join(self(v) for v in value)

    def n(self, value: Param) -> str:
        """A figure as a term of a formula."""
        return self.term(value) if isinstance(value, Figure) else self(value)

    def each(self, values: Param) -> list[str]:
        """Each of a tuple's items, written."""
        return [self(v) for v in (values if isinstance(values, tuple) else (values,))]

    # phrases
    def wording(self, phrase: Phrase) -> Wording:
        try:
            return self.words[phrase]
        except KeyError:
            raise KeyError(f"{type(self).__name__} has no wording for {phrase.value!r}") \
                from None

    def text(self, step: Step) -> str:
        """A rule, a term or a part of one: its whole text."""
        return _say(self.wording(step.phrase).label, self, step)

    def label(self, step: Step) -> str:
        """An input's or a step's name."""
        return _say(self.wording(step.phrase).label, self, step)

    def formula(self, step: Step) -> str:
        """How a step's value was obtained."""
        return _say(self.wording(step.phrase).formula, self, step)

    def subject(self, about: About) -> str:
        return self.subjects[about.kind](self, about)

    # lines
    def input_line(self, step: Step) -> str:
        raise NotImplementedError

    def step_line(self, step: Step) -> str:
        raise NotImplementedError

    def rounding_line(self, rounding: Rounding) -> str:
        raise NotImplementedError

    def body(self, trace: Trace) -> list[str]:
        """The rule, each input, each step and the rounding where it was applied, one line
        each."""
        steps = [self.step_line(s) for s in trace.steps]
        if trace.rounding is not None:
            at = trace.rounding.after_steps
            steps.insert(len(steps) if at is None else at, self.rounding_line(trace.rounding))
        return [self.text(trace.rule)] + [self.input_line(s) for s in trace.inputs] + steps


def is_lower(step: Step) -> bool:
    """Whether a step's ``direction`` parameter says lower is better."""
    return step.get("direction") is Phrase.LOWER_IS_BETTER


def ratio(value: Param) -> tuple[int, int]:
    """A rate's numerator and denominator (``1/2`` of a grant)."""
    assert isinstance(value, Figure) and not isinstance(value.value, date)
    exact = Fraction(value.value)
    return exact.numerator, exact.denominator


def _is_negative(value: Param) -> bool:
    return isinstance(value, Figure) and not isinstance(value.value, date) and value.value < 0


def _less(a: Param, b: Param) -> bool:
    assert isinstance(a, Figure) and isinstance(b, Figure)
    return a.value < b.value  # type: ignore[operator]


class English(Writer):
    """Traces in English, as the CLI and the English documents print them, for a contract in
    ``currency``. Amounts in the contract's currency are written in major units with its symbol
    or code (``£1,250.50``, ``US$270,000.00``; an exact fraction of a penny as ``£123.456``);
    yen amounts, as ever, bare and grouped (``1,250,500``). KPI values, shares and rates are
    written as the contract gives them."""

    separator = "; "

    def __init__(self, currency: str = HOME_CURRENCY) -> None:
        self.currency = currency
        if currency != HOME_CURRENCY:
            self.words = {**ENGLISH_WORDS, **PLAIN_ENGLISH_WORDS}

    def figure(self, figure: Figure) -> str:
        value = figure.value
        if isinstance(value, date):
            return value.isoformat()
        if figure.unit is Unit.MINOR and self.currency != HOME_CURRENCY:
            return amount_text(value, self.currency)
        if figure.unit is Unit.MONEY and self.currency != HOME_CURRENCY:
            return amount_text(kpi_money_minor(value, self.currency), self.currency)
        if figure.unit in (Unit.MINOR, Unit.MONEY, Unit.YEN, Unit.NUMBER):
            exact, approx = exact_parts(value)
            if approx is None:
                return grouped(exact)
            return f"{exact} (≈{grouped(approx)})"
        return show(value)

    def term(self, figure: Figure) -> str:
        return self.figure(figure)

    def input_line(self, step: Step) -> str:
        return f"{self.label(step)} = {self(step.value)}"

    def step_line(self, step: Step) -> str:
        return (f"{self.label(step)}: {self.formula(step)}{self.wording(step.phrase).joint}"
                f"{self(step.value)}")

    def rounding_line(self, rounding: Rounding) -> str:
        dropped = rounding.dropped
        # Yen drop a fraction of a yen, written as the fraction it is; other currencies a
        # fraction of their minor unit, written as money (£0.0033…).
        size = show if self.currency == HOME_CURRENCY else self.amount
        detail = "exact" if not dropped else (f"fraction {size(dropped)} dropped" if dropped > 0
                                              else f"rounded up by {size(-dropped)}")
        return (f"rounding: {self(ROUNDING_TERMS[rounding.mode])}: {self.amount(rounding.exact)}"
                f" → {self.amount(rounding.result_minor)} ({detail})")


def _measure_en(w: Writer, s: Step) -> str:
    """What a tiered or curve return reads: its KPI's audited result, or the outcome payments
    received (the step's ``measure``)."""
    measure = s.get("measure")
    return f"the {w(measure)}" if measure is not None else f"its audited {w(s['kpi'])}"


def _tier_span(w: Writer, s: Step) -> str:
    upper = s.get("to")
    return f"[{w.n(s['from'])}, {'∞' if upper is None else w.n(upper)})"


def _capital_formula(w: Writer, s: Step) -> str:
    if s.get("rate") is not None:
        return f"{w.n(s['amount'])} × {w.n(s['rate'])} × {w.n(s['days'])} / {w.n(s['basis'])}"
    return (f"{w.n(s['amount'])} × Σ rate × days ({w.n(s['rate_days'])} / "
            f"{w.n(s['denominator'])}) / {w.n(s['basis'])}")


def _capital_label(w: Writer, s: Step) -> str:
    entries = s["entries"]
    more = isinstance(entries, Figure) and entries.value != 1
    return (f"capital {'returned' if _is_negative(s['amount']) else 'paid in'} on {w(s['on'])}"
            + (f" ({w.n(entries)} entries)" if more else ""))


def _guarantee(w: Writer, s: Step) -> str:
    cover = s.get("share")
    text = f"{w.n(s['unpaid'])} × {w.n(cover) if cover is not None else 1}"
    return text + (f", at most {w.n(s['maximum'])}" if s.get("maximum") is not None else "")


def _per_person(w: Writer, s: Step) -> str:
    if s.get("cap") is None:
        return f"Σ outcomes × {w.n(s['price'])} over {w.n(s['persons'])} persons"
    return (f"Σ min(outcomes × {w.n(s['price'])}, cap per person {w.n(s['cap'])}) over "
            f"{w.n(s['persons'])} persons")


def _owed(w: Writer, s: Step) -> str:
    over = _less(s["accrued"], s["paid"])
    return (f"{w.n(s['accrued'])} − {w.n(s['paid'])}"
            + (" (paid exceeds accrued: nothing owed)" if over else ""))


def _tranche_en(w: Writer, a: About) -> str:
    year = f" FY{a.fiscal_year}" if a.fiscal_year is not None else ""
    return f"{a.tranche or 'tranche'}{year}" + (f" — {a.payer}" if a.payer else "")


def _instalment_en(w: Writer, a: About) -> str:
    nominal = f" (nominal {a.nominal_on.isoformat()})" \
        if a.nominal_on is not None and a.nominal_on != a.on else ""
    return f"instalment {a.instalment} due {a.on}{nominal}"


ENGLISH_WORDS: dict[Phrase, Wording] = {
    Phrase.HIGHER_IS_BETTER: Wording("higher is better"),
    Phrase.LOWER_IS_BETTER: Wording("lower is better"),
    Phrase.YES: Wording("yes"),
    Phrase.NO: Wording("no"),
    Phrase.ALL_OF: Wording("all of them"),
    Phrase.OUTCOME_PAYMENTS_RECEIVED: Wording("outcome payments received for the year"),
    Phrase.OUTCOME_PAYMENTS_SHARE: Wording(
        "outcome payments received for the year, as a percentage of the most its tranches "
        "can pay"),
    Phrase.ANY_OF: Wording("at least one of them"),
    Phrase.PAID_IN_FULL: Wording("in full"),
    Phrase.PAID_IN_PART: Wording("in part"),
    Phrase.PROVIDER_FEES: Wording("provider fees"),
    Phrase.COSTS: Wording("costs"),
    Phrase.INTEREST: Wording("interest"),
    Phrase.PRINCIPAL: Wording("principal"),
    Phrase.DEFAULT_INTEREST: Wording("default interest (遅延損害金)"),
    Phrase.INVESTOR_RETURNS: Wording("investor returns"),
    Phrase.ACT_365F: Wording("ACT/365F"),
    Phrase.ACT_360: Wording("ACT/360"),
    Phrase.THIRTY_360: Wording("30/360"),
    Phrase.FIRST_DAY_ONLY: Wording("片端 (first day counted, last not)"),
    Phrase.BOTH_ENDS: Wording("両端 (both ends counted)"),
    Phrase.LAST_DAY_ONLY: Wording("last day counted, first not"),
    Phrase.NEITHER_END: Wording("neither end counted"),
    Phrase.TRUNCATE: Wording("truncate"),
    Phrase.HALF_UP: Wording("half up"),
    Phrase.HALF_EVEN: Wording("half even"),
    Phrase.RULE_BINARY_THRESHOLD: Wording(
        lambda w, s: f"binary threshold at {w.n(s['threshold'])}"),
    Phrase.RULE_LINEAR: Wording(
        lambda w, s: f"linear from {w.n(s['floor'])} (0) to {w.n(s['cap'])} (full)"),
    Phrase.RULE_PRO_RATA: Wording(lambda w, s: f"pro rata to target {w.n(s['target'])}"),
    Phrase.RULE_STEPPED: Wording(lambda w, s: "stepped tiers " + "; ".join(w.each(s["tiers"]))),
    Phrase.RULE_RATE_CARD: Wording(lambda w, s: f"rate card {w.n(s['price'])} per outcome"),
    Phrase.RULE_SAVINGS_SHARE: Wording(
        lambda w, s: f"savings share {w.n(s['before'])} up to {w.n(s['hurdle'])}, then "
                     f"{w.n(s['after'])}"),
    Phrase.RULE_FIXED: Wording("fixed: paid on delivery"),
    Phrase.RULE_FIXED_ON_CONDITIONS: Wording(
        lambda w, s: "fixed: the whole maximum when " + (
            "all of the conditions below are" if s.get("mode") is Phrase.ALL_OF
            else "at least one of the conditions below is") + " met, else nothing"),
    Phrase.RULE_CONTRACT_CAP: Wording(lambda w, s: f"contract total cap {w.n(s['cap'])}"),
    Phrase.RULE_CONSUMPTION_TAX: Wording(
        lambda w, s: f"{w.n(s['rate'])} on the invoice total, once per invoice"),
    Phrase.RULE_CONSUMPTION_TAX_INCLUDED: Wording(
        lambda w, s: f"{w.n(s['rate'])} included in the invoice total, extracted once per "
                     "invoice"),
    Phrase.RULE_GRANT: Wording(
        lambda w, s: "rate {}/{} of the payer's cost".format(*ratio(s["rate"]))),
    Phrase.RULE_WATERFALL: Wording(lambda w, s: " → ".join(w.each(s["order"]))),
    Phrase.RULE_LOSS: Wording("unpaid principal at the end of the contract"),
    Phrase.RULE_LOAN_INTEREST: Wording(
        lambda w, s: f"{w.n(s['rate'])} a year, {w(s['day_count'])}, {w(s['ends'])}, "
                     f"{w(s['rounding'])}"),
    Phrase.RULE_TARGET_RETURN: Wording(
        lambda w, s: f"{'; '.join(w.each(s['rates']))} a year, ACT/{w.n(s['basis'])}, on each "
                     "amount of capital from the day it is paid in to the day it is returned; "
                     "owed = accrued (rounded once) − returns already paid"),
    Phrase.RULE_TIERED_RETURN: Wording(
        lambda w, s: f"each fiscal year's rate from the tier {_measure_en(w, s)} reaches"
                     + (f", at least {w.n(s['minimum'])} in the first {w.n(s['years'])} years"
                        if s.get("years") and s["years"].value else "")  # type: ignore[union-attr]
                     + f"; ACT/{w.n(s['basis'])} on each amount of capital; owed = accrued "
                     "(rounded once) − returns already paid"),
    Phrase.RULE_CURVE_RETURN: Wording(
        lambda w, s: f"each fiscal year's rate read off the curve at {_measure_en(w, s)}"
                     + (f", at least {w.n(s['minimum'])} in the first {w.n(s['years'])} years"
                        if s.get("years") and s["years"].value else "")  # type: ignore[union-attr]
                     + f"; ACT/{w.n(s['basis'])} on each amount of capital; owed = accrued "
                     "(rounded once) − returns already paid"),
    Phrase.RULE_IRR_RETURN: Wording(
        lambda w, s: f"capital plus {w.n(s['rate'])} IRR on the dated cash flows "
                     f"((1 + rate)^(days/{w.n(s['basis'])})); owed = what brings the class to "
                     "that IRR − returns already paid"),
    Phrase.RULE_COMPOUNDING_RETURN: Wording(
        lambda w, s: f"{w.n(s['rate'])} a year compounded yearly on the dated cash flows "
                     f"(simple within a year of {w.n(s['basis'])} days); owed = accrued − "
                     "returns already paid"),
    Phrase.RULE_FIXED_RETURN: Wording(
        lambda w, s: f"a fixed return of {w.n(s['amount'])}, owed at the final distribution"),
    Phrase.TIER_AMOUNT: Wording(lambda w, s: f"{_tier_span(w, s)} → {w.n(s['amount'])}"),
    Phrase.TIER_PERCENT: Wording(lambda w, s: f"{_tier_span(w, s)} → {w.n(s['percent'])} %"),
    Phrase.PAYER_PART: Wording(lambda w, s: f"{w(s['payer'])} {w(s['amount'])}"),
    Phrase.RATE_FROM: Wording(
        lambda w, s: w.n(s["rate"]) + (f" from {w(s['from'])}" if s.get("from") else "")),
    Phrase.MAXIMUM: Wording("maximum"),
    Phrase.AUDITED_VALUE: Wording("audited value"),
    Phrase.DIRECTION: Wording("direction"),
    Phrase.TARGET: Wording("target"),
    Phrase.PERSONS: Wording("persons"),
    Phrase.EARNED_BEFORE: Wording("earned in earlier years"),
    Phrase.EARNED_THIS_YEAR: Wording("earned this year before cap"),
    Phrase.AVAILABLE: Wording("available"),
    Phrase.UNPAID: Wording("unpaid"),
    Phrase.RATE_ANNUAL: Wording("annual rate"),
    Phrase.VALUED_ON: Wording("valued on"),
    Phrase.CONDITION_MET: Wording(
        lambda w, s: f"condition on {w(s['name'])}",
        lambda w, s: f"{w.n(s['kpi'])} {'≤' if is_lower(s) else '≥'} {w.n(s['threshold'])}"),
    Phrase.CONDITIONS_HOLD: Wording(
        lambda w, s: f"conditions hold ({w(s['mode'])} met)", None, ""),
    Phrase.THRESHOLD_MET: Wording(
        "threshold met",
        lambda w, s: f"{w.n(s['kpi'])} {'≤' if is_lower(s) else '≥'} {w.n(s['threshold'])}"),
    Phrase.SHARE_EARNED: Wording(
        "share earned",
        lambda w, s: f"({w.n(s['kpi'])} − {w.n(s['floor'])}) ÷ ({w.n(s['cap'])} − "
                     f"{w.n(s['floor'])}), within 0..1"),
    Phrase.AMOUNT_OF_SHARE: Wording(
        "amount", lambda w, s: f"{w.n(s['share'])} × {w.n(s['maximum'])}"),
    Phrase.ACHIEVEMENT: Wording(
        "achievement",
        lambda w, s: f"{w.n(s['target'])} ÷ {w.n(s['kpi'])} (lower is better)" if is_lower(s)
        else f"{w.n(s['kpi'])} ÷ {w.n(s['target'])}"),
    Phrase.AMOUNT_OF_ACHIEVEMENT: Wording(
        "amount", lambda w, s: f"min(achievement, 1) × {w.n(s['maximum'])}"),
    Phrase.TIER_BY_AMOUNT: Wording("tier", lambda w, s: f"{w.n(s['from'])} ≤ {w.n(s['kpi'])}"),
    Phrase.TIER_BY_PERCENT: Wording(
        "tier", lambda w, s: f"{w.n(s['percent'])} % × {w.n(s['maximum'])}"),
    Phrase.NO_TIER: Wording("tier", lambda w, s: f"{w.n(s['kpi'])} is in no tier"),
    Phrase.EARNED_PER_PERSON: Wording("earned per person", _per_person),
    Phrase.EARNED_OUTCOMES: Wording(
        "earned", lambda w, s: f"{w.n(s['outcomes'])} outcomes × {w.n(s['price'])}"),
    Phrase.TOTAL_CAP: Wording("total cap", lambda w, s: f"at most {w.n(s['cap'])}"),
    Phrase.SHARE_BELOW_HURDLE: Wording(
        "share below hurdle", lambda w, s: f"{w.n(s['savings'])} × {w.n(s['share'])}"),
    Phrase.SHARE_ABOVE_HURDLE: Wording(
        "share above hurdle", lambda w, s: f"{w.n(s['savings'])} × {w.n(s['share'])}"),
    Phrase.CAPPED: Wording(
        "capped", lambda w, s: f"between 0 and the maximum {w.n(s['maximum'])}"),
    Phrase.SPLIT_BETWEEN_PAYERS: Wording(
        "split between payers", lambda w, s: f"by their committed parts {w(s['parts'])}"),
    Phrase.ROOM_UNDER_CAP: Wording(
        "room under the cap", lambda w, s: f"{w.n(s['cap'])} − {w.n(s['earned_before'])}"),
    Phrase.TAX: Wording("tax", lambda w, s: f"{w.n(s['earned'])} × {w.n(s['rate'])}"),
    Phrase.TAX_INSIDE: Wording(
        "tax included", lambda w, s: "{} × {}/{}".format(w.n(s["earned"]), *ratio(s["share"]))),
    Phrase.TAX_BOOKED_BEFORE: Wording(
        "less the tax the year's other evaluation booked",
        lambda w, s: f"{w.n(s['invoice_tax'])} − {w.n(s['before'])}"),
    Phrase.GRANT_COVERED: Wording(
        "covered", lambda w, s: "{} × {}/{}".format(w.n(s["due"]), *ratio(s["rate"]))),
    Phrase.GRANT_LIMIT: Wording(
        "within the grant's limit",
        lambda w, s: f"{w.n(s['rounded'])} after rounding ({w(s['mode'])}); at most "
                     f"{w.n(s['limit'])} for all its payers together, shared in proportion"),
    Phrase.WATERFALL_STEP: Wording(
        lambda w, s: f"{w(s['step'])} (seniority {w.n(s['seniority'])})",
        lambda w, s: f"owed {w.n(s['owed'])}, paid {w(s['paid'])}"),
    Phrase.GUARANTEE: Wording("guarantee", _guarantee),
    Phrase.WRITTEN_DOWN: Wording(
        "written down", lambda w, s: f"{w.n(s['unpaid'])} − {w.n(s['guaranteed'])}"),
    Phrase.INTEREST_ON: Wording(
        lambda w, s: f"interest on {w.n(s['amount'])} from {w(s['since'])} to {w(s['until'])}",
        lambda w, s: f"{w.n(s['amount'])} × {w.n(s['rate'])} × {w.n(s['days'])} / "
                     f"{w.n(s['basis'])}"),
    Phrase.INTEREST_BEFORE_ROUNDING: Wording("interest before rounding", "sum of the above"),
    Phrase.PRINCIPAL_GRACE: Wording("principal", "grace period (据置期間): interest only"),
    Phrase.PRINCIPAL_LAST: Wording("principal", "last instalment: all principal outstanding"),
    Phrase.PRINCIPAL_BULLET: Wording("principal", "bullet: principal due on the last date"),
    Phrase.PRINCIPAL_EQUAL: Wording("principal", "equal principal (元金均等) instalment"),
    Phrase.PRINCIPAL_TABLE: Wording("principal", "the agreement's repayment table"),
    Phrase.PRINCIPAL_LEVEL: Wording(
        "principal", lambda w, s: f"level payment {w.n(s['level'])} − interest "
                                  f"{w.n(s['interest'])} (元利均等)"),
    Phrase.NEXT_DUE_DATE: Wording(
        "next due date", lambda w, s: f"instalment {w.n(s['instalment'])}"),
    Phrase.NO_OPEN_PERIOD: Wording(
        "no open interest period",
        lambda w, s: f"{w(s['on'])} is before the first draw or after the last due date"),
    Phrase.CAPITAL_CHANGE: Wording(_capital_label, _capital_formula),
    Phrase.ACCRUED: Wording(
        "accrued", lambda w, s: f"the return on the capital timeline to {w(s['on'])}"),
    Phrase.ACCRUED_ROUNDED: Wording("accrued, rounded", lambda w, s: w(s["mode"])),
    Phrase.ALREADY_PAID: Wording(
        "already paid", lambda w, s: f"returns distributed by {w(s['on'])}"),
    Phrase.OWED: Wording("owed", _owed),
    Phrase.YEAR_RATE: Wording(
        lambda w, s: f"rate FY{s['year'].value}",  # type: ignore[union-attr]
        lambda w, s: (("nothing received yet" if s.get("measure") else "no audited result yet")
                      if s.get("kpi") is None
                      else f"{'received' if s.get('measure') else 'result'} {w.n(s['kpi'])} "
                           f"→ tier {w.n(s['tier'])}")
        + f", minimum {w.n(s['floor'])}"),
    Phrase.FLOW_VALUE: Wording(
        lambda w, s: f"flow of {w(s['on'])}",
        lambda w, s: f"{w.n(s['amount'])} × growth over {w.n(s['days'])} days "
                     f"{w.n(s['growth'])}"),
    Phrase.FLOWS_NET: Wording(
        "accrued on the flows",
        lambda w, s: f"{w.n(s['valued'])} − capital outstanding {w.n(s['outstanding'])} + "
                     f"returns paid {w.n(s['paid'])}"),
    Phrase.FIXED_RETURN_DUE: Wording(
        "fixed return due",
        lambda w, s: f"{w.n(s['amount'])} at the final distribution (final: {w(s['final'])})"),
    Phrase.RETURN_CAPPED: Wording(
        "capped", lambda w, s: f"accrued {w.n(s['accrued'])} is above the cap"),
}

ENGLISH_SUBJECTS: dict[Subject, Callable[[Writer, About], str]] = {
    Subject.TRANCHE: _tranche_en,
    Subject.CONTRACT_CAP: lambda w, a: f"contract cap FY{a.fiscal_year}",
    Subject.CONSUMPTION_TAX: lambda w, a: f"consumption tax FY{a.fiscal_year} — {a.payer}",
    Subject.GRANT: lambda w, a: f"grant {a.grant} FY{a.fiscal_year} — {a.payer}",
    Subject.WATERFALL: lambda w, a: "waterfall",
    Subject.LOSS: lambda w, a: f"loss on {a.instrument}",
    Subject.INVESTOR_RETURN: lambda w, a: a.name or f"return owed to {a.instrument} on {a.on}",
    Subject.INSTALMENT: _instalment_en,
    Subject.ACCRUED_INTEREST: lambda w, a: f"interest accrued to {a.on}, not yet due",
}

# A Japanese contract's English documents name a convention by its Japanese term too (its
# reader is a Japanese bank or office); a contract in another currency reads plain English.
PLAIN_ENGLISH_WORDS: dict[Phrase, Wording] = {
    Phrase.DEFAULT_INTEREST: Wording("default interest"),
    Phrase.FIRST_DAY_ONLY: Wording("first day counted, last not"),
    Phrase.BOTH_ENDS: Wording("both ends counted"),
    Phrase.PRINCIPAL_GRACE: Wording("principal", "grace period: interest only"),
    Phrase.PRINCIPAL_EQUAL: Wording("principal", "equal principal instalment"),
    Phrase.PRINCIPAL_LEVEL: Wording(
        "principal", lambda w, s: f"level payment {w.n(s['level'])} − interest "
                                  f"{w.n(s['interest'])}"),
}

English.words = ENGLISH_WORDS
English.subjects = ENGLISH_SUBJECTS
ENGLISH = English()
