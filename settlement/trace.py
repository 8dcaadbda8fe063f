"""Calculation traces: every computed figure carries the inputs, the rule and each step.

A trace is what a municipal auditor reads next to a payment: "continuation rate 83.5 % against
a line from 79 % (0) to 87 % (full) → 56.25 % of 3,000,000 = 1,687,500 (truncated)". It is
plain data (strings), stored with the settlement run and printed on statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any


def show(value: Any) -> str:
    """A figure as text, exactly: Decimals without exponent, Fractions as decimals when they
    terminate within 12 places, otherwise as ``a/b``."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        as_decimal = Decimal(value.numerator) / Decimal(value.denominator)
        if Fraction(as_decimal) == value and len(str(as_decimal)) < 24:
            return f"{as_decimal:f}"
        return f"{value.numerator}/{value.denominator} (≈{as_decimal:.6f})"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}"
    return str(value)


@dataclass(frozen=True)
class Step:
    """One intermediate figure: what it is, how it was obtained, its value."""

    label: str
    formula: str
    value: str


@dataclass
class Trace:
    """How a figure came to be.

    Attributes:
        subject: what was computed (``tranche participants-fy2019 × Ube``).
        rule: the rule's name and parameters as text.
        inputs: the input figures by name.
        steps: intermediate figures in order.
        rounding: the rounding applied at the end (mode and the dropped fraction).
        result_minor: the final amount in minor units.
    """

    subject: str
    rule: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    rounding: str = ""
    result_minor: int = 0

    def step(self, label: str, formula: str, value: Any) -> None:
        self.steps.append(Step(label, formula, show(value)))

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "rule": self.rule, "inputs": dict(self.inputs),
                "steps": [{"label": s.label, "formula": s.formula, "value": s.value}
                          for s in self.steps],
                "rounding": self.rounding, "result_minor": self.result_minor}

    def lines(self) -> list[str]:
        """The trace as readable lines, for statements and the CLI."""
        out = [f"{self.subject}: {self.rule}"]
        out += [f"  {k} = {v}" for k, v in self.inputs.items()]
        out += [f"  {s.label}: {s.formula} = {s.value}" for s in self.steps]
        if self.rounding:
            out.append(f"  rounding: {self.rounding}")
        out.append(f"  result: {self.result_minor:,}")
        return out
