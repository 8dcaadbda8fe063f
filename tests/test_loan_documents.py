"""What a bank receives besides its statement (issue 11, item 5; acceptance 4): the balance
confirmation (残高証明書), the interest statement (利息計算書) and the repayment notice
(返済予定通知書), every figure held to the ledger, in ja and en, PDF and JSON.

The story, a small SIB written here. The SPV borrows from two banks on 1 April 2021:
- あおば銀行 lends 10,000,000 of a 12,000,000 commitment at 2 %, ACT/365F 片端, truncated,
  元金均等 in two instalments on the month ends 30 Sep 2021 and 31 Mar 2022, with 遅延損害金
  at 14.6 % a year on overdue principal and interest;
- みなと銀行 lends 1,000,000 at 1 %, a bullet on 31 Mar 2023 (interest every 31 March).
The provider's fixed fee, 10,950,000, leaves the SPV 50,000 of the 11,000,000 drawn.

30 Sep 2021, instalment 1 of あおば: interest 10,000,000 × 2 % × 182/365 (1 Apr – 30 Sep, the
first day counted, not the last) = 7,280,000/73 = 99,726.03 → 99,726; principal 5,000,000. The
SPV has 50,000: it pays 50,000 of the interest (民法489条: interest before principal); 49,726
of interest and 5,000,000 of principal are overdue from 1 October.
20 Oct 2021, a holder subscribes 5,100,000 for units: the arrears are paid with 20 days of
遅延損害金, per arrear, truncated: 49,726 × 14.6 % × 20/365 = 397.8 → 397 and
5,000,000 × 14.6 % × 20/365 = 40,000; 40,397 of default interest, then 49,726, then
5,000,000; 9,877 is left.
31 Mar 2022, instalment 2: interest on the principal performing — 5,000,000 (the overdue
instalment bore default interest, not interest, from 30 Sep) × 2 % × 182/365 = 49,863.01 →
49,863; the SPV pays 9,877 of it.
"""

from __future__ import annotations

import io
from datetime import date
from fractions import Fraction

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from typer.testing import CliRunner

from api import db
from api.cli import app as cli_app
from api.main import create_app
from api.settings import get_settings
from api.users import add_user, create_token
from contracts.chart import Code, Kind
from contracts.store import get_contract, load_contract
from contracts.validate import validate_document
from investors.loan_document_data import document_json
from investors.loan_documents import balance_confirmation, interest_statement, repayment_notice
from investors.pdf_loan_documents import render_loan_document
from investors.store import HolderSpec, add_holder, subscribe
from ledger import read
from ledger.errors import SibError
from settlement.debt_service import find_loan, read_state, service
from settlement.payments import draw_loans, pay_fixed_fees

C = "loan-docs-sib"
DRAWN_ON = date(2021, 4, 1)
FIRST_DUE, SECOND_DUE = date(2021, 9, 30), date(2022, 3, 31)
PAID_LATE_ON = date(2021, 10, 20)
FEE = 11_000_000 - 50_000


