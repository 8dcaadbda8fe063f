"""Investor unit returns, worked by hand: arrears carried forward, capital earning from its own
day, rounding once over the years, and a distribution posted once.

A small contract written here: one city pays for participants, pro rata to 1,000 a year (so N
participants earn N × 10,000 yen), FY2021–FY2023. The SPV has no loans and no provider paid
from outcomes, so all outcome money goes to the investor units: 100,000 yen a unit, a 3 %
target return a year. A return accrues ACT/365 on each yen of capital from the day it is paid
in (that day counts, the distribution day does not).

Every expected figure is computed in the comments and asserted from plain integer arithmetic,
not read from the code under test.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from contracts.store import get_contract, load_contract
from contracts.validate import validate_document
from investors.store import HolderSpec, add_holder, get_holder, pay_holders, subscribe
from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.money import from_minor
from ledger.reports import trial_balance
from ledger.rounding import RoundingMode
from ledger.schema import Entry
from ledger.service import post_entry, reverse_entry
from ledger.verify import verify
from settlement.kpi import ResultInput
from settlement.payments import (
    capital_changes,
    claims_at,
    distribute,
    investor_return_owed,
    record_payment,
)
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.trace import ENGLISH, Phrase
from settlement.unit_returns import CapitalChange, return_owed, unpaid_weights

C = "returns-sib"
UNITS = "units"


def document(rounding: str = "truncate") -> dict:
    return {
        "id": C, "name_ja": "リターン計算テスト", "name_en": "Unit returns SIB",
        "currency": "JPY", "first_fiscal_year": 2021, "last_fiscal_year": 2023,
        "rounding": {"mode": rounding, "remainder_policy": "first_part"},
        "parties": [
            {"id": "city", "name_ja": "市", "kind": "municipality", "roles": ["outcome_payer"]},
            {"id": "spv", "name_ja": "SPV", "kind": "spv", "roles": ["intermediary"]},
            {"id": "evaluator", "name_ja": "評価機関", "kind": "university",
             "roles": ["evaluator"]}],
        "payers": [{"party": "city", "authorisation": {
            "max_amount": "30,000,000", "from_fiscal_year": 2021, "to_fiscal_year": 2023}}],
        "instruments": [
            {"type": "unit_class", "id": UNITS, "issuer": "spv", "unit_price": "100,000",
             "units_offered": 100, "seniority": 1, "principal": "at_risk",
             "target_return_annual": "0.03", "tax_category": "tokumei_kumiai",
             "first_sale_fiscal_year": 2021}],
        "kpis": [{"id": "participants", "unit": "people", "direction": "higher",
                  "targets": {y: "1000" for y in (2021, 2022, 2023)},
                  "evaluator": "evaluator"}],
        "tranches": [{"id": f"fy{y}-participants", "kpi": "participants", "fiscal_year": y,
                      "max_amount": "10,000,000", "rule": {"type": "pro_rata"}}
                     for y in (2021, 2022, 2023)],
        # The returns worked here are on the outcome money as received; tax is not their
        # subject.
        "consumption_tax": {"exempt_reason": "worked examples of unit returns without tax"},
    }


def open_contract(session, rounding: str = "truncate") -> None:
    terms, problems = validate_document(document(rounding), "returns.yaml")
    assert problems == []
    load_contract(session, terms)
    for code in ("h-early", "h-late"):
        add_holder(session, HolderSpec(code, "company", f"{code} 株式会社",
                                       tax_category="tax_exempt"))


def outcome_money(session, fiscal_year: int, participants: int, paid_on: date) -> None:
    """The evaluator's audited count, settled; the city pays it all on ``paid_on``
    (``participants`` × 10,000 yen)."""
    for row in submit_results(session, [ResultInput(C, fiscal_year, "participants",
                                                    str(participants))], "evaluator"):
        audit_result(session, row.id, "evaluation committee")
    settle(session, C, fiscal_year)
    record_payment(session, C, "city", participants * 10_000, paid_on, f"FY{fiscal_year}")


def run_waterfall(session, fiscal_year: int, on: date, final: bool = False):
    return distribute(session, C, on, final,
                      reference=f"FY{fiscal_year}")


def returns_of(distribution) -> tuple[int, int]:
    """(owed, paid) of the units' return in a waterfall run."""
    [(owed, paid)] = [(a.claim.amount_minor, a.paid_minor)
                      for a in distribution.waterfall.allocations
                      if a.claim.step == "investor_returns"]
    return owed, paid


