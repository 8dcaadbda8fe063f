"""The scalar books of every scenario at once, step for step. Pure.

:class:`settlement.simulation_books.ScenarioBooks` replays one scenario's money in the order
of ``make demo``. :func:`books_lockstep` takes the very same steps, in the same order, for
many scenarios together: every figure the books keep (the cash per date, each loan's
payments per instalment and component, interest and default interest booked, what is in
arrears, which day each scenario last serviced, the receipts applied, the returns paid) is an
array over the scenarios, and a step acts on the scenarios it concerns (a mask) exactly as
the scalar books act on one. It is how a scenario whose debt service falls short (arrears
across loans, 遅延損害金, a shortfall at the payoff) is settled without a second description
of the rules and without replaying it alone:

- what is the same in every scenario is computed once by the services' own functions: each
  loan's instalments — interest and principal — and the interest running on a date are
  :func:`settlement.servicing.loan_state` of the loan as drawn (no payment changes them: the
  books make no prepayment, an instalment's principal stops earning ordinary interest on its
  due date paid or not, and nothing is written down before the payoff — the terms that would
  change them, a cash sweep, send the contract to the scalar books);
- what a scenario's own cash decides is computed per scenario by the services' own rules:
  each group of a waterfall paid in part is split by :func:`ledger.rounding.allocate`, as
  :func:`settlement.waterfall.run_waterfall` splits it (a group paid in full needs no rule);
  a unit class's claims are :func:`settlement.class_returns.class_claims`, called once per
  distinct history of returns paid (a memo keyed by the exact facts); a shortfall at the
  payoff is :func:`settlement.waterfall.losses` of that scenario's unpaid principal;
- two pieces of arithmetic are done over arrays, each the integer form of one scalar rule
  and held to it by tests: the cash available on a day
  (:func:`settlement.debt_service.available_cash`: the balance, no more than the lowest
  balance after it, never below zero) and 遅延損害金
  (:func:`settlement.servicing.default_interest_of`: the amount owed × rate × days / 365,
  truncated per stretch between two settlements of the instalment).

Acceptance 1 of issue 16 holds the result to the scalar books scenario by scenario, and
chosen scenarios to what the services post in a scratch database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from itertools import groupby
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from contracts.instruments import Loan
from contracts.model import Contract
from ledger.rounding import RemainderPolicy, allocate
from settlement.class_returns import ClassFacts, class_claims, year_measures
from settlement.schedules import Schedule
from settlement.servicing import (
    COMPONENTS,
    DEFAULT_INTEREST_BASIS_DAYS,
    LoanRecord,
    LoanState,
    loan_state,
)
from settlement.simulation_books import (
    StateCache,
    Subscription,
    YearPlan,
    fixed_fees_of,
    schedules_of,
)
from settlement.unit_returns import CapitalChange, RateSchedule
from settlement.waterfall import Loss, losses

if TYPE_CHECKING:
    from settlement.simulation_engine import MoneyResults
    from settlement.simulation_payouts import Payouts

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
_LIMIT = 2**62  # an intermediate product must stay below this in int64


def lockstep_support(contract: Contract, plans: Sequence[YearPlan],
                     receipts_max_minor: int) -> list[str]:
    """Terms the lockstep books do not take (their scenarios go to the scalar books): a cash
    sweep (a prepayment changes every later instalment), a unit class's own return rule or
    redemptions, a residual given away, and amounts whose 遅延損害金 product would not fit in
    64 bits."""
    from settlement.simulation_engine import vectorised_books_support
    reasons = vectorised_books_support(contract)
    days = max(((p.distribution_on - min(d.drawn_on for ln in contract.loans for d in ln.draws))
                .days for p in plans), default=0) if contract.loans else 0
    biggest = max([sum(d.amount_minor for d in ln.draws) for ln in contract.loans]
                  + [receipts_max_minor], default=0)
    for loan in contract.loans:
        rate = Fraction(loan.default_interest_rate_annual or 0)
        if biggest * max(rate.numerator, 1) * max(days, 1) * 4 > _LIMIT:
            reasons.append(f"loan {loan.id}: amounts too large for 64-bit arithmetic")
    return reasons


@dataclass
class VectorClaim:
    """A waterfall claim in every scenario: ``amount`` per scenario (0: no claim there)."""

    step: str
    instrument: str
    party: str
    seniority: int
    amount: Ints


def waterfall_paid(available: Ints, claims: Sequence[VectorClaim], order: Sequence[str]
                   ) -> tuple[list[Ints], Ints]:
    """:func:`settlement.waterfall.run_waterfall` in every scenario: claims grouped by step
    and seniority in the same stable order; a group is paid in full where what is left
    covers it, else what is left is split by :func:`ledger.rounding.allocate` (largest
    remainder) among the claims of that scenario, exactly as the scalar waterfall splits it.
    A claim of 0 is no claim (it never takes a unit of a split). Returns what each claim was
    paid, and what is left."""
    rank = {step: i for i, step in enumerate(order)}
    unknown = [c.step for c in claims if c.step not in rank]
    if unknown:
        raise ValueError(f"claims for steps not in the waterfall: {unknown[0]}")
    left = np.asarray(available, dtype=np.int64).copy()
    paid: list[Ints] = [np.zeros_like(left) for _ in claims]
    ordered = sorted(range(len(claims)), key=lambda i: (rank[claims[i].step],
                                                        claims[i].seniority))
    for _, group in groupby(ordered, key=lambda i: (claims[i].step, claims[i].seniority)):
        members = list(group)
        amounts = np.stack([claims[i].amount for i in members])
        owed = amounts.sum(axis=0)
        total = np.minimum(owed, left)
        parts = amounts.copy()
        if len(members) == 1:
            parts[0] = total
        else:
            parts[:, total == 0] = 0
            for run in np.nonzero((total < owed) & (total > 0))[0]:
                weights = amounts[:, run]
                positive = np.nonzero(weights > 0)[0]
                split = allocate(int(total[run]), [int(w) for w in weights[positive]],
                                 RemainderPolicy.LARGEST_REMAINDER)
                parts[:, run] = 0
                parts[positive, run] = split
        for j, i in enumerate(members):
            paid[i] = parts[j]
        left = left - total
    return paid, left


def available_cash(balance: Mapping[date, Ints], on: date, runs: int) -> Ints:
    """:func:`settlement.debt_service.available_cash` in every scenario: the balance at the
    end of ``on``, no more than the lowest balance at the end of any later date with a move,
    never below zero. (A date on which a scenario has no move repeats the balance before it,
    which the minimum already holds.)"""
    if not balance:
        return np.zeros(runs, dtype=np.int64)
    dates = sorted(balance)
    running = np.cumsum(np.stack([balance[d] for d in dates]), axis=0)
    before = [k for k, d in enumerate(dates) if d <= on]
    now = running[before[-1]] if before else np.zeros(runs, dtype=np.int64)
    later = [k for k, d in enumerate(dates) if d >= on]
    if later:
        now = np.minimum(now, running[later].min(axis=0))
    return np.asarray(np.maximum(now, 0), dtype=np.int64)


def default_interest(amount_minor: int, due_on: date, settlements: Mapping[int, Ints],
                     as_of: date, rate_annual: Fraction, runs: int) -> Ints:
    """:func:`settlement.servicing.default_interest_of` in every scenario: 遅延損害金 run up by
    ``as_of`` on ``amount_minor`` due on ``due_on``; ``settlements``: date ordinal → what each
    scenario paid of it that day (0: no settlement that day, which does not end a stretch)."""
    total = np.zeros(runs, dtype=np.int64)
    if rate_annual == 0 or amount_minor <= 0:
        return total
    scale = rate_annual.denominator * DEFAULT_INTEREST_BASIS_DAYS
    owed = np.full(runs, amount_minor, dtype=np.int64)
    since = np.full(runs, due_on.toordinal(), dtype=np.int64)
    as_of_day = as_of.toordinal()
    for day in sorted(settlements):
        if day > as_of_day:
            break
        paid = settlements[day]
        ends = (paid > 0) & (day > since) & (owed > 0)
        total += np.where(ends, owed * rate_annual.numerator * (day - since) // scale, 0)
        since = np.where(ends, day, since)
        owed = owed - paid
    tail = (owed > 0) & (as_of_day > since)
    total += np.where(tail, owed * rate_annual.numerator * (as_of_day - since) // scale, 0)
    return total


@dataclass
class _LoanBook:
    """One loan in every scenario: what was paid against each instalment, by component, and
    when (for 遅延損害金), what was booked, what is in arrears."""

    loan: Loan
    schedule: Schedule
    runs: int
    dues: list[date] = field(default_factory=list)
    paid: dict[str, list[Ints]] = field(default_factory=dict)
    settled: dict[str, list[dict[int, Ints]]] = field(default_factory=dict)
    interest_booked: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    default_booked: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    arrears: Bools = field(default_factory=lambda: np.zeros(0, dtype=bool))
    payoff_interest_paid: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    payoff_principal_paid: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    reduced: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        n, runs = len(self.schedule.rows), self.runs
        self.dues = [row.due_on for row in self.schedule.rows]
        self.paid = {c: [np.zeros(runs, dtype=np.int64) for _ in range(n)] for c in COMPONENTS}
        self.settled = {c: [{} for _ in range(n)] for c in ("interest", "principal")}
        self.interest_booked = np.zeros(runs, dtype=np.int64)
        self.default_booked = np.zeros(runs, dtype=np.int64)
        self.arrears = np.zeros(runs, dtype=bool)
        self.payoff_interest_paid = np.zeros(runs, dtype=np.int64)
        self.payoff_principal_paid = np.zeros(runs, dtype=np.int64)
        self.reduced = np.zeros(runs, dtype=np.int64)

    def drawn_minor(self) -> int:
        return sum(d.amount_minor for d in self.loan.draws)

    def payable(self) -> Ints:
        """Interest and default interest booked and not paid (``_Loan.payable_minor``)."""
        paid = sum(self.paid["interest"], np.zeros(self.runs, dtype=np.int64)) + \
            sum(self.paid["default_interest"], np.zeros(self.runs, dtype=np.int64))
        return np.asarray(self.interest_booked + self.default_booked - paid
                          - self.payoff_interest_paid, dtype=np.int64)

    def outstanding(self) -> Ints:
        """Principal outstanding (``_Loan.outstanding_minor``)."""
        paid = sum(self.paid["principal"], np.zeros(self.runs, dtype=np.int64))
        return np.asarray(self.drawn_minor() - paid - self.payoff_principal_paid
                          - self.reduced, dtype=np.int64)


class LockstepBooks:
    """:class:`settlement.simulation_books.ScenarioBooks` over ``runs`` scenarios at once."""

    def __init__(self, contract: Contract, runs: int,
                 return_rates: Mapping[str, RateSchedule | None] | None = None,
                 cache: StateCache | None = None,
                 schedules: Mapping[str, Schedule] | None = None) -> None:
        self.contract = contract
        self.runs = runs
        self.cache: StateCache = cache if cache is not None else {}
        schedules = schedules or schedules_of(contract)
        self.loans = {ln.id: _LoanBook(ln, schedules[ln.id], runs) for ln in contract.loans}
        self._due_dates = {d for b in self.loans.values() for d in b.dues}
        self.balance: dict[date, Ints] = {}
        self.debit: dict[date, Bools] = {}
        self.receipts: list[tuple[str, int, date, Ints]] = []
        self.applied: list[Ints] = []
        self.capital: dict[str, list[CapitalChange]] = {u.id: [] for u in contract.unit_classes}
        self.returns_paid: dict[str, list[tuple[date, Ints]]] = {
            u.id: [] for u in contract.unit_classes}
        self.rates = dict(return_rates) if return_rates is not None else {
            u.id: (RateSchedule.of(u.target_return_annual)
                   if u.target_return_annual is not None else None)
            for u in contract.unit_classes}
        self.serviced_through = np.full(runs, -1, dtype=np.int64)
        self._claims_memo: dict[tuple[str, date, bool, tuple[CapitalChange, ...],
                                      tuple[tuple[date, int], ...],
                                      tuple[tuple[int, int], ...]],
                                list[tuple[str, str, str, int, int]]] = {}
        self._z = np.zeros(runs, dtype=np.int64)

    # ------------------------------------------------------------------ facts posted

    def _cash(self, on: date, amount: Ints | int) -> None:
        moved = np.broadcast_to(np.asarray(amount, dtype=np.int64), (self.runs,))
        self.balance[on] = self.balance.get(on, self._z) + moved
        came_in = moved > 0
        if came_in.any():
            self.debit[on] = self.debit.get(on, np.zeros(self.runs, dtype=bool)) | came_in

    def draw_loans(self) -> None:
        for book in self.loans.values():
            for draw in book.loan.draws:
                self._cash(draw.drawn_on, draw.amount_minor)

    def subscribe(self, subscription: Subscription, out: MoneyResults, rows: Ints) -> None:
        self.capital[subscription.class_id].append(
            CapitalChange(subscription.on, subscription.amount_minor))
        out.class_paid_in[subscription.class_id][rows] += subscription.amount_minor
        _flow(out, subscription.class_id, subscription.on, rows, -subscription.amount_minor)
        self._cash(subscription.on, subscription.amount_minor)

    def pay_fixed_fees(self, fiscal_year: int, on: date, out: MoneyResults,
                       rows: Ints) -> None:
        """``ScenarioBooks.pay_fixed_fees`` in every scenario: the year's fixed fees paid
        all together where the free cash (every move so far) covers their total, else none,
        each recorded unpaid."""
        fees = fixed_fees_of(self.contract, fiscal_year)
        if not fees:
            return
        cash = sum(self.balance.values(), self._z)
        pays = cash >= sum(amount for _, amount in fees)
        for party, fee in fees:
            self._cash(on, np.where(pays, -fee, 0).astype(np.int64))
            out.fee_unpaid[party][fiscal_year][rows] = np.where(pays, 0, fee)

    def receive(self, payer: str, fiscal_year: int, on: date, amount: Ints) -> None:
        amount = np.where(amount > 0, amount, 0).astype(np.int64)
        if not amount.any():
            return
        self.receipts.append((payer, fiscal_year, on, amount))
        self.applied.append(np.zeros(self.runs, dtype=np.int64))
        self._cash(on, amount)

    # ------------------------------------------------------------------ the loans as drawn

    def _shared(self, book: _LoanBook, on: date) -> LoanState:
        """The loan's state at ``on`` as drawn, before any payment: its instalments'
        interest and principal and the interest running, the same in every scenario."""
        record = LoanRecord(tuple((d.drawn_on, d.amount_minor) for d in book.loan.draws
                                  if d.drawn_on <= on))
        key = (book.loan.id, on, record)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = loan_state(book.loan, record, on, book.schedule)
        return found

    def _defaults(self, book: _LoanBook, state: LoanState, on: date) -> list[Ints]:
        """Each instalment's 遅延損害金 run up by ``on`` in every scenario (as
        :func:`settlement.servicing.loan_state` adds it up per instalment)."""
        rate = Fraction(book.loan.default_interest_rate_annual) \
            if book.loan.default_interest_rate_annual is not None else Fraction(0)
        out = []
        for k, row in enumerate(state.instalments):
            total = np.zeros(self.runs, dtype=np.int64)
            if row.due_on < on:
                if "interest" in book.loan.default_interest_on:
                    total += default_interest(row.interest_minor, row.due_on,
                                              book.settled["interest"][k], on, rate, self.runs)
                if "principal" in book.loan.default_interest_on:
                    total += default_interest(row.principal_minor, row.due_on,
                                              book.settled["principal"][k], on, rate,
                                              self.runs)
            out.append(total)
        return out

    # ------------------------------------------------------------------ debt service

    def service(self, through_on: date, out: MoneyResults, rows: Ints) -> None:
        """``ScenarioBooks.service``: each scenario services the due dates and the dates cash
        came in, after the last day it serviced, through ``through_on``."""
        if not self.loans:
            return
        candidates = sorted({d for d in self._due_dates | set(self.debit) if d <= through_on})
        for on in candidates:
            visits = self.serviced_through < on.toordinal()
            if on not in self._due_dates:
                visits &= self.debit[on]
            if visits.any():
                self._service_day(on, visits, out, rows)

    def _service_day(self, on: date, visits: Bools, out: MoneyResults, rows: Ints) -> None:
        day = on.toordinal()
        considered: list[tuple[_LoanBook, Bools, LoanState, list[Ints]]] = []
        for book in self.loans.values():
            mask = visits & (book.arrears | (on in book.dues))
            if not mask.any():
                continue
            state = self._shared(book, on)
            defaults = self._defaults(book, state, on)
            due_interest = sum(i.interest_minor for i in state.instalments if i.is_due)
            default = sum(defaults, np.zeros(self.runs, dtype=np.int64))
            more = mask & (due_interest > book.interest_booked)
            book.interest_booked = np.where(more, due_interest, book.interest_booked)
            self._serviced(day, more)
            more = mask & (default > book.default_booked)
            book.default_booked = np.where(more, default, book.default_booked)
            self._serviced(day, more)
            considered.append((book, mask, state, defaults))
        if not considered:
            return
        # What each considered loan owes, per component and instalment (owed_on).
        owed: dict[tuple[str, str], list[Ints]] = {}
        any_owed = np.zeros(self.runs, dtype=bool)
        for book, mask, state, defaults in considered:
            for component in COMPONENTS:
                amounts = []
                for k, row in enumerate(state.instalments):
                    if not row.is_due:
                        amounts.append(self._z)
                        continue
                    whole: Ints | int = defaults[k] if component == "default_interest" else \
                        row.interest_minor if component == "interest" else row.principal_minor
                    amounts.append(np.where(mask, whole - book.paid[component][k], 0)
                                   .astype(np.int64))
                    any_owed |= amounts[-1] > 0
                owed[(book.loan.id, component)] = amounts
        for book, mask, _, _ in considered:
            book.arrears = np.where(mask & ~any_owed, False, book.arrears)
        if not any_owed.any():
            return
        available = np.where(any_owed, available_cash(self.balance, on, self.runs), 0)
        claims = [VectorClaim(component, book.loan.id, book.loan.lender, book.loan.seniority,
                              sum(owed[(book.loan.id, component)], self._z))
                  for book, _, _, _ in considered for component in COMPONENTS]
        paid, _ = waterfall_paid(available, claims, COMPONENTS)
        year = self.contract.fiscal_year_of(on)
        left_by_loan = {book.loan.id: np.zeros(self.runs, dtype=bool) for book, *_ in considered}
        for claim, amount in zip(claims, paid):
            book = self.loans[claim.instrument]
            left = amount
            for k, due_amount in enumerate(owed[(claim.instrument, claim.step)]):
                take = np.minimum(due_amount, left)
                left = left - take
                if take.any():
                    book.paid[claim.step][k] = book.paid[claim.step][k] + take
                    if claim.step in book.settled:
                        settled = book.settled[claim.step][k]
                        settled[day] = settled.get(day, self._z) + take
                    self._cash(on, -take)
                    out.loan_paid[claim.instrument][year][rows] += take
                    self._serviced(day, take > 0)
                short = due_amount > take
                left_by_loan[claim.instrument] |= short
                if claim.step != "default_interest" and book.dues[k] == on:
                    out.loan_short[claim.instrument][on][rows] |= short
        for book, mask, _, _ in considered:
            book.arrears = np.where(mask & any_owed, left_by_loan[book.loan.id], book.arrears)

    def _serviced(self, day: int, which: Bools) -> None:
        self.serviced_through = np.where(which & (self.serviced_through < day), day,
                                         self.serviced_through)

    def accrue_to(self, on: date) -> None:
        """``ScenarioBooks.accrue_to``: interest earned to the end of ``on`` (the same in
        every scenario) and 遅延損害金 run up (each scenario's own)."""
        for book in self.loans.values():
            state = self._shared(book, on)
            earned = sum(i.interest_minor for i in state.instalments if i.is_due) \
                + state.interest_running_minor
            book.interest_booked = np.maximum(book.interest_booked, earned)
            book.default_booked = np.maximum(
                book.default_booked, sum(self._defaults(book, state, on), self._z))

    def close_year(self, fiscal_year: int, out: MoneyResults, rows: Ints) -> None:
        end = self.contract.fiscal_year_bounds(fiscal_year)[1]
        self.service(end, out, rows)
        self.accrue_to(end)

    def _record_overdue(self, on: date, out: MoneyResults, rows: Ints) -> None:
        for loan_id, book in self.loans.items():
            state = self._shared(book, on)
            defaults = self._defaults(book, state, on)
            overdue = np.zeros(self.runs, dtype=np.int64)
            for k, row in enumerate(state.instalments):
                if row.is_due:
                    overdue += row.interest_minor - book.paid["interest"][k]
                    overdue += row.principal_minor - book.paid["principal"][k]
                overdue += defaults[k] - book.paid["default_interest"][k]
            out.loan_overdue[loan_id][rows] = overdue

    # ------------------------------------------------------------------ the waterfall

    def distribute(self, on: date, final: bool, fiscal_year: int, out: MoneyResults,
                   rows: Ints) -> None:
        """``ScenarioBooks.distribute`` in every scenario (a scenario with nothing to apply
        on a non-final date distributes nothing; its debt service still ran)."""
        self.service(on, out, rows)
        if final:
            self.accrue_to(on - timedelta(days=1))
            self._record_overdue(on, out, rows)
        cash = np.maximum(sum(self.balance.values(), self._z), 0)
        eligible = sorted((k for k, (_, year, received_on, _) in enumerate(self.receipts)
                           if received_on <= on and (final or year == fiscal_year)),
                          key=lambda k: (self.receipts[k][2], k))
        unapplied = {k: self.receipts[k][3] - self.applied[k] for k in eligible}
        received = sum(unapplied.values(), self._z)
        left = received if final else np.minimum(received, cash)
        per_payer: dict[str, Ints] = {}
        takes = {}
        for k in eligible:
            take = np.minimum(unapplied[k], left)
            left = left - take
            takes[k] = take
            payer = self.receipts[k][0]
            per_payer[payer] = per_payer.get(payer, self._z) + take
        spent = sum(per_payer.values(), self._z)
        goes = spent > 0 if not final else np.ones(self.runs, dtype=bool)
        available = np.where(goes, cash if final else spent, 0)
        claims = self._claims(on, per_payer, final, goes)
        paid, left_over = waterfall_paid(available, claims, self.contract.waterfall)
        for claim, amount in zip(claims, paid):
            if amount.any():
                self._post(claim, amount, on, out, rows)
        if final:
            self._write_down(claims, paid, on, out, rows)
        del left_over  # kept by the vehicle (a sweep or a residual term is not taken here)
        for k, take in takes.items():
            self.applied[k] = self.applied[k] + take

    def _claims(self, on: date, per_payer: Mapping[str, Ints], final: bool, goes: Bools
                ) -> list[VectorClaim]:
        """``ScenarioBooks._claims`` in every scenario."""
        from settlement.simulation_engine import _fees
        claims = []
        fees = _fees(self.contract, per_payer, self.contract.rounding.mode, self.runs)
        for provider, fee in fees.items():
            claims.append(VectorClaim("provider_fees", provider, provider, 1,
                                      np.where(goes, fee, 0).astype(np.int64)))
        if final:
            for book in self.loans.values():
                loan = book.loan
                claims.append(VectorClaim("interest", loan.id, loan.lender, loan.seniority,
                                          np.maximum(book.payable(), 0)))
                claims.append(VectorClaim("principal", loan.id, loan.lender, loan.seniority,
                                          np.maximum(book.outstanding(), 0)))
        for unit_class in self.contract.unit_classes:
            claims += self._class_claims(unit_class.id, on, final, goes)
        return claims

    def received_by_results_year(self, on: date) -> tuple[list[int], Ints]:
        """``ScenarioBooks.received_by_results_year`` in every scenario: the results years
        with a receipt dated by ``on``, and (runs × years) what each scenario received for
        each."""
        years = sorted({year for _, year, received_on, _ in self.receipts if received_on <= on})
        received = np.zeros((self.runs, len(years)), dtype=np.int64)
        for _, year, received_on, amount in self.receipts:
            if received_on <= on:
                received[:, years.index(year)] += amount
        return years, received

    def _class_claims(self, class_id: str, on: date, final: bool, goes: Bools
                      ) -> list[VectorClaim]:
        """:func:`settlement.class_returns.class_claims` once per distinct history of returns
        paid to the class — and, for a tiered or curve class on the outcome payments
        received, of what was received for each results year by ``on``, the measure its
        rate is read off (:func:`settlement.class_returns.year_measures`): the scenarios
        with the same facts share the very same claims. (A rule read off a KPI's results is
        not taken here: :func:`lockstep_support`.)"""
        unit_class = next(u for u in self.contract.unit_classes if u.id == class_id)
        terms = unit_class.returns
        history = self.returns_paid[class_id]
        columns = [amount for _, amount in history]
        years: list[int] = []
        if terms is not None and terms.rule in ("tiered", "curve") and terms.basis != "kpi":
            years, received = self.received_by_results_year(on)
            columns += [received[:, k] for k in range(len(years))]
        if columns:
            matrix = np.stack(columns, axis=1)
            distinct, which = np.unique(matrix, axis=0, return_inverse=True)
            which = which.reshape(-1)
        else:
            distinct, which = np.zeros((1, 0), dtype=np.int64), np.zeros(self.runs, dtype=int)
        found: dict[tuple[str, str, str, int], Ints] = {}
        for g, row in enumerate(distinct):
            amounts, by_year = row[:len(history)], row[len(history):]
            paid = tuple((d, int(a)) for (d, _), a in zip(history, amounts) if a != 0)
            seen = tuple((year, int(a)) for year, a in zip(years, by_year))
            key = (class_id, on, final, tuple(self.capital[class_id]), paid, seen)
            if key not in self._claims_memo:
                measures = year_measures(self.contract, terms, dict(seen)) \
                    if terms is not None and years else {}
                facts = ClassFacts(tuple(self.capital[class_id]), paid,
                                   self.rates.get(class_id) if terms is None else None,
                                   measures)
                self._claims_memo[key] = [
                    (c.step, c.instrument, c.party, c.seniority, c.amount_minor)
                    for c in class_claims(self.contract, unit_class, facts, on, final)]
            members = (which == g) & goes
            for step, instrument, party, seniority, amount in self._claims_memo[key]:
                slot = found.setdefault((step, instrument, party, seniority),
                                        np.zeros(self.runs, dtype=np.int64))
                slot[members] = amount
        return [VectorClaim(step, instrument, party, seniority, amount)
                for (step, instrument, party, seniority), amount in found.items()]

    def _post(self, claim: VectorClaim, amount: Ints, on: date, out: MoneyResults,
              rows: Ints) -> None:
        """``ScenarioBooks._post_allocation`` in every scenario."""
        instrument = claim.instrument
        self._cash(on, -amount)
        if claim.step == "provider_fees":
            out.provider_fees[instrument][rows] += amount
        elif instrument in self.loans:
            book = self.loans[instrument]
            if claim.step == "interest":
                book.payoff_interest_paid = book.payoff_interest_paid + amount
            else:
                book.payoff_principal_paid = book.payoff_principal_paid + amount
            out.loan_paid[instrument][self.contract.fiscal_year_of(on)][rows] += amount
        elif claim.step == "investor_returns":
            self.returns_paid[instrument].append((on, amount))
            out.class_returns[instrument][rows] += amount
            _flow(out, instrument, on, rows, amount)
        else:
            out.class_capital_back[instrument][rows] += amount
            _flow(out, instrument, on, rows, amount)

    def _write_down(self, claims: Sequence[VectorClaim], paid: Sequence[Ints], on: date,
                    out: MoneyResults, rows: Ints) -> None:
        """``ScenarioBooks._write_down``: :func:`settlement.waterfall.losses` of each scenario
        whose payoff left principal unpaid."""
        cover = [(g.covers, Fraction(g.cover_percent) / 100 if g.cover_percent is not None
                  else None, g.cover_max_minor) for g in self.contract.guarantees]
        principal = [(c, c.amount - p) for c, p in zip(claims, paid) if c.step == "principal"]
        if not principal:
            return
        unpaid = np.stack([u for _, u in principal])
        for run in np.nonzero((unpaid > 0).any(axis=0))[0]:
            short = [(c.instrument, c.party, int(u[run])) for c, u in principal if u[run] > 0]
            for loss in losses(short, cover, self.contract.rounding.mode):
                if loss.instrument in self.loans:
                    self.loans[loss.instrument].reduced[run] += loss.unpaid_minor
                record_loss(out, loss, int(rows[run]), on)

    def finish(self, out: MoneyResults, rows: Ints) -> None:
        for loan_id, book in self.loans.items():
            out.loan_interest_unpaid[loan_id][rows] = np.maximum(book.payable(), 0)
        out.cash_left[rows] = sum(self.balance.values(), self._z)


def _flow(out: MoneyResults, class_id: str, on: date, rows: Ints, amount: Ints | int) -> None:
    column = out.class_dates[class_id].index(on)
    out.class_flows[class_id][rows, column] += amount


def record_loss(out: MoneyResults, loss: Loss, row: int, on: date) -> None:
    """A loss at the final payoff (:func:`settlement.waterfall.losses`) into scenario ``row``:
    a loan's or a class's write-down and what its guarantee recovered (for a class, also a
    cash flow of ``on`` in its IRR) — for the lockstep and the reference books alike."""
    if loss.instrument in out.loan_written_down:
        out.loan_written_down[loss.instrument][row] += loss.written_down_minor
        out.loan_recovered[loss.instrument][row] += loss.guaranteed_minor
        return
    out.class_written_down[loss.instrument][row] += loss.written_down_minor
    out.class_recovered[loss.instrument][row] += loss.guaranteed_minor
    if loss.guaranteed_minor:
        _flow(out, loss.instrument, on, np.array([row]), loss.guaranteed_minor)


def books_lockstep(contract: Contract, plans: Sequence[YearPlan], payouts: Payouts,
                   subscriptions: Sequence[Subscription], out: MoneyResults, rows: Ints,
                   rates: Mapping[str, RateSchedule | None] | None = None,
                   cache: StateCache | None = None) -> None:
    """The books of the scenarios ``rows`` (indices into ``out``), year by year in the order
    of :func:`settlement.simulation_books.run_books`, written into ``out`` (whose rows must be
    zero). Only for a contract :func:`lockstep_support` accepts."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return
    books = LockstepBooks(contract, len(rows), rates, cache)
    books.draw_loans()
    for plan in plans:
        start, end = contract.fiscal_year_bounds(plan.fiscal_year)
        for sub in subscriptions:
            if start <= sub.on <= end:
                books.subscribe(sub, out, rows)
        books.pay_fixed_fees(plan.fiscal_year, plan.fees_on, out, rows)
        books.close_year(plan.fiscal_year, out, rows)
        for payer, by_year in payouts.spv_due.items():
            if plan.fiscal_year in by_year:
                books.receive(payer, plan.fiscal_year, plan.receipts_on[payer],
                              by_year[plan.fiscal_year][rows])
        books.distribute(plan.distribution_on, plan.final, plan.fiscal_year, out, rows)
    books.finish(out, rows)
