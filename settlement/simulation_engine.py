"""Every scenario's money after settlement: the scalar books, and a vectorised path that
provably gives the same figures. Pure.

The payouts per payer and year come from :mod:`settlement.simulation_payouts`. What the SPV
then does with the money — debt service on due dates, the waterfall, investor returns, the
final payoff and write-downs — is :class:`settlement.simulation_books.ScenarioBooks`, run once
per scenario on the scalar path.

The vectorised path runs the books once, on a *reference* scenario (each payer's largest
receipt of each year over the scenarios), keeping a log of every cash move, every service day
that owed something (owed, available, paid) and every distribution. A scenario follows the
reference's loan records exactly as long as, on every such day, its own cash available (the
same :func:`~settlement.debt_service.available_cash` rule, on its own moves in the same
posting order) covers what was owed where the reference paid in full, or equals the
reference's where it did not; and each distribution applies all its receipts and pays the
investor return owed in full. By induction over the days its debt service, accruals and
returns are then the reference's, so only the scenario's own amounts (receipts, provider
fees, the final waterfall) are computed per scenario, in integers. One departure is followed
too (:func:`_arrears_episode`): an instalment the reference paid in full that the scenario
can pay only in part at its fiscal year's end, the rest paid with its 遅延損害金 on the next
day cash comes in, before anything else falls due. A year's fixed fees are a decision of the
scenario's own cash too (:meth:`ScenarioBooks.pay_fixed_fees`: all paid where the cash covers
them, else none): where the reference paid them, a scenario that cannot has no such moves and
keeps the cash, and is followed on while the conditions above hold; where the reference could
not, a scenario that can leaves it. The scenarios that break a condition
otherwise (arrears across loans, a short payoff) are settled together by the lockstep books
(:mod:`settlement.simulation_lockstep`: the scalar books' steps over arrays of scenarios); a
contract term neither path models (a cash sweep, a class's own return rule) sends every
scenario to the scalar books.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from contracts.model import Contract
from ledger.rounding import RoundingMode
from settlement.simulation_books import (
    BooksLog,
    BooksOutcome,
    DistributionRecord,
    FeeRecord,
    StateCache,
    Subscription,
    YearPlan,
    fixed_fees_of,
    run_books,
    schedules_of,
)
from settlement.simulation_lockstep import books_lockstep, lockstep_support, record_loss
from settlement.simulation_payouts import Payouts
from settlement.unit_returns import RateSchedule
from settlement.waterfall import Claim, losses, run_waterfall

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass
class MoneyResults:
    """The SPV side of every scenario (arrays over runs).

    Attributes:
        loan_paid: loan → fiscal year → paid to the lender (interest, default interest,
            principal).
        loan_short: loan → due date → the instalment was not paid in full on the day.
        loan_overdue / loan_written_down / loan_recovered / loan_interest_unpaid: per loan.
        class_flows: unit class → (dates, runs × dates matrix of the investors' flows).
        class_paid_in / class_returns / class_capital_back / class_written_down /
            class_recovered: per unit class.
        provider_fees: provider → outcome-linked fees paid.
        fee_unpaid: provider → fiscal year → its fixed fee left unpaid on the year's date
            (the cash did not cover the year's fixed fees: the ledger refuses them), 0 where
            paid; a provider and year the vehicle pays no fixed fee for are absent.
        scalar_runs: how many scenarios the scalar path settled, and why the vectorised
            path was not used for all.
        lockstep_run_ids: the scenarios that left the reference and were settled by the
            lockstep books (:mod:`settlement.simulation_lockstep`).
    """

    runs: int
    loan_paid: dict[str, dict[int, Ints]] = field(default_factory=dict)
    loan_short: dict[str, dict[date, Bools]] = field(default_factory=dict)
    loan_overdue: dict[str, Ints] = field(default_factory=dict)
    loan_written_down: dict[str, Ints] = field(default_factory=dict)
    loan_recovered: dict[str, Ints] = field(default_factory=dict)
    loan_interest_unpaid: dict[str, Ints] = field(default_factory=dict)
    class_dates: dict[str, list[date]] = field(default_factory=dict)
    class_flows: dict[str, Ints] = field(default_factory=dict)
    class_paid_in: dict[str, Ints] = field(default_factory=dict)
    class_returns: dict[str, Ints] = field(default_factory=dict)
    class_capital_back: dict[str, Ints] = field(default_factory=dict)
    class_written_down: dict[str, Ints] = field(default_factory=dict)
    class_recovered: dict[str, Ints] = field(default_factory=dict)
    provider_fees: dict[str, Ints] = field(default_factory=dict)
    fee_unpaid: dict[str, dict[int, Ints]] = field(default_factory=dict)
    payer_refunds: dict[str, Ints] = field(default_factory=dict)
    cash_left: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    scalar_runs: int = 0
    scalar_reasons: list[str] = field(default_factory=list)
    scalar_run_ids: list[int] = field(default_factory=list)
    lockstep_run_ids: list[int] = field(default_factory=list)


def _z(runs: int) -> Ints:
    return np.zeros(runs, dtype=np.int64)


def _empty(contract: Contract, plans: Sequence[YearPlan], subscriptions: Sequence[Subscription],
           runs: int) -> MoneyResults:
    out = MoneyResults(runs, cash_left=_z(runs))
    years = sorted({p.fiscal_year for p in plans} | {p.fiscal_year + 1 for p in plans})
    due_dates = {ln.id: [] for ln in contract.loans}  # type: dict[str, list[date]]
    from settlement.servicing import nominal_schedule
    for loan in contract.loans:
        due_dates[loan.id] = [row.due_on for row in nominal_schedule(loan).rows]
        first = min([d.drawn_on.year for d in loan.draws] + years)
        out.loan_paid[loan.id] = {y: _z(runs) for y in range(first - 1, max(years) + 2)}
        out.loan_short[loan.id] = {d: np.zeros(runs, dtype=bool) for d in due_dates[loan.id]}
        for table in (out.loan_overdue, out.loan_written_down, out.loan_recovered,
                      out.loan_interest_unpaid):
            table[loan.id] = _z(runs)
    for unit in contract.unit_classes:
        dates = sorted({s.on for s in subscriptions if s.class_id == unit.id}
                       | {p.distribution_on for p in plans})
        out.class_dates[unit.id] = dates
        out.class_flows[unit.id] = np.zeros((runs, len(dates)), dtype=np.int64)
        for table in (out.class_paid_in, out.class_returns, out.class_capital_back,
                      out.class_written_down, out.class_recovered):
            table[unit.id] = _z(runs)
    for provider in contract.providers:
        out.provider_fees[provider.party] = _z(runs)
    for plan in plans:
        for party, _ in fixed_fees_of(contract, plan.fiscal_year):
            out.fee_unpaid.setdefault(party, {})[plan.fiscal_year] = _z(runs)
    for payer in contract.payer_ids:
        out.payer_refunds[payer] = _z(runs)
    return out


def _fill(out: MoneyResults, run: int, books: BooksOutcome) -> None:
    """One scenario's figures from its scalar books."""
    for loan_id, lo in books.loans.items():
        for year, amount in lo.paid_by_fiscal_year.items():
            out.loan_paid[loan_id][year][run] = amount
        for on in lo.short_due_dates:
            out.loan_short[loan_id][on][run] = True
        out.loan_overdue[loan_id][run] = lo.overdue_minor
        out.loan_written_down[loan_id][run] = lo.written_down_minor
        out.loan_recovered[loan_id][run] = lo.recovered_minor
        out.loan_interest_unpaid[loan_id][run] = lo.interest_unpaid_minor
    for class_id, co in books.classes.items():
        out.class_paid_in[class_id][run] = co.paid_in_minor
        out.class_returns[class_id][run] = co.returns_minor
        out.class_capital_back[class_id][run] = co.capital_back_minor
        out.class_written_down[class_id][run] = co.written_down_minor
        out.class_recovered[class_id][run] = co.recovered_minor
        dates = out.class_dates[class_id]
        out.class_flows[class_id][run, :] = 0
        for on, amount in co.flows:
            out.class_flows[class_id][run, dates.index(on)] += amount
    for provider, amount in books.provider_fees_minor.items():
        out.provider_fees[provider][run] = amount
    for payer, amount in books.residual_to_payers.items():
        out.payer_refunds[payer][run] = amount
    for fee in books.fees_unpaid:
        out.fee_unpaid[fee.provider][fee.fiscal_year][run] = fee.amount_minor
    out.cash_left[run] = books.cash_left_minor


def receipts_of(payouts: Payouts, run: int) -> dict[int, dict[str, int]]:
    """Fiscal year → payer → what the payer pays the SPV, in one scenario."""
    years: dict[int, dict[str, int]] = {}
    for payer, by_year in payouts.spv_due.items():
        for year, amounts in by_year.items():
            years.setdefault(year, {})[payer] = int(amounts[run])
    return years


def books_scalar(contract: Contract, plans: Sequence[YearPlan], payouts: Payouts,
                 subscriptions: Sequence[Subscription],
                 rates: Mapping[str, RateSchedule | None] | None = None,
                 only: Sequence[int] | None = None, out: MoneyResults | None = None,
                 cache: StateCache | None = None,
                 kpi_values: KpiValues | None = None) -> MoneyResults:
    """The scalar path: :func:`run_books` once per scenario. ``kpi_values(run)``: the
    scenario's audited KPI values by KPI and year (a tiered class's return needs them)."""
    out = out or _empty(contract, plans, subscriptions, payouts.runs)
    cache = cache if cache is not None else {}
    schedules = schedules_of(contract)
    for run in (only if only is not None else range(payouts.runs)):
        _fill(out, run, run_books(contract, plans, receipts_of(payouts, run), subscriptions,
                                  rates, cache=cache, schedules=schedules,
                                  kpi_results=kpi_values(run) if kpi_values else None))
    return out


KpiValues = Callable[[int], Mapping[str, Mapping[int, Decimal]]]


def vectorised_books_support(contract: Contract) -> list[str]:
    """Terms the vectorised books do not model (their scenarios take the scalar path): a
    cash sweep, a unit class's own return rule or redemptions (returns that depend on the
    scenario's results, capital back before the end), a residual given away."""
    reasons = [f"loan {ln.id}: a cash sweep" for ln in contract.loans
               if ln.cash_sweep is not None]
    reasons += [f"unit class {u.id}: its return rule" for u in contract.unit_classes
                if getattr(u, "returns", None) is not None]
    reasons += [f"unit class {u.id}: redemptions" for u in contract.unit_classes
                if getattr(u, "redemptions", ())]
    residual = getattr(contract, "residual", None)
    if residual is not None and residual.to != "vehicle":
        reasons.append(f"the residual (to {residual.to})")
    return reasons


def books_vectorised(contract: Contract, plans: Sequence[YearPlan], payouts: Payouts,
                     subscriptions: Sequence[Subscription],
                     rates: Mapping[str, RateSchedule | None] | None = None,
                     kpi_values: KpiValues | None = None) -> MoneyResults:
    """Every scenario: the reference's records where the conditions hold, the scalar books
    for the others (see the module's note)."""
    runs = payouts.runs
    out = _empty(contract, plans, subscriptions, runs)
    cache: StateCache = {}
    reasons = vectorised_books_support(contract)
    if reasons:
        out.scalar_reasons = reasons
        out.scalar_runs = runs
        return books_scalar(contract, plans, payouts, subscriptions, rates, out=out,
                            cache=cache, kpi_values=kpi_values)
    reference = {y: {p: int(a.max()) if runs else 0 for p, a in by.items()}
                 for y, by in _by_year(payouts).items()}
    log = BooksLog()
    ref = run_books(contract, plans, reference, subscriptions, rates, log, cache,
                    schedules_of(contract))
    ok = np.ones(runs, dtype=bool)
    amounts = _move_amounts(log, payouts, runs)
    mode = contract.rounding.mode
    final_record: DistributionRecord | None = None
    applied: dict[int, Ints] = {}
    extras: list[Extra] = []
    events = _events(log)
    for k, record in enumerate(events):
        if isinstance(record, FeeRecord):
            ok &= _fee_day(record, amounts, extras, out)
            continue
        if isinstance(record, DistributionRecord):
            if record.final:
                final_record = record
                continue
            h = _distribution_holds(contract, log, record, amounts, payouts, mode, out,
                                    applied, extras)
        else:
            h = _service_day_holds(log, record, amounts, extras)
            if not h.all():
                h = h | _arrears_episode(contract, log, events, k, amounts, extras,
                                         ok & ~h, out)
        ok &= h
    if final_record is None:
        ok[:] = False
    else:
        _final(contract, log, final_record, amounts, payouts, mode, ok, out, applied, extras)
    if any(lo.written_down_minor or lo.recovered_minor or lo.interest_unpaid_minor
           for lo in ref.loans.values()):
        ok[:] = False  # the reference's own payoff fell short: nothing to follow
    _copy_reference(contract, ref, log, ok, out)
    fallback = [int(r) for r in np.nonzero(~ok)[0]]
    _reset(out, ~ok)
    out.lockstep_run_ids = []
    if fallback and not lockstep_support(contract, plans, _largest_receipt(payouts)):
        # The scenarios that leave the reference (arrears across loans, a short payoff):
        # their books step by step, all together.
        books_lockstep(contract, plans, payouts, subscriptions, out,
                       np.asarray(fallback, dtype=np.int64), rates, cache)
        out.lockstep_run_ids = fallback
        fallback = []
    out.scalar_runs = len(fallback)
    out.scalar_run_ids = fallback
    if fallback:
        out.scalar_reasons = ["a scenario's cash differs from the reference's where it "
                              "decides a payment"]
        books_scalar(contract, plans, payouts, subscriptions, rates, only=fallback, out=out,
                     cache=cache, kpi_values=kpi_values)
    return out


def _largest_receipt(payouts: Payouts) -> int:
    return max((int(a.max()) for by_year in payouts.spv_due.values() for a in by_year.values()
                if len(a)), default=0)


def _reset(out: MoneyResults, runs: Bools) -> None:
    """Clear what the vectorised path wrote for ``runs`` (the scalar books fill them)."""
    for by_key in (out.loan_paid, out.loan_short, out.fee_unpaid):
        for table in by_key.values():
            for values in table.values():
                values[runs] = 0
    for flat in (out.loan_overdue, out.loan_written_down, out.loan_recovered,
                 out.loan_interest_unpaid, out.class_paid_in, out.class_returns,
                 out.class_capital_back, out.class_written_down, out.class_recovered,
                 out.provider_fees, out.class_flows, out.payer_refunds):
        for values in flat.values():
            values[runs] = 0
    out.cash_left[runs] = 0


def _arrears_episode(contract: Contract, log: BooksLog, events: Sequence[object], k: int,
                     amounts: list[Ints | int], extras: list[Extra], candidates: Bools,
                     out: MoneyResults) -> Bools:
    """Scenarios (among ``candidates``) that cannot pay in full an instalment the reference
    paid in full on its due date, and pay the rest with its 遅延損害金 on the next day cash
    comes in, before anything else falls due: the one departure from the reference the
    vectorised path follows. The day's payment is :func:`settlement.servicing.pay` of the
    cash available on one loan's interest and principal (interest first); the arrears run up
    default interest (:func:`settlement.servicing.default_interest_of`: amount × rate ×
    days / 365, truncated, per component) until that cash day, where everything owed is paid
    if the cash covers it. The loan then owes what the reference's owes (its instalments'
    interest runs on the principal due, paid or not), so the scenario follows the reference
    again, with less cash. Any other shape of departure is left to the scalar books."""
    from settlement.servicing import DEFAULT_INTEREST_BASIS_DAYS
    from settlement.simulation_books import ServiceRecord
    record = events[k]
    assert isinstance(record, ServiceRecord)
    runs = len(candidates)
    none = np.zeros(runs, dtype=bool)
    owed, on = record.owed, record.on
    if record.paid_minor != record.owed_minor or not owed or \
            len({d.loan_id for d in owed}) != 1 or \
            any(d.due_on != on or d.component == "default_interest" for d in owed):
        return none
    loan = next(ln for ln in contract.loans if ln.id == owed[0].loan_id)
    following = events[k + 1] if k + 1 < len(events) else None
    year_end = contract.fiscal_year_bounds(contract.fiscal_year_of(on))[1]
    if not isinstance(following, DistributionRecord) or following.final or \
            following.on <= year_end:
        return none
    later_dues = [row for ln in contract.loans for row in out.loan_short[ln.id] if row > on]
    next_due = min(later_dues, default=date.max)
    # The scenario's next cash day: the first date after the year's end (and before the next
    # due date and the distribution) on which money it has came in (the reference's moves,
    # with this scenario's amounts).
    cash_days = sorted({log.moves[i][0] for i in range(following.moves_before)
                        if year_end < log.moves[i][0] <= following.on
                        and log.moves[i][0] < next_due})
    interest = sum(d.amount_minor for d in owed if d.component == "interest")
    principal = sum(d.amount_minor for d in owed if d.component == "principal")
    available = _available(log, amounts, record.moves_before, on, runs, extras)
    paid_interest = np.minimum(available, interest)
    paid_principal = np.minimum(available - paid_interest, principal)
    arrears_interest, arrears_principal = interest - paid_interest, principal - paid_principal
    cash_on = np.zeros(runs, dtype=np.int64)
    handled = np.zeros(runs, dtype=bool)
    for day in cash_days:
        came_in = np.zeros(runs, dtype=bool)
        for i in range(following.moves_before):
            if log.moves[i][0] == day:
                came_in |= np.asarray(amounts[i]) > 0
        fresh = candidates & came_in & ~handled
        cash_on = np.where(fresh, day.toordinal(), cash_on)
        handled |= fresh
    # Cash coming in before the year's end would be serviced by the close: not this shape.
    for i in range(following.moves_before):
        if on < log.moves[i][0] <= year_end:
            handled &= ~(np.asarray(amounts[i]) > 0)
    if not handled.any():
        return none
    rate = Fraction(loan.default_interest_rate_annual or 0)
    days = np.where(handled, cash_on - on.toordinal(), 0)
    scale = rate.denominator * DEFAULT_INTEREST_BASIS_DAYS
    default = np.zeros(runs, dtype=np.int64)
    if "interest" in loan.default_interest_on:
        default += arrears_interest * rate.numerator * days // scale
    if "principal" in loan.default_interest_on:
        default += arrears_principal * rate.numerator * days // scale
    total = default + arrears_interest + arrears_principal
    for day in cash_days:
        at_day = handled & (cash_on == day.toordinal())
        if not at_day.any():
            continue
        cash = _available(log, amounts, following.moves_before, day, runs, extras)
        handled &= ~at_day | (cash >= total)
    paid_back = np.where(handled, total, 0)
    # This scenario's payments on the due date, in place of the reference's.
    for offset, (due, _) in enumerate(record.paid):
        index = record.moves_before + offset
        mine = paid_interest if due.component == "interest" else paid_principal
        shared = np.broadcast_to(np.asarray(amounts[index], dtype=np.int64), (runs,))
        amounts[index] = np.where(handled, -mine, shared).astype(np.int64)
    for day in cash_days:
        at_day = handled & (cash_on == day.toordinal())
        if at_day.any():
            extras.append((following.moves_before, day, np.where(at_day, -paid_back, 0)))
            year = contract.fiscal_year_of(day)
            out.loan_paid[loan.id][year] += np.where(at_day, paid_back, 0)
    year = contract.fiscal_year_of(on)
    out.loan_paid[loan.id][year] += np.where(
        handled, paid_interest + paid_principal - interest - principal, 0)
    out.loan_short[loan.id][on] |= handled & (paid_interest + paid_principal
                                              < interest + principal)
    return handled


def _by_year(payouts: Payouts) -> dict[int, dict[str, Ints]]:
    years: dict[int, dict[str, Ints]] = {}
    for payer, by_year in payouts.spv_due.items():
        for year, amounts in by_year.items():
            years.setdefault(year, {})[payer] = amounts
    return years


def _events(log: BooksLog) -> list[object]:
    """Service days, distributions and fixed-fee commands in the order the books met them."""
    return list(log.events)


def _fee_day(record: FeeRecord, amounts: list[Ints | int], extras: Sequence[Extra],
             out: MoneyResults) -> Bools:
    """A year's fixed fees in every scenario, by the books' rule: all paid where the free
    cash once the moves before them are posted covers their total, else none (each recorded
    unpaid). Where the reference paid them, a scenario that cannot keeps its cash (its fee
    moves are 0) and stays on the reference; where the reference could not, the scenarios
    that can pay leave it (returned False)."""
    runs = len(out.cash_left)
    cash = _cash_before(amounts, record.moves_before, runs, extras)
    pays = cash >= record.total_minor
    for offset, (party, fee) in enumerate(record.fees):
        out.fee_unpaid[party][record.fiscal_year] = np.where(pays, 0, fee).astype(np.int64)
        if record.paid:
            amounts[record.moves_before + offset] = np.where(pays, -fee, 0).astype(np.int64)
    if record.paid:
        return np.ones(runs, dtype=bool)
    return np.asarray(~pays)


def _move_amounts(log: BooksLog, payouts: Payouts, runs: int) -> list[Ints | int]:
    """Each logged move's amount in every scenario: the same number for a shared move, the
    scenario's receipt for a receipt; provider fees and the final waterfall are filled in
    when their distribution is evaluated."""
    out: list[Ints | int] = []
    for _, amount, source in log.moves:
        if source is None:
            out.append(amount)
        elif source[0] == "receipt":
            out.append(payouts.spv_due[source[1]][source[2]])
        elif source[0] == "fixed_fee":
            out.append(amount)  # the reference's; each scenario's own once its day is met
        else:
            out.append(0)
    del runs
    return out


Extra = tuple[int, date, Ints]
"""A cash move some scenarios have and the reference has not (an arrears payment on a day the
reference owed nothing): (how many logged moves were posted before it, date, amounts)."""


def _balances(log: BooksLog, amounts: Sequence[Ints | int], upto: int, runs: int,
              extras: Sequence[Extra] = ()) -> tuple[list[date], npt.NDArray[np.int64]]:
    """The cumulative cash balance (dates × runs) after each date of the first ``upto``
    moves (and the extra moves posted among them), as
    :func:`settlement.debt_service.available_cash` builds it."""
    mine = [e for e in extras if e[0] <= upto]
    dates = sorted({log.moves[i][0] for i in range(upto)} | {e[1] for e in mine})
    index = {d: k for k, d in enumerate(dates)}
    per_date = np.zeros((len(dates), runs), dtype=np.int64)
    for i in range(upto):
        per_date[index[log.moves[i][0]]] += amounts[i]
    for _, on, extra in mine:
        per_date[index[on]] += extra
    return dates, np.cumsum(per_date, axis=0)


def _cash_before(amounts: Sequence[Ints | int], upto: int, runs: int,
                 extras: Sequence[Extra]) -> Ints:
    """The free cash once the first ``upto`` logged moves (and their extras) are posted."""
    total = sum((np.asarray(amounts[i]) for i in range(upto)), np.zeros(runs, dtype=np.int64))
    for position, _, extra in extras:
        if position <= upto:
            total = total + extra
    return np.asarray(total, dtype=np.int64)


def _available(log: BooksLog, amounts: Sequence[Ints | int], upto: int, on: date,
               runs: int, extras: Sequence[Extra] = ()) -> Ints:
    dates, running = _balances(log, amounts, upto, runs, extras)
    now = np.zeros(runs, dtype=np.int64)
    before = [k for k, d in enumerate(dates) if d <= on]
    if before:
        now = running[before[-1]]
    later = [k for k, d in enumerate(dates) if d >= on]
    if later:
        now = np.minimum(now, running[later].min(axis=0))
    return np.maximum(now, 0)


def _service_day_holds(log: BooksLog, record: object, amounts: Sequence[Ints | int],
                       extras: Sequence[Extra] = ()) -> Bools:
    from settlement.simulation_books import ServiceRecord
    assert isinstance(record, ServiceRecord)
    runs = _runs(amounts)
    available = _available(log, amounts, record.moves_before, record.on, runs, extras)
    if record.paid_minor == record.owed_minor:
        holds = available >= record.owed_minor
    else:
        holds = available == record.available_minor
    if record.cash_date_only:
        came_in = np.zeros(runs, dtype=bool)
        for i in range(record.moves_before):
            if log.moves[i][0] == record.on:
                came_in |= np.asarray(amounts[i]) > 0
        holds = holds & came_in
    return holds


def _runs(amounts: Sequence[Ints | int]) -> int:
    return next((len(a) for a in amounts if isinstance(a, np.ndarray)), 1)


def _fees(contract: Contract, base_of: Mapping[str, Ints], mode: RoundingMode,
          runs: int) -> dict[str, Ints]:
    """:func:`settlement.payments._provider_claims` over scenarios."""
    from settlement.simulation_payouts import _round
    out = {}
    for provider in contract.providers:
        if provider.outcome_share is None:
            continue
        payers = provider.outcome_share_of_payers or contract.payer_ids
        base = sum((base_of.get(p, np.zeros(runs, dtype=np.int64)) for p in payers),
                   np.zeros(runs, dtype=np.int64))
        share = Fraction(provider.outcome_share)
        out[provider.party] = _round(base * share.numerator, share.denominator, mode)
    return out


def _apply(log: BooksLog, amounts: Sequence[Ints | int], record: DistributionRecord,
           applied: dict[int, Ints], cash: Ints, runs: int) -> dict[str, Ints]:
    """:func:`settlement.payments._apply` over scenarios: the receipts a distribution may
    apply (those of its year dated by then; every one left, for the final one) taken in the
    order received up to the cash (all of them for the final), recorded in ``applied`` (move
    index → applied so far). Returns per payer what it applied."""
    eligible = [i for i in range(record.moves_before)
                if (source := log.moves[i][2]) is not None and source[0] == "receipt"
                and log.moves[i][0] <= record.on
                and (record.final or source[2] == record.fiscal_year)]
    eligible.sort(key=lambda i: (log.moves[i][0], i))
    unapplied = {i: np.asarray(amounts[i]) - applied.get(i, 0) for i in eligible}
    received = sum(unapplied.values(), np.zeros(runs, dtype=np.int64))
    left = received if record.final else np.minimum(received, cash)
    out: dict[str, Ints] = {}
    for i in eligible:
        take = np.minimum(unapplied[i], left)
        applied[i] = applied.get(i, np.zeros(runs, dtype=np.int64)) + take
        left = left - take
        payer = log.moves[i][2][1]  # type: ignore[index]
        out[payer] = out.get(payer, np.zeros(runs, dtype=np.int64)) + take
    return out


def _distribution_holds(contract: Contract, log: BooksLog, record: DistributionRecord,
                        amounts: list[Ints | int], payouts: Payouts, mode: RoundingMode,
                        out: MoneyResults, applied: dict[int, Ints],
                        extras: Sequence[Extra] = ()) -> Bools:
    runs = payouts.runs
    cash = np.maximum(_cash_before(amounts, record.moves_before, runs, extras), 0)
    per_payer = _apply(log, amounts, record, applied, cash, runs)
    spent = sum(per_payer.values(), np.zeros(runs, dtype=np.int64))
    fees = _fees(contract, per_payer, mode, runs)
    owed = sum(record.investor_owed.values())
    holds = spent - sum(fees.values(), np.zeros(runs, np.int64)) >= owed
    if owed > 0 or record.applied_minor > 0:
        holds &= spent > 0
    if record.investor_paid != record.investor_owed:
        holds[:] = False
    for i in range(record.moves_before, len(log.moves)):
        source = log.moves[i][2]
        if source is not None and source[0] == "provider_fee" and \
                source[2] == record.fiscal_year and log.moves[i][0] == record.on:
            amounts[i] = -fees[source[1]]
    for provider, fee in fees.items():
        out.provider_fees[provider] += np.where(holds, fee, 0)
    return holds


def _final(contract: Contract, log: BooksLog, record: DistributionRecord,
           amounts: list[Ints | int], payouts: Payouts, mode: RoundingMode, ok: Bools,
           out: MoneyResults, applied: dict[int, Ints],
           extras: Sequence[Extra] = ()) -> None:
    """The final waterfall per scenario: in full where the cash covers every claim, else
    :func:`run_waterfall` and :func:`losses` on the scenario's claims."""
    runs = payouts.runs
    cash = np.maximum(_cash_before(amounts, record.moves_before, runs, extras), 0)
    fees = _fees(contract, _apply(log, amounts, record, applied, cash, runs), mode, runs)
    fixed = list(record.fixed_claims)
    total = sum(c.amount_minor for c in fixed) + sum(fees.values(), np.zeros(runs, np.int64))
    full = ok & (cash >= total)
    for provider, fee in fees.items():
        out.provider_fees[provider] += np.where(full, fee, 0)
    _final_claims_paid(contract, fixed, full, out, record.on)
    out.cash_left[:] = np.where(full, cash - total, 0)
    cover = [(g.covers, Fraction(g.cover_percent) / 100 if g.cover_percent is not None
              else None, g.cover_max_minor) for g in contract.guarantees]
    for run in (int(r) for r in np.nonzero(ok & ~full)[0]):
        claims = [Claim("provider_fees", p, p, int(f[run])) for p, f in fees.items()
                  if f[run] > 0] + fixed
        result = run_waterfall(int(cash[run]), claims, contract.waterfall)
        paid_total = 0
        for allocation in result.allocations:
            claim, paid = allocation.claim, allocation.paid_minor
            paid_total += paid
            _final_paid(contract, claim, paid, run, out, record.on)
        out.cash_left[run] = int(cash[run]) - paid_total
        unpaid = [(a.claim.instrument, a.claim.party, a.unpaid_minor) for a in result.allocations
                  if a.claim.step == "principal" and a.unpaid_minor > 0]
        for loss in losses(unpaid, cover, contract.rounding.mode):
            record_loss(out, loss, run, record.on)
        for claim in fixed:
            if claim.step == "interest" and claim.instrument in out.loan_interest_unpaid:
                paid = next(a.paid_minor for a in result.allocations if a.claim is claim)
                out.loan_interest_unpaid[claim.instrument][run] = claim.amount_minor - paid


def _final_claims_paid(contract: Contract, claims: Sequence[Claim], full: Bools,
                       out: MoneyResults, on: date) -> None:
    for claim in claims:
        amount = np.where(full, claim.amount_minor, 0).astype(np.int64)
        _final_paid(contract, claim, amount, slice(None), out, on)


def _final_paid(contract: Contract, claim: Claim, paid: Ints | int, run: int | slice,
                out: MoneyResults, on: date) -> None:
    instrument = claim.instrument
    if claim.step == "provider_fees":
        out.provider_fees[instrument][run] += paid
    elif instrument in out.loan_paid:
        out.loan_paid[instrument][contract.fiscal_year_of(on)][run] += paid
    elif claim.step == "investor_returns":
        out.class_returns[instrument][run] += paid
        out.class_flows[instrument][run, out.class_dates[instrument].index(on)] += paid
    else:
        out.class_capital_back[instrument][run] += paid
        out.class_flows[instrument][run, out.class_dates[instrument].index(on)] += paid


def _copy_reference(contract: Contract, ref: BooksOutcome, log: BooksLog, ok: Bools,
                    out: MoneyResults) -> None:
    """The reference's figures before the final waterfall, for every scenario that follows
    it (the final waterfall's own amounts are already in ``out``)."""
    final = next(r for r in log.distributions if r.final) if any(
        r.final for r in log.distributions) else None
    final_paid: dict[str, int] = {}
    if final is not None:
        for claim in final.fixed_claims:
            if claim.instrument in out.loan_paid:
                final_paid[claim.instrument] = final_paid.get(claim.instrument, 0) + \
                    claim.amount_minor
    for loan_id, lo in ref.loans.items():
        final_year = contract.fiscal_year_of(final.on) if final is not None else None
        for year, amount in lo.paid_by_fiscal_year.items():
            before_final = amount - (final_paid.get(loan_id, 0) if year == final_year else 0)
            out.loan_paid[loan_id][year] += np.where(ok, before_final, 0)
        for on in lo.short_due_dates:
            out.loan_short[loan_id][on] |= ok
        out.loan_overdue[loan_id] += np.where(ok, lo.overdue_minor, 0)
    for class_id, co in ref.classes.items():
        out.class_paid_in[class_id] += np.where(ok, co.paid_in_minor, 0)
        dates = out.class_dates[class_id]
        for record in log.distributions:
            if record.final:
                continue
            paid = record.investor_paid.get(class_id, 0)
            out.class_returns[class_id] += np.where(ok, paid, 0)
            out.class_flows[class_id][:, dates.index(record.on)] += np.where(ok, paid, 0)
        for on, amount in co.flows:
            if amount < 0:
                out.class_flows[class_id][:, dates.index(on)] += np.where(ok, amount, 0)
