"""The four documents, read back the way an auditor's tools read them: text extracted with pypdf,
figures and Japanese strings checked, the font dictionary inspected, bytes compared."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from contracts.values import corporate_number_check_digit
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
                     "1,000,000円 0円 延滞中",
                     "継続率 宇部市 87.00% 83.50% 96.0% 2,000,000円 1,125,000円",
                     "返済予定と実績", "貸付残高の推移", "ACT/365（片端）",
                     "保証履行による回収 0円", "元本減額 0円"):
        assert expected in text, expected


def test_lender_statement_in_english(documents):
    pdf = documents["lender", "en"]
    text = _text(pdf)
    _assert_footer(text, _pages(pdf), "en")
    for expected in ("Lender statement", "The Yamaguchi Bank, Ltd. (株式会社山口銀行)", "FY2019",
                     "1 Apr 2019 – 31 Mar 2020", "Commitment JPY 30,000,000",
                     "Closing balance JPY 25,000,000", "1 Jul 2019 JPY 20,000,000",
                     "Continuation rate Ube City (宇部市) 87.00% 83.50% 96.0% JPY 2,000,000 "
                     "JPY 1,125,000", "Schedule against actual", "Loan balance over time",
                     "Guarantee recovery JPY 0", "Written down JPY 0"):
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
    _assert_footer(text, 2, "ja")
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
    _assert_footer(text, 2, "en")
    for expected in ("Outcome payment notice", "To: Ube City (宇部市)", "FY2019",
                     "Amount due JPY 6,187,500", "Due date 30 Jun 2020",
                     "of which grant-covered JPY 3,093,750", "Limit JPY 40,000,000",
                     "Budget authorisation (債務負担行為)", "FY2019 – FY2023",
                     # ≥ is not in IPAexGothic: the notice prints the Japanese form ≧.
                     "threshold met: 2512 ≧ 2400 = yes",
                     "share earned: (83.5 − 79) ÷ (87 − 79), within 0..1 = 0.5625",
                     "rounding: truncate: 1,125,000 → 1,125,000 (exact)"):
        assert expected in text, expected


# ---------------------------------------------------------------------------------------------
# The notice as a qualified invoice (適格請求書, 消費税法57条の4) and payment request: the items a
# finance office checks before it files and pays (issue 12, item 3 and acceptance 2).

_REGISTRATION = re.compile(r"T([0-9])([0-9]{12})")


def _registration_numbers(text: str) -> list[str]:
    """The registration numbers printed, each checked: T + 13 digits whose first is the
    corporate number's check digit over the other twelve."""
    found = []
    for match in _REGISTRATION.finditer(text):
        assert int(match[1]) == corporate_number_check_digit(match[2]), match[0]
        found.append(match[0])
    return found


# Every item, as each language prints it, of the fixture notice: Ube City's FY2019 outcome
# payment, 5,625,000 yen earned + 562,500 yen tax at 10 % on top = 6,187,500 yen, issued by
# Tsukuba Wellness Research (T5050001029384) on 1 June 2020 (令和2年6月1日), due 30 June 2020.
QUALIFIED_INVOICE_ITEMS = {
    "ja": {
        "issuer": "請求者: 株式会社つくばウエルネスリサーチ",
        "registration number": "登録番号: T5050001029384",
        "recipient": "宇部市 御中",
        "issue date (和暦)": "発行日: 令和2年6月1日",
        "what for": "件名 令和元年度（2019年度） 成果連動支払額",
        "period": "対象期間 平成31年4月1日～令和2年3月31日",
        "contract": "飛び地連携型大規模ヘルスケアプロジェクト（sib-2019-five）",
        "amount per rate with its tax": "税率別内訳 10%対象 5,625,000円 消費税額 562,500円",
        "amount due": "請求額 6,187,500円（税込）",
        "due date": "支払期日 令和2年6月30日",
        "remit to: bank": "金融機関 ヤマグチギンコウ（0170）",
        "remit to: branch": "支店 ホンテン（001）",
        "remit to: account": "預金種目・口座番号 普通 1234567",
        "remit to: holder": "口座名義（カナ） カ)ツクバウエルネスリサーチ",
        "document number": "文書番号: SIB2019-UBE-FY2019-01",
        "audit": "国立大学法人筑波大学 久野研究室 監査担当（久野研究室） 令和2年5月29日 "
                 "上記の全指標",
        "it says what it is": "適格請求書",
    },
    "en": {
        "issuer": "Issued by: Tsukuba Wellness Research Inc. (株式会社つくばウエルネスリサーチ)",
        "registration number": "Registration number: T5050001029384",
        "recipient": "To: Ube City (宇部市)",
        "issue date": "Date of issue: 1 Jun 2020",
        "what for": "For FY2019 outcome payment",
        "period": "Period 1 Apr 2019 – 31 Mar 2020",
        "contract": "Five-municipality health SIB (飛び地連携型大規模ヘルスケアプロジェクト) "
                    "(sib-2019-five)",
        "amount per rate with its tax": "Subject to 10%: JPY 5,625,000, consumption tax "
                                        "JPY 562,500",
        "amount due": "Amount due JPY 6,187,500 (tax included)",
        "due date": "Due date 30 Jun 2020",
        "remit to: bank": "Bank ヤマグチギンコウ (0170)",
        "remit to: branch": "Branch ホンテン (001)",
        "remit to: account": "Account Ordinary 1234567",
        "remit to: holder": "Account holder (kana) カ)ツクバウエルネスリサーチ",
        "document number": "Document: SIB2019-UBE-FY2019-01",
        "audit": "University of Tsukuba, Kuno laboratory 監査担当（久野研究室） 29 May 2020 "
                 "all results above",
        "it says what it is": "Qualified invoice (適格請求書)",
    },
}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_notice_carries_every_item_of_a_qualified_invoice(documents, lang):
    text = _text(documents["notice", lang])
    missing = {item: expected for item, expected in QUALIFIED_INVOICE_ITEMS[lang].items()
               if expected not in text}
    assert missing == {}
    assert _registration_numbers(text) == ["T5050001029384"]


