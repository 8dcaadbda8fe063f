"""Five fiscal years of the five-municipality SIB (FY2019–FY2023), as they happen.

Each year: the loans are drawn, Tanita Health Link's fixed fee is paid, the evaluator's results
are submitted and audited (some targets met, some partly met, some missed; FY2019 also has its
interim evaluation), the year is settled and closed. In May each municipality pays what it owes
for the year just closed, in July the national grant pays half of its cost, and in June the
SPV runs the waterfall on the money received: provider outcome fees, interest, principal, then
the citizen units' return (units sold from FY2021). In June 2024, after the last year, the
final waterfall repays everything outstanding.

Every expected figure below is computed here from the contract's terms — population shares,
tranche maxima, the rules' thresholds, loan rates and dates — with exact fractions and a
day-by-day interest count, independently of the code under test.
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
from contracts.store import get_contract, load_contract
from contracts.validate import load_contract_file
from ledger.entries import EntryDraft, credit, debit
from ledger.money import from_minor
from ledger.reports import trial_balance
from ledger.service import post_entry
from ledger.verify import verify
from settlement.close import build_pack, close_year
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
           "continuation-rate": {"ube": "65", "tono": "66.5", "yawata": "70", "ibusuki": "58",
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
FIXED_FEE = {2019: 6_000_000, 2020: 7_000_000, 2021: 8_000_000, 2022: 8_500_000,
             2023: 9_000_000}


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
    """Every day from ``first`` to ``last``, both included."""
    return [first + timedelta(n) for n in range((last - first).days + 1)]


@dataclass
class LoanModel:
    """A loan as this test follows it: interest counted day by day (ACT/365, 片端: a period
    counts its first day, not its last), truncated once per period.

    ``principal`` gives the scheduled principal of each due date; None for a loan repaid from
    outcome payments, whose interest runs on the principal actually outstanding.
    """

    id: str
    rate: Fraction
    draws: list[tuple[date, int]]
    dues: list[date]
    principal: Callable[[int, int, int], int] | None = None  # (index, interest, outstanding)
    repaid: list[tuple[date, int]] = field(default_factory=list)
    interest_paid: int = 0
    rows: list[tuple[date, int, int]] = field(default_factory=list)  # (due, principal, interest)

    def __post_init__(self) -> None:
        if self.principal is None:
            return
        scheduled: list[tuple[date, int]] = []
        for index, due in enumerate(self.dues):
            interest = self._interest(self._start(index), due - timedelta(1), scheduled)
            outstanding = self.drawn(due) - sum(a for _, a in scheduled)
            amount = outstanding if index == len(self.dues) - 1 else \
                self.principal(index, interest, outstanding)
            self.rows.append((due, amount, interest))
            scheduled.append((due, amount))

    def _start(self, index: int) -> date:
        return self.dues[index - 1] if index else self.draws[0][0]

    def drawn(self, day: date) -> int:
        return sum(a for on, a in self.draws if on <= day)

    def _interest(self, first: date, last: date, reductions: list[tuple[date, int]]) -> int:
        total = sum(self.drawn(day) - sum(a for on, a in reductions if on <= day)
                    for day in days(first, last))
        return int(total * self.rate / 365)

    def accrued(self, through: date) -> int:
        """Interest earned in total to the end of ``through``: the periods due by then, and
        the running one up to and including ``through``."""
        reductions = self.repaid if self.principal is None else \
            [(due, p) for due, p, _ in self.rows]
        total = 0
        for index, due in enumerate(self.dues):
            start = self._start(index)
            if due <= through:
                total += self._interest(start, due - timedelta(1), reductions)
            elif start <= through:
                total += self._interest(start, through, reductions)
        return total

    def due_interest(self, on: date) -> int:
        return sum(i for due, _, i in self.rows if due <= on)

    def outstanding(self, on: date) -> int:
        return self.drawn(on) - sum(a for day, a in self.repaid if day <= on)

    def interest_claim(self, on: date, final: bool) -> int:
        if self.principal is None:  # repaid from outcomes: interest to the day before
            return self.accrued(on - timedelta(1)) - self.interest_paid
        return (self.accrued(on) if final else self.due_interest(on)) - self.interest_paid

    def principal_claim(self, on: date, final: bool) -> int:
        if self.principal is None or final:
            return self.outstanding(on)
        scheduled = sum(p for due, p, _ in self.rows if due <= on)
        return min(scheduled - sum(a for _, a in self.repaid), self.outstanding(on))


def loan_models() -> dict[str, LoanModel]:
    """The five loans from the contract's terms. Yamaguchi's dues are 「3月末日及び9月末日」
    and Kyoto's and Kagoshima's 「6月末日」 (end-of-month rule: 30 Sep → 31 Mar, not 30 Mar),
    a month end on a weekend moving by modified following: 2023-09-30 (Sat) → Fri 09-29
    (Mon 10-02 is in October), 2024-03-31 (Sun) → Fri 03-29, 2024-06-30 (Sun) → Fri 06-28.
    Tohoku's and Saitama Resona's 28 June dues move to the next business day: 2020-06-28 (Sun)
    → 06-29."""
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
    return {
        # two draws; interest only until the first of eight half-yearly instalments of 3.75 M
        "loan-yamaguchi": LoanModel("loan-yamaguchi", Fraction("0.008"),
                                    [(july, 15_000_000), (date(2020, 4, 1), 15_000_000)],
                                    yamaguchi_dues,
                                    lambda k, _i, _o: 0 if k < 2 else 30_000_000 // 8),
        "loan-tohoku": LoanModel("loan-tohoku", Fraction("0.010"), [(july, 6_000_000)],
                                 june_28),
        "loan-kyoto": LoanModel("loan-kyoto", i, [(july, 12_000_000)], june_30,
                                lambda k, interest, _o: 0 if k < 1 else level - interest),
        "loan-kagoshima": LoanModel("loan-kagoshima", Fraction("0.0095"), [(july, 8_000_000)],
                                    june_30, lambda k, _i, _o: 0 if k < 1 else 2_000_000),
        "loan-saitama-resona": LoanModel("loan-saitama-resona", Fraction("0.0085"),
                                         [(july, 4_000_000)], june_28),
    }


# --------------------------------------------------------------------------- the waterfall

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


@dataclass
class Expected:
    """The story as this test expects it, year by year."""

    loans: dict[str, LoanModel]
    distributions: dict[int, dict[tuple[str, str], tuple[int, int]]] = field(default_factory=dict)
    left: dict[int, int] = field(default_factory=dict)
    accrued_at_year_end: dict[tuple[str, int], int] = field(default_factory=dict)
    interest_paid_in: dict[tuple[str, int], int] = field(default_factory=dict)
    outcome_fees_in: dict[tuple[str, int], int] = field(default_factory=dict)
    coupons_in: dict[int, int] = field(default_factory=dict)
    cash: int = 0
    units_payable: int = 0


def expected_story() -> Expected:
    """Run the story on paper: the same events, in the same order, as the test posts them."""
    story = Expected(loan_models())
    loans = story.loans
    units_since: date | None = None  # the day the citizen units were paid in
    units_outstanding = 0
    story.cash = sum(a for m in loans.values() for _, a in m.draws)
    for year in YEARS:
        story.cash -= FIXED_FEE[year]
        end = date(year + 1, 3, 31)
        for loan in loans.values():
            story.accrued_at_year_end[(loan.id, year)] = loan.accrued(end)
        # the next fiscal year: money comes in, the waterfall runs on it
        receipts = owed_for(year)
        story.cash += sum(receipts.values())
        on, final = DISTRIBUTED_ON[year], year == 2023
        if on >= UNITS_SOLD[0] and units_since is None:
            units_since, units_outstanding = UNITS_SOLD[0], UNITS_SOLD[1] * 50_000
            story.cash += units_outstanding
        total = sum(receipts.values())
        fees = [(("provider_fees", "thl"), int(total * Fraction("0.40"))),
                (("provider_fees", "peoples"), int(receipts["tono"] * Fraction("0.30"))),
                (("provider_fees", "tokyo-dome-sports"),
                 int(receipts["misato"] * Fraction("0.30")))]
        interest = [(("interest", m.id), m.interest_claim(on, final)) for m in loans.values()]
        principal = [(("principal", m.id), m.principal_claim(on, final))
                     for m in loans.values()]
        # The units' return: 2 % a year on their capital from the day it was paid in, to the
        # waterfall's day, truncated once on the whole period, less what was paid before.
        coupon = int(units_outstanding * Fraction("0.02") * (on - units_since).days / 365) \
            - sum(story.coupons_in.values()) if units_since else 0
        groups = [fees, interest, principal]
        if final:
            groups.append([(("principal", UNITS), units_outstanding)])
        groups.append([(("investor_returns", UNITS), coupon)])
        available = story.cash - story.units_payable if final else total
        paid, left = pay_in_order(available, groups)
        story.distributions[year], story.left[year] = paid, left
        for (step, instrument), (_, amount) in paid.items():
            if step == "interest":
                loans[instrument].interest_paid += amount
                story.interest_paid_in[(instrument, year + 1)] = amount
            elif step == "principal" and instrument in loans:
                loans[instrument].repaid.append((on, amount))
            elif step == "provider_fees":
                story.outcome_fees_in[(instrument, year + 1)] = amount
            if step in ("provider_fees", "interest") or (step == "principal"
                                                          and instrument in loans):
                story.cash -= amount
            else:  # the unit holders' money waits in a payable until paid to each holder
                story.units_payable += amount
        if coupon:
            story.coupons_in[year + 1] = paid[("investor_returns", UNITS)][1]
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
    assert totals == {2019: 14_835_359, 2020: 30_170_908, 2021: 42_335_736,
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

def test_every_loan_balance_and_its_interest_after_each_year(story):
    posted, expected = story
    for year in YEARS:
        lenders = {row["loan"]: row for row in posted.packs[year]["lenders"]}
        for loan_id, model in expected.loans.items():
            end = date(year + 1, 3, 31)
            row = lenders[loan_id]
            assert row["drawn"] == model.drawn(end), (loan_id, year)
            assert row["outstanding"] == model.outstanding(end), (loan_id, year)
            before = expected.accrued_at_year_end.get((loan_id, year - 1), 0)
            assert row["interest_accrued_year"] == \
                expected.accrued_at_year_end[(loan_id, year)] - before, (loan_id, year)
            assert row["interest_paid_year"] == \
                expected.interest_paid_in.get((loan_id, year), 0), (loan_id, year)
    # After FY2019: nothing repaid yet; after FY2023, only the last instalments are left.
    first = {row["loan"]: row["outstanding"] for row in posted.packs[2019]["lenders"]}
    assert first == {"loan-yamaguchi": 15_000_000, "loan-tohoku": 6_000_000,
                     "loan-kyoto": 12_000_000, "loan-kagoshima": 8_000_000,
                     "loan-saitama-resona": 4_000_000}
    last = {row["loan"]: row["outstanding"] for row in posted.packs[2023]["lenders"]}
    assert last == {"loan-yamaguchi": 7_500_000, "loan-tohoku": 0,
                    "loan-kyoto": expected.loans["loan-kyoto"].outstanding(date(2024, 3, 31)),
                    "loan-kagoshima": 2_000_000, "loan-saitama-resona": 0}


def test_loans_repaid_from_outcomes_pay_interest_only_on_what_is_still_owed(story):
    posted, expected = story
    tohoku = expected.loans["loan-tohoku"]
    # June 2020: FY2019's money repays part of the 10 M of outcome-funded loans, pro rata.
    (_, paid_2020), = [v for k, v in expected.distributions[2019].items()
                       if k == ("principal", "loan-tohoku")]
    # (7,988,174 for the two, split 6:4 — see test_every_distribution_step_by_step.)
    assert paid_2020 == 4_792_904
    # Interest to 29 June 2020 on 6 M (364 days to the due date, then one day), and then on
    # the 1,207,096 still owed until it is repaid on 30 June 2021 — not on 6 M:
    #   (6,000,000 × 364 − 4,792,904 × 363) × 1 % / 365 = 4,441,758.48 / 365 = 12,169.2…
    #   less the day already paid (164), plus 1,207,096 × 1 % × 2/365 = 66.1… → 12,071
    first = int(6_000_000 * Fraction("0.01") * 364 / 365) + \
        int(6_000_000 * Fraction("0.01") * 1 / 365)
    second = int((6_000_000 * 364 - 4_792_904 * 363) * Fraction("0.01") / 365) \
        - int(6_000_000 * Fraction("0.01") * 1 / 365) \
        + int(1_207_096 * Fraction("0.01") * 2 / 365)
    assert (first, second) == (59_999, 12_071)
    assert tohoku.interest_paid == first + second
    row = {r["loan"]: r for r in posted.packs[2023]["lenders"]}["loan-tohoku"]
    assert [(r["actual_principal"], r["actual_interest"]) for r in row["schedule_vs_actual"]
            if r["actual_principal"] or r["actual_interest"]] == [(4_792_904, 59_999),
                                                                  (1_207_096, 12_071)]


# --------------------------------------------------------------------------- the waterfall

def test_every_distribution_step_by_step(story):
    posted, expected = story
    for year in YEARS:
        result = posted.distributions[year].waterfall
        got = {(a.claim.step, a.claim.instrument): (a.claim.amount_minor, a.paid_minor)
               for a in result.allocations}
        assert got == expected.distributions[year], year
        assert result.left_minor == expected.left[year], year
        assert posted.distributions[year].losses == []
    # The June 2020 waterfall ran short of principal; every later one paid all it owed.
    short = {k: v for y in YEARS for k, v in expected.distributions[y].items() if v[0] != v[1]}
    # Yamaguchi's second due date is 31 March 2020 (末日), not 30 March: 183 days of interest
    # on 15 M, 15,000,000 × 0.8 % × 183/365 = 60,164.3 → 60,164 instead of 182 days' 59,835,
    # so 329 yen less reaches the outcome-funded loans: 7,988,503 − 329 = 7,988,174, shared
    # 6 M : 4 M = 4,792,904.4 and 3,195,269.6 → 4,792,904 and 3,195,270 (the leftover yen to
    # the larger fraction).
    assert short == {("principal", "loan-tohoku"): (6_000_000, 4_792_904),
                     ("principal", "loan-saitama-resona"): (4_000_000, 3_195_270)}
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
    # Loans: all repaid; interest expense is exactly the interest paid.
    for loan_id, model in expected.loans.items():
        assert spv[f"loan:{loan_id}"] == 0
        assert spv[f"interest-expense:{loan_id}"] == model.interest_paid
        assert spv[f"interest-payable:{loan_id}"] == 0
    # Citizen units: capital back, returns declared, both waiting to be paid to holders.
    assert spv[f"units:{UNITS}"] == 0
    # 匿名組合損益分配額: the investors' share of the profit, an expense of the operator.
    assert spv[f"distributions:{UNITS}"] == sum(expected.coupons_in.values()) == 923_013
    assert spv[f"distributions-payable:{UNITS}"] == expected.units_payable
    # Cash: everything in, less everything paid out; the rest is the SPV's.
    assert spv["cash"] == expected.cash == expected.left[2023] + expected.units_payable
    assert spv["fees:thl"] == sum(FIXED_FEE.values()) + sum(
        v for (p, _), v in expected.outcome_fees_in.items() if p == "thl")
