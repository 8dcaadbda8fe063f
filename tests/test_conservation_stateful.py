"""Money is conserved under random use of the services (issue 10, acceptance 1).

A Hypothesis state machine tells the five-municipality contract (the demo's contract) in random
order, on a fresh SQLite database per example, through the services only, each call in its own
unit of work: KPI results submitted and audited year by year (random values in plausible
ranges), years settled, audited results corrected and settled again, years closed, payments
received (random parts of what is outstanding, random references, on dates around today),
distributions (random dates and references, the same again, now and then dated before the last
one, sometimes ``final``), holders paid, units subscribed, loans drawn, fixed fees paid. A
refusal (``SibError``) is an acceptable answer to any of them, but it must leave the books as it
found them.

After every step, from the ledger's read model (``ledger.read``) and ``receipts``:

1. cash paid out never exceeds cash that came in: the cash account is never overdrawn, cash
   comes in only from receipts, loan draws and subscriptions, each non-final distribution pays
   out at most what it applied of the receipts, and all distributions together pay out at most
   the receipts applied plus the other sources of cash; holders are paid (gross, and the tax
   withheld) exactly what left ``distributions-payable``, never more than was set aside, and a
   unit class is never paid more return than its capital earned (a return is paid once);
2. each receipt's applied amount is between 0 and the receipt, the total applied equals the
   ``settlement_receipt_application`` rows, and the receipts are those the machine recorded;
3. every entry balances and ``ledger.verify`` is ok;
4. (inside each call) a refused call wrote nothing: entries, balances and the settlement and
   investor tables are unchanged.

Alongside, a model of the receipts (which payer paid what, when, under which reference, and how
much of each has been applied) says what every distribution must do: be refused
``ALREADY_DISTRIBUTED`` on a date and reference already distributed, ``FINAL_BEFORE_TERM_END``
when final before FY2023 is settled, ``NOTHING_TO_DISTRIBUTE`` when no receipt it may apply has
anything left (or there is no free cash), and otherwise apply the eligible receipts in the
order received up to the free cash. In particular, a distribution right after a successful one
that could reach every receipt (any later date, any reference) is refused unless a payment was
recorded in between.

The last test is the deterministic reproduction of a double payment the machine's returns
invariant stands guard against (a distribution dated before an earlier one pays the unit class
its return again).

At least 500 service-level steps run by default (steps that called at least one service; a
step such as ``a_year_goes_by`` calls several, ``advance`` none), in examples of up to
``STEPS_PER_EXAMPLE`` steps; ``SIB_STATEFUL_STEPS`` raises it. The steps are counted, not
assumed: the test runs more examples until the count is reached.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, text
from sqlmodel import Session

from api import db, demo
from contracts.chart import payers_book_code
from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors.store import HolderSpec, add_holder, holder_payments, pay_holders, subscribe
from ledger import read
from ledger.calendar import fiscal_year_bounds
from ledger.entries import CREDIT, DEBIT
from ledger.errors import SibError
from ledger.verify import verify
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import (
    distribute,
    draw_loans,
    pay_fixed_fees,
    receipts,
    record_payment,
)
from settlement.results import audit_result, correct_result, results_for, submit_results
from settlement.runs import settle
from settlement.tables import KpiResult, ReceiptApplication, SettlementRun

STEPS = int(os.environ.get("SIB_STATEFUL_STEPS", "500"))
STEPS_PER_EXAMPLE = 60

C = demo.C
PAYERS_BOOK = payers_book_code(C)
PAYERS = demo.PAYERS
FIRST_YEAR, LAST_YEAR = 2019, 2023
UNIT_CLASS = "citizen-units"
RETURN_RATE = Fraction(2, 100)  # its target return in the contract (no amendment here)
START = date(2019, 4, 1)
REFERENCES = ("FY2019", "FY2020", "FY2021", "FY2022", "FY2023", "R1", "R2")
CASH_SOURCES = {"outcome_receipt", "loan_drawdown", "unit_subscription"}

# The state of the books verify checks: their chains' heads and the maintained balances.
BOOKS = text("""
    SELECT (SELECT group_concat(code || '|' || entry_count || '|' || head_hash, ';')
              FROM ledger_book),
           (SELECT group_concat(account_id || '|' || debits_posted || '|' || credits_posted
                                || '|' || debits_pending || '|' || credits_pending, ';')
              FROM ledger_balance)