def document() -> dict:
    return {
        "id": C, "name_ja": "融資書類テスト", "name_en": "Loan documents SIB", "currency": "JPY",
        "first_fiscal_year": 2021, "last_fiscal_year": 2022,
        "consumption_tax": {"exempt_reason": "test contract: no tax, to keep the figures plain"},
        "parties": [
            {"id": "city", "name_ja": "市", "name_en": "The City", "kind": "municipality",
             "roles": ["outcome_payer"]},
            {"id": "spv", "name_ja": "合同会社テストSPV", "name_en": "Test SPV LLC",
             "kind": "spv", "roles": ["intermediary"]},
            {"id": "provider", "name_ja": "事業者", "kind": "company",
             "roles": ["service_provider"]},
            {"id": "bank-a", "name_ja": "株式会社あおば銀行", "name_en": "The Aoba Bank",
             "kind": "bank", "roles": ["lender"]},
            {"id": "bank-b", "name_ja": "株式会社みなと銀行", "name_en": "The Minato Bank",
             "kind": "bank", "roles": ["lender"]},
            {"id": "evaluator", "name_ja": "評価機関", "kind": "university",
             "roles": ["evaluator"]}],
        "payers": [{"party": "city", "authorisation": {
            "max_amount": "10,000,000", "from_fiscal_year": 2021, "to_fiscal_year": 2022}}],
        "providers": [{"party": "provider", "paid_by": "spv",
                       "fixed_by_year": {2021: f"{FEE:,}"}}],
        "instruments": [
            {"type": "loan", "id": "loan-a", "lender": "bank-a", "borrower": "spv",
             "commitment": "12,000,000", "rate_annual": "0.02", "seniority": 1,
             "default_interest_rate_annual": "0.146",
             "draws": [{"drawn_on": DRAWN_ON.isoformat(), "amount": "10,000,000"}],
             "repayment": {"profile": "equal_principal", "instalments": 2,
                           "frequency_months": 6, "first_repayment_on": FIRST_DUE.isoformat(),
                           "end_of_month": True}},
            {"type": "loan", "id": "loan-b", "name_ja": "事業資金（劣後）",
             "name_en": "Working capital (junior)", "lender": "bank-b", "borrower": "spv",
             "commitment": "1,000,000", "rate_annual": "0.01", "seniority": 2,
             "draws": [{"drawn_on": DRAWN_ON.isoformat(), "amount": "1,000,000"}],
             "repayment": {"profile": "bullet", "first_repayment_on": "2023-03-31"}},
            {"type": "unit_class", "id": "units", "issuer": "spv", "unit_price": "100,000",
             "units_offered": 100, "seniority": 3, "principal": "at_risk",
             "tax_category": "tokumei_kumiai", "first_sale_fiscal_year": 2021}],
        "kpis": [{"id": "participants", "unit": "people", "direction": "higher",
                  "targets": {2021: "1000"}, "evaluator": "evaluator"}],
        "tranches": [{"id": "participants-2021", "kpi": "participants", "fiscal_year": 2021,
                      "max_amount": "10,000,000", "rule": {"type": "pro_rata"}}],
    }


def tell_the_story(session) -> None:
    terms, problems = validate_document(document(), "loan-docs.yaml")
    assert problems == []
    load_contract(session, terms)
    draw_loans(session, C, DRAWN_ON)
    pay_fixed_fees(session, C, 2021, date(2021, 4, 15))
    service(session, C, date(2021, 10, 19))
    add_holder(session, HolderSpec("h-ito", "individual", "伊藤 一郎", "イトウ イチロウ",
                                   tax_category="individual"))
    subscribe(session, C, "units", "h-ito", 51, PAID_LATE_ON)
    service(session, C, date(2022, 4, 30))


@pytest.fixture
def story(session):
    tell_the_story(session)
    session.commit()
    return session


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def _balance(session, account: str, on: date) -> int:
    return read.totals(session, C, account, through_on=on).net_credit_minor


def _money(amount: int) -> dict[str, str]:
    return {"amount": str(amount), "currency": "JPY"}


# --------------------------------------------------------------------------- 残高証明書

def test_the_confirmation_during_the_arrears_holds_every_figure_to_the_ledger(story):
    on = date(2021, 10, 15)
    doc = balance_confirmation(story, C, "loan-a", on, issued_on=date(2021, 10, 18))
    contract = get_contract(story, C)
    state = read_state(story, contract, find_loan(contract, "loan-a"), on)
    # Principal: nothing repaid yet; the loan account's balance at the end of the day.
    assert doc.principal_minor == _balance(story, Code.loan("loan-a"), on) == 10_000_000
    assert doc.principal_minor == state.outstanding_minor
    # Interest booked and unpaid: the interest-payable account (99,726 accrued − 50,000 paid).
    assert doc.interest_payable_minor == _balance(story, Code.interest_payable("loan-a"), on)
    assert doc.interest_payable_minor == 99_726 - 50_000 == 49_726
    assert doc.default_interest_booked_minor == 0  # nothing booked before a payment date
    # Overdue: instalment 1's principal and the unpaid part of its interest.
    assert (doc.overdue_principal_minor, doc.overdue_interest_minor) == (5_000_000, 49_726)
    assert (doc.overdue_principal_minor, doc.overdue_interest_minor) == (
        state.overdue_principal_minor, state.overdue_interest_minor)
    # 遅延損害金, 1–15 October, 15 days, per arrear: 49,726 × 0.146 × 15/365 = 298.36 → 298;
    # 5,000,000 × 0.146 × 15/365 = 30,000. Nothing paid of it.
    assert int(49_726 * Fraction("0.146") * 15 / 365) == 298
    assert doc.default_interest_owed_minor == 298 + 30_000 == state.default_interest_owed_minor
    [arrear] = doc.arrears
    assert (arrear.due_on, arrear.days_late, arrear.principal_minor, arrear.interest_minor,
            arrear.default_interest_owed_minor) == (FIRST_DUE, 15, 5_000_000, 49_726, 30_298)
    # Interest running on the 5,000,000 performing, 30 Sep – 15 Oct counting both (to the end
    # of the 15th): 16 days, 5,000,000 × 0.02 × 16/365 = 4,383.56 → 4,383.
    assert doc.interest_running_minor == 4_383 == state.interest_running_minor
    # The next due date and the commitment.
    assert doc.next_due is not None
    assert (doc.next_due.due_on, doc.next_due.principal_minor, doc.next_due.interest_minor) \
        == (SECOND_DUE, 5_000_000, 49_863)
    drawn = read.totals(story, C, Code.loan("loan-a"), kinds=[Kind.LOAN_DRAWDOWN],
                        through_on=on).credits_minor
    assert (doc.loan.commitment_minor, doc.drawn_minor, doc.undrawn_minor) == (
        12_000_000, drawn, 2_000_000)
    # Named as the lender statement names it, never by its bare id.
    assert (doc.loan.name.ja, doc.loan.name.en) == ("株式会社あおば銀行 貸付金",
                                                    "Loan from The Aoba Bank")


