"""One scenario's money after settlement, on paper: the scalar path of the simulation. Pure.

The database runs a contract year as a sequence of services (draws, fixed fees, the year-end
close with its debt service and accruals, the payers' payments, the waterfall with the debt
service it runs first, the final payoff and write-downs). :class:`ScenarioBooks` replays the
same sequence in memory for one scenario, calling the very rules the services call —
:func:`settlement.servicing.loan_state`, :func:`~settlement.servicing.owed_on`,
:func:`~settlement.servicing.pay`, :func:`settlement.waterfall.run_waterfall`,
:func:`~settlement.waterfall.losses`, :func:`settlement.unit_returns.return_owed` — on what
those services would have read from the ledger at that moment (the cash balance per date in
posting order, each loan's record, the receipts and what distributions applied of them). What
differs is only where the facts are kept: lists here, postings there. Nothing is written.

The order of the steps of a year is the one ``make demo`` follows (:class:`YearPlan`), and
acceptance 1 of issue 16 holds this module to what the services post. Where a service refuses
a step, the books do what the ledger then holds: a year's fixed fees the vehicle's own cash
does not cover are not paid (``FEE_EXCEEDS_FREE_CASH``; recorded as :class:`UnpaidFee`, a
funding gap), and
every later figure follows from the cash kept. The books' cash is the cash account less what
is owed to unit holders, which is the cash account itself once the holders are paid on the
distribution's date and the tax withheld is paid over, as ``make demo`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from contracts.instruments import Loan, ReturnTerms
from contracts.model import Contract
from ledger.errors import Problem
from ledger.rounding import round_minor
from settlement.class_returns import (
    ClassFacts,
    Measure,
    class_claims,
    residual_split,
    year_measures,
)
from settlement.schedules import Schedule
from settlement.servicing import (
    Due,
    LoanRecord,
    LoanState,
    Payment,
    Reduction,
    loan_state,
    nominal_schedule,
    owed_on,
    pay,
)
from settlement.unit_returns import CapitalChange, RateSchedule
from settlement.waterfall import Claim, losses, run_waterfall


@dataclass(frozen=True)
class YearPlan:
    """The dates of one fiscal year's cycle.

    Attributes:
        fiscal_year: the results year.
        fees_on: when the SPV pays the providers' fixed fees of the year.
        receipts_on: payer id → the day its payment for the year's results arrives.
        distribution_on: the waterfall's date (the final one for the last year).
        final: the contract's last distribution (payoff, capital, write-downs).
    """

    fiscal_year: int
    fees_on: date
    receipts_on: Mapping[str, date]
    distribution_on: date
    final: bool = False


@dataclass(frozen=True)
class Subscription:
    """Capital paid into a unit class on a date."""

    class_id: str
    on: date
    amount_minor: int


StateCache = dict[tuple[str, date, LoanRecord], LoanState]
"""Loan states already computed, by loan, date and record: a pure function's results, shared
by the scenarios of one simulation (most scenarios' loans have the very same record)."""


@dataclass
class _Loan:
    loan: Loan
    schedule: Schedule
    draws: list[tuple[date, int]] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    reductions: list[Reduction] = field(default_factory=list)
    interest_booked: int = 0
    default_booked: int = 0
    arrears: bool = False

    def record(self, through_on: date) -> LoanRecord:
        """What the ledger shows of the loan at the end of ``through_on``."""
        return LoanRecord(tuple(d for d in self.draws if d[0] <= through_on),
                          tuple(p for p in self.payments if p.paid_on <= through_on),
                          tuple(r for r in self.reductions if r.on <= through_on))

    def state(self, on: date, cache: StateCache | None = None) -> LoanState:
        record = self.record(on)
        if cache is None:
            return loan_state(self.loan, record, on, self.schedule)
        key = (self.loan.id, on, record)
        found = cache.get(key)
        if found is None:
            found = cache[key] = loan_state(self.loan, record, on, self.schedule)
        return found

    @property
    def payable_minor(self) -> int:
        """Interest and default interest booked and not paid (the payoff's interest)."""
        paid = sum(p.amount_minor for p in self.payments if p.component != "principal")
        return self.interest_booked + self.default_booked - paid

    @property
    def outstanding_minor(self) -> int:
        return (sum(a for _, a in self.draws)
                - sum(p.amount_minor for p in self.payments if p.component == "principal")
                - sum(r.amount_minor for r in self.reductions))


@dataclass
class _Receipt:
    seq: int
    payer: str
    fiscal_year: int
    on: date
    amount_minor: int
    applied_minor: int = 0


Source = tuple[str, str, int] | None
"""Where a cash move's amount comes from: ``("receipt", payer, fiscal year)``,
``("provider_fee", provider, fiscal year)``, ``("fixed_fee", provider, fiscal year)`` (paid
only where the vehicle's cash covers the year's fixed fees), ``("final", "", 0)`` for the
final waterfall's allocations; None for an amount every scenario shares once the loans'
records agree."""


@dataclass(frozen=True)
class UnpaidFee:
    """A provider's fixed fee the vehicle could not pay on its date: ``sib money fees`` was
    refused (a fee is paid out of the vehicle's own cash, ``FEE_EXCEEDS_FREE_CASH``) and nothing
    of the year's fees was posted. The fee stays owed to the provider: no later step of the
    services pays it (the waterfall's ``provider_fees`` are the outcome shares), so it is a
    funding gap the intermediary must arrange outside the vehicle's books."""

    provider: str
    fiscal_year: int
    due_on: date
    amount_minor: int


@dataclass(frozen=True)
class FeeRecord:
    """The year's fixed-fee command in the books: the fees it would post (in the contract's
    order of providers), whether the cash covered them and so they were paid, and how many
    cash moves were in the books before it."""

    fiscal_year: int
    on: date
    moves_before: int
    fees: tuple[tuple[str, int], ...]
    paid: bool

    @property
    def total_minor(self) -> int:
        return sum(amount for _, amount in self.fees)


@dataclass(frozen=True)
class ServiceRecord:
    """A debt-service day on which something was owed: what was owed, available and paid.

    Attributes:
        moves_before: how many cash moves were in the books when the cash was counted.
        cash_date_only: the day is serviced only because cash came in (no loan falls due).
        owed: each amount owed (as :func:`settlement.servicing.owed_on` lists them).
        paid: each payment made, in the order its cash move follows ``moves_before``.
    """

    on: date
    moves_before: int
    owed_minor: int
    available_minor: int
    paid_minor: int
    cash_date_only: bool
    owed: tuple[Due, ...] = ()
    paid: tuple[tuple[Due, int], ...] = ()


@dataclass(frozen=True)
class DistributionRecord:
    """A waterfall run: the books' figures it used.

    Attributes:
        moves_before: cash moves in the books before its own allocations.
        investor_owed: unit class → the return owed (non-final), paid in full or not.
        fixed_claims: the final waterfall's claims other than provider fees.
    """

    on: date
    fiscal_year: int
    final: bool
    moves_before: int
    received_minor: int
    applied_minor: int
    investor_owed: dict[str, int]
    investor_paid: dict[str, int]
    fixed_claims: tuple[Claim, ...] = ()


@dataclass
class BooksLog:
    """What the books did, kept for the vectorised path: every cash move in posting order
    with its source, every service day that owed something, every distribution, every
    year's fixed-fee command, and (``events``) the last three in the order the books met
    them."""

    moves: list[tuple[date, int, Source]] = field(default_factory=list)
    service_days: list[ServiceRecord] = field(default_factory=list)
    distributions: list[DistributionRecord] = field(default_factory=list)
    fee_days: list[FeeRecord] = field(default_factory=list)
    events: list[ServiceRecord | DistributionRecord | FeeRecord] = field(default_factory=list)


@dataclass
class LoanOutcome:
    """What happened to one loan in the scenario.

    Attributes:
        paid_by_fiscal_year: fiscal year of the payment date → interest, default interest
            and principal paid to the lender that year.
        short_due_dates: due dates not paid in full on the day (a debt-service shortfall).
        overdue_minor: what was still overdue (interest, principal, default interest) after
            the last debt service before the final distribution.
        written_down_minor / recovered_minor: principal lost / paid by a guarantor at the end.
        interest_unpaid_minor: interest booked and never paid.
    """

    loan_id: str
    paid_by_fiscal_year: dict[int, int] = field(default_factory=dict)
    short_due_dates: list[date] = field(default_factory=list)
    overdue_minor: int = 0
    written_down_minor: int = 0
    recovered_minor: int = 0
    interest_unpaid_minor: int = 0

    @property
    def loss_minor(self) -> int:
        return self.written_down_minor + self.interest_unpaid_minor


@dataclass
class ClassOutcome:
    """A unit class's money in the scenario: paid in, returns and capital paid back, lost.

    Attributes:
        flows: (date, signed amount) from the investors' side: subscriptions negative,
            returns and capital paid back positive.
    """

    class_id: str
    paid_in_minor: int = 0
    returns_minor: int = 0
    capital_back_minor: int = 0
    recovered_minor: int = 0
    written_down_minor: int = 0
    flows: list[tuple[date, int]] = field(default_factory=list)


@dataclass
class BooksOutcome:
    """Everything the scenario's books say at the end.

    Attributes:
        fees_unpaid: the fixed fees the vehicle's cash did not cover on their date.
    """

    loans: dict[str, LoanOutcome]
    classes: dict[str, ClassOutcome]
    provider_fees_minor: dict[str, int]
    cash_left_minor: int
    residual_to_payers: dict[str, int] = field(default_factory=dict)
    fees_unpaid: list[UnpaidFee] = field(default_factory=list)


class ScenarioBooks:
    """The SPV's books of one scenario, kept as the services would find them in the ledger."""

    def __init__(self, contract: Contract,
                 return_rates: Mapping[str, RateSchedule | None] | None = None,
                 log: BooksLog | None = None, cache: StateCache | None = None,
                 schedules: Mapping[str, Schedule] | None = None,
                 kpi_results: Mapping[str, Mapping[int, Decimal]] | None = None) -> None:
        self.contract = contract
        self.kpi_results = kpi_results or {}
        self.audited_through: int | None = None
        self.log = log
        self.cache = cache
        schedules = schedules or schedules_of(contract)
        self.loans = {ln.id: _Loan(ln, schedules[ln.id]) for ln in contract.loans}
        self._due_dates = {row.due_on for b in self.loans.values() for row in b.schedule.rows}
        self.moves: list[tuple[date, int]] = []   # cash less what is owed to holders, in order
        self.cash_debit_dates: set[date] = set()
        self.receipts: list[_Receipt] = []
        self.capital: dict[str, list[CapitalChange]] = {u.id: [] for u in contract.unit_classes}
        self.returns_paid: dict[str, list[tuple[date, int]]] = {
            u.id: [] for u in contract.unit_classes}
        self.rates = dict(return_rates) if return_rates is not None else {
            u.id: (RateSchedule.of(u.target_return_annual)
                   if u.target_return_annual is not None else None)
            for u in contract.unit_classes}
        self.serviced_through: date | None = None
        self.latest_distribution: date | None = None
        self.outcome = BooksOutcome(
            {ln.id: LoanOutcome(ln.id) for ln in contract.loans},
            {u.id: ClassOutcome(u.id) for u in contract.unit_classes}, {}, 0)
        self._seq = 0

    # ------------------------------------------------------------------ facts posted

    def _cash(self, on: date, amount_minor: int, source: Source = None) -> None:
        self.moves.append((on, amount_minor))
        if self.log is not None:
            self.log.moves.append((on, amount_minor, source))
        if amount_minor > 0:
            self.cash_debit_dates.add(on)

    def draw_loans(self) -> None:
        """Every planned draw of every loan (``draw_loans`` at set-up)."""
        for book in self.loans.values():
            for draw in book.loan.draws:
                book.draws.append((draw.drawn_on, draw.amount_minor))
                self._cash(draw.drawn_on, draw.amount_minor)

    def subscribe(self, subscription: Subscription) -> None:
        self.capital[subscription.class_id].append(
            CapitalChange(subscription.on, subscription.amount_minor))
        outcome = self.outcome.classes[subscription.class_id]
        outcome.paid_in_minor += subscription.amount_minor
        outcome.flows.append((subscription.on, -subscription.amount_minor))
        self._cash(subscription.on, subscription.amount_minor)

    def pay_fixed_fees(self, fiscal_year: int, on: date) -> bool:
        """:func:`settlement.payments.pay_fixed_fees`: the year's fixed fees the SPV pays (a
        provider paid by a municipality is not its cash), posted one by one in one command
        against the cash account, which may not go below zero. The ledger checks each entry
        against the balance of every entry already posted, whatever its date (the draws of
        later dates included) — here the sum of the books' moves; one fee the balance does
        not cover refuses the command, and the fees posted before it in the same command go
        with it. So the year's fees are paid all together where the cash covers their total,
        else none is (each recorded unpaid). False when refused."""
        fees = fixed_fees_of(self.contract, fiscal_year)
        if not fees:
            return True
        total = sum(amount for _, amount in fees)
        paid = total <= self.free_cash()
        if self.log is not None:
            record = FeeRecord(fiscal_year, on, len(self.moves), fees, paid)
            self.log.fee_days.append(record)
            self.log.events.append(record)
        for party, amount in fees:
            if paid:
                self._cash(on, -amount, ("fixed_fee", party, fiscal_year))
            else:
                self.outcome.fees_unpaid.append(UnpaidFee(party, fiscal_year, on, amount))
        return paid

    def receive(self, payer: str, fiscal_year: int, on: date, amount_minor: int) -> None:
        if amount_minor <= 0:
            return
        self._seq += 1
        self.receipts.append(_Receipt(self._seq, payer, fiscal_year, on, amount_minor))
        self._cash(on, amount_minor, ("receipt", payer, fiscal_year))

    # ------------------------------------------------------------------ debt service

    def available_cash(self, on: date) -> int:
        """:func:`settlement.debt_service.available_cash` on these books."""
        balance_at: dict[date, int] = {}
        for day_on, amount in self.moves:
            balance_at[day_on] = balance_at.get(day_on, 0) + amount
        running, lowest = 0, None
        for day_on in sorted(balance_at):
            running += balance_at[day_on]
            if day_on >= on:
                lowest = running if lowest is None else min(lowest, running)
        now = sum(v for d, v in balance_at.items() if d <= on)
        return max(min(now, lowest) if lowest is not None else now, 0)

    def free_cash(self) -> int:
        return sum(amount for _, amount in self.moves)

    def service(self, through_on: date) -> None:
        """:func:`settlement.debt_service.service` through ``through_on``."""
        if not self.loans:
            return
        dates = {row.due_on for b in self.loans.values() for row in b.schedule.rows}
        dates |= {d for d in self.cash_debit_dates if d <= through_on}
        after = self.serviced_through
        for on in sorted(d for d in dates if d <= through_on and (after is None or d > after)):
            self._service_day(on)

    def _service_day(self, on: date) -> None:
        states: dict[str, LoanState] = {}
        for loan_id, book in self.loans.items():
            # A loan with nothing overdue and no due date today has nothing to accrue or pay:
            # its state on any day until its next due date is the one after its last.
            if not book.arrears and all(row.due_on != on for row in book.schedule.rows):
                continue
            state = book.state(on, self.cache)
            due_interest = sum(i.interest_minor for i in state.instalments if i.is_due)
            default = sum(i.default_interest_minor for i in state.instalments)
            if due_interest > book.interest_booked:
                book.interest_booked = due_interest
                self._serviced(on)
            if default > book.default_booked:
                book.default_booked = default
                self._serviced(on)
            states[loan_id] = state
        owed = [due for loan_id, state in states.items()
                for due in owed_on(self.loans[loan_id].loan, state)]
        if not owed:
            for loan_id in states:
                self.loans[loan_id].arrears = False
            return
        available = self.available_cash(on)
        paid, _ = pay(available, owed)
        if self.log is not None:
            service_record = ServiceRecord(
                on, len(self.moves), sum(d.amount_minor for d in owed), available,
                sum(a for _, a in paid), on not in self._due_dates, tuple(owed),
                tuple(paid))
            self.log.service_days.append(service_record)
            self.log.events.append(service_record)
        for due, amount in paid:
            self.loans[due.loan_id].payments.append(Payment(on, due.component, amount,
                                                            due.due_on))
            self._cash(on, -amount)
            self._paid_lender(due.loan_id, on, amount)
            self._serviced(on)
        settled: dict[tuple[str, str, date], int] = {}
        for due, amount in paid:
            settled[(due.loan_id, due.component, due.due_on)] = amount
        left = [d for d in owed if d.amount_minor > settled.get(
            (d.loan_id, d.component, d.due_on), 0)]
        for loan_id in states:
            self.loans[loan_id].arrears = any(d.loan_id == loan_id for d in left)
        self._note_shortfalls(on, left)

    def _note_shortfalls(self, on: date, left: Sequence[Due]) -> None:
        for due in left:
            if due.due_on == on and due.component != "default_interest":
                short = self.outcome.loans[due.loan_id].short_due_dates
                if on not in short:
                    short.append(on)

    def _serviced(self, on: date) -> None:
        if self.serviced_through is None or on > self.serviced_through:
            self.serviced_through = on

    def _paid_lender(self, loan_id: str, on: date, amount: int) -> None:
        year = self.contract.fiscal_year_of(on)
        by_year = self.outcome.loans[loan_id].paid_by_fiscal_year
        by_year[year] = by_year.get(year, 0) + amount

    def accrue_to(self, on: date) -> None:
        """:func:`settlement.debt_service.accrue_to`: interest earned to the end of ``on``."""
        for book in self.loans.values():
            state = book.state(on, self.cache)
            earned = sum(i.interest_minor for i in state.instalments if i.is_due) \
                + state.interest_running_minor
            book.interest_booked = max(book.interest_booked, earned)
            book.default_booked = max(book.default_booked,
                                      sum(i.default_interest_minor for i in state.instalments))

    def close_year(self, fiscal_year: int) -> None:
        """The year-end close's part in money: debt service and accruals to the year's end."""
        end = self.contract.fiscal_year_bounds(fiscal_year)[1]
        self.service(end)
        self.accrue_to(end)

    # ------------------------------------------------------------------ the waterfall

    def distribute(self, on: date, final: bool, fiscal_year: int) -> bool:
        """:func:`settlement.payments.distribute` of the receipts for ``fiscal_year`` (all
        that are left, for the final one). False when a non-final one finds nothing to apply
        (the service refuses it; its debt service still ran, as ``sib money service`` would)."""
        self.service(on)
        if final:
            self.accrue_to(on - timedelta(days=1))
            self._record_overdue(on)
        cash = max(self.free_cash(), 0)
        unapplied = [r for r in self.receipts if r.on <= on
                     and (final or r.fiscal_year == fiscal_year)
                     and r.amount_minor > r.applied_minor]
        received = sum(r.amount_minor - r.applied_minor for r in unapplied)
        applied = _apply(unapplied, received if final else min(received, cash))
        if not applied and not final:
            return False
        per_payer: dict[str, int] = {}
        for receipt, amount in applied:
            per_payer[receipt.payer] = per_payer.get(receipt.payer, 0) + amount
        available = cash if final else sum(per_payer.values())
        claims = self._claims(on, per_payer, final)
        result = run_waterfall(available, claims, self.contract.waterfall)
        moves_before = len(self.moves)
        for allocation in result.allocations:
            if allocation.paid_minor > 0:
                self._post_allocation(allocation.claim, allocation.paid_minor, on,
                                      ("final", "", 0) if final else
                                      ("provider_fee", allocation.claim.instrument, fiscal_year)
                                      if allocation.claim.step == "provider_fees" else None)
        if self.log is not None:
            distribution_record = DistributionRecord(
                on, fiscal_year, final, moves_before, received, sum(per_payer.values()),
                {a.claim.instrument: a.claim.amount_minor for a in result.allocations
                 if a.claim.step == "investor_returns"},
                {a.claim.instrument: a.paid_minor for a in result.allocations
                 if a.claim.step == "investor_returns"},
                tuple(c for c in claims if c.step != "provider_fees") if final else ())
            self.log.distributions.append(distribution_record)
            self.log.events.append(distribution_record)
        if final:
            self._write_down([(a.claim.instrument, a.claim.party, a.unpaid_minor)
                              for a in result.allocations
                              if a.claim.step == "principal" and a.unpaid_minor > 0], on)
            if result.left_minor > 0:
                self._residual(result.left_minor, on)
        elif result.left_minor > 0:
            self._sweep(result.left_minor, on)
        for receipt, amount in applied:
            receipt.applied_minor += amount
        self.latest_distribution = on
        return True

    def _claims(self, on: date, per_payer: Mapping[str, int], final: bool) -> list[Claim]:
        """:func:`settlement.payments.claims_at` on these books."""
        claims = []
        for provider in self.contract.providers:
            if provider.outcome_share is None:
                continue
            payers = provider.outcome_share_of_payers or self.contract.payer_ids
            base = sum(per_payer.get(p, 0) for p in payers)
            fee = round_minor(Fraction(base) * Fraction(provider.outcome_share),
                              self.contract.rounding.mode)
            if fee > 0:
                claims.append(Claim("provider_fees", provider.party, provider.party, fee))
        if final:
            for book in self.loans.values():
                loan = book.loan
                if book.payable_minor > 0:
                    claims.append(Claim("interest", loan.id, loan.lender, book.payable_minor,
                                        loan.seniority))
                if book.outstanding_minor > 0:
                    claims.append(Claim("principal", loan.id, loan.lender,
                                        book.outstanding_minor, loan.seniority))
        for unit_class in self.contract.unit_classes:
            claims += class_claims(self.contract, unit_class,
                                   self._facts(unit_class.id, unit_class.returns, on), on,
                                   final)
        return claims

    def received_by_results_year(self, on: date) -> dict[int, int]:
        """:func:`settlement.payments.received_by_results_year` on these books: the outcome
        payments received by ``on``, by the results year each settles."""
        out: dict[int, int] = {}
        for receipt in self.receipts:
            if receipt.on <= on:
                out[receipt.fiscal_year] = out.get(receipt.fiscal_year, 0) + \
                    receipt.amount_minor
        return out

    def _facts(self, class_id: str, terms: ReturnTerms | None, on: date) -> ClassFacts:
        """:func:`settlement.payments.class_facts` on these books: the capital timeline, the
        returns paid, the target-return schedule and, for a tiered or curve class, each
        year's measure (:func:`settlement.class_returns.year_measures`): its KPI's results
        audited so far (the years settled before this distribution), or the outcome
        payments received for each results year by ``on``."""
        results: dict[int, Measure] = {}
        if terms is not None and terms.rule in ("tiered", "curve") and terms.basis != "kpi":
            results = year_measures(self.contract, terms, self.received_by_results_year(on))
        elif terms is not None and terms.rule in ("tiered", "curve") and terms.kpi is not None:
            results = {year: value for year, value in self.kpi_results.get(terms.kpi, {}).items()
                       if self.audited_through is not None and year <= self.audited_through}
        return ClassFacts(tuple(self.capital[class_id]), tuple(self.returns_paid[class_id]),
                          self.rates.get(class_id) if terms is None else None, results)

    def _post_allocation(self, claim: Claim, amount: int, on: date, source: Source) -> None:
        instrument = claim.instrument
        self._cash(on, -amount, source)
        if claim.step == "provider_fees":
            fees = self.outcome.provider_fees_minor
            fees[instrument] = fees.get(instrument, 0) + amount
        elif instrument in self.loans:
            book = self.loans[instrument]
            if claim.step == "interest":
                following = book.state(on, self.cache).next_due
                book.payments.append(Payment(on, "interest", amount,
                                             following.due_on if following else None))
            else:
                book.payments.append(Payment(on, "principal", amount, None))
            self._paid_lender(instrument, on, amount)
        elif claim.step == "investor_returns":
            self.returns_paid[instrument].append((on, amount))
            outcome = self.outcome.classes[instrument]
            outcome.returns_minor += amount
            outcome.flows.append((on, amount))
        else:
            self.capital[instrument].append(CapitalChange(on, -amount))
            outcome = self.outcome.classes[instrument]
            outcome.capital_back_minor += amount
            outcome.flows.append((on, amount))

    def _write_down(self, unpaid: list[tuple[str, str, int]], on: date) -> None:
        cover = [(g.covers, Fraction(g.cover_percent) / 100 if g.cover_percent is not None
                  else None, g.cover_max_minor) for g in self.contract.guarantees]
        for loss in losses(unpaid, cover, self.contract.rounding.mode):
            if loss.instrument in self.loans:
                book = self.loans[loss.instrument]
                outcome = self.outcome.loans[loss.instrument]
                for kind, amount in (("guarantee", loss.guaranteed_minor),
                                     ("write_down", loss.written_down_minor)):
                    if amount:
                        book.reductions.append(Reduction(on, kind, amount))  # type: ignore[arg-type]
                outcome.recovered_minor += loss.guaranteed_minor
                outcome.written_down_minor += loss.written_down_minor
            else:
                self.capital[loss.instrument].append(CapitalChange(on, -loss.unpaid_minor))
                unit = self.outcome.classes[loss.instrument]
                unit.recovered_minor += loss.guaranteed_minor
                unit.written_down_minor += loss.written_down_minor
                if loss.guaranteed_minor:
                    unit.flows.append((on, loss.guaranteed_minor))

    def _residual(self, left_minor: int, on: date) -> None:
        """:func:`settlement.payments._residual` on these books: the final surplus to the
        payers (in proportion to what each paid), a provider, a unit class, or kept."""
        residual = getattr(self.contract, "residual", None)
        if residual is None or residual.to == "vehicle":
            return
        if residual.to == "provider":
            party = residual.party or ""
            self._cash(on, -left_minor, ("final", "", 0))
            fees = self.outcome.provider_fees_minor
            fees[party] = fees.get(party, 0) + left_minor
            return
        if residual.to == "unit_class":
            class_id = residual.party or ""
            self._cash(on, -left_minor, ("final", "", 0))
            self.returns_paid[class_id].append((on, left_minor))
            outcome = self.outcome.classes[class_id]
            outcome.returns_minor += left_minor
            outcome.flows.append((on, left_minor))
            return
        paid: dict[str, int] = {}
        for receipt in self.receipts:
            paid[receipt.payer] = paid.get(receipt.payer, 0) + receipt.amount_minor
        for payer, part in residual_split(left_minor, paid):
            self._cash(on, -part, ("final", "", 0))
            refunds = self.outcome.residual_to_payers
            refunds[payer] = refunds.get(payer, 0) + part

    def _sweep(self, surplus_minor: int, on: date) -> None:
        """:func:`settlement.debt_service.sweep` on these books."""
        left = surplus_minor
        for book in sorted(self.loans.values(), key=lambda b: b.loan.seniority):
            terms = book.loan.cash_sweep
            if terms is None or terms.from_on > on or left <= 0:
                continue
            state = book.state(on, self.cache)
            not_due = state.outstanding_minor - state.overdue_principal_minor
            amount = min(round_minor(Fraction(surplus_minor) * Fraction(terms.share),
                                     self.contract.rounding.mode), not_due, left)
            if amount <= 0:
                continue
            book.payments.append(Payment(on, "principal", amount, None))
            self._cash(on, -amount)
            self._paid_lender(book.loan.id, on, amount)
            left -= amount

    def _record_overdue(self, on: date) -> None:
        for loan_id, book in self.loans.items():
            state = book.state(on, self.cache)
            self.outcome.loans[loan_id].overdue_minor = (
                state.overdue_interest_minor + state.overdue_principal_minor
                + state.default_interest_owed_minor)

    def finish(self) -> BooksOutcome:
        for loan_id, book in self.loans.items():
            self.outcome.loans[loan_id].interest_unpaid_minor = max(book.payable_minor, 0)
        self.outcome.cash_left_minor = self.free_cash()
        return self.outcome


def unsupported_terms(contract: Contract) -> list[Problem]:
    """Terms of the contract these books do not replay (so no simulation pretends to). Every
    term the services use is replayed today: a unit class's return rule and redemptions and
    the residual term through :mod:`settlement.class_returns`, the waterfall's own rules; the
    list is where a future term the books do not know is named, with its field."""
    del contract
    return []


def fixed_fees_of(contract: Contract, fiscal_year: int) -> tuple[tuple[str, int], ...]:
    """The fixed fees the vehicle pays for ``fiscal_year`` (provider, amount), in the order
    :func:`settlement.payments.pay_fixed_fees` posts them; a provider a municipality pays
    directly is not the vehicle's."""
    return tuple((p.party, fee) for p in contract.providers
                 if (fee := p.fixed_by_year_minor.get(fiscal_year))
                 and p.paid_by not in contract.payer_ids)


def schedules_of(contract: Contract) -> dict[str, Schedule]:
    """Each loan's schedule as its terms set it (built once per simulation: a pure function of
    the terms)."""
    return {ln.id: nominal_schedule(ln) for ln in contract.loans}


def _apply(unapplied: list[_Receipt], amount_minor: int) -> list[tuple[_Receipt, int]]:
    """:func:`settlement.payments._apply`: receipts taken in the order received."""
    applied = []
    left = amount_minor
    for receipt in sorted(unapplied, key=lambda r: (r.on, r.seq)):
        take = min(receipt.amount_minor - receipt.applied_minor, left)
        if take <= 0:
            break
        applied.append((receipt, take))
        left -= take
    return applied


def run_books(contract: Contract, plans: Sequence[YearPlan],
              receipts: Mapping[int, Mapping[str, int]],
              subscriptions: Sequence[Subscription],
              return_rates: Mapping[str, RateSchedule | None] | None = None,
              log: BooksLog | None = None, cache: StateCache | None = None,
              schedules: Mapping[str, Schedule] | None = None,
              kpi_results: Mapping[str, Mapping[int, Decimal]] | None = None) -> BooksOutcome:
    """The scenario's money, year by year in the order of ``make demo``: draws at set-up;
    each year the subscriptions dated in it, the fixed fees, the close, the payers' payments
    (``receipts``: fiscal year → payer → amount) and the waterfall."""
    books = ScenarioBooks(contract, return_rates, log, cache, schedules, kpi_results)
    books.draw_loans()
    for plan in plans:
        start, end = contract.fiscal_year_bounds(plan.fiscal_year)
        for sub in subscriptions:
            if start <= sub.on <= end:
                books.subscribe(sub)
        books.pay_fixed_fees(plan.fiscal_year, plan.fees_on)
        books.close_year(plan.fiscal_year)
        books.audited_through = plan.fiscal_year
        for payer, amount in receipts.get(plan.fiscal_year, {}).items():
            books.receive(payer, plan.fiscal_year, plan.receipts_on[payer], amount)
        books.distribute(plan.distribution_on, plan.final, plan.fiscal_year)
    return books.finish()