def test_tax_included_in_the_amounts_is_stated_as_part_of_them():
    """The five-municipality contract states its amounts with tax: 13,965,528 yen earned
    includes 13,965,528 × 10/110 = 1,269,593.45… → 1,269,593 yen tax (truncated, once)."""
    notice = replace(payment_notice(), earned_lines=(replace(
        payment_notice().earned_lines[0], earned_minor=13_965_528),),
        earned_total_minor=13_965_528, consumption_tax_minor=1_269_593,
        amount_due_minor=13_965_528, grant_covered_minor=6_982_764, tax_included=True)
    ja, en = _text(render_payment_notice(notice, "ja")), _text(render_payment_notice(notice, "en"))
    for expected in ("税率別内訳 10%対象 13,965,528円（うち消費税額 1,269,593円）",
                     "請求額 13,965,528円（税込）", "成果額合計（税込） 13,965,528円",
                     "うち消費税額（10%） 1,269,593円"):
        assert expected in ja, expected
    for expected in ("Subject to 10%: JPY 13,965,528 (of which consumption tax JPY 1,269,593)",
                     "of which consumption tax (10%) JPY 1,269,593"):
        assert expected in en, expected


def test_the_rate_printed_is_the_contracts():
    """An 8 % rate (a reduced rate) prints as 8 %, nowhere 10 %: 5,625,000 × 0.08 = 450,000."""
    notice = replace(payment_notice(), tax_rate=Decimal("0.08"), consumption_tax_minor=450_000,
                     amount_due_minor=6_075_000)
    text = _text(render_payment_notice(notice, "ja"))
    assert "8%対象 5,625,000円 消費税額 450,000円" in text
    assert "消費税額（8%） 450,000円" in text
    assert "10%" not in text


def test_a_payee_without_a_bank_account_or_registration_is_named_as_such():
    notice = replace(payment_notice(), remit_to=None, registration_number=None)
    ja, en = _text(render_payment_notice(notice, "ja")), _text(render_payment_notice(notice, "en"))
    assert "受領者の振込先口座が登録されていません。お支払いの前に受領者へご確認ください。" in ja
    assert "登録番号: 未登録（本書は適格請求書ではありません）" in ja
    assert "令和元年度（2019年度）　適格請求書" not in ja
    assert "No bank account is registered for the payee: confirm the account with the payee " \
        "before paying." in en
    assert "Registration number: none (this notice is not a qualified invoice)" in en


def test_a_payment_without_consumption_tax_has_no_tax_line():
    """A payment that bears no consumption tax (a pound contract, or an exemption) from an
    unregistered payee: no tax line, no registration line, no 税込 mark."""
    notice = replace(payment_notice(), tax_rate=None, consumption_tax_minor=0,
                     amount_due_minor=5_625_000, grant_covered_minor=2_812_500,
                     registration_number=None)
    text = _text(render_payment_notice(notice, "en"))
    assert "Amount due JPY 5,625,000 Due date 30 Jun 2020" in text
    for absent in ("onsumption tax", "Subject to", "Registration number", "Qualified invoice",
                   "tax included"):
        assert absent not in text, absent


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
                     # opening, drawn, repaid, recovered from guarantor, written down, closing
                     "Total JPY 51,000,000 JPY 0 JPY 12,000,000 JPY 200,000 JPY 50,000 "
                     "JPY 38,750,000",
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
    assert "合計 30,000,000円 2,400,000円 0円 0円 0円 0円" in "\n".join(texts)


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