def test_the_confirmation_after_the_late_payment_and_on_a_due_date(story):
    # 20 Oct: the arrears paid with 40,397 of 遅延損害金; principal 5,000,000 left, not due.
    after = balance_confirmation(story, C, "loan-a", PAID_LATE_ON)
    assert after.principal_minor == _balance(story, Code.loan("loan-a"), PAID_LATE_ON) \
        == 5_000_000
    assert (after.overdue_principal_minor, after.overdue_interest_minor,
            after.default_interest_owed_minor, after.arrears) == (0, 0, 0, ())
    assert after.interest_payable_minor == 0
    # 15 Apr 2022: instalment 2 unpaid but for 9,877 of its interest. Overdue 5,000,000 and
    # 49,863 − 9,877 = 39,986; 遅延損害金 1–15 April: 39,986 × 0.146 × 15/365 = 239.9 → 239,
    # 5,000,000 × 0.146 × 15/365 = 30,000. Nothing comes due after it.
    on = date(2022, 4, 15)
    late = balance_confirmation(story, C, "loan-a", on)
    assert (late.principal_minor, late.overdue_principal_minor, late.overdue_interest_minor,
            late.default_interest_owed_minor, late.next_due) == (
        5_000_000, 5_000_000, 39_986, 30_239, None)
    assert late.interest_payable_minor == _balance(story, Code.interest_payable("loan-a"), on) \
        == 39_986
    # みなと銀行's loan has no default-interest term: its unpaid 9,972 bears none.
    junior = balance_confirmation(story, C, "loan-b", on)
    assert (junior.overdue_interest_minor, junior.default_interest_owed_minor) == (9_972, 0)
    assert junior.loan.name.ja == "事業資金（劣後）"


def test_the_confirmation_reads_as_a_bank_writes_it_in_both_languages(story):
    doc = balance_confirmation(story, C, "loan-a", date(2021, 10, 15),
                               issued_on=date(2021, 10, 18))
    ja = _text(render_loan_document(doc, "ja"))
    for expected in ("残高証明書", "令和3年10月15日現在", "合同会社テストSPV　御中",
                     "株式会社あおば銀行 貸付金", "貸付金残高（元金） 10,000,000円",
                     "うち延滞元金 5,000,000円", "延滞利息（約定日到来・未払） 49,726円",
                     "遅延損害金（基準日までの発生額・未払） 30,298円", "4,383円",
                     "令和4年3月31日 5,000,000円 49,863円 5,049,863円",
                     "令和3年9月30日 5,000,000円 49,726円 15 30,298円 0円 30,298円",
                     "未払利息計上額 49,726円", "14.600%", "融資枠 12,000,000円",
                     "発行日　令和3年10月18日", "以上"):
        assert expected in ja, expected
    en = _text(render_loan_document(doc, "en"))
    for expected in ("Balance confirmation", "at the end of 15 Oct 2021",
                     "To: Test SPV LLC (合同会社テストSPV)", "Loan from The Aoba Bank",
                     "Principal outstanding JPY 10,000,000", "of which overdue JPY 5,000,000",
                     "JPY 30,298", "JPY 4,383", "Undrawn JPY 2,000,000"):
        assert expected in en, expected