""")

# What a refused call must leave as it found (one query: it runs before and after every call).
SNAPSHOT = text("""
    SELECT (SELECT count(*) FROM ledger_entry), (SELECT count(*) FROM ledger_posting),
           (SELECT coalesce(sum(amount_minor), 0) FROM ledger_posting),
           (SELECT group_concat(code || '|' || coalesce(closed_through_on, '') || '|'
                                || entry_count || '|' || head_hash, ';') FROM ledger_book),
           (SELECT coalesce(sum(debits_posted), 0) || '|' || coalesce(sum(credits_posted), 0)
                   || '|' || coalesce(sum(debits_pending), 0) || '|'
                   || coalesce(sum(credits_pending), 0) FROM ledger_balance),
           (SELECT count(*) FROM ledger_period), (SELECT count(*) FROM ledger_period_snapshot),
           (SELECT count(*) || '|' || coalesce(sum(amount_minor), 0)
              FROM settlement_receipt_application),
           (SELECT group_concat(id || state, ';') FROM settlement_kpi_result),
           (SELECT count(*) FROM settlement_run), (SELECT count(*) FROM settlement_line),
           (SELECT count(*) FROM investor_holder), (SELECT count(*) FROM investor_subscription),
           (SELECT count(*) FROM investor_payment), (SELECT count(*) FROM contract_commitment)
