"""Document data for the founding case (seed 000: five municipalities, 2019), and the checks the
data records make on construction.

The figures are invented but consistent, the way settlement will fill them: the Yamaguchi Bank
lends Tsukuba Wellness Research 30,000,000 yen in two draws in FY2019 (令和元年度); Ube City's
FY2019 outcome payment is earned on three KPIs; a citizen buys 20 silent-partnership units in
FY2021 (令和3年度), when investments from citizens start; the FY2021 year-end report covers all
five payers, the five banks, the providers and the two investor classes.
The builders here are imported by the other ``test_investors_*`` modules.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from contracts.rules import BinaryThresholdRule, LinearRule
from investors.capital import CapitalMovement, MovementKind, class_totals, roll_forward
from investors.returns import CashFlow, summarise
from investors.statement_data import (
    AuthorisationYear,
    BalancePoint,
    BudgetAuthorisation,
    DistributionRow,
    DocumentHeader,
    EarnedLine,
    Holder,
    InvestorClassRow,
    InvestorStatement,
    KpiResult,
    LenderRow,
    LenderStatement,
    LoanDraw,
    LoanSection,
    Party,
    PayerRow,
    PaymentNotice,
    ProviderRow,
    RemitAccount,
    ScheduleRow,
    Text,
    TrialBalanceRow,
    YearEndReport,
)
from investors.trace_text import TraceStyle, trace_text
from investors.withholding import INDIVIDUAL, TOKUMEI_KUMIAI, rate_for, withhold
from ledger.errors import SibError
from ledger.rounding import RoundingMode
from settlement.payouts import KpiInput, binary_threshold, linear
from settlement.trace import About, Subject

JST = timezone(timedelta(hours=9))
LEDGER_HASH = hashlib.sha256(b"sib-2019-five fy2019 ledger state").hexdigest()
CONTRACT = Text("飛び地連携型大規模ヘルスケアプロジェクト", "Five-municipality health SIB")

TWR = Party("twr", Text("株式会社つくばウエルネスリサーチ", "Tsukuba Wellness Research Inc."),
            "茨城県つくば市")
THL = Party("thl", Text("株式会社タニタヘルスリンク", "Tanita Health Link Inc."))
PEOPLE = Party("people", Text("株式会社ぴーぷる", "People Co., Ltd."))
TDS = Party("tds", Text("株式会社東京ドームスポーツ", "Tokyo Dome Sports Corporation"))
UBE = Party("ube", Text("宇部市", "Ube City"), "山口県宇部市常盤町一丁目7番1号")
TONO = Party("tono", Text("遠野市", "Tono City"))
YAWATA = Party("yawata", Text("八幡市", "Yawata City"))
IBUSUKI = Party("ibusuki", Text("指宿市", "Ibusuki City"))
MISATO = Party("misato", Text("美里町", "Misato Town"))
YAMAGUCHI = Party("yamaguchi-bank", Text("株式会社山口銀行", "The Yamaguchi Bank, Ltd."))
TOHOKU = Party("tohoku-bank", Text("株式会社東北銀行", "The Tohoku Bank, Ltd."))
KYOTO = Party("kyoto-bank", Text("株式会社京都銀行", "The Bank of Kyoto, Ltd."))
KAGOSHIMA = Party("kagoshima-bank", Text("株式会社鹿児島銀行", "The Kagoshima Bank, Ltd."))
RESONA = Party("saitama-resona", Text("株式会社埼玉りそな銀行", "Saitama Resona Bank, Ltd."))

PARTICIPANTS = Text("参加者数", "Participants")
INACTIVE = Text("新規参加者に占める運動不足層の割合",
                "Share of inactive people among new participants")
CONTINUATION = Text("継続率", "Continuation rate")


def header(document_id: str, fiscal_year: int = 2019, generated_at: datetime | None = None,
           ) -> DocumentHeader:
    """The common header of the test documents (generated after the FY's audit)."""
    return DocumentHeader(
        document_id=document_id, contract_id="sib-2019-five", contract_name=CONTRACT,
        fiscal_year=fiscal_year,
        generated_at=generated_at or datetime(fiscal_year + 1, 6, 30, 10, 0, tzinfo=JST),
        ledger_state_hash=LEDGER_HASH)


def ube_kpis(with_amounts: bool = True) -> tuple[KpiResult, ...]:
    """Ube City's audited FY2019 results: participants met, inactive share met, continuation
    83.5 % on a line from 79 % (0) to 87 % (full) → 56.25 % of 2,000,000 = 1,125,000."""
    audited = date(2020, 5, 29)
    rows = [(PARTICIPANTS, "people", "2512", "2400", "higher", 3_000_000, 3_000_000),
            (INACTIVE, "percent", "52.3", "50", "higher", 1_500_000, 1_500_000),
            (CONTINUATION, "percent", "83.5", "87", "higher", 2_000_000, 1_125_000)]
    return tuple(KpiResult(f"kpi-{i}", name, unit, Decimal(value), Decimal(target), direction,
                           UBE.name, "final", audited,
                           maximum if with_amounts else None, earned if with_amounts else None)
                 for i, (name, unit, value, target, direction, maximum, earned)
                 in enumerate(rows, start=1))


def lender_statement() -> LenderStatement:
    """The Yamaguchi Bank's FY2019 statement: 30,000,000 drawn, 5,000,000 of the 6,000,000
    scheduled repaid on 31 March 2020 (continuation fell short), 25,000,000 outstanding."""
    loan = LoanSection(
        loan_id="loan-yamaguchi-1", name=Text("成果連動型事業資金 第1号",
                                              "Outcome-linked project loan No. 1"),
        commitment_minor=30_000_000, interest_rate_percent=Decimal("1.000"),
        day_count=Text("ACT/365（片端）", "ACT/365, first day counted"),
        opening_balance_minor=0,
        draws=(LoanDraw(date(2019, 7, 1), 20_000_000), LoanDraw(date(2019, 10, 1), 10_000_000)),
        principal_repaid_minor=5_000_000, written_down_minor=0,
        closing_balance_minor=25_000_000, interest_accrued_minor=155_122,
        interest_paid_minor=155_122,
        # The 31 March instalment paid 1,000,000 short: overdue at the year end.
        schedule=(ScheduleRow(date(2019, 12, 30), 0, 102_191, 0, 102_191, date(2019, 12, 30),
                              status="paid_on_time"),
                  ScheduleRow(date(2020, 3, 31), 6_000_000, 52_931, 5_000_000, 52_931,
                              date(2020, 3, 31), overdue_minor=1_000_000, status="overdue")),
        balance_series=(BalancePoint(date(2019, 7, 1), 20_000_000),
                        BalancePoint(date(2019, 10, 1), 30_000_000),
                        BalancePoint(date(2020, 3, 31), 25_000_000)))
    return LenderStatement(header("LS-2019-yamaguchi"), YAMAGUCHI, TWR, date(2019, 4, 1),
                           date(2020, 3, 31), (loan,), ube_kpis())


def _citizen_movements() -> list[CapitalMovement]:
    gross = 30_000
    tax, _ = withhold(gross, rate_for(INDIVIDUAL, TOKUMEI_KUMIAI, date(2022, 3, 25)))
    return [CapitalMovement("h-000123", "junior", date(2021, 7, 1), MovementKind.CONTRIBUTION,
                            1_000_000),
            CapitalMovement("h-000123", "junior", date(2022, 3, 25), MovementKind.INCOME, gross),
            CapitalMovement("h-000123", "junior", date(2022, 3, 25), MovementKind.DISTRIBUTION,
                            gross, tax)]


def investor_statement() -> InvestorStatement:
    """A citizen's FY2021 statement: 20 units of 50,000 yen, a 30,000 yen distribution with
    6,126 yen withheld (20.42 %, truncated), IRR to date from the actual flows."""
    start, end = date(2021, 4, 1), date(2022, 3, 31)
    account = roll_forward("h-000123", "junior", _citizen_movements(), start, end)
    returns = summarise([CashFlow(date(2021, 7, 1), -1_000_000), CashFlow(date(2022, 3, 25),
                                                                          30_000)],
                        account.closing_minor, end)
    return InvestorStatement(
        header("IS-2021-h-000123", 2021), TWR,
        Holder("h-000123", Text("山田 花子", "Hanako Yamada"), "ヤマダ ハナコ", INDIVIDUAL,
               "山口県宇部市"),
        "junior", Text("匿名組合出資（劣後）", "Silent-partnership units (junior)"), 20, 50_000,
        account, (DistributionRow(date(2022, 3, 25), TOKUMEI_KUMIAI, 30_000, 6_126),), returns)


# Traces as settlement computes and stores them with the run, written out in both languages.
def _ube(tranche: str) -> About:
    return About(Subject.TRANCHE, fiscal_year=2019, evaluation="final", tranche=tranche,
                 payer="ube")


UBE_TRACE = trace_text(binary_threshold(
    BinaryThresholdRule(threshold="2400"), 3_000_000, KpiInput(Decimal("2512"), unit="people"),
    RoundingMode.TRUNCATE, _ube("participants-fy2019")).trace.as_dict(), TraceStyle("JPY"))
CONTINUATION_TRACE = trace_text(linear(
    LinearRule(floor="79", cap="87"), 2_000_000, KpiInput(Decimal("83.5"), unit="percent"),
    RoundingMode.TRUNCATE, _ube("continuation-fy2019")).trace.as_dict(), TraceStyle("JPY"))


TWR_REGISTRATION = "T5050001029384"  # illustrative; check digit worked in test_contracts_rules
KUNO_LAB = Text("国立大学法人筑波大学 久野研究室", "University of Tsukuba, Kuno laboratory")
TWR_ACCOUNT = RemitAccount("0170", "ﾔﾏｸﾞﾁｷﾞﾝｺｳ", "001", "ﾎﾝﾃﾝ", "1", "1234567",
                           "ｶ)ﾂｸﾊﾞｳｴﾙﾈｽﾘｻｰﾁ")


def payment_notice() -> PaymentNotice:
    """Ube City's FY2019 notice: 5,625,000 earned + 562,500 consumption tax (10 % on top) =
    6,187,500 due, half covered by the national grant; 2,000,000 paid before under a
    40,000,000 authorisation. Issued by Tsukuba Wellness Research (registered) on 1 June 2020,
    payable into its Yamaguchi Bank account; the results audited by the Kuno laboratory."""
    lines = (EarnedLine("participants-fy2019", PARTICIPANTS, 3_000_000, 3_000_000, UBE_TRACE),
             EarnedLine("inactive-fy2019", INACTIVE, 1_500_000, 1_500_000),
             EarnedLine("continuation-fy2019", CONTINUATION, 2_000_000, 1_125_000,
                        CONTINUATION_TRACE))
    authorisation = BudgetAuthorisation(
        Text("飛び地連携型大規模ヘルスケアプロジェクト委託料",
             "Remote-partnership health project service fees"), 2019, 2023, 40_000_000,
        tuple(AuthorisationYear(fy, 8_000_000, paid)
              for fy, paid in ((2019, 2_000_000), (2020, 0), (2021, 0), (2022, 0), (2023, 0))))
    kpis = tuple(replace(k, audited_by="監査担当（久野研究室）", evaluator=KUNO_LAB)
                 for k in ube_kpis(with_amounts=False))
    return PaymentNotice(
        header=header("SIB2019-UBE-FY2019-01"), payer=UBE, payee=TWR, kpi_results=kpis,
        earned_lines=lines, earned_total_minor=5_625_000, consumption_tax_minor=562_500,
        amount_due_minor=6_187_500, grant_covered_minor=3_093_750, due_on=date(2020, 6, 30),
        paid_to_date_minor=2_000_000, authorisation=authorisation, issued_on=date(2020, 6, 1),
        registration_number=TWR_REGISTRATION, tax_rate=Decimal("0.10"), remit_to=TWR_ACCOUNT)


def _class_accounts() -> dict[str, InvestorClassRow]:
    start, end = date(2021, 4, 1), date(2022, 3, 31)
    movements = _citizen_movements() + [
        CapitalMovement("h-000124", "junior", date(2021, 7, 1), MovementKind.CONTRIBUTION,
                        500_000),
        CapitalMovement("c-000001", "senior", date(2021, 7, 1), MovementKind.CONTRIBUTION,
                        5_000_000),
        CapitalMovement("c-000001", "senior", date(2022, 3, 25), MovementKind.DISTRIBUTION,
                        1_000_000, 204_200)]
    accounts = [roll_forward(h, c, movements, start, end)
                for h, c in (("h-000123", "junior"), ("h-000124", "junior"),
                             ("c-000001", "senior"))]
    totals = class_totals(accounts)
    return {
        "junior": InvestorClassRow(
            Text("匿名組合出資（劣後）", "Silent-partnership units (junior)"), 2, 30,
            totals["junior"]),
        "senior": InvestorClassRow(
            Text("匿名組合出資（優先）", "Silent-partnership units (senior)"), 1, 100,
            totals["senior"])}


def year_end_report() -> YearEndReport:
    """The FY2021 (令和3年度) year-end report of the whole contract."""
    payers = tuple(PayerRow(p, authorised, earned, paid, earned // 2) for p, authorised, earned,
                   paid in ((UBE, 8_000_000, 6_187_500, 6_187_500),
                            (TONO, 2_000_000, 1_402_500, 1_402_500),
                            (YAWATA, 4_000_000, 3_514_500, 0),
                            (IBUSUKI, 2_600_000, 2_255_000, 2_255_000),
                            (MISATO, 1_000_000, 823_900, 823_900)))
    lenders = (LenderRow(YAMAGUCHI, 25_000_000, 0, 6_000_000, 0, 229_583, 229_583),
               LenderRow(TOHOKU, 5_000_000, 0, 1_000_000, 0, 45_900, 45_900),
               LenderRow(KYOTO, 12_000_000, 0, 3_000_000, 0, 110_136, 110_136),
               LenderRow(KAGOSHIMA, 6_000_000, 0, 1_500_000, 0, 55_068, 55_068),
               # Of 250,000 lost, a guarantor paid 200,000 (a recovery); 50,000 written down:
               # 3,000,000 − 500,000 − 200,000 − 50,000 = 2,250,000 at year end.
               LenderRow(RESONA, 3_000_000, 0, 500_000, 50_000, 27_534, 27_534,
                         recovered_minor=200_000))
    providers = (ProviderRow(THL, 4_800_000, 5_250_000, 10_050_000),
                 ProviderRow(PEOPLE, 600_000, 412_000, 1_012_000),
                 ProviderRow(TDS, 400_000, 281_000, 681_000))
    kpis = ube_kpis() + (
        KpiResult("kpi-1", PARTICIPANTS, "people", Decimal("1210"), Decimal("1300"), "higher",
                  TONO.name, "final", date(2022, 5, 27), 700_000, 651_538),)
    trial_balance = (
        TrialBalanceRow("1110", Text("普通預金", "Bank deposits"), 12_345_678, 0),
        TrialBalanceRow("1310", Text("成果連動支払金未収金", "Outcome payments receivable"),
                        3_514_500, 0),
        TrialBalanceRow("2110", Text("長期借入金", "Long-term borrowings"), 0, 37_750_000),
        TrialBalanceRow("2510", Text("匿名組合出資金", "Silent-partnership capital"), 0,
                        5_530_000),
        TrialBalanceRow("4110", Text("成果連動収入", "Outcome income"), 0, 14_183_400),
        TrialBalanceRow("5110", Text("業務委託費", "Service fees"), 41_603_222, 0))
    classes = _class_accounts()
    return YearEndReport(header("YE-2021", 2021), TWR, payers, lenders, providers,
                         (classes["senior"], classes["junior"]), kpis, trial_balance)


# ---------------------------------------------------------------------------------------------
# The records refuse what a reader would catch by hand


def test_the_builders_make_consistent_documents():
    assert lender_statement().loans[0].drawn_minor == 30_000_000
    assert investor_statement().capital_account.closing_minor == 1_000_000
    assert payment_notice().remaining_minor == 40_000_000 - 2_000_000 - 6_187_500
    report = year_end_report()
    assert sum(r.debit_minor for r in report.trial_balance) == \
        sum(r.credit_minor for r in report.trial_balance) == 57_463_400


def test_a_loan_that_does_not_roll_forward_is_refused():
    loan = lender_statement().loans[0]
    with pytest.raises(SibError) as caught:
        replace(loan, closing_balance_minor=24_999_999)
    assert caught.value.code == "LOAN_BALANCE_UNBALANCED"


def test_a_notice_whose_lines_do_not_add_up_is_refused():
    with pytest.raises(SibError) as caught:
        replace(payment_notice(), earned_total_minor=5_625_001)
    assert caught.value.code == "NOTICE_TOTAL_MISMATCH"


def test_a_notice_beyond_the_budget_authorisation_is_refused():
    with pytest.raises(SibError) as caught:
        replace(payment_notice(), paid_to_date_minor=34_000_000)
    assert caught.value.code == "AUTHORISATION_EXCEEDED"


def test_an_unbalanced_trial_balance_is_refused():
    report = year_end_report()
    rows = report.trial_balance[:-1] + (replace(report.trial_balance[-1], debit_minor=1),)
    with pytest.raises(SibError) as caught:
        replace(report, trial_balance=rows)
    assert caught.value.code == "TRIAL_BALANCE_UNBALANCED"


def test_distributions_must_match_the_capital_account():
    statement = investor_statement()
    row = replace(statement.distributions[0], withheld_minor=6_127)
    with pytest.raises(SibError) as caught:
        replace(statement, distributions=(row,))
    assert caught.value.code == "STATEMENT_DISTRIBUTIONS_MISMATCH"


def test_a_header_needs_a_time_zone_and_a_ledger_hash():
    with pytest.raises(SibError) as caught:
        header("x", generated_at=datetime(2020, 6, 30, 10, 0))
    assert caught.value.code == "GENERATED_AT_NAIVE"
    with pytest.raises(SibError) as caught:
        replace(header("x"), ledger_state_hash="")
    assert caught.value.code == "LEDGER_STATE_HASH_MISSING"


def test_achievement_follows_the_kpi_direction():
    higher = KpiResult("k", PARTICIPANTS, "people", Decimal("2512"), Decimal("2400"))
    lower = KpiResult("k", INACTIVE, "percent", Decimal("40"), Decimal("50"), "lower")
    assert higher.achievement_percent == Decimal("2512") / Decimal("2400") * 100
    assert lower.achievement_percent == Decimal("125")
    assert KpiResult("k", PARTICIPANTS, "people", Decimal("5")).achievement_percent is None


def test_english_names_carry_the_legal_japanese_name():
    assert UBE.name.with_original("en") == "Ube City (宇部市)"
    assert UBE.name.with_original("ja") == "宇部市"


def test_a_payment_line_is_named_by_its_kpi_when_the_tranche_has_no_name():
    """A notice never shows a bare tranche id: the example contract names its KPIs, not its
    tranches, so each line reads as the KPI (and its evaluation) in each language."""
    from api import demo
    from contracts.validate import load_contract_file
    from investors.documents import tranche_name
    contract, problems = load_contract_file(demo.CONTRACT_FILE)
    assert contract is not None and not problems
    interim = contract.tranche("fy2019-participants-interim")
    kpi = contract.kpi(interim.kpi)
    name = tranche_name(contract, interim)
    assert (name.ja, name.en) == (f"{kpi.name_ja}（中間評価）",
                                  f"{kpi.name_en} (interim evaluation)")
    final = contract.tranche("fy2019-participants")
    assert tranche_name(contract, final).ja == kpi.name_ja
    named = final.model_copy(update={"name_ja": "参加者数の成果", "name_en": "Participants"})
    assert (tranche_name(contract, named).ja, tranche_name(contract, named).en) == (
        "参加者数の成果", "Participants")
    fixed = final.model_copy(update={"kpi": None})
    assert tranche_name(contract, fixed).ja == "固定払"


def test_a_notice_with_tax_but_no_rate_is_refused():
    with pytest.raises(SibError) as caught:
        replace(payment_notice(), tax_rate=None)
    assert caught.value.code == "NOTICE_TAX_RATE_MISSING"


def test_a_notice_with_a_malformed_registration_number_is_refused():
    # 12 digits after the T: not a registration number (a corporate number has 13).
    with pytest.raises(SibError) as caught:
        replace(payment_notice(), registration_number="T505000102938")
    assert caught.value.code == "NOTICE_REGISTRATION_NUMBER_INVALID"


def test_an_account_type_outside_zengin_is_refused():
    # 預金種目 3 is not used for transfers (1 普通, 2 当座, 4 貯蓄, 9 その他).
    with pytest.raises(SibError) as caught:
        replace(TWR_ACCOUNT, account_type="3")
    assert caught.value.code == "ACCOUNT_TYPE_UNKNOWN"


def test_a_contract_outside_japan_reads_its_day_count_without_japanese_terms():
    """Issue 12, item 7: the English of a GBP contract's lender statement says what 片端 means
    without the Japanese term; a Japanese contract keeps it (its readers know it)."""
    from contracts.validate import load_contract_file
    from investors.documents import _day_count
    gbp, problems = load_contract_file("contracts/examples/gbp-rate-card-employment.yaml")
    assert gbp is not None and not problems
    [loan] = gbp.loans
    assert _day_count(loan, japanese_terms=False).en == "ACT/365F, first day counted, last not"
    assert _day_count(loan).en == "ACT/365F, 片端 (first day counted, last not)"