def test_the_confirmation_as_json_carries_money_as_strings(story):
    data = document_json(balance_confirmation(story, C, "loan-a", date(2021, 10, 15)))
    assert data["principal"] == _money(10_000_000)
    assert data["overdue_interest"] == _money(49_726)
    assert data["default_interest_owed"] == _money(30_298)
    assert data["interest_payable_booked"] == _money(49_726)
    assert data["next_due"]["total"] == _money(5_049_863)
    assert data["arrears"][0]["days_late"] == 15
    assert data["loan"]["default_rate_annual"] == "0.146"


# --------------------------------------------------------------------------- 利息計算書

def test_the_interest_statement_shows_the_period_the_rounding_and_the_payments(story):
    doc = interest_statement(story, C, "loan-a", FIRST_DUE, as_of=date(2021, 12, 31))
    assert (doc.number, doc.period_start_on, doc.due_on) == (1, DRAWN_ON, FIRST_DUE)
    [stretch] = doc.stretches
    assert (stretch.principal_minor, stretch.days, stretch.basis_days, stretch.rate_annual) \
        == (10_000_000, 182, 365, Fraction("0.02"))
    # 10,000,000 × 0.02 × 182/365 = 7,280,000/73 = 99,726.027… → truncated to 99,726.
    assert doc.exact_minor == Fraction(7_280_000, 73)
    assert (doc.interest_minor, doc.rounding.value) == (99_726, "truncate")
    # Paid 50,000 on the due date and 49,726 on 20 October: the ledger's interest payments
    # naming the due date.
    ledger_paid = [(p.effective_on, p.amount_minor) for p in read.postings(
        story, C, account=Code.interest_payable("loan-a"), kinds=[Kind.INTEREST_PAYMENT])
        if p.links.get("due_on") == FIRST_DUE.isoformat()]
    assert [(p.paid_on, p.amount_minor) for p in doc.payments] == ledger_paid == [
        (FIRST_DUE, 50_000), (PAID_LATE_ON, 49_726)]
    assert doc.interest_unpaid_minor == 0
    # 遅延損害金 on it: 397 on the interest and 40,000 on the principal, paid 20 October.
    assert doc.default_interest_minor == 40_397
    assert [(p.paid_on, p.amount_minor) for p in doc.default_interest_payments] == [
        (PAID_LATE_ON, 40_397)]
    # The calculation is the instalment's own trace, rendered in each language.
    assert any("182 / 365" in line.ja and "切り捨て" in doc.trace[-1].ja for line in doc.trace)
    assert "truncate" in doc.trace[-1].en

    ja = _text(render_loan_document(doc, "ja"))
    for expected in ("利息計算書", "自 令和3年4月1日　至 令和3年9月30日",
                     "令和3年4月1日 令和3年9月30日 10,000,000円 182/365 2.000% 99,726.027397…円",
                     "端数処理 切り捨て", "約定利息 99,726円", "令和3年9月30日 50,000円",
                     "令和3年10月20日 49,726円", "令和3年10月20日 40,397円",
                     "遅延損害金 40,397円", "第1回"):
        assert expected in ja, expected
    en = _text(render_loan_document(doc, "en"))
    for expected in ("Interest statement", "1 Apr 2021 30 Sep 2021 JPY 10,000,000 182/365",
                     "JPY 99,726.027397…", "Interest due JPY 99,726", "Rounding truncate"):
        assert expected in en, expected
    data = document_json(doc)
    assert data["interest"] == _money(99_726)
    assert data["exact_minor"] == "7280000/73"
    assert data["payments"][1] == {"paid_on": "2021-10-20", "amount": _money(49_726)}


def test_the_second_period_runs_on_the_principal_performing(story):
    doc = interest_statement(story, C, "loan-a", SECOND_DUE, as_of=date(2022, 4, 15))
    # The overdue 5,000,000 left the interest base on 30 Sep (it bore 遅延損害金 instead): the
    # period runs on 5,000,000 throughout, one stretch (the late payment of 20 Oct does not
    # move the performing balance, so it does not split it): 182 days, 5,000,000 × 0.02 ×
    # 182/365 = 49,863.01 →
    # 49,863; 9,877 paid; 遅延損害金 30,239 to 15 Apr (see the confirmation's test).
    assert [(s.since_on, s.until_on, s.principal_minor, s.days) for s in doc.stretches] == [
        (FIRST_DUE, SECOND_DUE, 5_000_000, 182)]
    assert doc.exact_minor == Fraction(5_000_000 * 2 * 182, 100 * 365)
    assert (doc.interest_minor, doc.interest_paid_minor, doc.interest_unpaid_minor,
            doc.default_interest_minor) == (49_863, 9_877, 39_986, 30_239)


