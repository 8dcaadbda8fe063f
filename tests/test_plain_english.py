"""English documents of a contract that is not Japanese read plain English (issue 12, item 7):
no 片端, 両端, 遅延損害金 or 元金均等 in the traces of a pound or dollar contract, where a yen
contract's English keeps the Japanese term its reader (a Japanese bank) knows."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from contracts.validate import load_contract_file
from investors.trace_text import english_lines
from settlement.loans import loan_schedule
from settlement.schedules import LoanTerms, build_schedule
from settlement.servicing import Due, pay

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts/examples"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def traces_of(currency: str):
    """Every loan convention and profile, and a default-interest payment, in ``currency``."""
    draws = ((date(2024, 4, 1), 30_000_000),)
    for profile in ("bullet", "equal_principal", "annuity"):
        for first, last in ((True, False), (True, True)):
            terms = LoanTerms(draws, D("0.015"), date(2026, 3, 31), 2, profile,
                              count_first_day=first, count_last_day=last,
                              grace_period_months=12)
            yield from (row.trace for row in build_schedule(terms).rows)
    owed = [Due("loan", "bank", 1, "default_interest", date(2025, 3, 31), 30),
            Due("loan", "bank", 1, "principal", date(2025, 3, 31), 500)]
    yield pay(200, owed)[1]


@pytest.mark.parametrize("currency", ["GBP", "USD"])
def test_a_foreign_contract_reads_plain_english(currency):
    lines = [line for trace in traces_of(currency) for line in english_lines(trace, currency)]
    assert lines
    assert not [line for line in lines if JAPANESE.search(line)]
    assert any("first day counted, last not" in line for line in lines)
    assert any("equal principal instalment" in line for line in lines)


def test_a_yen_contract_keeps_the_japanese_terms():
    lines = [line for trace in traces_of("JPY") for line in english_lines(trace, "JPY")]
    assert any("片端" in line for line in lines)
    assert any("元金均等" in line for line in lines)


def test_the_pound_example_loan_schedule_has_no_japanese():
    contract, problems = load_contract_file(EXAMPLES / "gbp-rate-card-employment.yaml")
    assert problems == [] and contract is not None
    for loan in contract.loans:
        for row in loan_schedule(loan).rows:
            assert not [x for x in english_lines(row.trace, "GBP") if JAPANESE.search(x)]
