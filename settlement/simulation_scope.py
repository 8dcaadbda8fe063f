"""What a reader may see of a simulation's figures (issues 15 and 16). Pure.

A simulation's summary (:func:`settlement.simulation.summarise`) holds every party's figures.
A finance office reads only the payers the API lets it read (its own municipality, the lead
payer every payer where the contract grants it: :func:`api.deps.payers_visible_to`) and none
of the contract-wide figures: the payments of all payers together, the loans and lenders, the
providers' fixed fees, the unit classes and the public cost — the roles that read the whole
contract do. :func:`scoped` cuts a summary to a :class:`Scope`; the page, the JSON, the PDF and
the workbook all show what it leaves, so they cannot disagree about what a reader sees. The
whole scope leaves the summary as it is (the same object), so a document made for a reader of
the whole contract is the same bytes as one made without a scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONTRACT_WIDE = ("payments_by_year", "loans", "fixed_fees_unpaid", "lenders", "classes",
                 "public_cost")
"""The summary's keys that are the whole contract's (every payer's, lender's, provider's
or class's), shown only with :attr:`Scope.whole`."""


@dataclass(frozen=True)
class Scope:
    """What one reader may see of a simulation.

    Attributes:
        payers: the payers whose figures are shown; None for every payer.
        whole: whether the contract-wide figures (:data:`CONTRACT_WIDE`) are shown.
    """

    payers: frozenset[str] | None = None
    whole: bool = True

    @property
    def everything(self) -> bool:
        """Whether nothing is cut (the reader of the whole contract)."""
        return self.whole and self.payers is None

    def shows_payer(self, payer: str) -> bool:
        return self.payers is None or payer in self.payers


WHOLE = Scope()


def scoped(summary: Mapping[str, Any], scope: Scope) -> Mapping[str, Any]:
    """``summary`` as ``scope``'s reader may see it: only its payers (their figures, and
    their receipt dates in the plans), and the contract-wide figures only for the whole
    contract's readers. The whole scope returns ``summary`` itself."""
    if scope.everything:
        return summary
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if key in CONTRACT_WIDE and not scope.whole:
            continue
        if key == "payers":
            value = [p for p in value if scope.shows_payer(p["payer"])]
        elif key == "plans":
            value = [{**plan, "receipts_on": {payer: on for payer, on in
                                              plan["receipts_on"].items()
                                              if scope.shows_payer(payer)}}
                     for plan in value]
        out[key] = value
    return out
