"""The payment notices of the demo's five years as the qualified invoices (適格請求書) a finance
office files and pays from, held to the ledger (issue 12, item 3 and acceptance 2).

The demo's story (api.demo) is told in-process, as tests/test_tieout.py does, without rendering
its PDFs. Then: the ledger's 仮受消費税 (tax payable) is the consumption tax of the 25 notices
— each computed once per invoice, earned × 10/110, truncated; one real notice is rendered in
both languages and carries every item of a qualified invoice; its number, date of issue,
account and audits come from where they should.
"""

from __future__ import annotations

import io
import re
import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import delete
from sqlmodel import Session

from api import demo
from api.db import make_engine
from contracts.chart import Code
from contracts.values import corporate_number_check_digit
from investors import documents
from investors.formatting import format_date
from investors.pdf import render
from ledger import read
from settlement.runs import current_runs
from settlement.tables import PartyBankAccount, SettlementRun

C = "sib-2019-five-municipalities"
YEARS = range(2019, 2024)


@pytest.fixture(scope="module")
def demo_session(demo_story):
    """A session on the demo's books after its five years (conftest's ``demo_story``)."""
    engine = make_engine(demo_story[0])
    with Session(engine) as session:
        yield session
    engine.dispose()


def _notices(session: Session):
    for year in YEARS:
        ctx = documents.context(session, C, year)
        for payer in demo.PAYERS:
            yield documents.payment_notice(session, ctx, payer)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_tax_payable_is_the_consumption_tax_of_the_notices(demo_session):
    """The ledger's 仮受消費税 holds exactly the 25 notices' consumption tax, and nothing else
    (the contract's amounts include tax at 10 %: Ube FY2019's 13,965,528 yen holds
    13,965,528 × 10/110 = 1,269,593.45… → 1,269,593 yen)."""
    notices = list(_notices(demo_session))
    assert len(notices) == 25
    assert all(n.tax_included and n.tax_rate == Decimal("0.10") for n in notices)
    tax_payable = read.totals(demo_session, C, Code.TAX_PAYABLE)
    total = sum(n.consumption_tax_minor for n in notices)
    assert total > 0
    assert tax_payable.net_credit_minor == tax_payable.credits_minor == total