""")


# The evaluator's results of a year: participants, inactive share and guideline share (in
# tenths of a percent), the continuation rate per payer (tenths), FY2019's interim count.
RESULTS = st.tuples(st.integers(min_value=3000, max_value=24000),
                    st.integers(min_value=300, max_value=700),
                    st.integers(min_value=250, max_value=550),
                    st.lists(st.integers(min_value=500, max_value=850), min_size=len(PAYERS),
                             max_size=len(PAYERS)),
                    st.none() | st.integers(min_value=1000, max_value=6000))


# --------------------------------------------------------------------------- the model

@dataclass
class ModelReceipt:
    """A payment the machine recorded, and how much of it distributions have applied."""

    entry_id: int
    payer: str
    reference: str
    on: date
    amount: int
    applied: int = 0

    @property
    def unapplied(self) -> int:
        return self.amount - self.applied


@dataclass(frozen=True)
class LastDistribution:
    """A successful non-final distribution, with nothing written since."""

    on: date
    reference: str
    cash_limited: bool  # it applied less than it could see: free cash ran short
    eligible: frozenset[int]  # the receipts it could apply


def eligible_for(receipts_: list[ModelReceipt], on: date, reference: str) -> list[ModelReceipt]:
    """Receipts a distribution on ``on`` under ``reference`` may apply ("" = any), in the order
    received."""
    return sorted((r for r in receipts_ if r.on <= on and (not reference or
                                                          r.reference == reference)),
                  key=lambda r: (r.on, r.entry_id))


def first_in_first_out(receipts_: list[ModelReceipt], amount: int) -> dict[int, int]:
    """What applying ``amount`` to the receipts in order takes of each (receipt id → amount)."""
    out: dict[int, int] = {}
    for receipt in receipts_:
        take = min(receipt.unapplied, amount)
        if take <= 0:
            continue
        out[receipt.entry_id] = take
        amount -= take
    return out


def percent(tenths: int) -> str:
    return f"{tenths // 10}.{tenths % 10}"


def free_cash(s: Session) -> int:
    """Cash held less what is owed out of it to holders and to the tax office."""
    cash = read.totals(s, C, "cash").net_debit_minor
    reserved = read.totals(s, C, f"distributions-payable:{UNIT_CLASS}").net_credit_minor
    reserved += read.totals(s, C, "withholding-payable").net_credit_minor
    return cash - reserved


# --------------------------------------------------------------------------- the machine

class ConservationMachine(RuleBasedStateMachine):
    """Set ``template`` (a migrated database with the contract loaded) and ``workdir`` before
    running."""

    template: Path
    workdir: Path
    steps_run = 0  # steps that called at least one service (a step may call several)
    calls = 0  # service calls, each in its own unit of work
    outcomes: Counter[str] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="example-", dir=self.workdir)
        path = Path(self.dir) / "sib.db"
        with closing(sqlite3.connect(self.template)) as source, \
                closing(sqlite3.connect(path)) as copy:
            source.backup(copy)
        self.url = f"sqlite:///{path}"
        self.today = START
        self.next_year = FIRST_YEAR
        self.submitted: set[int] = set()
        self.interim_submitted = False
        self.closed_year = FIRST_YEAR - 1
        self.last_year_settled = False
        self.receipts: dict[int, ModelReceipt] = {}
        self.distributed: set[tuple[date, str]] = set()
        self.final_done = False
        self.distributions: list[tuple[date, str, bool]] = []  # (on, reference, final)
        self.last: LastDistribution | None = None
        self.holders: list[str] = []
        self.loans_drawn = False
        self.fees_paid: set[int] = set()
        # what the invariants have read of the books so far (entries never change)
        self.seen_entry_id = 0
        self.verified_books: Any = None
        self.cash_in: Counter[str] = Counter()
        self.paid_by_tag: Counter[str] = Counter()
        self.final_tags: set[str] = set()
        self.called = False

    def teardown(self) -> None:
        for key in [k for k in db._engines if k.split("#")[0] == self.url]:
            db._engines.pop(key).dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- helpers

    @property
    def closed_through(self) -> date | None:
        return fiscal_year_bounds(self.closed_year)[1] if self.closed_year >= FIRST_YEAR \
            else None

    def _read(self, question: Callable[[Session], Any]) -> Any:
        with db.unit_of_work(self.url) as s:
            return question(s)

    def _snapshot(self) -> tuple:
        """Everything a call may write: the books (entries, postings, balances, chain heads,
        periods) and the rows of the settlement and investor tables."""
        return tuple(self._read(lambda s: s.execute(SNAPSHOT).one()))

    def _attempt(self, name: str, action: Callable[[Session], Any]) -> tuple[Any, str | None]:
        """Run ``action`` in its own unit of work. A refusal must have written nothing
        (invariant 4). Returns (result, None) or (None, the refusal's code)."""
        self.called = True
        type(self).calls += 1
        before = self._snapshot()
        try:
            with db.unit_of_work(self.url) as s:
                result = action(s)
        except SibError as error:
            after = self._snapshot()
            assert after == before, \
                f"{name} was refused ({error}) but the books changed:\n{before}\n{after}"
            type(self).outcomes[f"{name}: {error.code}"] += 1
            return None, error.code
        if self._snapshot() != before:
            self.last = None  # something was written: no longer "right after a distribution"
        type(self).outcomes[f"{name}: accepted"] += 1
        return result, None

    # ---- the evaluator

    @precondition(lambda self: self.next_year <= LAST_YEAR)
    @rule(values=RESULTS)
    def submit_and_audit(self, values):
        """The evaluator submits the next fiscal year's results; they are audited."""
        self._submit(self.next_year, values)

    def _submit(self, year: int, values: tuple) -> None:
        participants, inactive, guideline, continuation, interim = values
        inputs = [ResultInput(C, year, "participants", str(participants)),
                  ResultInput(C, year, "inactive-share", percent(inactive)),
                  ResultInput(C, year, "guideline-share", percent(guideline))]
        inputs += [ResultInput(C, year, "continuation-rate", percent(v), payer)
                   for payer, v in zip(PAYERS, continuation, strict=True)]
        if year == FIRST_YEAR and interim is not None:
            inputs.append(ResultInput(C, year, "participants", str(interim),
                                      evaluation="interim"))

        def act(s: Session) -> None:
            for row in submit_results(s, inputs, "tsukuba-kuno-lab"):
                audit_result(s, row.id or 0, "tsukuba-kuno-lab (audit)")
        if self._attempt("submit_and_audit", act)[1] is None:
            self.submitted.add(year)
            self.next_year = max(self.next_year, year + 1)
            self.interim_submitted |= year == FIRST_YEAR and interim is not None

    def _settle(self, name: str, year: int, evaluations: list[str], on: date | None) -> None:
        def act(s: Session) -> None:
            for evaluation in evaluations:
                settle(s, C, year, evaluation, on=on, by="twr")
        if self._attempt(name, act)[1] is None and year == LAST_YEAR and \
                "final" in evaluations:
            self.last_year_settled = True

    @precondition(lambda self: self.submitted)
    @rule(data=st.data(), on_today=st.booleans())
    def settle_a_year(self, data, on_today):
        """Settle a year whose results are in, on its last day or today."""
        year = data.draw(st.sampled_from(sorted(self.submitted)), "year")
        evaluations = ["final"] + (["interim"] if year == FIRST_YEAR and
                                   self.interim_submitted else [])
        self._settle("settle", year, evaluations, self.today if on_today else None)

    @precondition(lambda self: self.submitted)
    @rule(data=st.data(), change=st.integers(min_value=-80, max_value=80),
          on_today=st.booleans())
    def correct_and_settle_again(self, data, change, on_today):
        """An audited result is corrected (a new version, audited), and the year settled
        again."""
        year = data.draw(st.sampled_from(sorted(self.submitted)), "year")

        def latest(s: Session) -> list[tuple[int, str, str, str]]:
            rows: dict[tuple[str, str, str], KpiResult] = {}
            for row in results_for(s, C, year):
                rows[(row.kpi_id, row.payer_id, row.evaluation)] = row
            return sorted((r.id or 0, r.kpi_id, r.value, r.evaluation) for r in rows.values()
                          if r.state in ("audited", "settled"))
        candidates = self._read(latest)
        if not candidates:
            return
        result_id, kpi, value, evaluation = data.draw(st.sampled_from(candidates), "result")
        if kpi == "participants":
            new_value = str(max(0, int(Decimal(value)) + change * 50))
        else:
            new_value = str(min(Decimal(100), max(Decimal(0), Decimal(value) + Decimal(change)
                                                  / 10)))

        def act(s: Session) -> None:
            new = correct_result(s, result_id, new_value, "evaluator's correction",
                                 "tsukuba-kuno-lab")
            audit_result(s, new.id or 0, "tsukuba-kuno-lab (audit)")
        if self._attempt("correct", act)[1] is None:
            self._settle("settle_corrected", year, [evaluation],
                         self.today if on_today else None)

    # ---- the year end

    @precondition(lambda self: self.closed_year < LAST_YEAR and
                  self.closed_year + 1 in self.submitted)
    @rule(skip=st.sampled_from([1, 1, 1, 1, 2]))
    def close_a_year(self, skip):
        """The next fiscal year, whose results are in, is closed (sometimes the one after: out
        of order); today moves past its end."""
        self._close(min(self.closed_year + skip, LAST_YEAR))

    def _close(self, year: int) -> None:
        self.today = max(self.today, fiscal_year_bounds(year)[1] + timedelta(days=1))
        if self._attempt("close", lambda s: close_year(s, C, year, "twr"))[1] is None:
            self.closed_year = year
            if year == LAST_YEAR and year in self.submitted:
                self.last_year_settled = True

    @rule(days=st.integers(min_value=1, max_value=90))
    def advance(self, days):
        self.today += timedelta(days=days)

    # ---- money in

    @rule(data=st.data(), count=st.integers(min_value=1, max_value=3),
          days=st.integers(min_value=-20, max_value=20))
    def record_payments(self, data, count, days):
        """Payers who owe something pay part (or all, or more) of it, under random references
        (when nobody owes anything, a payment is refused), received today or a few days
        before or after it (booked from the bank statement)."""
        on = self.today + timedelta(days=days)
        self.today = max(self.today, on)
        owed = self._owed()
        owing = [p for p in PAYERS if owed[p] > 0] or [data.draw(st.sampled_from(PAYERS))]
        payers = data.draw(st.lists(st.sampled_from(owing), min_size=1, max_size=count,
                                    unique=True), "payers")
        for payer in payers:
            how = data.draw(st.sampled_from(["all", "part", "part", "part", "too much"]), "how")
            amount = owed[payer] if how == "all" else owed[payer] + 1 if how == "too much" \
                else data.draw(st.integers(min_value=1, max_value=max(owed[payer], 1)), "amount")
            if self._record(payer, amount, data.draw(st.sampled_from(REFERENCES), "reference"),
                            on):
                owed[payer] -= amount

    def _owed(self) -> dict[str, int]:
        return self._read(lambda s: {p: read.totals(s, C, f"receivable:{p}").net_debit_minor
                                     for p in PAYERS})

    def _record(self, payer: str, amount: int, reference: str, on: date) -> bool:
        result, refused = self._attempt(
            "record_payment", lambda s: record_payment(s, C, payer, amount, on, reference))
        if refused is not None:
            return False
        received = result[1]
        known = self.receipts.get(received.id)
        if known is None:
            self.receipts[received.id] = ModelReceipt(received.id, payer, reference, on, amount)
        else:  # the same payment again: the first one is returned, nothing new
            assert (known.payer, known.reference, known.on, known.amount) == \
                (payer, reference, on, amount), (known, payer, reference, on, amount)
        return True

    @initialize(through=st.sampled_from(["all", "all", "first", "none"]))
    def the_banks_lend(self, through):
        """Usually the loans are drawn at the start (as in the demo), sometimes only the first
        draws, sometimes none (the rule below may draw them later)."""
        if through != "none":
            on = date(2024, 3, 31) if through == "all" else date(2019, 7, 1)
            if self._attempt("draw_loans", lambda s: draw_loans(s, C, on))[1] is None:
                self.loans_drawn = through == "all"

    @precondition(lambda self: not self.loans_drawn)
    @rule(through_all=st.booleans())
    def draw_the_loans(self, through_all):
        """The banks lend: every draw due by today (or every draw of the contract)."""
        through = date(2024, 3, 31) if through_all else self.today
        if self._attempt("draw_loans", lambda s: draw_loans(s, C, through))[1] is None:
            self.loans_drawn = through_all

    @rule(new=st.booleans(), units=st.integers(min_value=1, max_value=15),
          corporate=st.booleans(), data=st.data())
    def subscribe_units(self, new, units, corporate, data):
        """A citizen (new or known) buys units today."""
        if new or not self.holders:
            code = f"citizen-{len(self.holders) + 1:03d}"
        else:
            code = data.draw(st.sampled_from(self.holders), "holder")
        on = self.today

        def act(s: Session) -> Any:
            if code not in self.holders:
                add_holder(s, HolderSpec(code, "company" if corporate else "individual",
                                         f"市民 {code}", "ｼﾐﾝ",
                                         tax_category="corporate" if corporate
                                         else "individual"))
            return subscribe(s, C, UNIT_CLASS, code, units, on)
        if self._attempt("subscribe", act)[1] is None and code not in self.holders:
            self.holders.append(code)

    # ---- money out

    @precondition(lambda self: len(self.fees_paid) <= LAST_YEAR - FIRST_YEAR)
    @rule(data=st.data())
    def pay_the_fixed_fees(self, data):
        """The providers' fixed fees of a year not yet paid (refused if cash is short)."""
        year = data.draw(st.sampled_from([y for y in range(FIRST_YEAR, LAST_YEAR + 1)
                                          if y not in self.fees_paid]), "year")
        self._pay_fees(year, self.today)

    def _pay_fees(self, year: int, on: date) -> None:
        if self._attempt("pay_fixed_fees",
                         lambda s: pay_fixed_fees(s, C, year, on))[1] is None:
            self.fees_paid.add(year)

    @rule(days=st.integers(min_value=0, max_value=45),
          reference=st.sampled_from(("", "", *REFERENCES)),
          final=st.sampled_from([False] * 7 + [True]),
          when=st.sampled_from(["later"] * 4 + ["the same day", "the same again", "earlier"]))
    def distribute_money(self, days, reference, final, when):
        """The waterfall on a later date, or on the last distribution's date again (under a
        random reference, or exactly as the last one), or dated before it."""
        on = self.today + timedelta(days=days)
        if self.distributions and when != "later":
            on, last_reference, last_final = self.distributions[-1]
            if when == "the same again":
                reference, final = last_reference, last_final
            elif when == "earlier":  # on money received before it and still unapplied
                waiting = [r.on for r in self.receipts.values() if r.unapplied and r.on < on]
                on = min(waiting) + timedelta(days=days) if waiting else \
                    on - timedelta(days=days + 1)
                on = min(on, self.distributions[-1][0] - timedelta(days=1))
        self._distribute(on, reference, final)

    @precondition(lambda self: self.last is not None)
    @rule(days=st.integers(min_value=0, max_value=60),
          reference=st.sampled_from(("", *REFERENCES)), same_reference=st.booleans())
    def distribute_again(self, days, reference, same_reference):
        """A second distribution right after a successful one, on any date not before it and
        under any reference."""
        self._distribute_again(days, reference, same_reference)

    def _distribute_again(self, days: int, reference: str, same_reference: bool) -> None:
        """Refused unless the last distribution could not reach some money: a receipt dated
        after it or under another reference than its own, or one it left unapplied because
        free cash ran short."""
        last = self.last
        assert last is not None
        on = last.on + timedelta(days=days)
        reference = last.reference if same_reference else reference
        reachable = [r for r in eligible_for(list(self.receipts.values()), on, reference)
                     if r.unapplied > 0]
        must_refuse = not last.cash_limited and all(r.entry_id in last.eligible
                                                    for r in reachable)
        refused = self._distribute(on, reference, False)
        if must_refuse:
            assert refused in ("NOTHING_TO_DISTRIBUTE", "ALREADY_DISTRIBUTED"), (
                f"a second distribution on {on} ({reference!r}) right after the one of "
                f"{last.on} ({last.reference!r}) with no payment in between: {refused}")
            type(self).outcomes["second distribution: refused as it must be"] += 1
        else:
            type(self).outcomes["second distribution: money was left within reach"] += 1

    def _distribute(self, on: date, reference: str, final: bool) -> str | None:
        """Distribute and check the outcome against the model; returns the refusal code."""
        cash = self._read(free_cash)
        # The final distribution applies every receipt left, whatever its reference.
        eligible = eligible_for(list(self.receipts.values()), on, "" if final else reference)
        within_reach = sum(r.unapplied for r in eligible)
        expected_applied = first_in_first_out(eligible, min(within_reach, max(cash, 0)))
        closed = self.closed_through is not None and on <= self.closed_through
        expected: tuple[str | None, ...] = (
            ("ALREADY_DISTRIBUTED",) if (on, reference) in self.distributed else
            ("FINAL_BEFORE_TERM_END",) if final and not self.last_year_settled else
            ("FINAL_ALREADY_DISTRIBUTED",) if final and self.final_done else
            ("NOTHING_TO_DISTRIBUTE",) if not final and not expected_applied else
            ("PERIOD_CLOSED", None) if closed else
            # Debt service runs first: instalments due by then may take the cash there was.
            (None, "NOTHING_TO_DISTRIBUTE") if not final else (None,))
        before = self._snapshot()
        backdated = any(on < d for d, _, _ in self.distributions)
        name = "distribute" + (" final" if final else "") + (" backdated" if backdated else "")
        result, refused = self._attempt(
            name, lambda s: distribute(s, C, on, final=final, reference=reference))
        # (dated before an earlier distribution: the service may refuse it, writing nothing)
        assert refused in expected or (backdated and refused is not None), (
            f"distribute(on={on}, reference={reference!r}, final={final}): expected "
            f"{expected}, got {refused}; free cash {cash}, receipts within reach "
            f"{within_reach}")
        if refused is not None:
            return refused
        applied = {receipt.entry_id: amount for receipt, amount in result.applied}
        # What the model expects is applied after debt service has paid what fell due (from
        # the same cash); the final distribution applies every receipt left.
        serviced = sum(d.paid_minor for d in result.service.days) if result.service else 0
        expected_applied = first_in_first_out(
            eligible, within_reach if final else min(within_reach, max(cash - serviced, 0)))
        assert applied == expected_applied, (
            f"distribute(on={on}, reference={reference!r}) applied {applied}, the model "
            f"expected {expected_applied} (free cash {cash})")
        for entry_id, amount in applied.items():
            self.receipts[entry_id].applied += amount
        # What the distribution itself posted or applied makes a repeat ALREADY_DISTRIBUTED;
        # debt service it ran first (due dates, arrears) is not the distribution's own.
        own = set(result.entries) - set(result.service.entries if result.service else [])
        if (own or applied) and self._snapshot() != before:
            self.distributed.add((on, reference))
        if final and any(a.paid_minor > 0 for a in result.waterfall.allocations):
            self.final_done = True
        self.distributions.append((on, reference, final))
        self.today = max(self.today, on)
        self.last = None if final else LastDistribution(
            on, reference, sum(applied.values()) < within_reach,
            frozenset(r.entry_id for r in eligible))
        return None

    @precondition(lambda self: self.distributions)
    @rule(data=st.data())
    def pay_the_holders(self, data):
        """Holders are paid what a distribution of a given day set aside for them."""
        on = data.draw(st.sampled_from([d[0] for d in self.distributions[-3:]] + [self.today]),
                       "on")
        self._attempt("pay_holders", lambda s: pay_holders(s, C, on))

    # ---- a whole year, as the demo tells it (swarm testing turns single rules off at
    # random: this one keeps long stories, up to the final distribution, frequent)

    @precondition(lambda self: self.next_year <= LAST_YEAR or self.closed_year < LAST_YEAR)
    @rule(values=RESULTS, data=st.data())
    def a_year_goes_by(self, values, data):
        """Fees of the year, its results, its close; in May the payers pay (mostly in full),
        the waterfall runs (the last year: often the final one) and the holders are paid."""
        year = min(self.closed_year + 1, LAST_YEAR)
        if year not in self.fees_paid:
            self._pay_fees(year, max(self.today, date(year, 9, 30)))
        if year not in self.submitted:
            self._submit(year, values)
        self._close(year)
        self.today = max(self.today, date(year + 1, 5, 20))
        for payer, owed in self._owed().items():
            share = data.draw(st.sampled_from([1, 1, 1, 2, 3]), "share")  # 1/share of it
            if owed > 0:
                self._record(payer, max(owed // share, 1),
                             data.draw(st.sampled_from((f"FY{year}", *REFERENCES)), "ref"),
                             self.today)
        on = self.today + timedelta(days=data.draw(st.integers(min_value=0, max_value=15)))
        reference = data.draw(st.sampled_from(("", f"FY{year}")), "reference")
        final = year == LAST_YEAR and data.draw(st.booleans(), "final")
        if self._distribute(on, reference, final) is None:
            if self.last is not None:  # the reproduction: the same money again
                self._distribute_again(data.draw(st.integers(min_value=0, max_value=60)),
                                       data.draw(st.sampled_from(("", *REFERENCES))),
                                       data.draw(st.booleans()))
            self._attempt("pay_holders", lambda s: pay_holders(s, C, on))

    # ---- invariants

    @invariant()
    def money_is_conserved(self):
        # (Hypothesis runs the invariants after every step and once before the first; a step
        # that called no service, such as ``advance``, changed nothing they read)
        if not self.called:
            return
        type(self).steps_run += 1
        self.called = False
        with db.unit_of_work(self.url) as s:
            self._check(s)

    def _check(self, s: Session) -> None:
        # Entries never change once written: those already checked are not read again.
        new_ids = list(s.scalars(text("SELECT id FROM ledger_entry WHERE id > :seen"),
                                 {"seen": self.seen_entry_id}))
        spv = read.entries(s, C, ids=new_ids) if new_ids else []
        payers = read.entries(s, PAYERS_BOOK, ids=new_ids) if new_ids else []
        assert len(spv) + len(payers) == len(new_ids), "an entry in neither of the two books"
        self.seen_entry_id = max(new_ids, default=self.seen_entry_id)

        # (3) every entry balances, and the ledger verifies
        for entry in spv + payers:
            debits = sum(a for _, side, a in entry.postings if side == DEBIT)
            credits = sum(a for _, side, a in entry.postings if side == CREDIT)
            assert debits == credits, f"entry {entry.id} ({entry.kind}) does not balance"
        # (verify reads every entry again: when the books are as they were at the last check,
        # entries being insert-only, its answer cannot have changed)
        books = s.execute(BOOKS).one()
        if books != self.verified_books:
            report = verify(s)
            assert report.ok, report.problems
            self.verified_books = books

        # (1) cash out never exceeds cash in
        for entry in spv:
            if entry.status == "posted":
                self.cash_in[entry.kind] += entry.amount_on("cash", DEBIT)
            tag = entry.links.get("distribution")
            if tag is not None:
                self.paid_by_tag[tag] += sum(a for _, side, a in entry.postings if side == DEBIT)
                if entry.links.get("final"):
                    self.final_tags.add(tag)
        cash = read.totals(s, C, "cash")
        assert 0 <= cash.credits_minor <= cash.debits_minor, f"cash overdrawn: {cash}"
        sources = {kind for kind, amount in self.cash_in.items() if amount}
        assert sources <= CASH_SOURCES, f"cash came in from {sources}"
        assert sum(self.cash_in.values()) == cash.debits_minor, (self.cash_in, cash)
        received = self.cash_in["outcome_receipt"]
        other_sources = self.cash_in["loan_drawdown"] + self.cash_in["unit_subscription"]
        applied_by_tag = dict(s.execute(
            select(ReceiptApplication.distribution_key, func.sum(ReceiptApplication.amount_minor))
            .where(ReceiptApplication.contract_id == C)
            .group_by(ReceiptApplication.distribution_key)).all())
        applied_total = sum(applied_by_tag.values())
        for tag, paid in self.paid_by_tag.items():
            if tag not in self.final_tags:
                assert paid <= applied_by_tag.get(tag, 0), (
                    f"distribution {tag} paid out {paid} but applied "
                    f"{applied_by_tag.get(tag, 0)} of the receipts")
        paid_out = sum(self.paid_by_tag.values())
        assert paid_out <= applied_total + other_sources, (
            f"distributions paid out {paid_out}; receipts applied {applied_total}, other "
            f"sources of cash {other_sources}")
        assert applied_total <= received, (applied_total, received)
        payable = read.totals(s, C, f"distributions-payable:{UNIT_CLASS}")
        assert payable.debits_minor <= payable.credits_minor, \
            f"holders were paid more than was set aside for them: {payable}"
        # what the holders were paid (gross, and the tax withheld) is what left the payable
        paid = [p for p in holder_payments(s, C) if p.kind != "write_down"]
        assert sum(p.gross_minor for p in paid) == payable.debits_minor, (
            f"holders' payments {sum(p.gross_minor for p in paid)} ≠ paid out of "
            f"distributions-payable {payable.debits_minor}")
        assert all(p.gross_minor == p.withheld_minor + p.net_minor for p in paid)
        withheld = read.totals(s, C, "withholding-payable").net_credit_minor
        assert sum(p.withheld_minor for p in paid) == withheld, withheld

        # a unit class is paid its return once: never more than its target return accrued on
        # its capital up to the last distribution (each subscription from its day; capital
        # returned is ignored, so this is an upper bound)
        returns = read.postings(s, C, account=f"distributions:{UNIT_CLASS}")
        if returns:
            last_on = max(p.effective_on for p in returns)
            paid_returns = sum(p.debit_minor - p.credit_minor for p in returns)
            accrued = sum(Fraction(p.credit_minor) * RETURN_RATE
                          * max((last_on - p.effective_on).days, 0) / 365
                          for p in read.postings(s, C, account=f"units:{UNIT_CLASS}",
                                                 through_on=last_on))
            assert paid_returns <= accrued, (
                f"{UNIT_CLASS} was paid {paid_returns} of returns by {last_on}; its capital "
                f"earned at most {float(accrued):.0f} by then: a return was paid twice")

        # (2) each receipt applied at most once, in full at most
        found = receipts(s, C)
        for r in found:
            assert 0 <= r.applied_minor <= r.amount_minor, r
        assert sum(r.applied_minor for r in found) == applied_total
        assert sum(r.amount_minor for r in found) == received
        assert {r.entry_id: (r.payer, r.reference, r.received_on, r.amount_minor,
                             r.applied_minor) for r in found} == \
            {r.entry_id: (r.payer, r.reference, r.on, r.amount, r.applied)
             for r in self.receipts.values()}, "the receipts are not those recorded"

        # the model's view of the last year's settlement is the database's
        settled = s.scalar(select(func.count()).select_from(SettlementRun).where(
            SettlementRun.contract_id == C, SettlementRun.fiscal_year == LAST_YEAR,
            SettlementRun.evaluation == "final"))
        assert bool(settled) == self.last_year_settled


def settings_for(steps: int) -> settings:
    """Enough examples of ``STEPS_PER_EXAMPLE`` steps for ``steps`` (some end early)."""
    return settings(max_examples=max(1, -(-steps // STEPS_PER_EXAMPLE)),
                    stateful_step_count=STEPS_PER_EXAMPLE, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def test_money_is_conserved_under_random_use(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("conservation")
    template = workdir / "template.db"
    url = f"sqlite:///{template}"
    db.upgrade(url)
    contract, problems = load_contract_file(demo.CONTRACT_FILE)
    assert contract is not None and not problems, problems
    with db.unit_of_work(url) as s:
        load_contract(s, contract, demo.CONTRACT_FILE.name)
    for key in [k for k in db._engines if k.split("#")[0] == url]:
        db._engines.pop(key).dispose()
    ConservationMachine.template = template
    ConservationMachine.workdir = workdir
    ConservationMachine.steps_run = ConservationMachine.calls = 0
    ConservationMachine.outcomes = Counter()

    while ConservationMachine.steps_run < STEPS:
        run_state_machine_as_test(
            ConservationMachine,
            settings=settings_for(STEPS - ConservationMachine.steps_run))

    outcomes = ConservationMachine.outcomes
    print(f"{ConservationMachine.steps_run} service-level steps, {ConservationMachine.calls} "
          "service calls:", dict(sorted(outcomes.items())))
    assert ConservationMachine.steps_run >= STEPS, ConservationMachine.steps_run
    # the run did not get stuck refusing everything: money came in and went out, and the
    # same money was offered to a second distribution
    assert outcomes["record_payment: accepted"] > 0, outcomes
    assert outcomes["distribute: accepted"] > 0, outcomes
    assert outcomes["second distribution: refused as it must be"] > 0, outcomes


# --------------------------------------------------------------------------- found by the machine

def test_a_distribution_dated_before_an_earlier_one_pays_no_return_again(db_url):
    """The return a unit class was paid by a distribution is not paid again by a distribution
    dated before it (in an open period, on money received later under another reference).

    FY2019–FY2021 told as in the demo (a citizen holds 100 units from 2021-06-01); FY2021's
    payments arrive in two parts: 90 % on 2022-05-10 (reference A), distributed on 2022-05-31,
    which pays the class its return to that day (5,000,000 × 2 % × 364/365 = 99,726); the rest
    on 2022-05-12 (reference B), distributed dated 2022-05-15. That second run may pay the
    providers, the banks and leave money in cash, or be refused — but the class's return to
    2022-05-15 was already paid: it must not be paid again.
    """
    contract, problems = load_contract_file(demo.CONTRACT_FILE)
    assert contract is not None and not problems
    with db.unit_of_work(db_url) as s:
        load_contract(s, contract, demo.CONTRACT_FILE.name)
        draw_loans(s, C, date(2024, 3, 31))
        add_holder(s, HolderSpec("citizen-001", "individual", "市民 1", "ｼﾐﾝ"))
    owed: dict[str, int] = {}
    for year in (2019, 2020, 2021):
        if year == 2021:
            with db.unit_of_work(db_url) as s:
                subscribe(s, C, UNIT_CLASS, "citizen-001", 100, date(2021, 6, 1))
        with db.unit_of_work(db_url) as s:
            pay_fixed_fees(s, C, year, date(year, 9, 30))
        contract_wide, per_payer = demo.RESULTS[year]
        inputs = [ResultInput(C, year, kpi, value) for kpi, value in contract_wide.items()]
        inputs += [ResultInput(C, year, "continuation-rate", v, p) for p, v in per_payer.items()]
        with db.unit_of_work(db_url) as s:
            for row in submit_results(s, inputs, "tsukuba-kuno-lab"):
                audit_result(s, row.id or 0, "tsukuba-kuno-lab (audit)")
        with db.unit_of_work(db_url) as s:
            owed = {p["payer"]: p["outstanding"] for p in close_year(s, C, year, "twr").payers}
        if year < 2021:
            with db.unit_of_work(db_url) as s:
                for payer, amount in owed.items():
                    record_payment(s, C, payer, amount, date(year + 1, 5, 20), f"FY{year}")
                distribute(s, C, date(year + 1, 5, 29), reference=f"FY{year}")

    with db.unit_of_work(db_url) as s:
        for payer, amount in owed.items():
            record_payment(s, C, payer, amount * 9 // 10, date(2022, 5, 10), "A")
    with db.unit_of_work(db_url) as s:
        first = distribute(s, C, date(2022, 5, 31), reference="A")
    paid_first = sum(a.paid_minor for a in first.waterfall.allocations
                     if a.claim.step == "investor_returns")
    assert paid_first == 5_000_000 * 2 * 364 // (100 * 365) == 99_726

    with db.unit_of_work(db_url) as s:
        for payer, amount in owed.items():
            record_payment(s, C, payer, amount - amount * 9 // 10, date(2022, 5, 12), "B")
    try:
        with db.unit_of_work(db_url) as s:
            second = distribute(s, C, date(2022, 5, 15), reference="B")
        paid_again = sum(a.paid_minor for a in second.waterfall.allocations
                         if a.claim.step == "investor_returns")
    except SibError:
        paid_again = 0  # refusing a distribution dated before the last one is also right
    with db.unit_of_work(db_url) as s:
        paid_in_total = read.totals(s, C, f"distributions:{UNIT_CLASS}").net_debit_minor
    assert paid_again == 0, (
        f"the distribution dated 2022-05-15 paid {UNIT_CLASS} {paid_again:,} of returns "
        f"again; the class has received {paid_in_total:,} for a return of {paid_first:,} "
        "accrued to 2022-05-31")
    assert paid_in_total == paid_first
