"""Withholding on payments to holders, as worked examples: the tax office's figures to the yen."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from investors.withholding import (
    CORPORATE,
    DEFAULT_RATES,
    INDIVIDUAL,
    INTEREST,
    TAX_EXEMPT,
    TOKUMEI_KUMIAI,
    PaymentRecord,
    Recipient,
    WithholdingComponent,
    WithholdingPayment,
    WithholdingRate,
    component_taxes,
    payment_record,
    rate_for,
    record_summary,
    withhold,
)
from ledger.errors import SibError

PAID_ON = date(2022, 3, 25)


def test_silent_partnership_distribution_to_an_individual_bears_20_42_percent():
    rate = rate_for(INDIVIDUAL, TOKUMEI_KUMIAI, PAID_ON)
    assert rate.percent == Decimal("20.42")
    assert withhold(100_000, rate) == (20_420, 79_580)


def test_the_tax_is_truncated_to_the_yen():
    rate = rate_for(INDIVIDUAL, TOKUMEI_KUMIAI, PAID_ON)
    # 12,345 × 20.42 % = 2,520.849 → 2,520 (1円未満切捨て), never 2,521.
    assert withhold(12_345, rate) == (2_520, 9_825)
    # 30,000 × 20.42 % = 6,126 exactly.
    assert withhold(30_000, rate) == (6_126, 23_874)


def test_interest_to_an_individual_is_two_taxes_each_truncated():
    rate = rate_for(INDIVIDUAL, INTEREST, PAID_ON)
    assert rate.percent == Decimal("20.315")
    # 12,345 × 15.315 % = 1,890.63 → 1,890; 12,345 × 5 % = 617.25 → 617.
    assert component_taxes(12_345, rate) == (1_890, 617)
    assert withhold(12_345, rate) == (2_507, 9_838)
    assert [c.code for c in rate.components] == ["income_tax_and_reconstruction",
                                                 "local_interest"]


def test_separate_truncation_can_differ_from_the_total_rate():
    rate = rate_for(INDIVIDUAL, INTEREST, PAID_ON)
    # 10,001: 1,531.65 → 1,531 and 500.05 → 500, 2,031 either way.
    assert withhold(10_001, rate) == (2_031, 7_970)
    # 99: 15.16 → 15 and 4.95 → 4 make 19, where 99 × 20.315 % = 20.11 would give 20.
    assert withhold(99, rate) == (19, 80)


def test_corporate_and_tax_exempt_holders():
    assert withhold(100_000, rate_for(CORPORATE, TOKUMEI_KUMIAI, PAID_ON)) == (20_420, 79_580)
    assert withhold(100_000, rate_for(CORPORATE, INTEREST, PAID_ON)) == (15_315, 84_685)
    exempt = rate_for(TAX_EXEMPT, TOKUMEI_KUMIAI, PAID_ON)
    assert exempt.percent == 0 and withhold(100_000, exempt) == (0, 100_000)


def test_rates_are_decimals_never_floats():
    for rate in DEFAULT_RATES:
        for component in rate.components:
            assert isinstance(component.percent, Decimal)


def test_unknown_categories_and_income_types_are_refused_by_name():
    with pytest.raises(SibError) as caught:
        rate_for("trust", TOKUMEI_KUMIAI, PAID_ON)
    assert (caught.value.code, caught.value.problems[0].field) == (
        "WITHHOLDING_CATEGORY_UNKNOWN", "tax_category")
    with pytest.raises(SibError) as caught:
        rate_for(INDIVIDUAL, "royalty", PAID_ON)
    assert caught.value.code == "WITHHOLDING_INCOME_TYPE_UNKNOWN"


def test_a_date_before_any_rate_is_refused():
    with pytest.raises(SibError) as caught:
        rate_for(INDIVIDUAL, TOKUMEI_KUMIAI, date(2012, 12, 31))
    assert caught.value.code == "WITHHOLDING_RATE_NOT_IN_FORCE"
    assert "2013-01-01" in caught.value.problems[0].message


def test_the_rate_in_force_follows_the_effective_dates():
    # A table as a contract could bring it: the reconstruction tax ending after 2037.
    after = WithholdingRate(INDIVIDUAL, TOKUMEI_KUMIAI, date(2038, 1, 1), (
        WithholdingComponent("income_tax", "所得税", "Income tax", Decimal("20")),))
    table = DEFAULT_RATES + (after,)
    assert rate_for(INDIVIDUAL, TOKUMEI_KUMIAI, date(2037, 12, 31), table).percent == \
        Decimal("20.42")
    assert rate_for(INDIVIDUAL, TOKUMEI_KUMIAI, date(2038, 1, 1), table).percent == \
        Decimal("20")
    assert withhold(100_000, rate_for(INDIVIDUAL, TOKUMEI_KUMIAI, date(2038, 6, 1), table)) \
        == (20_000, 80_000)


def test_negative_or_fractional_gross_amounts_are_refused():
    rate = rate_for(INDIVIDUAL, TOKUMEI_KUMIAI, PAID_ON)
    with pytest.raises(SibError) as caught:
        withhold(-1, rate)
    assert caught.value.code == "WITHHOLDING_NEGATIVE_GROSS"
    with pytest.raises(SibError):
        withhold(1.5, rate)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**12),
       st.sampled_from([(INDIVIDUAL, TOKUMEI_KUMIAI), (INDIVIDUAL, INTEREST),
                        (CORPORATE, INTEREST), (TAX_EXEMPT, INTEREST)]))
def test_tax_and_net_always_add_back_to_the_gross(gross, pair):
    rate = rate_for(*pair, PAID_ON)
    tax, net = withhold(gross, rate)
    assert tax + net == gross
    exact = Decimal(gross) * rate.percent / 100
    assert tax <= exact < tax + max(len(rate.components), 1)


def test_payment_record_totals_one_recipient_and_calendar_year():
    recipient = Recipient("h-000123", "山田 花子", "ヤマダ ハナコ", "山口県宇部市")
    payments = [
        WithholdingPayment(date(2021, 12, 24), TOKUMEI_KUMIAI, 20_000, 4_084),
        WithholdingPayment(date(2022, 3, 25), TOKUMEI_KUMIAI, 30_000, 6_126),
        WithholdingPayment(date(2022, 9, 26), TOKUMEI_KUMIAI, 30_000, 6_126),
        WithholdingPayment(date(2022, 9, 26), INTEREST, 12_345, 2_507),
        WithholdingPayment(date(2023, 3, 24), TOKUMEI_KUMIAI, 30_000, 6_126),
    ]
    record = payment_record(recipient, 2022, payments)
    assert (record.paid_minor, record.withheld_minor, record.count) == (72_345, 14_759, 3)
    assert [(line.income_type, line.paid_minor, line.withheld_minor, line.count)
            for line in record.lines] == [(INTEREST, 12_345, 2_507, 1),
                                          (TOKUMEI_KUMIAI, 60_000, 12_252, 2)]
    assert record.recipient.name_kana == "ヤマダ ハナコ" and record.currency == "JPY"
    assert payment_record(recipient, 2020, payments).count == 0


def test_payment_record_refuses_mixed_currencies_and_impossible_withholding():
    recipient = Recipient("h-1", "山田 花子")
    payments = [WithholdingPayment(date(2022, 3, 25), TOKUMEI_KUMIAI, 30_000, 30_001),
                WithholdingPayment(date(2022, 3, 25), TOKUMEI_KUMIAI, 100, 20, "GBP")]
    with pytest.raises(SibError) as caught:
        payment_record(recipient, 2022, payments)
    assert caught.value.codes == ["CURRENCY_MIXED", "WITHHOLDING_INVALID"]
    assert caught.value.problems[1].field == "payments[0].withheld_minor"


# The 匿名組合 payment record (匿名組合契約等の利益の分配の支払調書) is filed for a recipient paid
# more than ¥50,000 in the calendar year; at ¥50,000 or less it is not (所得税法225条1項,
# 所得税法施行規則85条).


@pytest.mark.parametrize("paid, must_file", [(50_000, False), (50_001, True)])
def test_a_payment_record_is_filed_only_above_50_000_yen_a_year(paid, must_file):
    recipient = Recipient("h-1", "山田 花子")
    # Two payments in 2022 adding up to ``paid``: the threshold is on the year's total.
    payments = [WithholdingPayment(date(2022, 5, 30), TOKUMEI_KUMIAI, 30_000, 6_126),
                WithholdingPayment(date(2022, 11, 30), TOKUMEI_KUMIAI, paid - 30_000,
                                   (paid - 30_000) * 2042 // 10_000)]
    record = payment_record(recipient, 2022, payments)
    assert record.paid_minor == paid
    assert (record.must_file, record.threshold_minor) == (must_file, 50_000)


def test_a_record_of_an_income_type_without_a_known_threshold_is_filed():
    record = payment_record(Recipient("h-1", "山田 花子"), 2022,
                            [WithholdingPayment(date(2022, 3, 25), INTEREST, 100, 20)])
    assert (record.must_file, record.threshold_minor) == (True, None)
    assert payment_record(Recipient("h-1", "山田 花子"), 2020, []).must_file is False


def test_the_summary_sheet_counts_records_filed_and_below_the_threshold():
    def record(code: str, gross: int) -> PaymentRecord:
        # gross × 20.42 %, truncated
        tax = gross * 2042 // 10_000
        return payment_record(Recipient(code, code), 2022, [
            WithholdingPayment(date(2022, 5, 30), TOKUMEI_KUMIAI, gross, tax)])

    records = [record("a", 50_001),   # filed:   tax 10,210 (50,001 × 20.42 % = 10,210.2)
               record("b", 120_000),  # filed:   tax 24,504
               record("c", 50_000),   # below:   tax 10,210
               record("d", 30_000)]   # below:   tax  6,126
    summary = record_summary(2022, records)
    # filed: 2 records, paid 50,001 + 120,000 = 170,001, withheld 10,210 + 24,504 = 34,714
    assert (summary.filed_count, summary.filed_paid_minor, summary.filed_withheld_minor) == (
        2, 170_001, 34_714)
    # below the threshold: 2 recipients, paid 80,000, withheld 10,210 + 6,126 = 16,336
    assert (summary.below_count, summary.below_paid_minor, summary.below_withheld_minor) == (
        2, 80_000, 16_336)
    assert (summary.total_count, summary.total_paid_minor, summary.total_withheld_minor) == (
        4, 250_001, 51_050)