# --------------------------------------------------------------------------- 返済予定通知書

def test_the_notice_asks_for_the_instalment_and_the_arrears_to_the_due_date(story):
    # Sent on 15 Oct 2021 for 31 Mar 2022, the ledger showing the arrears of 30 Sep: with
    # 遅延損害金 from 1 Oct to 31 Mar (182 days), 49,726 × 0.146 × 182/365 = 3,620.0 → 3,620,
    # 5,000,000 × 0.146 × 182/365 = 364,000; then the instalment itself.
    doc = repayment_notice(story, C, "loan-a", SECOND_DUE, notice_on=date(2021, 10, 15))
    assert sorted((line.component, line.due_on, line.amount_minor) for line in doc.lines) == [
        ("default_interest", FIRST_DUE, 367_620), ("interest", FIRST_DUE, 49_726),
        ("interest", SECOND_DUE, 49_863), ("principal", FIRST_DUE, 5_000_000),
        ("principal", SECOND_DUE, 5_000_000)]
    assert doc.total_minor == 10_467_209
    assert doc.principal_after_minor == 0
    # Sent the day before, the arrears are paid: only the instalment, as scheduled.
    doc = repayment_notice(story, C, "loan-a", SECOND_DUE, notice_on=date(2022, 3, 30))
    assert [(line.component, line.amount_minor) for line in doc.lines] == [
        ("interest", 49_863), ("principal", 5_000_000)]
    assert (doc.total_minor, doc.principal_after_minor) == (5_049_863, 0)
    ja = _text(render_loan_document(doc, "ja"))
    for expected in ("返済予定通知書", "株式会社あおば銀行　御中", "通知者（借入人）",
                     "今回約定分 令和4年3月31日 利息 49,863円",
                     "今回約定分 令和4年3月31日 元金 5,000,000円", "返済予定額合計 5,049,863円"):
        assert expected in ja, expected
    en = _text(render_loan_document(doc, "en"))
    assert "Total due JPY 5,049,863" in en
    assert document_json(doc)["total"] == _money(5_049_863)


def test_a_date_that_is_not_a_due_date_or_a_notice_after_it_is_refused(story):
    with pytest.raises(SibError) as caught:
        interest_statement(story, C, "loan-a", date(2021, 9, 29))
    assert caught.value.code == "LOAN_DUE_DATE_NOT_FOUND"
    assert "2021-09-30, 2022-03-31" in str(caught.value.problems[0].message)
    with pytest.raises(SibError) as caught:
        repayment_notice(story, C, "loan-a", FIRST_DUE, notice_on=date(2021, 10, 1))
    assert caught.value.code == "NOTICE_AFTER_DUE_DATE"
    with pytest.raises(SibError) as caught:
        balance_confirmation(story, C, "loan-z", date(2021, 10, 1))
    assert caught.value.code == "LOAN_NOT_FOUND"
    with pytest.raises(SibError) as caught:
        balance_confirmation(story, C, "loan-a", date(2021, 10, 15), date(2021, 10, 14))
    assert caught.value.code == "CONFIRMATION_BEFORE_AS_OF"


# --------------------------------------------------------------------------- edges

USERS = [("ana", "intermediary", None), ("aoba", "lender", "bank-a"),
         ("minato", "lender", "bank-b"), ("city", "finance_officer", "city")]


@pytest.fixture
def client(db_url):
    with db.unit_of_work(db_url) as session:
        tell_the_story(session)
        tokens = {name: (add_user(session, name, role, scope), create_token(session, name))[1]
                  for name, role, scope in USERS}
    with TestClient(create_app(db_url)) as c:
        c.tokens = tokens
        yield c


def _get(client, who, path, **params):
    return client.get(path, params=params,
                      headers={"Authorization": f"Bearer {client.tokens[who]}"})


