"""The four documents, read back the way an auditor's tools read them: text extracted with pypdf,
figures and Japanese strings checked, the font dictionary inspected, bytes compared."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from investors.pdf import (
    render,
    render_investor_statement,
    render_lender_statement,
    render_payment_notice,
    render_year_end_report,
)
from investors.statement_data import Holder, ScheduleRow, Text
from ledger.errors import SibError
from tests.test_investors_data import (
    LEDGER_HASH,
    investor_statement,
    lender_statement,
    payment_notice,
    year_end_report,
)

ROOT = Path(__file__).resolve().parent.parent


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _assert_footer(text: str, pages: int, lang: str) -> None:
    assert LEDGER_HASH in text
    assert "sib ledger verify" in text
    for page in range(1, pages + 1):
        assert f"{page} / {pages}" in text
    if lang == "ja":
        assert "台帳状態ハッシュ" in text and "作成日時" in text
    else:
        assert "Ledger state hash" in text and "Generated" in text


@pytest.fixture(scope="module")
def documents() -> dict[tuple[str, str], bytes]:
    """Every document in both languages, rendered once for the module."""
    builders = {"lender": lender_statement, "investor": investor_statement,
                "notice": payment_notice, "year_end": year_end_report}
    return {(name, lang): render(build(), lang)
            for name, build in builders.items() for lang in ("ja", "en")}


def test_lender_statement_in_japanese(documents):
    pdf = documents["lender", "ja"]
    text = _text(pdf)
    _assert_footer(text, _pages(pdf), "ja")
    for expected in ("融資残高報告書", "株式会社山口銀行", "株式会社つくばウエルネスリサーチ",
                     "令和元年度（2019年度）", "平成31年4月1日～令和2年3月31日",
                     "融資枠 30,000,000円", "期末残高 25,000,000円", "発生利息 155,122円",
                     "令和元年7月1日 20,000,000円", "令和元年10月1日 10,000,000円",
                     "令和2年3月31日 6,000,000円 52,931円 5,000,000円 52,931円 令和2年3月31日 "
                     "-1,000,000円",
                     "継続率 宇部市 87.00% 83.50% 96.0% 2,000,000円 1,125,000円",
                     "返済予定と実績", "貸付残高の推移", "ACT/365（片端）"):
        assert expected in text, expected


def test_lender_statement_in_english(documents):
    pdf = documents["lender", "en"]
    text = _text(pdf)
    _assert_footer(text, _pages(pdf), "en")
    for expected in ("Lender statement", "The Yamaguchi Bank, Ltd. (株式会社山口銀行)", "FY2019",
                     "1 Apr 2019 – 31 Mar 2020", "Commitment JPY 30,000,000",
                     "Closing balance JPY 25,000,000", "1 Jul 2019 JPY 20,000,000",
                     "Continuation rate Ube City (宇部市) 87.00% 83.50% 96.0% JPY 2,000,000 "
                     "JPY 1,125,000", "Schedule against actual", "Loan balance over time"):
        assert expected in text, expected


def test_investor_statement_in_japanese(documents):
    pdf = documents["investor", "ja"]
    text = _text(pdf)
    _assert_footer(text, 1, "ja")
    for expected in ("出資者取引報告書", "令和3年度（2021年度）", "山田 花子（ヤマダ ハナコ）",
                     "h-000123", "匿名組合出資（劣後）", "保有口数 20口", "50,000円",
                     "期首残高 0円", "出資払込 1,000,000円", "分配金（税引前） -30,000円",
                     "期末残高 1,000,000円",
                     "令和4年3月25日 匿名組合契約の利益の分配 30,000円 6,126円 23,874円",
                     "投下資本倍率 1.03倍", "内部収益率（年率・XIRR） 4.03%", "個人"):
        assert expected in text, expected


def test_investor_statement_in_english(documents):
    text = _text(documents["investor", "en"])
    _assert_footer(text, 1, "en")
    for expected in ("Investor statement", "FY2021", "Hanako Yamada (山田 花子)",
                     "Units held 20 units", "Contributions JPY 1,000,000",
                     "25 Mar 2022 Silent-partnership distribution JPY 30,000 JPY 6,126 "
                     "JPY 23,874", "Multiple on invested capital 1.03x",
                     "IRR to date (XIRR, annual) 4.03%"):
        assert expected in text, expected


def test_payment_notice_in_japanese(documents):
    text = _text(documents["notice", "ja"])
    _assert_footer(text, 1, "ja")
    for expected in ("成果連動支払額通知書", "宇部市 御中", "令和元年度（2019年度）",
                     "請求額 6,187,500円", "支払期日 令和2年6月30日",
                     "参加者数 3,000,000円 3,000,000円", "継続率 2,000,000円 1,125,000円",
                     "算定根拠", "基準値の達成：2,512人 ≧ 2,400人 → 達成",
                     "支払割合：(83.5 − 79) ÷ (87 − 79)（0～1の範囲に限る） = 0.5625（56.25%）",
                     "算定額：0.5625 × 2,000,000円 = 1,125,000円",
                     "端数処理（切り捨て）：1,125,000円 → 1,125,000円（端数なし）",
                     "成果額合計 5,625,000円", "消費税額（10%） 562,500円",
                     "うち交付金対象額 3,093,750円", "限度額 40,000,000円",
                     "支払済額 2,000,000円", "残額 31,812,500円",
                     "令和5年度（2023年度） 8,000,000円 0円", "合計 40,000,000円 2,000,000円"):
        assert expected in text, expected
    for english in ("threshold met", "share earned", "rounding", "truncate", "maximum", "yes"):
        assert english not in text, english


def test_payment_notice_in_english(documents):
    text = _text(documents["notice", "en"])
    _assert_footer(text, 1, "en")
    for expected in ("Outcome payment notice", "To: Ube City (宇部市)", "FY2019",
                     "Amount due JPY 6,187,500", "Due date 30 Jun 2020",
                     "of which grant-covered JPY 3,093,750", "Limit JPY 40,000,000",
                     "Budget authorisation (債務負担行為)", "FY2019 – FY2023",
                     # ≥ is not in IPAexGothic: the notice prints the Japanese form ≧.
                     "threshold met: 2512 ≧ 2400 = yes",
                     "share earned: (83.5 − 79) ÷ (87 − 79), within 0..1 = 0.5625",
                     "rounding: truncate: 1,125,000 → 1,125,000 (exact)"):
        assert expected in text, expected


def test_year_end_report_in_japanese_runs_over_two_pages(documents):
    pdf = documents["year_end", "ja"]
    text = _text(pdf)
    assert _pages(pdf) == 2
    _assert_footer(text, 2, "ja")
    for expected in ("年度末精算報告書", "令和3年度（2021年度）", "宇部市", "遠野市", "八幡市",
                     "指宿市", "美里町", "株式会社山口銀行", "株式会社埼玉りそな銀行",
                     "株式会社タニタヘルスリンク", "匿名組合出資（優先）",
                     "八幡市 4,000,000円 3,514,500円 0円 3,514,500円 1,757,250円",
                     "合計 17,600,000円 14,183,400円 10,668,900円 3,514,500円 7,091,700円",
                     "成果指標の達成率", "試算表", "合計 57,463,400円 57,463,400円"):
        assert expected in text, expected


def test_year_end_report_in_english(documents):
    text = _text(documents["year_end", "en"])
    _assert_footer(text, 2, "en")
    for expected in ("Year-end settlement report", "FY2021", "Ube City (宇部市)",
                     "Total JPY 51,000,000 JPY 0 JPY 12,000,000 JPY 250,000 JPY 38,750,000",
                     "KPI achievement", "Trial balance", "Total JPY 57,463,400 JPY 57,463,400"):
        assert expected in text, expected


def test_the_same_data_gives_the_same_bytes_whatever_was_rendered_before():
    first = render_investor_statement(investor_statement(), "ja")
    render_year_end_report(year_end_report(), "ja")
    render_lender_statement(lender_statement(), "en")
    assert render_investor_statement(investor_statement(), "ja") == first
    assert render_payment_notice(payment_notice(), "en") == \
        render_payment_notice(payment_notice(), "en")


def test_the_same_data_gives_the_same_bytes_in_a_fresh_process():
    script = ("import hashlib, sys; from investors.pdf import render; "
              "from tests.test_investors_data import lender_statement; "
              "sys.stdout.write(hashlib.sha256(render(lender_statement(), 'ja')).hexdigest())")
    fresh = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout
    assert fresh == hashlib.sha256(render_lender_statement(lender_statement(), "ja")).hexdigest()


def test_the_timestamp_comes_from_the_data():
    data = investor_statement()
    later = replace(data, header=replace(data.header,
                                         generated_at=data.header.generated_at.replace(hour=11)))
    assert "11:00" in _text(render_investor_statement(later, "ja"))
    assert render_investor_statement(later, "ja") != render_investor_statement(data, "ja")


def _fonts(pdf: bytes) -> list[dict]:
    fonts = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.append(font.get_object())
    return fonts


@pytest.mark.parametrize("key", [("lender", "ja"), ("investor", "en"), ("notice", "ja"),
                                 ("year_end", "en")])
def test_every_font_is_an_embedded_ipaexgothic_subset(documents, key):
    fonts = _fonts(documents[key])
    assert fonts
    assert b"Helvetica" not in documents[key]  # no viewer-dependent standard font either
    for font in fonts:
        assert font["/Subtype"] == "/TrueType"
        assert str(font["/BaseFont"]).endswith("+IPAexGothic")
        descriptor = font["/FontDescriptor"].get_object()
        font_file = descriptor["/FontFile2"].get_object()
        assert font_file["/Length1"] > 0 and len(font_file.get_data()) == font_file["/Length1"]
        assert "/ToUnicode" in font


def test_a_long_schedule_splits_across_pages_and_repeats_its_header():
    data = lender_statement()
    loan = data.loans[0]
    rows = tuple(ScheduleRow(date(2020 + i // 12, i % 12 + 1, 28), 250_000, 20_000)
                 for i in range(120))
    long = replace(data, loans=(replace(loan, schedule=rows),))
    pdf = render_lender_statement(long, "ja")
    pages = _pages(pdf)
    assert pages >= 3
    texts = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert sum("元金（予定）" in t for t in texts) >= 2
    assert f"{pages} / {pages}" in texts[-1]
    assert "合計 30,000,000円 2,400,000円 0円 0円 -32,400,000円" in "\n".join(texts)


def test_a_character_the_font_lacks_is_shown_as_a_geta_mark():
    data = investor_statement()
    odd = replace(data, holder=replace(data.holder, name=Text("𠮷田 花子", "Hanako Yoshida")))
    text = _text(render_investor_statement(odd, "ja"))
    assert "〓田 花子" in text


def test_documents_refuse_an_unknown_language():
    with pytest.raises(SibError) as caught:
        render(investor_statement(), "fr")
    assert caught.value.code == "LANG_UNKNOWN"


def test_statements_of_a_class_add_up_to_the_year_end_class_total():
    """Each holder's statement shows their distributions; together they are the class's."""
    base = investor_statement()
    holders = [("h-000123", 30_000, 6_126), ("h-000200", 15_000, 3_063)]
    statements = []
    for holder_id, gross, withheld in holders:
        account = replace(base.capital_account, holder_id=holder_id, income_minor=gross,
                          distributions_gross_minor=gross,
                          distributions_withheld_minor=withheld)
        statements.append(replace(
            base, holder=Holder(holder_id, Text("市民", "Citizen")), capital_account=account,
            distributions=(replace(base.distributions[0], gross_minor=gross,
                                   withheld_minor=withheld),)))
    texts = [_text(render_investor_statement(s, "ja")) for s in statements]
    assert "合計 30,000円 6,126円 23,874円" in texts[0]
    assert "合計 15,000円 3,063円 11,937円" in texts[1]
    assert sum(s.capital_account.distributions_gross_minor for s in statements) == 45_000
