"""Five fiscal years of the five-municipality SIB (FY2019–FY2023), as they happen.

Each year: the loans are drawn, Tanita Health Link's fixed fee is paid (1 July), the
evaluator's results are submitted and audited (some targets met, some partly met, some missed;
FY2019 also has its interim evaluation), the year is settled and closed. In May each
municipality pays what it owes for the year just closed, in July the national grant pays half
of its cost, and in June the SPV runs the waterfall on the money received: provider outcome
fees, then the citizen units' return (units sold from FY2021). In June 2024, after the last
year, the final waterfall pays everything left out.

The loans are not paid by the waterfall: every instalment (interest and principal) falls due
on its own date and is paid that day from the vehicle's cash by debt service, which each
waterfall and each year-end close run first. The contract front-loads THL's fees (36 M in
FY2019, 32 M in FY2020, then 3 M a year) onto the 60 M of loans, so the vehicle is nearly
empty from July 2020, when FY2020's fee is paid, until FY2020's outcome money comes in on
31 May 2021: Yamaguchi's instalment of 30 September 2020 is paid only in part and that of
31 March 2021 not at all; both are paid late on 31 May 2021 with their 遅延損害金 (14.6 % a
year). Every other instalment is paid on its due date. The final waterfall runs on 28 June
2024, the last due date of four loans (Yamaguchi's last was 29 March 2024): debt service pays
those instalments on their date first, so nothing is paid off early.

Ube's FY2019 continuation rate is 66 % (65 % before the contract's fees changed): with 65 %,
FY2019's outcome money would leave the vehicle 11,569 yen short of FY2020's 32 M fee
(derived in test_the_contract_front_loads_the_fees_onto_the_loans), and a fee is never paid
from cash the vehicle does not hold.

Every expected figure below is computed here from the contract's terms — population shares,
tranche maxima, the rules' thresholds, loan rates, dates and default rate — with exact
fractions and a day-by-day count of interest, default interest and cash, independently of the
code under test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session

from api.db import make_engine, upgrade
from contracts.chart import Code, Kind
from contracts.store import get_contract, load_contract
from contracts.validate import load_contract_file
from ledger import read
from ledger.entries import EntryDraft, credit, debit
from ledger.money import from_minor
from ledger.reports import trial_balance
from ledger.service import post_entry
from ledger.verify import verify
from settlement.close import build_pack, close_year
from settlement.debt_service import read_state
from settlement.kpi import ResultInput
from settlement.payments import (
    distribute,
    draw_loans,
    pay_fixed_fees,
    receive_grant,
    record_payment,
)
from settlement.results import audit_result, correct_result, results_for, submit_results
from settlement.runs import current_runs, runs_of, settle

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
PAYERS_BOOK = f"{C}:payers"
YEARS = range(2019, 2024)
POPULATION = {"ube": 165_000, "tono": 28_000, "yawata": 73_000, "ibusuki": 42_000,
              "misato": 11_000}
PAYERS = tuple(POPULATION)
LOANS = ("loan-yamaguchi", "loan-tohoku", "loan-kyoto", "loan-kagoshima",
         "loan-saitama-resona")
UNITS = "citizen-units"

# --------------------------------------------------------------------------- the story's data

RESULTS = {  # what the evaluator audits each year
    2019: {"participants": "6800", "inactive-share": "47.9", "guideline-share": "29.5",
           "continuation-rate": {"ube": "66", "tono": "66.5", "yawata": "70", "ibusuki": "58",
                                 "misato": "63.3"}},
    2020: {"participants": "10400", "inactive-share": "48", "guideline-share": "42.5",
           "continuation-rate": {"ube": "71.2", "tono": "72", "yawata": "65.55",
                                 "ibusuki": "69", "misato": "61"}},
    2021: {"participants": "12350", "inactive-share": "55", "guideline-share": "38.9",
           "continuation-rate": {"ube": "74", "tono": "70.3", "yawata": "73.9",
                                 "ibusuki": "64", "misato": "77"}},
    2022: {"participants": "16000", "inactive-share": "60", "guideline-share": "45.99",
           "continuation-rate": {"ube": "75", "tono": "71", "yawata": "76", "ibusuki": "70.5",
                                 "misato": "66"}},
    2023: {"participants": "21000", "inactive-share": "59.9", "guideline-share": "48",
           "continuation-rate": {"ube": "78", "tono": "75.5", "yawata": "77.2", "ibusuki": "72",
                                 "misato": "80"}},
}
INTERIM_2019 = "3800"               # participants at the interim count (threshold 3,600)
CORRECTED_2020 = ("yawata", "67.05")  # Yawata's FY2020 continuation rate, recounted
UNITS_SOLD = (date(2021, 6, 1), 300)  # citizen units: 300 × 50,000 yen
FEE_ON = {2019: date(2019, 7, 1), 2020: date(2020, 7, 1), 2021: date(2021, 7, 1),
          2022: date(2022, 7, 1), 2023: date(2023, 7, 3)}
PAID_ON = {2019: date(2020, 5, 29), 2020: date(2021, 5, 31), 2021: date(2022, 5, 31),
           2022: date(2023, 5, 31), 2023: date(2024, 5, 31)}
DISTRIBUTED_ON = {2019: date(2020, 6, 30), 2020: date(2021, 6, 30), 2021: date(2022, 6, 30),
                  2022: date(2023, 6, 30), 2023: date(2024, 6, 28)}
GRANT_ON = {2019: date(2020, 7, 31), 2020: date(2021, 7, 30), 2021: date(2022, 7, 29),
            2022: date(2023, 7, 31), 2023: date(2024, 7, 31)}

# --------------------------------------------------------------------------- the terms, read here

DOCUMENT = yaml.safe_load(FIVE.read_text(encoding="utf-8"))
MAXIMUM = {t["id"]: int(t["max_amount"].replace(",", "")) for t in DOCUMENT["tranches"]}
TARGET = {2019: 7_200, 2020: 10_000, 2021: 13_000, 2022: 16_500, 2023: 20_000}
INACTIVE_THRESHOLD = {2019: 50, 2020: 50, 2021: 55, 2022: 55, 2023: 60}
CONTINUATION_LINE = {2019: (60, 70), 2020: (62, 72), 2021: (64, 74), 2022: (66, 76),
                     2023: (68, 78)}
GUIDELINE_FROM = {2019: 30, 2020: 32, 2021: 34, 2022: 36, 2023: 38}  # tiers of 5 points
FIXED_FEE = {year: int(fee.replace(",", "")) for year, fee in
             DOCUMENT["providers"][0]["fixed_by_year"].items()}  # THL's, paid by the SPV


def split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """In proportion to ``weights``, fractions dropped, the remainder to the first (Ube)."""
    weight = sum(weights.values())
    parts = {p: total * w // weight for p, w in weights.items()}
    parts[next(iter(parts))] += total - sum(parts.values())
    return parts


def committed(tranche: str) -> dict[str, int]:
    """Each payer's part of a tranche maximum: by population, remainder to Ube."""
    return split(MAXIMUM[tranche], POPULATION)


