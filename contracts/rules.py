"""The payment-rule shapes of a tranche, as data: which KPI value earns how much.

A tranche names its maximum amount; its rule says how the audited KPI value turns into a part
of that maximum. The rule is a discriminated union on ``type`` so that a contract file reads
``rule: {type: linear, floor: "79", cap: "87"}``. Settlement executes the rules; this module
only describes them. "Meets" always follows the KPI's direction: for a KPI where lower is
better, a value meets a threshold when it is at or below it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.values import AmountMinor, ExactDecimal, Percent, UnitRate


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BinaryThresholdRule(_Rule):
    """Pay the whole maximum if the KPI meets the threshold, else nothing.

    Attributes:
        threshold: the KPI value to reach (in the KPI's unit: ``"85"`` for 85 %).
    """

    type: Literal["binary_threshold"] = "binary_threshold"
    threshold: ExactDecimal


class LinearRule(_Rule):
    """Nothing at ``floor``, the whole maximum at ``cap``, a straight line between.

    For a KPI where higher is better the floor is below the cap (0 at 79 %, full at 87 %);
    where lower is better it is above (0 at 60 % inactive, full at 50 %).

    Attributes:
        floor: KPI value at which payment starts (earns 0).
        cap: KPI value at which the whole maximum is earned.
    """

    type: Literal["linear"] = "linear"
    floor: ExactDecimal
    cap: ExactDecimal


class ProRataRule(_Rule):
    """Maximum × achieved ÷ target, never above the maximum.

    Attributes:
        target: the value that earns the whole maximum; if omitted, the KPI's target for the
            tranche's fiscal year.
    """

    type: Literal["pro_rata"] = "pro_rata"
    target: ExactDecimal | None = None


class Tier(_Rule):
    """One row of a stepped table: values ``from <= value < to`` earn ``amount`` or
    ``percent`` of the tranche maximum. ``to`` omitted means "and above".

    Attributes:
        from_value: lower bound, inclusive (document key ``from``).
        to_value: upper bound, exclusive (document key ``to``), or None for no upper bound.
        amount_minor: amount earned in this tier (document key ``amount``), or
        percent: percentage of the tranche maximum earned in this tier.
    """

    from_value: ExactDecimal = Field(alias="from")
    to_value: ExactDecimal | None = Field(default=None, alias="to")
    amount_minor: AmountMinor | None = Field(default=None, alias="amount")
    percent: Percent | None = None


class SteppedRule(_Rule):
    """A table of tiers; the tier containing the KPI value gives the payment.

    Attributes:
        tiers: non-overlapping tiers; a value in no tier earns nothing.
    """

    type: Literal["stepped"] = "stepped"
    tiers: tuple[Tier, ...] = Field(min_length=1)


class RateCardRule(_Rule):
    """A price per outcome achieved per person, with caps per person and in total.

    The KPI counts outcomes; settlement needs them per person to apply ``cap_per_person``.

    Attributes:
        price_per_outcome_minor: price of one outcome (document key ``price_per_outcome``).
        cap_per_person_minor: most one person can earn (``cap_per_person``), if any.
        cap_total_minor: most the tranche can earn (``cap_total``), if below its maximum.
    """

    type: Literal["rate_card"] = "rate_card"
    price_per_outcome_minor: AmountMinor = Field(alias="price_per_outcome")
    cap_per_person_minor: AmountMinor | None = Field(default=None, alias="cap_per_person")
    cap_total_minor: AmountMinor | None = Field(default=None, alias="cap_total")


class SavingsShareRule(_Rule):
    """A share of the audited cost avoided, up to a hurdle, then a (usually lower) share.

    Attributes:
        share_before_hurdle: share of savings paid up to the hurdle (``"0.10"`` = 10 %).
        hurdle_amount_minor: savings amount at which the share changes (``hurdle_amount``).
        share_after_hurdle: share of savings above the hurdle.
    """

    type: Literal["savings_share"] = "savings_share"
    share_before_hurdle: UnitRate
    hurdle_amount_minor: AmountMinor = Field(alias="hurdle_amount")
    share_after_hurdle: UnitRate


class FixedRule(_Rule):
    """The whole maximum, paid on delivery whatever the outcome."""

    type: Literal["fixed"] = "fixed"


PaymentRule = Annotated[
    BinaryThresholdRule | LinearRule | ProRataRule | SteppedRule | RateCardRule | SavingsShareRule
    | FixedRule,
    Field(discriminator="type"),
]
"""Any payment rule, chosen by its ``type``."""

RULE_TYPES: tuple[str, ...] = ("binary_threshold", "linear", "pro_rata", "stepped", "rate_card",
                               "savings_share", "fixed")
