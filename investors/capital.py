"""Capital account roll-forward per holder and class, built from dated movements.

Sign conventions. Every movement amount is a non-negative integer of minor units; its *kind*
says which way it moves the account, which is the holder's claim on the vehicle:

- ``contribution`` (paid in: a subscription or a draw) increases the account;
- ``income`` (profit allocated to the holder, 損益分配) increases it;
- ``distribution`` (paid out, gross of withholding) decreases it; ``withheld_minor`` is the part
  of the gross paid to the tax office for the holder, so the holder received gross − withheld;
- ``recovery`` (principal a guarantor paid the holder in the vehicle's place, 保証履行)
  decreases it: money the holder received, never a loss;
- ``write_down`` (loss borne by the class when outcomes fall short and nobody paid) decreases
  it.

So ``closing = opening + contributions + income − distributions(gross) − recoveries −
write-downs``. With no
income allocated, as in a plain repayment of principal, this is the familiar
``opening + contributions − distributions − write-downs``. The opening balance of a period is
the sum of every movement before the period starts, so an account never needs a stored balance
that could drift from its movements. A correction is a further movement, never an edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from enum import Enum

from ledger.errors import Problem, Problems, SibError


class MovementKind(str, Enum):
    """Which way a movement moves a capital account (see the module's sign conventions)."""

    CONTRIBUTION = "contribution"
    INCOME = "income"
    DISTRIBUTION = "distribution"
    RECOVERY = "recovery"
    WRITE_DOWN = "write_down"


class HolderPaymentKind(str, Enum):
    """What a payment recorded for a holder is (``HolderPayment.kind``), defined once.

    ``distribution``: a return, paid by the vehicle, taxed; ``capital_return``: capital paid
    back by the vehicle; ``guarantee_recovery``: capital paid by a guarantor in the vehicle's
    place (a recovery: money received); ``write_down``: capital lost, nothing paid.
    """

    DISTRIBUTION = "distribution"
    CAPITAL_RETURN = "capital_return"
    GUARANTEE_RECOVERY = "guarantee_recovery"
    WRITE_DOWN = "write_down"

    @property
    def is_money_received(self) -> bool:
        """Whether the holder received money (counts in the multiple and IRR)."""
        return self is not HolderPaymentKind.WRITE_DOWN

    @property
    def paid_by_vehicle(self) -> bool:
        """Whether the vehicle's cash pays it (a guarantor pays a recovery directly)."""
        return self in (HolderPaymentKind.DISTRIBUTION, HolderPaymentKind.CAPITAL_RETURN)


def payment_movements(holder_id: str, class_id: str, kind: str, on: date, gross_minor: int,
                      withheld_minor: int = 0, currency: str = "JPY",
                      memo: str = "") -> list[CapitalMovement]:
    """The capital movements of one holder payment of ``kind`` (a :class:`HolderPaymentKind`
    value): a distribution is income allocated and paid out; a capital return a payout; a
    guarantee recovery a recovery; a write-down a loss."""
    paid = HolderPaymentKind(kind)
    if paid is HolderPaymentKind.DISTRIBUTION:
        return [CapitalMovement(holder_id, class_id, on, MovementKind.INCOME, gross_minor,
                                currency=currency, memo=memo),
                CapitalMovement(holder_id, class_id, on, MovementKind.DISTRIBUTION,
                                gross_minor, withheld_minor, currency, memo)]
    movement = {HolderPaymentKind.CAPITAL_RETURN: MovementKind.DISTRIBUTION,
                HolderPaymentKind.GUARANTEE_RECOVERY: MovementKind.RECOVERY,
                HolderPaymentKind.WRITE_DOWN: MovementKind.WRITE_DOWN}[paid]
    return [CapitalMovement(holder_id, class_id, on, movement, gross_minor, currency=currency,
                            memo=memo)]


@dataclass(frozen=True)
class CapitalMovement:
    """One dated movement of a holder's capital account in one class.

    Attributes:
        holder_id: the holder.
        class_id: the class (tranche) the units belong to.
        on: value date.
        kind: contribution, income, distribution, recovery or write_down.
        amount_minor: non-negative minor units (gross for a distribution).
        withheld_minor: tax withheld from a distribution; zero for other kinds.
        currency: ISO 4217 code.
        memo: why the movement exists (settlement run, entry id), for the reader.
    """

    holder_id: str
    class_id: str
    on: date
    kind: MovementKind
    amount_minor: int
    withheld_minor: int = 0
    currency: str = "JPY"
    memo: str = ""


@dataclass(frozen=True)
class CapitalAccount:
    """A capital account rolled forward over a period (both ends included).

    Attributes:
        holder_id: the holder, or ``"*"`` for a class total.
        class_id: the class.
        currency: ISO 4217 code of every amount.
        start_on: first day of the period.
        end_on: last day of the period.
        opening_minor: balance at the start of ``start_on``.
        contributions_minor: paid in during the period.
        income_minor: profit allocated during the period.
        distributions_gross_minor: paid out during the period, before withholding.
        distributions_withheld_minor: tax withheld from those distributions.
        write_downs_minor: losses borne during the period.
        closing_minor: balance at the end of ``end_on``.
        recoveries_minor: capital paid by a guarantor during the period (money received).
    """

    holder_id: str
    class_id: str
    currency: str
    start_on: date
    end_on: date
    opening_minor: int
    contributions_minor: int
    income_minor: int
    distributions_gross_minor: int
    distributions_withheld_minor: int
    write_downs_minor: int
    closing_minor: int
    recoveries_minor: int = 0

    def __post_init__(self) -> None:
        expected = (self.opening_minor + self.contributions_minor + self.income_minor
                    - self.distributions_gross_minor - self.recoveries_minor
                    - self.write_downs_minor)
        if expected != self.closing_minor:
            raise SibError(f"capital account of {self.holder_id}/{self.class_id} does not roll "
                           f"forward: opening + movements = {expected}, closing "
                           f"{self.closing_minor}", "CAPITAL_ACCOUNT_UNBALANCED", "closing_minor")

    @property
    def distributions_net_minor(self) -> int:
        """What the holder received in cash: gross distributions less tax withheld."""
        return self.distributions_gross_minor - self.distributions_withheld_minor


def _signed(movement: CapitalMovement) -> int:
    """The movement's effect on the balance under the module's sign conventions."""
    increases = movement.kind in (MovementKind.CONTRIBUTION, MovementKind.INCOME)
    return movement.amount_minor if increases else -movement.amount_minor


def check_movements(movements: Sequence[CapitalMovement]) -> list[Problem]:
    """Every problem with ``movements``, each naming the movement's index; empty if none."""
    return list(_problems(movements).items)


def _problems(movements: Sequence[CapitalMovement]) -> Problems:
    problems = Problems()
    for i, m in enumerate(movements):
        where = f"movements[{i}]"
        if not isinstance(m.amount_minor, int) or isinstance(m.amount_minor, bool) \
                or m.amount_minor < 0:
            problems.add("MOVEMENT_AMOUNT_INVALID", "a movement amount is a non-negative "
                         "integer of minor units; its kind gives the direction",
                         f"{where}.amount_minor")
            continue
        if m.kind is not MovementKind.DISTRIBUTION and m.withheld_minor:
            problems.add("MOVEMENT_WITHHOLDING_INVALID", "only distributions have tax withheld",
                         f"{where}.withheld_minor")
        elif not 0 <= m.withheld_minor <= m.amount_minor:
            problems.add("MOVEMENT_WITHHOLDING_INVALID", f"withheld {m.withheld_minor} is not "
                         f"between 0 and the gross {m.amount_minor}", f"{where}.withheld_minor")
    return problems


def _in_period(movements: Sequence[CapitalMovement], kind: MovementKind, start_on: date,
               end_on: date) -> list[CapitalMovement]:
    return [m for m in movements if m.kind is kind and start_on <= m.on <= end_on]


def _total(movements: Sequence[CapitalMovement]) -> int:
    return sum(m.amount_minor for m in movements)


def roll_forward(holder_id: str, class_id: str, movements: Sequence[CapitalMovement],
                 start_on: date, end_on: date, currency: str = "JPY") -> CapitalAccount:
    """The capital account of one holder in one class over ``start_on``..``end_on``.

    ``movements`` may hold other holders' and classes' movements and the whole history: only
    this holder and class count, those before the period make the opening balance, those
    after it are not part of this account. Invalid movements and other currencies are
    refused, every problem named.
    """
    own = [m for m in movements if m.holder_id == holder_id and m.class_id == class_id]
    problems = _problems(own)
    for i, m in enumerate(own):
        if m.currency != currency:
            problems.add("CURRENCY_MIXED", f"movement in {m.currency}, account in {currency}",
                         f"movements[{i}].currency")
    if end_on < start_on:
        problems.add("PERIOD_INVALID", "the period ends before it starts", "end_on")
    problems.raise_if_any()
    opening = sum(_signed(m) for m in own if m.on < start_on)
    distributions = _in_period(own, MovementKind.DISTRIBUTION, start_on, end_on)
    closing = opening + sum(_signed(m) for m in own if start_on <= m.on <= end_on)
    return CapitalAccount(
        holder_id, class_id, currency, start_on, end_on, opening,
        _total(_in_period(own, MovementKind.CONTRIBUTION, start_on, end_on)),
        _total(_in_period(own, MovementKind.INCOME, start_on, end_on)),
        _total(distributions), sum(m.withheld_minor for m in distributions),
        _total(_in_period(own, MovementKind.WRITE_DOWN, start_on, end_on)), closing,
        _total(_in_period(own, MovementKind.RECOVERY, start_on, end_on)))


def roll_forward_all(movements: Sequence[CapitalMovement], start_on: date, end_on: date,
                     currency: str = "JPY") -> list[CapitalAccount]:
    """Every holder's account in every class that has movements, in (class, holder) order."""
    keys = sorted({(m.class_id, m.holder_id) for m in movements})
    return [roll_forward(holder_id, class_id, movements, start_on, end_on, currency)
            for class_id, holder_id in keys]


_SUMMED = ("opening_minor", "contributions_minor", "income_minor", "distributions_gross_minor",
           "distributions_withheld_minor", "write_downs_minor", "closing_minor",
           "recoveries_minor")


def _sum_accounts(class_id: str, accounts: Sequence[CapitalAccount]) -> CapitalAccount:
    first = accounts[0]
    totals = {name: sum(getattr(a, name) for a in accounts) for name in _SUMMED}
    return CapitalAccount(holder_id="*", class_id=class_id, currency=first.currency,
                          start_on=first.start_on, end_on=first.end_on, **totals)


def class_totals(accounts: Sequence[CapitalAccount]) -> dict[str, CapitalAccount]:
    """Per class, the exact sum of its holders' accounts (holder ``"*"``), in class order.

    Integers add exactly, so a class total always equals the sum of the statements sent to its
    holders. Accounts over different periods or currencies cannot be added and are refused.
    """
    if len({(a.start_on, a.end_on) for a in accounts}) > 1:
        raise SibError("accounts over different periods cannot be added", "PERIOD_MIXED",
                       "accounts")
    if len({a.currency for a in accounts}) > 1:
        raise SibError("accounts in different currencies cannot be added", "CURRENCY_MIXED",
                       "accounts")
    by_class: dict[str, list[CapitalAccount]] = {}
    for account in accounts:
        by_class.setdefault(account.class_id, []).append(account)
    return {c: _sum_accounts(c, by_class[c]) for c in sorted(by_class)}


def account_fields() -> tuple[str, ...]:
    """Names of a capital account's fields, in order (the column order of exports)."""
    return tuple(f.name for f in fields(CapitalAccount))