def shares(year: int, results: dict) -> dict[str, Fraction | dict[str, Fraction]]:
    """The share of each tranche maximum earned, as the contract's rules say."""
    floor, cap = CONTINUATION_LINE[year]
    guideline = Fraction(results["guideline-share"]) - GUIDELINE_FROM[year]
    return {
        # pro rata to the year's target, never above the maximum
        f"fy{year}-participants": min(Fraction(results["participants"]) / TARGET[year], 1),
        # all or nothing at the threshold
        f"fy{year}-inactive": Fraction(
            Fraction(results["inactive-share"]) >= INACTIVE_THRESHOLD[year]),
        # tiers: below the first nothing, then 50 %, 80 %, 100 % every 5 points
        f"fy{year}-guideline": Fraction(0) if guideline < 0 else Fraction(50, 100)
        if guideline < 5 else Fraction(80, 100) if guideline < 10 else Fraction(1),
        # per municipality: nothing at the floor, all at the cap, a straight line between
        f"fy{year}-continuation": {p: min(max((Fraction(v) - floor) / (cap - floor), 0), 1)
                                   for p, v in results["continuation-rate"].items()},
    }


def earned_lines(tranche_shares: dict) -> dict[str, int]:
    """Per payer earned over the given tranches: a contract-wide tranche earns its share of
    the whole maximum, split like the commitments; a per-payer tranche earns per payer."""
    total = dict.fromkeys(PAYERS, 0)
    for tranche, share in tranche_shares.items():
        parts = committed(tranche)
        if isinstance(share, dict):
            lines = {p: int(share[p] * parts[p]) for p in PAYERS}
        else:
            lines = split(int(share * MAXIMUM[tranche]), parts)
        for payer in PAYERS:
            total[payer] += lines[payer]
    return total


def expected_runs() -> dict[tuple[int, str], dict[str, int]]:
    """(year, evaluation) → per payer earned, in the runs in force at the end."""
    out = {(2019, "interim"): earned_lines({"fy2019-participants-interim": Fraction(
        int(INTERIM_2019) >= 3_600)})}
    for year in YEARS:
        results = RESULTS[year]
        if year == 2020:
            payer, value = CORRECTED_2020
            results = dict(results, **{"continuation-rate": dict(
                results["continuation-rate"], **{payer: value})})
        out[(year, "final")] = earned_lines(shares(year, results))
    return out


