"""Holder returns as data (issue 13, item 7): per holder and class, and per class, what was paid
in, what came back (the return and the capital apart), what was written down or recovered from
a guarantor, and the IRR and multiple — as of any date.

The figures are the investor statement's: the same subscriptions and holder payments, the same
cash flows (money received counts, a write-down does not), the capital account's closing
balance as the residual value, and :func:`investors.returns.summarise` for IRR and multiple.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from contracts.store import get_contract
from investors.capital import HolderPaymentKind
from investors.returns import CashFlow, ReturnSummary, summarise
from investors.store import capital_account, get_holder, holder_payments
from investors.tables import Holder, HolderPayment, Subscription


@dataclass(frozen=True)
class HolderReturns:
    """One holder's units of one class (``holder`` None: the whole class) at ``as_of``.

    Amounts are minor units of the contract's currency; distributed amounts are gross (before
    the tax withheld).
    """

    unit_class: str
    holder: str | None
    as_of: date
    paid_in_minor: int
    return_distributed_minor: int
    capital_returned_minor: int
    recovered_minor: int
    written_down_minor: int
    withheld_minor: int
    residual_minor: int
    summary: ReturnSummary

    @property
    def irr(self) -> Decimal | None:
        return self.summary.irr

    @property
    def moic(self) -> Decimal | None:
        return self.summary.moic


def _figures(unit_class: str, holder: str | None, as_of: date,
             subscriptions: Iterable[Subscription], payments: Iterable[HolderPayment],
             residual_minor: int) -> HolderReturns:
    subs = [s for s in subscriptions if s.subscribed_on <= as_of]
    pays = [p for p in payments if p.paid_on <= as_of]

    def total(kind: HolderPaymentKind) -> int:
        return sum(p.gross_minor for p in pays if p.kind == kind.value)
    flows = [CashFlow(s.subscribed_on, -s.amount_minor) for s in subs]
    flows += [CashFlow(p.paid_on, p.gross_minor) for p in pays
              if HolderPaymentKind(p.kind).is_money_received]
    return HolderReturns(
        unit_class, holder, as_of, sum(s.amount_minor for s in subs),
        total(HolderPaymentKind.DISTRIBUTION), total(HolderPaymentKind.CAPITAL_RETURN),
        total(HolderPaymentKind.GUARANTEE_RECOVERY), total(HolderPaymentKind.WRITE_DOWN),
        sum(p.withheld_minor for p in pays), residual_minor,
        summarise(flows, residual_minor, as_of))


def holder_returns(session: Session, contract_id: str, as_of: date,
                   holder_code: str | None = None) -> list[HolderReturns]:
    """Each holder's returns in each class it holds (only ``holder_code``'s when given),
    followed by each class's pooled returns (every holder's flows together)."""
    contract = get_contract(session, contract_id)
    wanted = get_holder(session, holder_code) if holder_code else None
    subs = list(session.scalars(select(Subscription).where(
        Subscription.contract_id == contract.id)))
    pays = holder_payments(session, contract.id)
    holders = {h.id: h for h in session.scalars(select(Holder).where(
        Holder.id.in_({s.holder_id for s in subs})))}  # type: ignore[union-attr]
    out: list[HolderReturns] = []
    for unit_class in contract.unit_classes:
        in_class = [s for s in subs if s.unit_class == unit_class.id]
        ids = sorted({s.holder_id for s in in_class}, key=lambda i: holders[i].code)
        residual_total = 0
        for holder_id in ids:
            holder = holders[holder_id]
            residual = capital_account(session, contract.id, holder, unit_class.id,
                                       date(1900, 1, 1), as_of).closing_minor
            residual_total += residual
            if wanted is not None and wanted.id != holder_id:
                continue
            out.append(_figures(unit_class.id, holder.code, as_of,
                                [s for s in in_class if s.holder_id == holder_id],
                                [p for p in pays if p.holder_id == holder_id
                                 and p.unit_class == unit_class.id], residual))
        if wanted is None and ids:
            out.append(_figures(unit_class.id, None, as_of, in_class,
                                [p for p in pays if p.unit_class == unit_class.id],
                                residual_total))
    return out


def as_json(row: HolderReturns, currency: str) -> dict[str, object]:
    """A row as JSON: money as ``{"amount", "currency"}``, rates as decimal strings."""
    from ledger.money_json import MoneyJSON

    def money(minor: int) -> dict[str, str]:
        return MoneyJSON.from_minor(minor, currency).model_dump()
    return {"unit_class": row.unit_class, "holder": row.holder, "as_of": row.as_of.isoformat(),
            "paid_in": money(row.paid_in_minor),
            "return_distributed": money(row.return_distributed_minor),
            "capital_returned": money(row.capital_returned_minor),
            "recovered_from_guarantor": money(row.recovered_minor),
            "written_down": money(row.written_down_minor),
            "tax_withheld": money(row.withheld_minor),
            "residual_value": money(row.residual_minor),
            "irr": None if row.irr is None else str(row.irr),
            "multiple": None if row.moic is None else str(row.moic)}


__all__ = ["HolderReturns", "as_json", "holder_returns"]