# FY2019 has two runs (interim and final) on one notice: the final run books the tax on the
# year's total less what the interim booked (Yawata: 5,160,342 yen holds 469,122 yen, exactly
# × 10/110; per run it would have been 62,410 + 406,711 = 469,121).
def test_each_notices_tax_is_computed_once_for_the_invoice(demo_session):
    """A qualified invoice computes its tax once per rate over its total: earned × 10/110,
    truncated. One notice per payer and year is one invoice, interim evaluation included."""
    wrong = {n.header.document_id: (n.consumption_tax_minor, n.earned_total_minor * 10 // 110)
             for n in _notices(demo_session)
             if n.consumption_tax_minor != n.earned_total_minor * 10 // 110}
    assert wrong == {}


def test_a_real_notice_carries_every_item_of_a_qualified_invoice(demo_session):
    ctx = documents.context(demo_session, C, 2021)
    notice = documents.payment_notice(demo_session, ctx, "ube")
    run = current_runs(demo_session, C)[(2021, "final")]
    settled = run.settled_on if run.settled_on.tzinfo else run.settled_on.replace(tzinfo=UTC)
    issued = settled.astimezone(documents.JST).date()
    earned, tax = notice.earned_total_minor, notice.consumption_tax_minor
    ja, en = _text(render(notice, "ja")), _text(render(notice, "en"))
    items = {
        "issuer": ("請求者: 株式会社つくばウエルネスリサーチ",
                   "Issued by: Tsukuba Wellness Research (株式会社つくばウエルネスリサーチ)"),
        "registration number": ("登録番号: T5050001029384",
                                "Registration number: T5050001029384"),
        "recipient": ("宇部市 御中", "To: Ube City (宇部市)"),
        "issue date": (f"発行日: {format_date(issued, 'ja')}",
                       f"Date of issue: {format_date(issued, 'en')}"),
        "what for": ("件名 令和3年度（2021年度） 成果連動支払額", "For FY2021 outcome payment"),
        "amount per rate with its tax": (
            f"10%対象 {earned:,}円（うち消費税額 {tax:,}円）",
            f"Subject to 10%: JPY {earned:,} (of which consumption tax JPY {tax:,})"),
        "due date": ("支払期日 令和4年5月31日", "Due date 31 May 2022"),
        "remit to": ("金融機関 ヤマグチギンコウ（0170）", "Bank ヤマグチギンコウ (0170)"),
        "account": ("預金種目・口座番号 普通 1234567", "Account Ordinary 1234567"),
        "holder": ("口座名義（カナ） カ)ツクバウエルネスリサーチ",
                   "Account holder (kana) カ)ツクバウエルネスリサーチ"),
        "document number": ("文書番号: SIB2019-UBE-FY2021-01",
                            "Document: SIB2019-UBE-FY2021-01"),
        "audit": ("国立大学法人筑波大学 久野研究室 tsukuba-kuno-lab (audit)",
                  "University of Tsukuba, Kuno laboratory tsukuba-kuno-lab (audit)"),
    }
    missing = {(item, lang): expected for item, pair in items.items()
               for lang, expected, text in zip(("ja", "en"), pair, (ja, en))
               if expected not in text}
    assert missing == {}
    for text in (ja, en):
        numbers = re.findall(r"T([0-9])([0-9]{12})", text)
        assert numbers == [("5", "050001029384")]
        assert corporate_number_check_digit(numbers[0][1]) == int(numbers[0][0])


def test_the_document_number_is_made_of_terms_and_stable(demo_session):
    first = [n.header.document_id for n in _notices(demo_session)]
    assert first == [n.header.document_id for n in _notices(demo_session)]
    assert len(set(first)) == 25
    assert first[:2] == ["SIB2019-UBE-FY2019-01", "SIB2019-TONO-FY2019-01"]
    assert first[-1] == "SIB2019-MISATO-FY2023-01"


def test_the_date_of_issue_is_the_settlements_day_in_japan():
    """Settled at 16:00 UTC on 31 May 2020 is 01:00 JST on 1 June: the notice is dated
    令和2年6月1日, not 31 May. With two runs in force (interim and final) the later counts."""
    runs = [SettlementRun(settled_on=datetime(2020, 5, 31, 16, 0, tzinfo=UTC)),
            SettlementRun(settled_on=datetime(2019, 11, 30, 2, 0, tzinfo=UTC))]
    fallback = datetime(2024, 1, 1, tzinfo=UTC)
    assert documents.notice_issued_on(runs, fallback, documents.JST) == date(2020, 6, 1)
    assert format_date(date(2020, 6, 1), "ja") == "令和2年6月1日"
    assert documents.notice_issued_on(runs, fallback, UTC) == date(2020, 5, 31)
    # No settlement yet: the ledger state's day.
    assert documents.notice_issued_on([], fallback, documents.JST) == date(2024, 1, 1)


def test_the_results_carry_their_audit(demo_session):
    ctx = documents.context(demo_session, C, 2019)
    notice = documents.payment_notice(demo_session, ctx, "ube")
    # Interim participants, then the final results: all audited by the demo's auditor.
    assert {r.evaluation for r in notice.kpi_results} == {"interim", "final"}
    for result in notice.kpi_results:
        assert result.audited_by == "tsukuba-kuno-lab (audit)"
        assert result.evaluator is not None
        assert result.evaluator.ja == "国立大学法人筑波大学 久野研究室"
        assert result.audited_on is not None


def test_a_payee_without_a_registered_account_is_named_on_the_notice(demo_session,
                                                                    tmp_path):
    """On a copy of the demo's database without the intermediary's bank account, the notice
    has no account to print and says so."""
    copy = tmp_path / "no-account.db"
    with sqlite3.connect(demo_session.get_bind().url.database) as source, \
            sqlite3.connect(copy) as target:
        source.backup(target)
    engine = make_engine(f"sqlite:///{copy}")
    try:
        with Session(engine) as session:
            session.execute(delete(PartyBankAccount).where(PartyBankAccount.party == "twr"))
            session.commit()
            notice = documents.payment_notice(session, documents.context(session, C, 2021),
                                              "ube")
            assert notice.remit_to is None
            assert "受領者の振込先口座が登録されていません" in _text(render(notice, "ja"))
    finally:
        engine.dispose()