def balances(session) -> dict[str, int]:
    return {r.code: r.balance_minor for r in trial_balance(session, C).rows}


def returns_declared(session) -> int:
    """Returns declared to the class: the balance of ``distributions:<class>``, the
    operator's expense 匿名組合損益分配額 (a debit, shown positive)."""
    return balances(session)[f"distributions:{UNITS}"]


def steps(trace) -> dict[str, object]:
    """Each step's exact figure by its English label."""
    return {ENGLISH.label(s): s.value.value for s in trace.steps}


def paid_to(session, shares) -> dict[str, int]:
    ids = {get_holder(session, code).id: code for code in ("h-early", "h-late")}
    return {ids[s.holder_id]: s.gross_minor for s in shares}


# --------------------------------------------------------------------------- (a) arrears

def test_a_return_paid_in_part_is_owed_again_the_next_year(session):
    open_contract(session)
    subscribe(session, C, UNITS, "h-early", 6, date(2021, 4, 1))   # 600,000
    subscribe(session, C, UNITS, "h-late", 4, date(2021, 4, 1))    # 400,000, same day

    # June 2022: FY2021 earned only 2 participants → 20,000 yen received.
    # Return accrued on 1,000,000 from 2021-04-01 to 2022-06-30: 365 days to 2022-04-01, then
    # 30 (April) + 31 (May) + 29 (June, the 30th not counted) = 455 days.
    #   1,000,000 × 3 % × 455 / 365 = 30,000 × 455 / 365 = 13,650,000 / 365 = 37,397.26…
    #   truncated: 37,397 owed; 20,000 available, so 20,000 paid, 17,397 unpaid.
    assert 30_000 * 455 // 365 == 37_397
    outcome_money(session, 2021, 2, date(2022, 5, 31))
    june_2022 = run_waterfall(session, 2021, date(2022, 6, 30))
    assert returns_of(june_2022) == (37_397, 20_000)
    assert june_2022.waterfall.left_minor == 0
    # Split by each holder's unpaid return, here 6 : 4 (same capital days): 12,000 and 8,000.
    assert paid_to(session, pay_holders(session, C, date(2022, 6, 30))) == {
        "h-early": 12_000, "h-late": 8_000}

    # June 2023: FY2022 earned 10 participants → 100,000 yen received.
    # Accrued from 2021-04-01 to 2023-06-30: 455 + 365 = 820 days.
    #   30,000 × 820 / 365 = 24,600,000 / 365 = 67,397.26… → 67,397
    #   less 20,000 already paid = 47,397 owed = this year's 30,000 (365 days at 3 %)
    #   + last year's 17,397 arrears.
    assert 30_000 * 820 // 365 - 20_000 == 47_397 == 30_000 + (37_397 - 20_000)
    outcome_money(session, 2022, 10, date(2023, 5, 31))
    june_2023 = run_waterfall(session, 2022, date(2023, 6, 30))
    assert returns_of(june_2023) == (47_397, 47_397)
    assert june_2023.waterfall.left_minor == 100_000 - 47_397 == 52_603
    # The trace tells the auditor how: accrued, already paid, owed.
    [trace] = [a.claim.trace for a in june_2023.waterfall.allocations
               if a.claim.step == "investor_returns"]
    figures = steps(trace)
    assert (figures["accrued, rounded"], figures["already paid"], figures["owed"]) == (
        67_397, 20_000, 47_397)
    assert figures["capital paid in on 2021-04-01 (2 entries)"] == Fraction(4_920_000, 73)
    assert trace.result_minor == 47_397 and trace.rounding.mode is RoundingMode.TRUNCATE
    assert "  rounding: truncate: 4920000/73 (≈67,397.260274) → 67,397 (fraction 19/73 " \
        "(≈0.260274) dropped)" in trace.lines("JPY")
    assert trace in june_2023.traces
    # Holders: unpaid 600,000 × 3 % × 820/365 − 12,000 = 28,438.36 and
    # 400,000 × 3 % × 820/365 − 8,000 = 18,958.90, still 6 : 4 → 47,397 × 0.6 = 28,438.2 and
    # × 0.4 = 18,958.8: floors 28,438 + 18,958 = 47,396, the last yen to the larger remainder
    # (0.8, h-late).
    assert paid_to(session, pay_holders(session, C, date(2023, 6, 30))) == {
        "h-early": 28_438, "h-late": 18_959}
    assert returns_declared(session) == 67_397 == 20_000 + 47_397
    assert balances(session)[f"distributions-payable:{UNITS}"] == 0
    assert verify(session).ok