EARNED = expected_runs()
# Tax: the contract's maxima already include consumption tax (税込), so none is added; what a
# payer owes is what it earned. One invoice (notice) per payer and year: the tax inside it is
# the year's total × 10/110, truncated, computed once; the year's first run books the tax on
# its own amount, the second the tax on the total less what the first booked. It moves from
# outcome income to 仮受消費税 (tax payable). The grant covers half of each run's cost.
GRANT = {key: {p: amount // 2 for p, amount in run.items()} for key, run in EARNED.items()}


def _taxes() -> dict[tuple[int, str], dict[str, int]]:
    out: dict[tuple[int, str], dict[str, int]] = {}
    booked: dict[tuple[int, str], tuple[int, int]] = {}
    for key in sorted(EARNED, key=lambda k: (k[0], k[1] != "interim")):
        out[key] = {}
        for p, amount in EARNED[key].items():
            earned_before, tax_before = booked.get((key[0], p), (0, 0))
            out[key][p] = (earned_before + amount) * 10 // 110 - tax_before
            booked[(key[0], p)] = (earned_before + amount, tax_before + out[key][p])
    return out


TAX = _taxes()


def owed_for(year: int) -> dict[str, int]:
    """What each payer owes for a fiscal year (its interim and final runs together)."""
    return {p: sum(EARNED[k][p] for k in EARNED if k[0] == year) for p in PAYERS}


def tax_for(year: int) -> dict[str, int]:
    """The tax inside what each payer owes for a fiscal year (each run's invoice on its own)."""
    return {p: sum(TAX[k][p] for k in TAX if k[0] == year) for p in PAYERS}


def granted_for(year: int) -> dict[str, int]:
    return {p: sum(GRANT[k][p] for k in GRANT if k[0] == year) for p in PAYERS}


# --------------------------------------------------------------------------- loans, day by day

def days(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included (none when ``last`` is earlier)."""
    return [first + timedelta(n) for n in range((last - first).days + 1)]


@dataclass
class LoanModel:
    """A loan as this test follows it, on its due dates.

    Its schedule: each due date owes the interest of its period and its scheduled principal.
    Interest runs on the principal *performing* at the end of each day — drawn, less the
    principal of every due date reached, paid or not (an unpaid instalment bears default
    interest instead, never both) — counted day by day (ACT/365, 片端: a period counts its
    first day, not its last) and truncated once per period. Nothing is prepaid in the story,
    so the schedule does not depend on when the instalments are paid.

    What is not paid on its due date is overdue and bears 遅延損害金 at the default rate, by
    the day from the day after the due date to the day it is paid (a day late is one day),
    truncated per arrear and per payment.

    ``principal`` gives the scheduled principal of each due date from its index and its
    period's interest; the last due date takes whatever is still outstanding. ``payments``
    is what the vehicle paid: (paid on, component, due date or None for a payoff, amount).
    """

    id: str
    rate: Fraction
    default_rate: Fraction
    draws: list[tuple[date, int]]
    dues: list[date]
    principal: Callable[[int, int], int]
    rows: list[tuple[date, int, int]] = field(default_factory=list)  # (due, principal, interest)
    payments: list[tuple[date, str, date | None, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for index, due in enumerate(self.dues):
            interest = self._interest(self._start(index), due - timedelta(1))
            outstanding = self.drawn(due) - sum(p for _, p, _ in self.rows)
            amount = outstanding if index == len(self.dues) - 1 else \
                self.principal(index, interest)
            self.rows.append((due, amount, interest))

    def _start(self, index: int) -> date:
        return self.dues[index - 1] if index else self.draws[0][0]

    def drawn(self, day: date) -> int:
        return sum(a for on, a in self.draws if on <= day)

    def performing(self, day: date) -> int:
        """Principal earning interest at the end of ``day``."""
        return self.drawn(day) - sum(p for due, p, _ in self.rows if due <= day)

    def _interest(self, first: date, last: date) -> int:
        return int(sum(self.performing(day) for day in days(first, last)) * self.rate / 365)

    def paid(self, component: str, due: date | None = None, first: date = date.min,
             last: date = date.max) -> int:
        """Paid of ``component`` (against ``due``, when given) from ``first`` to ``last``."""
        return sum(a for on, c, d, a in self.payments if c == component
                   and (due is None or d == due) and first <= on <= last)

    def late_interest(self, component: str, due: date, amount: int, through: date) -> int:
        """遅延損害金 run up to the end of ``through`` on what of ``amount`` (``component`` of
        the due date ``due``) was not paid on the due date: each stretch between payments is
        the amount still unpaid × the default rate × its days / 365, truncated."""
        settled = sorted((on, a) for on, c, d, a in self.payments
                         if c == component and d == due and on <= through)
        owed, since, total = amount, due, 0
        for on, paid in [*settled, (through, 0)]:
            late_days = len(days(since + timedelta(1), on))  # the day after … the day paid
            total += int(owed * self.default_rate * late_days / 365)
            owed, since = owed - paid, max(since, on)
        return total

    def default_accrued(self, through: date) -> int:
        """All the 遅延損害金 run up to the end of ``through`` (paid or not)."""
        return sum(self.late_interest("interest", due, interest, through)
                   + self.late_interest("principal", due, principal, through)
                   for due, principal, interest in self.rows if due <= through)

    def owed(self, on: date) -> dict[tuple[str, date], int]:
        """(component, due date) → what is owed at ``on``, before that day's payments."""
        out: dict[tuple[str, date], int] = {}
        for due, principal, interest in self.rows:
            if due > on:
                continue
            out[("default_interest", due)] = \
                self.late_interest("interest", due, interest, on) \
                + self.late_interest("principal", due, principal, on) \
                - self.paid("default_interest", due, last=on)
            out[("interest", due)] = interest - self.paid("interest", due, last=on)
            out[("principal", due)] = principal - self.paid("principal", due, last=on)
        return {key: amount for key, amount in out.items() if amount > 0}

    def interest_accrued(self, through: date) -> int:
        """Ordinary interest earned to the end of ``through``: the periods due by then and
        the running one up to and including ``through``."""
        due = sum(i for on, _, i in self.rows if on <= through)
        running = next((self._interest(self._start(k), through)
                        for k, on in enumerate(self.dues) if self._start(k) <= through < on), 0)
        return due + running

    def outstanding(self, on: date) -> int:
        return self.drawn(on) - sum(a for day, c, _, a in self.payments
                                    if c == "principal" and day <= on)

    def payoff(self, on: date) -> tuple[int, int]:
        """Paid off at the final distribution on ``on``: the interest booked and unpaid —
        what fell due (debt service books it on each due date) or, if more, what ran to the
        day before (booked by the final distribution), with the default interest run up —
        and the principal outstanding."""
        booked = max(sum(i for due, _, i in self.rows if due <= on),
                     self.interest_accrued(on - timedelta(1)))
        unpaid = booked + self.default_accrued(on) - self.paid("interest") \
            - self.paid("default_interest")
        return unpaid, self.outstanding(on)


def loan_models() -> dict[str, LoanModel]:
    """The five loans from the contract's terms. Yamaguchi's dues are 「3月末日及び9月末日」
    and Kyoto's and Kagoshima's 「6月末日」 (end-of-month rule: 30 Sep → 31 Mar, not 30 Mar),
    a month end on a weekend moving by modified following: 2023-09-30 (Sat) → Fri 09-29
    (Mon 10-02 is in October), 2024-03-31 (Sun) → Fri 03-29, 2024-06-30 (Sun) → Fri 06-28.
    Tohoku's and Saitama Resona's bullets pay interest every 28 June back from their
    repayment date, 28 June 2024, moving to the next business day: 2020-06-28 (Sun) → 06-29.
    Before the first principal date each due date pays interest only (据置期間)."""
    yamaguchi_dues = [date(2019, 9, 30), date(2020, 3, 31), date(2020, 9, 30), date(2021, 3, 31),
                      date(2021, 9, 30), date(2022, 3, 31), date(2022, 9, 30), date(2023, 3, 31),
                      date(2023, 9, 29), date(2024, 3, 29)]
    june_30 = [date(2020, 6, 30), date(2021, 6, 30), date(2022, 6, 30), date(2023, 6, 30),
               date(2024, 6, 28)]
    june_28 = [date(2020, 6, 29), date(2021, 6, 28), date(2022, 6, 28), date(2023, 6, 28),
               date(2024, 6, 28)]
    # 元利均等 over four years at 0.9 %: the level payment, truncated
    i = Fraction("0.009")
    level = int(12_000_000 * i * (1 + i) ** 4 / ((1 + i) ** 4 - 1))
    july = date(2019, 7, 1)
    terms = {loan["id"]: loan for loan in DOCUMENT["instruments"] if loan["type"] == "loan"}

    def model(loan_id: str, draws: list[tuple[date, int]], dues: list[date],
              principal: Callable[[int, int], int]) -> LoanModel:
        return LoanModel(loan_id, Fraction(terms[loan_id]["rate_annual"]),
                         Fraction(terms[loan_id]["default_interest_rate_annual"]), draws, dues,
                         principal)

    return {
        # two draws; interest only until the first of eight half-yearly instalments of 3.75 M
        "loan-yamaguchi": model("loan-yamaguchi",
                                [(july, 15_000_000), (date(2020, 4, 1), 15_000_000)],
                                yamaguchi_dues, lambda k, _i: 0 if k < 2 else 30_000_000 // 8),
        "loan-tohoku": model("loan-tohoku", [(july, 6_000_000)], june_28, lambda _k, _i: 0),
        "loan-kyoto": model("loan-kyoto", [(july, 12_000_000)], june_30,
                            lambda k, interest: 0 if k < 1 else level - interest),
        "loan-kagoshima": model("loan-kagoshima", [(july, 8_000_000)], june_30,
                                lambda k, _i: 0 if k < 1 else 2_000_000),
        "loan-saitama-resona": model("loan-saitama-resona", [(july, 4_000_000)], june_28,
                                     lambda _k, _i: 0),
    }


# --------------------------------------------------------------------------- the vehicle's cash

def pay_in_order(available: int, groups: list[list[tuple[tuple[str, str], int]]]
                 ) -> tuple[dict[tuple[str, str], tuple[int, int]], int]:
    """Claims paid group by group; a group that cannot be paid in full shares what is left in
    proportion to what each is owed (largest remainders, ties to the earlier claim)."""
    paid: dict[tuple[str, str], tuple[int, int]] = {}
    for group in groups:
        group = [(key, owed) for key, owed in group if owed > 0]
        owed_total = sum(owed for _, owed in group)
        if not group:
            continue
        pay = min(owed_total, available)
        exact = [Fraction(pay * owed, owed_total) for _, owed in group]
        parts = [int(x) for x in exact]
        for index in sorted(range(len(group)), key=lambda n: (-(exact[n] - parts[n]), n))[
                :pay - sum(parts)]:
            parts[index] += 1
        for (key, owed), part in zip(group, parts):
            paid[key] = (owed, part)
        available -= pay
    return paid, available


SERVICE_ORDER = ("default_interest", "interest", "principal")  # 民法489条


@dataclass
class Expected:
    """The story as this test expects it, day by day."""

    loans: dict[str, LoanModel]
    distributions: dict[int, dict[tuple[str, str], tuple[int, int]]] = field(default_factory=dict)
    left: dict[int, int] = field(default_factory=dict)
    applied: dict[int, int] = field(default_factory=dict)
    accrued_at_year_end: dict[tuple[str, int], int] = field(default_factory=dict)
    default_at_year_end: dict[tuple[str, int], int] = field(default_factory=dict)
    outcome_fees_in: dict[tuple[str, int], int] = field(default_factory=dict)
    coupons_in: dict[int, int] = field(default_factory=dict)
    available_on: dict[date, int] = field(default_factory=dict)  # each service date's cash
    cash: int = 0
    units_payable: int = 0

    @property
    def free_cash(self) -> int:
        """Cash the vehicle may spend: the unit holders' money waiting in a payable is not."""
        return self.cash - self.units_payable

    def interest_paid_in(self, loan_id: str, year: int) -> int:
        start, end = date(year, 4, 1), date(year + 1, 3, 31)
        return self.loans[loan_id].paid("interest", first=start, last=end)

    def service(self, on: date) -> None:
        """Debt service on ``on``: what every loan owes, paid from the free cash by component
        (default interest, interest, principal), pro rata across loans within one (all five
        are of seniority 1), oldest due date first within a loan."""
        owed = {loan_id: loan.owed(on) for loan_id, loan in self.loans.items()}
        if not any(owed.values()):
            return
        self.available_on[on] = self.free_cash
        groups = [[((component, loan_id), sum(a for (c, _), a in owed[loan_id].items()
                                              if c == component)) for loan_id in self.loans]
                  for component in SERVICE_ORDER]
        paid, _ = pay_in_order(self.free_cash, groups)
        for (component, loan_id), (_, amount) in paid.items():
            for (c, due), due_amount in sorted(owed[loan_id].items(), key=lambda kv: kv[0][1]):
                take = min(due_amount, amount) if c == component else 0
                if take:
                    self.loans[loan_id].payments.append((on, component, due, take))
                    amount -= take
                    self.cash -= take

    def distribute(self, year: int, on: date, final: bool, units_since: date | None) -> None:
        """The waterfall on FY ``year``'s receipts, after debt service: provider outcome fees
        on the receipts it applies (up to the free cash; the final one all of them), the
        units' return and, at the end, every loan's payoff and the units' capital."""
        receipts = owed_for(year)
        applied: dict[str, int] = {}
        room = sum(receipts.values()) if final else self.free_cash
        for payer in PAYERS:  # in the order received: Ube's payment first
            applied[payer] = min(receipts[payer], room)
            room -= applied[payer]
        total = sum(applied.values())
        self.applied[year] = total
        fees = [(("provider_fees", "thl"), int(total * Fraction("0.40"))),
                (("provider_fees", "peoples"), int(applied["tono"] * Fraction("0.30"))),
                (("provider_fees", "tokyo-dome-sports"),
                 int(applied["misato"] * Fraction("0.30")))]
        # The units' return: 2 % a year on their capital from the day it was paid in, to the
        # waterfall's day, truncated once on the whole period, less what was paid before.
        units = UNITS_SOLD[1] * 50_000 if units_since else 0
        coupon = int(units * Fraction("0.02") * (on - units_since).days / 365) \
            - sum(self.coupons_in.values()) if units_since else 0
        groups = [fees]
        if final:
            payoffs = {loan_id: loan.payoff(on) for loan_id, loan in self.loans.items()}
            groups += [[(("interest", k), v[0]) for k, v in payoffs.items()],
                       [(("principal", k), v[1]) for k, v in payoffs.items()],
                       [(("principal", UNITS), units)]]
        groups.append([(("investor_returns", UNITS), coupon)])
        paid, left = pay_in_order(self.free_cash if final else total, groups)
        self.distributions[year], self.left[year] = paid, left
        for (step, instrument), (_, amount) in paid.items():
            if instrument in self.loans:
                self.loans[instrument].payments.append((on, step, None, amount))
                self.cash -= amount
            elif step == "provider_fees":
                self.outcome_fees_in[(instrument, year + 1)] = amount
                self.cash -= amount
            else:  # the unit holders' money waits in a payable until paid to each holder
                self.units_payable += amount
        if coupon:
            self.coupons_in[year + 1] = paid[("investor_returns", UNITS)][1]


def expected_story() -> Expected:
    """Run the story on paper, day by day: the same events as the test posts, on their dates.
    On each date, money moves in or out first (draws, fixed fees, receipts, units), then debt
    service (every loan's due dates, and every day cash comes in), then the year-end accrual
    (31 March) or the waterfall (June).

    The test posts in the order of the dates, and every debt service runs after every
    posting dated on or before its date, so the cash it may spend is the free cash at the end
    of its date: the program also holds it to the lowest balance of any later date already
    posted, but the only posting ever dated after a date being serviced is the units' 15 M
    of 1 June 2021 (posted before the June waterfall serviced 31 May), which brings cash in."""
    story = Expected(loan_models())
    loans = story.loans
    cash_in: dict[date, int] = {}
    for loan in loans.values():
        for on, amount in loan.draws:
            cash_in[on] = cash_in.get(on, 0) + amount
    for year in YEARS:
        cash_in[PAID_ON[year]] = cash_in.get(PAID_ON[year], 0) + sum(owed_for(year).values())
    cash_in[UNITS_SOLD[0]] = cash_in.get(UNITS_SOLD[0], 0) + UNITS_SOLD[1] * 50_000
    fees_out = {FEE_ON[year]: FIXED_FEE[year] for year in YEARS}
    service_on = set(cash_in) | {due for loan in loans.values() for due in loan.dues}
    year_end = {date(year + 1, 3, 31): year for year in YEARS}
    waterfall = {DISTRIBUTED_ON[year]: year for year in YEARS}
    units_since: date | None = None
    for on in sorted(set(cash_in) | set(fees_out) | service_on | set(year_end) | set(waterfall)):
        story.cash += cash_in.get(on, 0)
        if on == UNITS_SOLD[0]:
            units_since = on
        story.cash -= fees_out.get(on, 0)
        assert story.free_cash >= 0, on  # a fee is never paid from money the vehicle lacks
        if on in service_on:
            story.service(on)
        if on in year_end:
            for loan in loans.values():
                story.accrued_at_year_end[(loan.id, year_end[on])] = loan.interest_accrued(on)
                story.default_at_year_end[(loan.id, year_end[on])] = loan.default_accrued(on)
        if on in waterfall:
            story.distribute(waterfall[on], on, waterfall[on] == 2023, units_since)
    return story


# --------------------------------------------------------------------------- the story, posted

@dataclass
class Posted:
    """What the code under test did."""

    session: Session
    packs: dict[int, dict] = field(default_factory=dict)
    packs_after_payment: dict[int, dict] = field(default_factory=dict)
    distributions: dict[int, object] = field(default_factory=dict)
    created: dict[tuple[int, str, int], bool] = field(default_factory=dict)


def submit_year(session: Session, year: int) -> None:
    results = RESULTS[year]
    inputs = [ResultInput(C, year, kpi, results[kpi])
              for kpi in ("participants", "inactive-share", "guideline-share")]
    inputs += [ResultInput(C, year, "continuation-rate", value, payer)
               for payer, value in results["continuation-rate"].items()]
    if year == 2019:
        inputs.append(ResultInput(C, 2019, "participants", INTERIM_2019, evaluation="interim"))
    for row in submit_results(session, inputs, "tsukuba-kuno-lab"):
        audit_result(session, row.id, "evaluation committee")


def pay_last_year(session: Session, year: int, posted: Posted) -> None:
    """May: each municipality pays what it owes for ``year``; July: its grant arrives."""
    for payer, amount in owed_for(year).items():
        record_payment(session, C, payer, amount, PAID_ON[year], f"FY{year}")
    posted.packs_after_payment[year] = build_pack(session, get_contract(session, C),
                                                  year).as_dict()
    for payer, amount in granted_for(year).items():
        receive_grant(session, C, payer, amount, GRANT_ON[year], f"FY{year}")


def run_story(session: Session) -> Posted:
    posted = Posted(session)
    contract, problems = load_contract_file(FIVE)
    assert problems == []
    load_contract(session, contract)
    for year in YEARS:
        draw_loans(session, C, date(year + 1, 3, 31))
        if year > 2019:
            pay_last_year(session, year - 1, posted)
            if year == 2021:  # the first citizen units: posted here, as a subscription round
                amount = from_minor(UNITS_SOLD[1] * 50_000, "JPY")
                post_entry(session, EntryDraft(
                    C, f"{C}:units:round-1", "unit_subscription", UNITS_SOLD[0],
                    [debit("cash", amount), credit(f"units:{UNITS}", amount)],
                    "Citizen units, first round", {"contract": C, "unit_class": UNITS}))
            posted.distributions[year - 1] = distribute(
                session, C, DISTRIBUTED_ON[year - 1], reference=f"FY{year - 1}")
        pay_fixed_fees(session, C, year, FEE_ON[year])
        submit_year(session, year)
        for evaluation in (("interim", "final") if year == 2019 else ("final",)):
            posted.created[(year, evaluation, 1)] = settle(session, C, year, evaluation).created
        if year == 2020:  # a recount after settlement: corrected, audited, settled at close
            payer, value = CORRECTED_2020
            row = next(r for r in results_for(session, C, 2020) if r.payer_id == payer
                       and r.kpi_id == "continuation-rate")
            audit_result(session, correct_result(session, row.id, value,
                                                 "steps uploaded late recounted",
                                                 "tsukuba-kuno-lab").id, "evaluation committee")
        posted.packs[year] = close_year(session, C, year, "twr").as_dict()
        session.commit()
    pay_last_year(session, 2023, posted)
    posted.distributions[2023] = distribute(session, C, DISTRIBUTED_ON[2023],
                                            final=True,
                                            reference="FY2023")
    session.commit()
    return posted


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('scenario') / 'sib.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        yield run_story(session), expected_story()
    engine.dispose()


def tb(session: Session, book: str = C) -> dict[str, int]:
    return {r.code: r.balance_minor for r in trial_balance(session, book).rows}


# --------------------------------------------------------------------------- payers

def test_what_each_municipality_earned_owed_and_was_granted_each_year(story):
    posted, _ = story
    runs = current_runs(posted.session, C)
    assert sorted(runs) == sorted(EARNED)
    for key, earned in EARNED.items():
        summary = json.loads(runs[key].summary)["payers"]
        assert {p: summary[p]["earned"] for p in PAYERS} == earned, key
        # The maxima include the tax (税込): the tax inside each payer's invoice is taken out
        # once per invoice (see TAX), part of what is due, not added to it.
        assert {p: summary[p]["tax"] for p in PAYERS} == TAX[key], key
        assert {p: summary[p]["due"] for p in PAYERS} == earned, key
        assert {p: summary[p]["grant"] for p in PAYERS} == GRANT[key], key
    for year in YEARS:
        pack = {row["payer"]: row for row in posted.packs[year]["payers"]}
        assert {p: pack[p]["earned"] for p in PAYERS} == owed_for(year)
        assert {p: pack[p]["due"] for p in PAYERS} == owed_for(year)
        assert {p: pack[p]["grant"] for p in PAYERS} == granted_for(year)
        # At the close nothing of the year is paid yet: all of it is outstanding at 31 March.
        assert {p: (pack[p]["paid"], pack[p]["outstanding"]) for p in PAYERS} == {
            p: (0, owed_for(year)[p]) for p in PAYERS}
        # Paid in the closing period (出納整理期間, by 31 May), it counts for the year.
        after = {row["payer"]: row["paid"] for row in posted.packs_after_payment[year]["payers"]}
        assert after == owed_for(year)


def test_the_year_totals_tell_met_partly_met_and_missed(story):
    totals = {year: sum(owed_for(year).values()) for year in YEARS}
    # FY2019: interim met (3 M), participants 6,800 of 7,200 (8.5 M of 9 M), inactive share
    # and guideline missed, continuation partly met.
    assert EARNED[(2019, "interim")] == committed("fy2019-participants-interim")
    assert sum(EARNED[(2019, "final")].values()) == 8_500_000 + sum(
        int(s * committed("fy2019-continuation")[p])
        for p, s in shares(2019, RESULTS[2019])["fy2019-continuation"].items())
    # Ube's FY2019 continuation is 66 % (see the module's docstring): (66 − 60) / (70 − 60) =
    # 0.6 of its 3,103,451 commitment (6 M × 165/319 = 3,103,448.3, plus the split's 3 yen
    # remainder) = 1,862,070.6 → 1,862,070, against 0.5 → 1,551,725 at 65 %: 310,345 more
    # than the 14,835,359 the year earned at 65 %.
    assert committed("fy2019-continuation")["ube"] == 3_103_451
    assert shares(2019, RESULTS[2019])["fy2019-continuation"]["ube"] == Fraction(6, 10)
    assert 14_835_359 + 1_862_070 - 1_551_725 == 15_145_704
    assert totals == {2019: 15_145_704, 2020: 30_170_908, 2021: 42_335_736,
                      2022: 49_905_746, 2023: 46_569_027}
    posted, _ = story
    assert all(posted.created.values())


def test_a_recount_after_settlement_posted_only_the_difference(story):
    posted, _ = story
    runs = runs_of(posted.session, C, 2020, "final")
    assert [(r.run_no, r.supersedes_run_id) for r in runs] == [(1, None), (2, runs[0].id)]
    first, second = (json.loads(r.summary)["payers"] for r in runs)
    changed = {p for p in PAYERS if first[p] != second[p]}
    assert changed == {"yawata"}
    maximum = committed("fy2020-continuation")["yawata"]
    # 65.55 % → 67.05 %: from 0.355 to 0.505 of Yawata's 1,830,721 commitment
    assert second["yawata"]["earned"] - first["yawata"]["earned"] == \
        int(Fraction("0.505") * maximum) - int(Fraction("0.355") * maximum) == 274_609


# --------------------------------------------------------------------------- loans

def ledger_payments(session: Session, loan_id: str) -> list[tuple[date, str, str | None, int]]:
    """Every payment to the lender as the ledger records it: (paid on, component, the due
    date it settles or None, amount)."""
    kinds = {Kind.INTEREST_PAYMENT: "interest", Kind.PRINCIPAL_REPAYMENT: "principal",
             Kind.DEFAULT_INTEREST_PAYMENT: "default_interest"}
    found = read.postings(session, C, accounts=[Code.loan(loan_id),
                                                Code.interest_payable(loan_id)],
                          kinds=list(kinds), side="D")
    return [(p.effective_on, kinds[Kind(p.kind)], p.links.get("due_on"), p.amount_minor)
            for p in found]


def test_the_contract_front_loads_the_fees_onto_the_loans():
    # THL's fixed fees: 36 M and 32 M in the first two years, then 3 M a year; 60 M of loans
    # (45 M drawn on 1 July 2019, Yamaguchi's second 15 M on 1 April 2020); every loan's
    # 遅延損害金 14.6 % a year, which is 0.04 % a day: 0.146 / 365 = 1 / 2,500.
    assert FIXED_FEE == {2019: 36_000_000, 2020: 32_000_000, 2021: 3_000_000,
                         2022: 3_000_000, 2023: 3_000_000}
    loans = loan_models()
    assert sum(m.drawn(date(2024, 3, 31)) for m in loans.values()) == 60_000_000
    assert {m.default_rate / 365 for m in loans.values()} == {Fraction(1, 2_500)}
    # The vehicle's cash on 1 July 2020, before FY2020's fee, day by day:
    #   45,000,000 drawn on 1 July 2019, less FY2019's fee of 36,000,000   =  9,000,000
    #   30 Sep 2019, Yamaguchi: 15 M × 0.8 % × 91/365 = 29,917.8            −     29,917
    #   31 Mar 2020, Yamaguchi: 15 M × 0.8 % × 183/365 = 60,164.3           −     60,164
    #   1 Apr 2020, Yamaguchi's second draw                                 + 15,000,000
    #   29 May 2020, FY2019's outcome payments                              + 15,145,704
    #   29 Jun 2020, Tohoku 6 M × 1 % × 364/365 = 59,835.6                  −     59,835
    #                Saitama Resona 4 M × 0.85 % × 364/365 = 33,906.8       −     33,906
    #   30 Jun 2020, Kyoto 12 M × 0.9 % × 365/365                           −    108,000
    #                Kagoshima 8 M × 0.95 % × 365/365                       −     76,000
    #   30 Jun 2020, outcome fees: THL 40 % of 15,145,704 = 6,058,281.6     −  6,058,281
    #                Peoples 30 % of Tono's 1,351,721 = 405,516.3              −    405,516
    #                Tokyo Dome Sports 30 % of Misato's 464,825 = 139,447.5 −    139,447
    #                                                                       = 32,174,638
    # so FY2020's 32 M fee leaves 174,638. (With Ube's FY2019 continuation at 65 % instead of
    # 66 % the outcome money would be 310,345 less and THL's share 124,138 less: the vehicle
    # would hold 31,988,431, 11,569 short of the fee, and could not pay it at all.)
    assert (owed_for(2019)["tono"], owed_for(2019)["misato"]) == (1_351_721, 464_825)
    assert 9_000_000 - 29_917 - 60_164 + 15_000_000 + 15_145_704 - 59_835 - 33_906 \
        - 108_000 - 76_000 - 6_058_281 - 405_516 - 139_447 - 32_000_000 == 174_638
    expected = expected_story()
    assert expected.available_on[date(2020, 9, 30)] == 174_638
    assert expected.available_on[date(2021, 3, 31)] == 0


def test_every_loan_balance_and_its_interest_after_each_year(story):
    posted, expected = story
    for year in YEARS:
        lenders = {row["loan"]: row for row in posted.packs[year]["lenders"]}
        for loan_id, model in expected.loans.items():
            end = date(year + 1, 3, 31)
            row = lenders[loan_id]
            assert row["drawn"] == model.drawn(end), (loan_id, year)
            assert row["outstanding"] == model.outstanding(end), (loan_id, year)
            # The year's interest: earned to 31 March (counting 31 March itself), less what
            # the years before booked. The 遅延損害金 run up to 31 March is booked apart, to
            # the same expense account (interest-expense:<loan>).
            before = expected.accrued_at_year_end.get((loan_id, year - 1), 0)
            assert row["interest_accrued_year"] == \
                expected.accrued_at_year_end[(loan_id, year)] - before, (loan_id, year)
            default = expected.default_at_year_end[(loan_id, year)] - \
                expected.default_at_year_end.get((loan_id, year - 1), 0)
            if "default_interest_accrued_year" in row:
                assert row["default_interest_accrued_year"] == default, (loan_id, year)
            booked = read.totals(posted.session, C, Code.interest_expense(loan_id),
                                 kinds=[Kind.DEFAULT_INTEREST_ACCRUAL],
                                 from_on=date(year, 4, 1), through_on=end)
            assert booked.debits_minor == default, (loan_id, year)
            assert row["interest_paid_year"] == \
                expected.interest_paid_in(loan_id, year), (loan_id, year)
    # After FY2019: nothing repaid yet (every principal date is later). After FY2023 (31 March
    # 2024): Yamaguchi repaid by its eighth instalment on 29 March 2024; Kyoto and Kagoshima
    # owe their last instalments and the two bullets all their principal, due 28 June 2024.
    first = {row["loan"]: row["outstanding"] for row in posted.packs[2019]["lenders"]}
    assert first == {"loan-yamaguchi": 15_000_000, "loan-tohoku": 6_000_000,
                     "loan-kyoto": 12_000_000, "loan-kagoshima": 8_000_000,
                     "loan-saitama-resona": 4_000_000}
    last = {row["loan"]: row["outstanding"] for row in posted.packs[2023]["lenders"]}
    assert last == {"loan-yamaguchi": 0, "loan-tohoku": 6_000_000, "loan-kyoto": 3_040_438,
                    "loan-kagoshima": 2_000_000, "loan-saitama-resona": 4_000_000}
    # Kyoto, 元利均等: the level payment 12 M × i(1+i)⁴/((1+i)⁴ − 1) at i = 0.9 % is
    # 3,067,802.3 → 3,067,802; its principal is the payment less the period's interest:
    #   30 Jun 2021: 108,000 (12 M, 365 days)        → 2,959,802, leaving 9,040,198
    #   30 Jun 2022: 9,040,198 × 0.9 % = 81,361.8    → 2,986,441, leaving 6,053,757
    #   30 Jun 2023: 6,053,757 × 0.9 % = 54,483.8    → 3,013,319, leaving 3,040,438
    kyoto = expected.loans["loan-kyoto"]
    assert [(p, i) for _, p, i in kyoto.rows][1:4] == [(2_959_802, 108_000), (2_986_441, 81_361),
                                                      (3_013_319, 54_483)]
    # FY2019's interest expense of Yamaguchi: the two due dates (29,917 + 60,164) and 31 March
    # 2020 itself, the first day of the next period: 15 M × 0.8 % / 365 = 328.7 → 328.
    assert expected.accrued_at_year_end[("loan-yamaguchi", 2019)] == 29_917 + 60_164 + 328
    # FY2020's: 120,000 (30 Sep 2020) + 104,712 (31 Mar 2021) and one day on the 22.5 M then
    # performing (493.1 → 493); apart, the 遅延損害金 run up to 31 March on the 3,695,362
    # overdue since 30 September: × 0.04 % × 182 days = 269,022.3 → 269,022. FY2021 books the
    # rest of it, 359,189 − 269,022 = 90,167 (see the test of the late instalments), and the
    # 94,054 of the 31 March 2021 instalment.
    assert expected.accrued_at_year_end[("loan-yamaguchi", 2020)] - \
        expected.accrued_at_year_end[("loan-yamaguchi", 2019)] == 120_000 + 104_712 + 493 - 328
    assert 3_695_362 * 182 // 2_500 == 269_022
    assert [expected.default_at_year_end[("loan-yamaguchi", year)] for year in YEARS] == \
        [0, 269_022, 359_189 + 94_054, 359_189 + 94_054, 359_189 + 94_054]
    assert {k for k, v in expected.default_at_year_end.items() if v} == {
        ("loan-yamaguchi", year) for year in (2020, 2021, 2022, 2023)}


def test_loans_repaid_from_outcomes_keep_their_due_dates(story):
    posted, expected = story
    # Tohoku and Saitama Resona, "repaid from outcomes", are bullets like any other now: their
    # interest falls due every 28 June (29 June in 2020, the 28th a Sunday) on the whole
    # principal, paid on the day from the vehicle's cash, and the principal on 28 June 2024.
    #   Tohoku, 6 M × 1 % = 60,000 a year:     364 days (1 Jul 2019 – 28 Jun 2020) 59,835.6,
    #     364 (29 Jun 2020 – 27 Jun 2021) 59,835.6, 365, 365, then 366 (2024 is leap) 60,164.4
    #   Saitama Resona, 4 M × 0.85 % = 34,000: 33,906.8, 33,906.8, 34,000, 34,000, 34,093.1
    dues = [date(2020, 6, 29), date(2021, 6, 28), date(2022, 6, 28), date(2023, 6, 28),
            date(2024, 6, 28)]
    for loan_id, interest, principal in (
            ("loan-tohoku", [59_835, 59_835, 60_000, 60_000, 60_164], 6_000_000),
            ("loan-saitama-resona", [33_906, 33_906, 34_000, 34_000, 34_093], 4_000_000)):
        model = expected.loans[loan_id]
        assert model.rows == [(due, principal if due == dues[-1] else 0, i)
                              for due, i in zip(dues, interest)]
        assert ledger_payments(posted.session, loan_id) == \
            [(due, "interest", due.isoformat(), i) for due, i in zip(dues, interest)] + [
                (dues[4], "principal", dues[4].isoformat(), principal)]


def test_every_instalment_paid_on_its_due_date_but_two_of_yamaguchi(story):
    posted, expected = story
    session = posted.session
    contract = get_contract(session, C)
    end = DISTRIBUTED_ON[2023]
    late = {}
    for loan in contract.loans:
        model = expected.loans[loan.id]
        state = read_state(session, contract, loan, end)
        got = [(i.due_on, i.interest_minor, i.principal_minor, i.paid_on, i.status,
                i.default_interest_minor) for i in state.instalments]
        want = []
        for due, principal, interest in model.rows:
            paid_on = tuple(sorted({on for on, _, d, _ in model.payments if d == due}))
            want.append((due, interest, principal, paid_on,
                         "paid_late" if max(paid_on) > due else "paid_on_time",
                         model.late_interest("interest", due, interest, end)
                         + model.late_interest("principal", due, principal, end)))
        assert got == want, loan.id
        assert state.outstanding_minor == state.default_interest_owed_minor == 0
        late[loan.id] = [row for row in got if row[4] != "paid_on_time"]
        # The ledger's payments say the same, each naming the due date it settles.
        assert ledger_payments(session, loan.id) == [
            (on, component, due.isoformat() if due else None, amount)
            for on, component, due, amount in model.payments]
    # From 1 July 2020, when FY2020's fee was paid, to 31 May 2021, when FY2020's outcome
    # money came in, the vehicle held 174,638 (see the test above):
    # - 30 Sep 2020, Yamaguchi owes interest on 15 M for a day and 30 M for 182 days,
    #   (15 M + 30 M × 182) × 0.8 % / 365 = 120,000 exactly, and principal 3,750,000: the
    #   interest is paid, then 54,638 of the principal; 3,695,362 is overdue.
    # - 31 Mar 2021: interest on the 26.25 M performing (the 30 September instalment left it on
    #   its due date, paid or not) × 0.8 % × 182/365 = 104,712.3 → 104,712, and 3,750,000 of
    #   principal: nothing to pay them with.
    # - 31 May 2021: 30,170,908 in; the arrears are paid that day, 遅延損害金 first, at 0.04 % a
    #   day from the day after the due date to the day paid, truncated per arrear:
    #     3,695,362 × 243 days (1 Oct 2020 – 31 May 2021) × 0.04 % = 359,189.1 → 359,189
    #     104,712 × 61 days (1 Apr – 31 May 2021) × 0.04 % = 2,554.9 → 2,554
    #     3,750,000 × 61 × 0.04 % = 91,500
    #   then the interest 104,712, then the principal 3,695,362 and 3,750,000.
    assert 3_695_362 * 243 // 2_500 == 359_189 and 104_712 * 61 // 2_500 == 2_554 \
        and 3_750_000 * 61 // 2_500 == 91_500
    may = date(2021, 5, 31)
    assert late == {"loan-yamaguchi": [
        (date(2020, 9, 30), 120_000, 3_750_000, (date(2020, 9, 30), may), "paid_late", 359_189),
        (date(2021, 3, 31), 104_712, 3_750_000, (may,), "paid_late", 2_554 + 91_500)],
        "loan-tohoku": [], "loan-kyoto": [], "loan-kagoshima": [], "loan-saitama-resona": []}
    assert [p for p in ledger_payments(session, "loan-yamaguchi") if p[0] == may] == [
        (may, "default_interest", "2020-09-30", 359_189),
        (may, "default_interest", "2021-03-31", 94_054),
        (may, "interest", "2021-03-31", 104_712),
        (may, "principal", "2020-09-30", 3_695_362),
        (may, "principal", "2021-03-31", 3_750_000)]
    assert expected.available_on[may] == 30_170_908


# --------------------------------------------------------------------------- the waterfall

def test_every_distribution_step_by_step(story):
    posted, expected = story
    for year in YEARS:
        result = posted.distributions[year].waterfall
        got = {(a.claim.step, a.claim.instrument): (a.claim.amount_minor, a.paid_minor)
               for a in result.allocations}
        assert got == expected.distributions[year], year
        assert result.left_minor == expected.left[year], year
        assert posted.distributions[year].applied_minor == expected.applied[year], year
        assert posted.distributions[year].losses == []
    # Every year's receipts were applied in full (the free cash after the June debt service
    # always held them) and every claim was paid in full.
    assert expected.applied == {year: sum(owed_for(year).values()) for year in YEARS}
    assert {k: v for y in YEARS for k, v in expected.distributions[y].items()
            if v[0] != v[1]} == {}
    # No loan is paid by the waterfall: the four June waterfalls pay provider fees and the
    # units' return only; the final one runs on 28 June 2024, the last due date of four loans,
    # after the debt service that paid those instalments, so there is nothing to pay off.
    assert not any(instrument in LOANS for y in YEARS for _, instrument in
                   expected.distributions[y])
    assert {loan_id: m.payoff(DISTRIBUTED_ON[2023]) for loan_id, m in
            expected.loans.items()} == dict.fromkeys(LOANS, (0, 0))
    # FY2019's money: THL 40 % of 15,145,704 (6,058,281), Peoples and Tokyo Dome Sports 30 % of
    # Tono's and Misato's (405,516 and 139,447); the rest, 8,542,460, stays in cash.
    assert expected.left[2019] == 15_145_704 - 6_058_281 - 405_516 - 139_447 == 8_542_460
    # Citizen units: 29 days in the first year (from 1 June 2021), then full years, and their
    # 15 M back at the end with 364 days' return (2023-06-30 to 2024-06-28). Accrued on the
    # whole period and truncated once (300,000 a year = 15,000,000 × 2 %):
    #   29 days:    300,000 × 29 / 365 = 23,835.6  → 23,835
    #   394 days:   300,000 × 394 / 365 = 323,835.6 → 323,835, less 23,835 paid = 300,000
    #   759 days:   623,835.6 → 623,835, less 323,835 = 300,000
    #   1,123 days: 300,000 × 1,123 / 365 = 923,013.7 → 923,013, less 623,835 = 299,178
    assert [300_000 * n // 365 for n in (29, 394, 759, 1_123)] == [
        23_835, 323_835, 623_835, 923_013]
    assert expected.coupons_in == {2021: 23_835, 2022: 300_000, 2023: 300_000, 2024: 299_178}
    assert expected.distributions[2023][("investor_returns", UNITS)] == (299_178, 299_178)
    assert expected.distributions[2023][("principal", UNITS)] == (15_000_000, 15_000_000)


def test_the_packs_show_provider_fees_and_investor_distributions(story):
    posted, expected = story
    for year in YEARS:
        providers = {row["provider"]: row for row in posted.packs[year]["providers"]}
        assert providers["thl"]["fixed_fees"] == FIXED_FEE[year]
        for provider in ("thl", "peoples", "tokyo-dome-sports"):
            assert providers[provider]["outcome_fees"] == \
                expected.outcome_fees_in.get((provider, year), 0), (provider, year)
        [units] = posted.packs[year]["investor_classes"]
        assert units["capital"] == (15_000_000 if year >= 2021 else 0)
        assert units["distributions"] == expected.coupons_in.get(year, 0)
        assert (units["capital_returned"], units["written_down"]) == (0, 0)


# --------------------------------------------------------------------------- the books

def test_each_years_closing_trial_balance_reconciles_to_the_runs(story):
    posted, _ = story
    for year in YEARS:
        rows = {r["account"]: r["debit"] - r["credit"]
                for r in posted.packs[year]["trial_balance"]}
        for payer in PAYERS:
            # Income: everything earned so far, less the tax inside it. Receivable at 31
            # March: the year just closed (the year before was paid in May, within this year).
            assert -rows[f"outcome-income:{payer}"] == sum(owed_for(y)[payer] - tax_for(y)[payer]
                                                          for y in YEARS if y <= year)
            assert rows[f"receivable:{payer}"] == owed_for(year)[payer]
        assert sum(rows.values()) == 0



def test_the_project_book_reconciles_to_the_settlement_runs(story):
    posted, expected = story
    session = posted.session
    assert verify(session).ok
    spv, payers = tb(session), tb(session, PAYERS_BOOK)
    runs = [json.loads(r.summary)["payers"] for r in current_runs(session, C).values()]
    for payer in PAYERS:
        earned = sum(run[payer]["earned"] for run in runs)
        due = sum(run[payer]["due"] for run in runs)
        tax = sum(run[payer]["tax"] for run in runs)
        grant = sum(run[payer]["grant"] for run in runs)
        paid = sum(owed_for(year)[payer] for year in YEARS)
        assert earned == sum(EARNED[k][payer] for k in EARNED)
        assert tax == sum(TAX[k][payer] for k in TAX)
        assert spv[f"outcome-income:{payer}"] == earned - tax
        assert spv[f"receivable:{payer}"] == earned - paid == 0
        assert payers[f"outcome-cost:{payer}"] == due
        assert payers[f"payable:{payer}"] == due - paid == 0
        assert payers[f"grant-income:{payer}"] == grant
        assert payers[f"grant-receivable:{payer}"] == 0
        assert payers[f"bank:{payer}"] == grant - paid
    # 仮受消費税: the tax inside every payer's invoices, not yet paid over to the tax office.
    assert spv["tax-payable"] == sum(TAX[k][p] for k in TAX for p in PAYERS) > 0
    # Loans: all repaid; interest expense is exactly the interest and the 遅延損害金 paid:
    # every period's interest and the default interest run up (Yamaguchi's 453,243).
    end = DISTRIBUTED_ON[2023]
    for loan_id, model in expected.loans.items():
        assert spv[f"loan:{loan_id}"] == 0
        assert spv[f"interest-expense:{loan_id}"] == \
            model.paid("interest") + model.paid("default_interest") == \
            sum(i for _, _, i in model.rows) + model.default_accrued(end)
        assert spv[f"interest-payable:{loan_id}"] == 0
    assert expected.loans["loan-yamaguchi"].paid("default_interest") == 359_189 + 94_054
    # Citizen units: capital back, returns declared, both waiting to be paid to holders.
    assert spv[f"units:{UNITS}"] == 0
    # 匿名組合損益分配額: the investors' share of the profit, an expense of the operator.
    assert spv[f"distributions:{UNITS}"] == sum(expected.coupons_in.values()) == 923_013
    assert spv[f"distributions-payable:{UNITS}"] == expected.units_payable
    # Cash: everything in, less everything paid out; the rest is the SPV's.
    assert spv["cash"] == expected.cash == expected.left[2023] + expected.units_payable
    assert spv["fees:thl"] == sum(FIXED_FEE.values()) + sum(
        v for (p, _), v in expected.outcome_fees_in.items() if p == "thl")