def test_a_bank_fetches_its_own_loan_documents_and_never_another_banks(client):
    path = f"/contracts/{C}/loans/loan-a/confirmation"
    pdf = _get(client, "aoba", path, as_of="2021-10-15", lang="en")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "JPY 30,298" in _text(pdf.content)
    data = _get(client, "aoba", path, as_of="2021-10-15", format="json").json()
    assert data["principal"] == _money(10_000_000)
    assert data["default_interest_owed"] == _money(30_298)
    interest = _get(client, "ana", f"/contracts/{C}/loans/loan-a/interest-statements/2021-09-30",
                    format="json").json()
    assert interest["interest"] == _money(99_726)
    notice = _get(client, "aoba", f"/contracts/{C}/loans/loan-a/repayment-notices/2022-03-31",
                  on="2022-03-30", format="json").json()
    assert notice["total"] == _money(5_049_863)
    # Another bank's loan answers exactly like a loan that does not exist.
    for other in (path, f"/contracts/{C}/loans/loan-a/interest-statements/2021-09-30",
                  f"/contracts/{C}/loans/loan-a/repayment-notices/2022-03-31"):
        refused = _get(client, "minato", other, as_of="2021-10-15")
        missing = _get(client, "minato", other.replace("loan-a", "loan-z"), as_of="2021-10-15")
        assert refused.status_code == missing.status_code == 404
        assert refused.json()["code"] == missing.json()["code"] == "LOAN_NOT_FOUND"
    assert _get(client, "minato", f"/contracts/{C}/loans/loan-b/confirmation",
                as_of="2021-10-15").status_code == 200
    assert _get(client, "city", path, as_of="2021-10-15").status_code == 403


runner = CliRunner()


def test_sib_loan_confirm_interest_and_notice(tmp_path, db_url, monkeypatch):
    with db.unit_of_work(db_url) as session:
        tell_the_story(session)
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli_app, ["loan", "confirm", "-c", C, "--loan", "loan-a",
                                         "--as-of", "令和3年10月15日", "--json"])
        assert result.exit_code == 0, result.output
        assert '"principal": {\n    "amount": "10000000",\n    "currency": "JPY"\n  }' \
            in result.output
        out = tmp_path / "confirmation.pdf"
        result = runner.invoke(cli_app, ["loan", "confirm", "-c", C, "--loan", "loan-a",
                                         "--as-of", "2021-10-15", "--lang", "ja", "--out",
                                         str(out)])
        assert result.exit_code == 0, result.output
        assert "貸付金残高（元金） 10,000,000円" in _text(out.read_bytes())
        result = runner.invoke(cli_app, ["loan", "interest", "-c", C, "--loan", "loan-a",
                                         "--due", "2021-09-30"])
        assert result.exit_code == 0, result.output
        assert "99,726" in result.output
        result = runner.invoke(cli_app, ["loan", "notice", "-c", C, "--loan", "loan-a",
                                         "--due", "2022-03-31", "--on", "2021-10-15"])
        assert result.exit_code == 0, result.output
        assert "10,467,209" in result.output
        result = runner.invoke(cli_app, ["loan", "interest", "-c", C, "--loan", "loan-a",
                                         "--due", "2021-09-29"])
        assert result.exit_code == 1
        assert "LOAN_DUE_DATE_NOT_FOUND" in result.output
    finally:
        get_settings.cache_clear()


def test_each_loan_document_prints_only_the_labels_listed_for_its_kind(story, monkeypatch):
    """The labels a kind prints are seeded into its first font subset (see
    tests/test_investors_formatting.py for the other documents)."""
    from investors import formatting, pdf_loan_documents, pdf_pages, pdf_parts
    used: set[str] = set()

    def recording(key: str, lang: str) -> str:
        used.add(key)
        return formatting.label(key, lang)

    for module in (pdf_pages, pdf_parts):
        monkeypatch.setattr(module, "label", recording)
    for doc in (balance_confirmation(story, C, "loan-a", date(2021, 10, 15)),
                balance_confirmation(story, C, "loan-a", PAID_LATE_ON),
                interest_statement(story, C, "loan-a", FIRST_DUE),
                repayment_notice(story, C, "loan-a", SECOND_DUE, date(2021, 10, 15))):
        for lang in ("ja", "en"):
            used.clear()
            pdf_loan_documents.render_loan_document(doc, lang)
            assert used <= set(pdf_pages.KIND_LABELS[doc.kind]), used - set(
                pdf_pages.KIND_LABELS[doc.kind])
    assert set(formatting.LABELS) >= {k for keys in pdf_pages.LOAN_KIND_LABELS.values()
                                      for k in keys}
