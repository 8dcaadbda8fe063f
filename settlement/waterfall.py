"""The waterfall: outcome money distributed in the contract's order, shortfalls junior first.

Pure. Claims (what each party is owed now) are grouped by step (provider fees, costs,
interest, principal, investor returns, in the contract's order); within a step the most senior
claims (lowest seniority number) are paid first; claims of equal seniority share what is left
in proportion to what they are owed (exactly, through ``ledger.rounding.allocate``). At the
end of the contract, what remains unpaid of at-risk principal is a loss: a guarantee covers its
part, the rest is written down — the most junior instrument having been paid last, it bears
the shortfall first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import groupby

from ledger.rounding import RemainderPolicy, RoundingMode, allocate, round_minor
from settlement.trace import (
    WATERFALL_TERMS,
    About,
    Phrase,
    Step,
    Subject,
    Trace,
    minor,
    number,
    share,
)

STEPS = ("provider_fees", "costs", "interest", "principal", "investor_returns")


@dataclass(frozen=True)
class Claim:
    """Something owed from outcome money.

    Attributes:
        step: one of ``STEPS``.
        instrument: what the claim is on (a loan id, a provider id, a unit class id).
        party: who receives it.
        amount_minor: what is owed now.
        seniority: 1 is the most senior.
        trace: how ``amount_minor`` was obtained, when it is computed (an investor return:
            accrued, already paid, owed); not part of the claim's identity.
    """

    step: str
    instrument: str
    party: str
    amount_minor: int
    seniority: int = 1
    trace: Trace | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Allocation:
    """What a claim received and what it is still owed."""

    claim: Claim
    paid_minor: int

    @property
    def unpaid_minor(self) -> int:
        return self.claim.amount_minor - self.paid_minor


@dataclass
class WaterfallResult:
    """The distribution of one amount of money."""

    available_minor: int
    allocations: list[Allocation]
    left_minor: int
    trace: Trace


def run_waterfall(available_minor: int, claims: Sequence[Claim],
                  order: Sequence[str] = STEPS) -> WaterfallResult:
    """Pay ``claims`` out of ``available_minor`` in ``order``, senior first, pro rata within."""
    rank = {step: i for i, step in enumerate(order)}
    unknown = [c for c in claims if c.step not in rank]
    if unknown:
        raise ValueError(f"claims for steps not in the waterfall: {unknown[0].step}")
    trace = Trace(About(Subject.WATERFALL), Step(Phrase.RULE_WATERFALL, params={
        "order": tuple(WATERFALL_TERMS[step] for step in order)}))
    trace.input(Phrase.AVAILABLE, minor(available_minor))
    left = available_minor
    allocations: list[Allocation] = []
    ordered = sorted(claims, key=lambda c: (rank[c.step], c.seniority))
    for (step, seniority), group in groupby(ordered, key=lambda c: (c.step, c.seniority)):
        members = list(group)
        owed = sum(c.amount_minor for c in members)
        paid_total = min(owed, left)
        if owed and paid_total < owed:
            parts = allocate(paid_total, [c.amount_minor for c in members],
                             RemainderPolicy.LARGEST_REMAINDER)
        else:
            parts = [c.amount_minor for c in members]
        for claim, part in zip(members, parts):
            allocations.append(Allocation(claim, part))
        left -= paid_total
        trace.step(Phrase.WATERFALL_STEP, minor(paid_total), step=WATERFALL_TERMS[step],
                   seniority=number(seniority), owed=minor(owed),
                   paid=Phrase.PAID_IN_FULL if paid_total == owed else Phrase.PAID_IN_PART)
    trace.result_minor = available_minor - left
    return WaterfallResult(available_minor, allocations, left, trace)


@dataclass(frozen=True)
class Loss:
    """The end-of-contract loss on one instrument.

    Attributes:
        unpaid_minor: principal not repaid.
        guaranteed_minor: the part a guarantee covers (paid by the guarantor).
        written_down_minor: the rest, written down.
    """

    instrument: str
    party: str
    unpaid_minor: int
    guaranteed_minor: int
    written_down_minor: int
    trace: Trace


def losses(unpaid: Sequence[tuple[str, str, int]],
           guarantees: Sequence[tuple[str, Fraction | None, int | None]],
           rounding: RoundingMode = RoundingMode.TRUNCATE) -> list[Loss]:
    """Losses on instruments ``(instrument, party, unpaid principal)``, reduced by guarantees
    ``(covered instrument, cover share, cover maximum)``."""
    cover = {g[0]: g for g in guarantees}
    out = []
    for instrument, party, amount in unpaid:
        trace = Trace(About(Subject.LOSS, instrument=instrument, party=party),
                      Step(Phrase.RULE_LOSS))
        trace.input(Phrase.UNPAID, minor(amount))
        guaranteed = 0
        if instrument in cover and amount > 0:
            _, cover_share, maximum = cover[instrument]
            exact = Fraction(amount) * (cover_share if cover_share is not None else Fraction(1))
            guaranteed = round_minor(exact, rounding)
            if maximum is not None:
                guaranteed = min(guaranteed, maximum)
            trace.step(Phrase.GUARANTEE, minor(guaranteed), unpaid=minor(amount),
                       share=None if cover_share is None else share(cover_share),
                       maximum=None if maximum is None else minor(maximum))
        written = amount - guaranteed
        trace.step(Phrase.WRITTEN_DOWN, minor(written), unpaid=minor(amount),
                   guaranteed=minor(guaranteed))
        trace.result_minor = written
        out.append(Loss(instrument, party, amount, guaranteed, written, trace))
    return out
