"""How each document language writes amounts, dates and labels."""

from __future__ import annotations

import locale
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from investors import pdf, pdf_pages, pdf_parts
from investors.formatting import (
    LABELS,
    format_amount,
    format_date,
    format_fiscal_year,
    format_kpi_value,
    format_multiple,
    format_percent,
    format_period,
    format_rate,
    format_timestamp,
    format_units,
    label,
    page_number,
)
from ledger.errors import SibError
from tests.test_investors_data import (
    investor_statement,
    lender_statement,
    payment_notice,
    year_end_report,
)

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff9f]")


def test_amounts_in_japanese():
    assert format_amount(1_234_567, "JPY", "ja") == "1,234,567円"
    assert format_amount(1_234_567, "JPY", "ja", style="symbol") == "￥1,234,567"
    assert format_amount(-1_000_000, "JPY", "ja") == "-1,000,000円"
    assert format_amount(0, "JPY", "ja") == "0円"
    assert format_amount(1_250, "GBP", "ja") == "GBP 12.50"


def test_amounts_in_english():
    assert format_amount(1_234_567, "JPY", "en") == "JPY 1,234,567"
    assert format_amount(1_234_567, "JPY", "en", style="symbol") == "¥1,234,567"
    assert format_amount(1_250, "GBP", "en") == "£12.50"
    assert format_amount(-123_456_789, "GBP", "en") == "-£1,234,567.89"
    assert format_amount(-500, "JPY", "en") == "JPY -500"
    assert format_amount(99, "CHF", "en") == "CHF 0.99"


def test_dates_in_both_calendars():
    end = date(2020, 3, 31)
    assert format_date(end, "ja") == "令和2年3月31日"
    assert format_date(end, "ja", "western") == "2020年3月31日"
    assert format_date(end, "ja", "both") == "令和2年3月31日（2020年3月31日）"
    assert format_date(date(2019, 5, 1), "ja") == "令和元年5月1日"
    assert format_date(date(2019, 4, 30), "ja") == "平成31年4月30日"
    assert format_date(end, "en") == "31 Mar 2020"


def test_english_dates_do_not_depend_on_the_machine_locale():
    previous = locale.setlocale(locale.LC_TIME)
    try:
        for name in ("ja_JP.UTF-8", "de_DE.UTF-8", "fr_FR.UTF-8"):
            try:
                locale.setlocale(locale.LC_TIME, name)
            except locale.Error:
                continue
            assert format_date(date(2020, 3, 31), "en") == "31 Mar 2020"
    finally:
        locale.setlocale(locale.LC_TIME, previous)


def test_fiscal_years():
    assert format_fiscal_year(2019, "ja") == "令和元年度"
    assert format_fiscal_year(2019, "ja", with_western=True) == "令和元年度（2019年度）"
    assert format_fiscal_year(2018, "ja") == "平成30年度"
    assert format_fiscal_year(2021, "ja") == "令和3年度"
    assert format_fiscal_year(2019, "en") == "FY2019"


def test_rates_percentages_and_multiples():
    assert format_percent(Decimal("20.42")) == "20.42%"
    assert format_percent(Decimal("20.315"), 3) == "20.315%"
    assert format_rate(Decimal("0.0425"), "en") == "4.25%"
    # Display rounding is half up through ledger.rounding: 4.0349… → 4.03, 4.035 → 4.04.
    assert format_rate(Decimal("0.040349999"), "ja") == "4.03%"
    assert format_rate(Decimal("0.04035"), "ja") == "4.04%"
    assert format_rate(Decimal("-0.1234"), "en") == "-12.34%"
    assert format_rate(None, "en") == "—" and format_rate(None, "ja") == "－"
    assert format_multiple(Decimal("1.03"), "ja") == "1.03倍"
    assert format_multiple(Decimal("0.68"), "en") == "0.68x"
    with pytest.raises(TypeError):
        format_percent(20.42)  # type: ignore[arg-type]


def test_units_kpi_values_periods_timestamps_and_page_numbers():
    assert format_units(20, "ja") == "20口" and format_units(1_000, "en") == "1,000 units"
    assert format_kpi_value(Decimal("2512"), "people", "ja") == "2,512人"
    assert format_kpi_value(Decimal("7200"), "people", "en") == "7,200 people"
    assert format_kpi_value(Decimal("83.5"), "percent", "en") == "83.50%"
    assert format_kpi_value(Decimal("8000"), "steps", "ja") == "8,000歩"
    assert format_period(date(2019, 4, 1), date(2020, 3, 31), "ja") == \
        "平成31年4月1日～令和2年3月31日"
    assert format_period(date(2019, 4, 1), date(2020, 3, 31), "en") == "1 Apr 2019 – 31 Mar 2020"
    moment = datetime(2020, 6, 30, 10, 0, tzinfo=timezone(timedelta(hours=9)))
    assert format_timestamp(moment, "ja") == "令和2年6月30日 10:00（UTC+09:00）"
    assert format_timestamp(moment, "en") == "30 Jun 2020 10:00 UTC+09:00"
    assert page_number(1, 3) == "1 / 3"


def test_every_label_exists_in_both_languages_and_japanese_labels_are_japanese():
    for key, forms in LABELS.items():
        assert set(forms) == {"ja", "en"}, key
        assert forms["ja"] and forms["en"], key
        assert JAPANESE.search(forms["ja"]), f"{key}: {forms['ja']!r} has no Japanese"
    assert label("fiscal_year", "ja") == "会計年度"
    with pytest.raises(SibError) as caught:
        label("no_such_label", "ja")
    assert caught.value.code == "LABEL_UNKNOWN"
    with pytest.raises(SibError) as caught:
        format_amount(1, "JPY", "fr")
    assert caught.value.code == "LANG_UNKNOWN"


def test_each_document_uses_only_labels_listed_for_its_kind(monkeypatch):
    """The labels a kind prints are seeded into its first font subset; a label missing from
    the list would still print, only less efficiently — this keeps the lists complete."""
    used: set[str] = set()

    def recording(key: str, lang: str) -> str:
        used.add(key)
        return label(key, lang)

    # Labels are looked up by the page furniture and by each document's formatting.
    for module in (pdf_pages, pdf_parts):
        monkeypatch.setattr(module, "label", recording)
    for build in (lender_statement, investor_statement, payment_notice, year_end_report):
        document = build()
        for lang in ("ja", "en"):
            used.clear()
            pdf.render(document, lang)
            assert used <= set(pdf.KIND_LABELS[document.kind]), used - set(
                pdf.KIND_LABELS[document.kind])
    assert set(LABELS) >= {k for keys in pdf.KIND_LABELS.values() for k in keys}