# --------------------------------------------------------------------------- (b) late capital

def test_capital_subscribed_later_earns_only_from_its_own_day(session):
    open_contract(session)
    subscribe(session, C, UNITS, "h-early", 10, date(2021, 4, 1))   # 1,000,000
    subscribe(session, C, UNITS, "h-late", 10, date(2021, 10, 1))   # 1,000,000, six months on
    outcome_money(session, 2021, 100, date(2022, 5, 31))            # 1,000,000: enough

    # To 2022-06-30: the first million 455 days (as in (a)); the second from 2021-10-01:
    # Oct 31 + Nov 30 + Dec 31 + Jan 31 + Feb 28 + Mar 31 + Apr 30 + May 31 + Jun 29 = 272 days.
    #   30,000 × 455/365 + 30,000 × 272/365 = 30,000 × 727 / 365 = 21,810,000 / 365
    #   = 59,753.42… → 59,753
    # (Counting both millions from the first subscription would give 60,000 × 455 / 365
    #  = 74,794.52… → 74,794: 15,041 too much.)
    assert 31 + 30 + 31 + 31 + 28 + 31 + 30 + 31 + 29 == 272 == \
        (date(2022, 6, 30) - date(2021, 10, 1)).days
    assert 30_000 * 727 // 365 == 59_753
    june_2022 = run_waterfall(session, 2021, date(2022, 6, 30))
    assert returns_of(june_2022) == (59_753, 59_753)
    # Holders by their own capital days, 455 : 272:
    #   59,753 × 455/727 = 27,187,615/727 = 37,396 + 723/727
    #   59,753 × 272/727 = 16,252,816/727 = 22,356 + 4/727
    # floors 59,752, the last yen to the larger remainder (h-early) → 37,397 and 22,356.
    # (By units held on the day it would be 29,877 and 29,876: the late holder paid for six
    # months before it subscribed.)
    assert (59_753 * 455 // 727, 59_753 * 455 % 727) == (37_396, 723)
    assert (59_753 * 272 // 727, 59_753 * 272 % 727) == (22_356, 4)
    assert paid_to(session, pay_holders(session, C, date(2022, 6, 30))) == {
        "h-early": 37_397, "h-late": 22_356}

    # A full year later both millions have earned 30,000 more:
    #   30,000 × (820 + 637) / 365 = 43,710,000 / 365 = 119,753.42… → 119,753
    #   less 59,753 paid = 60,000
    outcome_money(session, 2022, 100, date(2023, 5, 31))
    june_2023 = run_waterfall(session, 2022, date(2023, 6, 30))
    assert 30_000 * (820 + 637) // 365 - 59_753 == 60_000
    assert returns_of(june_2023) == (60_000, 60_000)
    # Unpaid per holder: 30,000 × 820/365 − 37,397 = 30,000.26…, 30,000 × 637/365 − 22,356
    # = 30,000.16…; 60,000 in that proportion is 30,000.05 and 29,999.95 → 30,000 each.
    assert paid_to(session, pay_holders(session, C, date(2023, 6, 30))) == {
        "h-early": 30_000, "h-late": 30_000}
    assert returns_declared(session) == 119_753
    assert verify(session).ok


# --------------------------------------------------------------------------- (c) rounding

@pytest.mark.parametrize("rounding, paid", [
    # per year: cumulative rounded − paid before
    ("truncate", [22_668, 41_942 - 22_668, 64_610 - 41_942]),
    ("half_up", [22_668, 41_942 - 22_668, 64_611 - 41_942])])
def test_yearly_returns_add_up_to_the_return_on_the_whole_period(session, rounding, paid):
    open_contract(session, rounding)
    subscribe(session, C, UNITS, "h-early", 7, date(2021, 6, 1))    # 700,000: 21,000 a year
    on = [date(2022, 6, 30), date(2023, 5, 31), date(2024, 6, 28)]
    # Days from 2021-06-01: 394 (365 + 29), then + 335 to 2023-05-31 = 729, then + 366
    # (February 2024 has 29 days) + 28 = 1,123.
    assert [(d - date(2021, 6, 1)).days for d in on] == [394, 729, 1_123]
    # Accrued: 21,000 × 394/365 = 22,668.49…; × 729/365 = 41,942.46…; × 1,123/365 = 64,610.95…
    assert [Fraction(21_000 * n, 365) for n in (394, 729, 1_123)] == [
        22_668 + Fraction(180, 365), 41_942 + Fraction(170, 365), 64_610 + Fraction(350, 365)]
    # Truncated: 22,668, 41,942, 64,610; half up: 22,668, 41,942, 64,611 — each year pays the
    # difference. Rounding each year's own days instead would pay 22,668 + 19,273 (21,000 ×
    # 335/365 = 19,273.97) + 22,668 = 64,609 truncated, 64,610 half up: a yen short either way.
    for year, day in zip((2021, 2022, 2023), on):
        outcome_money(session, year, 100, date(day.year, 5, 15))
        assert returns_of(run_waterfall(session, year, day)) == (paid[year - 2021],) * 2
    total = sum(paid)
    assert total == {"truncate": 64_610, "half_up": 64_611}[rounding]
    assert returns_declared(session) == total
    assert sum(s.gross_minor for d in on for s in pay_holders(session, C, d)) == total


# --------------------------------------------------------------------------- (d) once

def test_the_same_distribution_run_twice_posts_once_and_owes_nothing_more(session):
    open_contract(session)
    subscribe(session, C, UNITS, "h-early", 10, date(2021, 4, 1))
    outcome_money(session, 2021, 100, date(2022, 5, 31))
    on = date(2022, 6, 30)
    first = run_waterfall(session, 2021, on)
    assert returns_of(first) == (37_397, 37_397)                   # as in (a)
    entries = session.scalar(select(func.count()).select_from(Entry))
    with pytest.raises(SibError) as again:
        run_waterfall(session, 2021, on)
    assert again.value.code == "ALREADY_DISTRIBUTED"
    assert session.scalar(select(func.count()).select_from(Entry)) == entries
    # Computed again from the ledger, the return is paid: nothing is owed on the same day,
    # whatever money arrives, and the figure is the same however often it is asked for.
    contract = get_contract(session, C)
    assert [c for c in claims_at(session, contract, on, {"city": 500_000}, False)
            if c.step == "investor_returns"] == []
    owed = [investor_return_owed(session, contract, UNITS, on) for _ in range(2)]
    assert [(o.accrued_minor, o.paid_minor, o.owed_minor) for o in owed] == \
        [(37_397, 37_397, 0)] * 2
    # Paying the holders twice pays once.
    assert sum(s.gross_minor for s in pay_holders(session, C, on)) == 37_397
    count = session.scalar(select(func.count()).select_from(Entry))
    assert sum(s.gross_minor for s in pay_holders(session, C, on)) == 37_397
    assert session.scalar(select(func.count()).select_from(Entry)) == count
    assert returns_declared(session) == 37_397
    # The next day one day more has accrued: 30,000 × 456/365 = 37,479.45… → 37,479; 82 owed.
    assert investor_return_owed(session, contract, UNITS, date(2022, 7, 1)).owed_minor == \
        30_000 * 456 // 365 - 37_397 == 82


# --------------------------------------------------------------------------- the timeline

def test_capital_returned_stops_earning_and_a_reversed_subscription_never_earned(session):
    open_contract(session)
    subscribe(session, C, UNITS, "h-early", 10, date(2021, 4, 1))   # 1,000,000
    wrong = post_entry(session, EntryDraft(
        C, "test:units:wrong", "unit_subscription", date(2021, 5, 1),
        [debit("cash", from_minor(500_000, "JPY")), credit(f"units:{UNITS}",
                                                            from_minor(500_000, "JPY"))],
        "posted to the wrong class", {"contract": C, "unit_class": UNITS}))
    reverse_entry(session, C, wrong.id, "test:units:wrong:reverse", date(2021, 9, 1))
    contract = get_contract(session, C)
    changes = capital_changes(session, C, UNITS, date(2022, 4, 1))
    # The reversal cancels the 500,000 from its own day (1 May), not from 1 September.
    assert [(c.on, c.amount_minor) for c in changes] == [
        (date(2021, 4, 1), 1_000_000), (date(2021, 5, 1), 500_000), (date(2021, 5, 1), -500_000)]
    # So a year later only the million has earned: 30,000 × 365/365 = 30,000.
    assert investor_return_owed(session, contract, UNITS, date(2022, 4, 1)).owed_minor == 30_000


def test_the_return_on_a_capital_timeline_without_a_database():
    # 1,000,000 in on 2021-04-01; 400,000 returned on 2022-04-01; valued 2023-04-01:
    #   1,000,000 × 3 % × 730/365 − 400,000 × 3 % × 365/365 = 60,000 − 12,000 = 48,000
    # (600,000 earned for the second year, 1,000,000 for the first); 30,000 paid → 18,000.
    changes = [CapitalChange(date(2021, 4, 1), 1_000_000, "subscription"),
               CapitalChange(date(2022, 4, 1), -400_000, "capital_return"),
               CapitalChange(date(2023, 6, 1), 5_000_000, "after the date: not counted")]
    owed = return_owed("units", changes, "0.03", date(2023, 4, 1), 30_000)
    assert (owed.accrued_exact, owed.accrued_minor, owed.paid_minor, owed.owed_minor) == (
        48_000, 48_000, 30_000, 18_000)
    assert steps(owed.trace) == {
        "capital paid in on 2021-04-01": 60_000, "capital returned on 2022-04-01": -12_000,
        "accrued": 48_000, "accrued, rounded": 48_000, "already paid": 30_000, "owed": 18_000}
    # Paid more than accrued (a correction pending, say): nothing owed, never negative.
    assert return_owed("units", changes, "0.03", date(2023, 4, 1), 50_000).owed_minor == 0


def test_holders_weights_are_their_unpaid_returns_in_integers():
    # (b)'s holders in June 2022: 1,000,000 × 455 days and 1,000,000 × 272 days, nothing paid.
    # At 3 % = 3/100 the unpaid return × 100 × 365 is yen-days × 3: 1,365,000,000 and
    # 816,000,000, whose greatest common divisor is 3,000,000 → 455 : 272.
    assert unpaid_weights([(455_000_000, 0), (272_000_000, 0)], "0.03") == [455, 272]
    # June 2023: 820 and 637 days, 37,397 and 22,356 paid:
    #   820,000,000 × 3 − 37,397 × 36,500 = 2,460,000,000 − 1,364,990,500 = 1,095,009,500
    #   637,000,000 × 3 − 22,356 × 36,500 = 1,911,000,000 − 815,994,000 = 1,095,006,000
    # (gcd 500 → 2,190,019 and 2,190,012); a holder paid more than its due weighs nothing.
    assert unpaid_weights([(820_000_000, 37_397), (637_000_000, 22_356), (1_000, 5)],
                          "0.03") == [1_095_009_500 // 500, 1_095_006_000 // 500, 0]


# --------------------------------------------------------------------------- (e) rate amended

def test_an_amended_rate_applies_from_its_fiscal_year_only(session):
    """An amendment effective from FY2022 lowers the target return from 3 % to 2 %: FY2021
    keeps 3 % (it may already have been paid under it), FY2022 on earns 2 %."""
    from contracts.store import amend_contract
    open_contract(session)
    amended, problems = validate_document(
        document() | {"instruments": [document()["instruments"][0]
                                      | {"target_return_annual": "0.02"}]}, "amended.yaml")
    assert problems == []
    amend_contract(session, C, amended, "fund terms renegotiated", effective_from=2022)
    subscribe(session, C, UNITS, "h-early", 10, date(2021, 4, 1))   # 1,000,000
    subscribe(session, C, UNITS, "h-late", 10, date(2022, 10, 1))   # 1,000,000

    # To 2023-06-30: h-early's capital 365 days at 3 % (FY2021) then 455 days at 2 %
    # (2022-04-01 … 2023-06-29); h-late's 272 days at 2 % (2022-10-01 … 2023-06-29).
    #   30,000 × 365 / 365 + 20,000 × 455 / 365 = (10,950,000 + 9,100,000) / 365
    #   20,000 × 272 / 365 = 5,440,000 / 365
    #   together 25,490,000 / 365 = 69,835.6… → 69,835 (2 % throughout would give 59,835).
    assert (10_950_000 + 9_100_000 + 5_440_000) // 365 == 69_835
    outcome_money(session, 2022, 10, date(2023, 5, 31))
    june_2023 = run_waterfall(session, 2022, date(2023, 6, 30))
    assert returns_of(june_2023) == (69_835, 69_835)
    [trace] = [a.claim.trace for a in june_2023.waterfall.allocations
               if a.claim.step == "investor_returns"]
    assert trace.inputs[0].phrase is Phrase.RATE_ANNUAL
    assert ENGLISH(trace.inputs[0].value) == "0.03; 0.02 from 2022-04-01"
    assert steps(trace)["accrued"] == Fraction(25_490_000, 365)
    # Holders by their own returns, in rate-days of 1/100 a year: h-early 365 × 3 + 455 × 2
    # = 2,005; h-late 272 × 2 = 544 (both on 1,000,000). 69,835 × 2,005 / 2,549 = 54,931.02…
    # and 69,835 × 544 / 2,549 = 14,903.97…: floors 54,931 + 14,903 = 69,834, the last yen to
    # the larger remainder (0.97…, h-late).
    assert 69_835 * 2_005 // 2_549 == 54_931 and 69_835 * 544 // 2_549 == 14_903
    assert paid_to(session, pay_holders(session, C, date(2023, 6, 30))) == {
        "h-early": 54_931, "h-late": 14_904}
    assert verify(session).ok


def test_a_rate_schedule_counts_each_day_at_the_rate_in_force():
    from settlement.unit_returns import RateSchedule
    schedule = RateSchedule.of([(date.min, "0.03"), (date(2022, 4, 1), "0.025")])
    assert schedule.denominator == 200  # 3/100 and 1/40
    # 2022-03-30 and 2022-03-31 at 3 % (6/200), 2022-04-01 … 2022-04-02 at 2.5 % (5/200).
    assert schedule.rate_days(date(2022, 3, 30), date(2022, 4, 3)) == 2 * 6 + 2 * 5
    assert schedule.exact(date(2022, 3, 30), date(2022, 4, 3)) == Fraction(22, 200 * 365)
    assert schedule.rate_days(date(2022, 4, 3), date(2022, 4, 1)) == 0  # nothing backwards
    assert RateSchedule.of("0.03").single == Fraction(3, 100)
    assert schedule.single is None and schedule.text() == "0.03; 0.025 from 2022-04-01"
