"""Payee routing per tranche (issue 12, item 4 and acceptance 4): a municipality paying a
service provider directly on outcomes.

A small SIB written here: one city pays for FY2021 on two KPIs, both pro rata to target, tax
(10 %) added on top of each invoice once.
- ``fy2021-participants`` (max 1,000,000, target 1,000) is paid to the SPV, as before.
- ``fy2021-steps`` (max 2,000,000, target 8,000) names the provider THL as payee.

Worked by hand, results 800 participants and 6,000 steps:
- SPV tranche: 1,000,000 × 800/1,000 = 800,000; tax 800,000 × 10 % = 80,000; the SPV's
  receivable 880,000, its outcome income 800,000, its 仮受消費税 80,000. The city's payable to
  the SPV 880,000.
- Provider tranche: 2,000,000 × 6,000/8,000 = 1,500,000; tax on THL's invoice, once,
  1,500,000 × 10 % = 150,000; the city owes THL 1,650,000 (payable:city:thl), THL's receivable.
  Nothing of it in the SPV book: no commitment, no receivable, no income, no tax.
- The city's outcome cost is its whole cost, 880,000 + 1,650,000 = 2,530,000 (its budget
  authorisation of 4,000,000 counts all of it).
- Two notices: ROUTING2021-CITY-FY2021-01 from the SPV (880,000, with its account) and
  ROUTING2021-CITY-THL-FY2021-01 from THL (1,650,000, to THL's account).
"""

from __future__ import annotations

import pytest

from contracts.store import load_contract
from contracts.validate import validate_document
from investors import documents
from investors.batch import jobs_for_year
from investors.tieout import notice_mismatches, tie_out_year
from ledger import read
from settlement.kpi import ResultInput
from settlement.payer_ledger import provider_receivable, read_payer_years
from settlement.results import audit_result, submit_results
from settlement.runs import preview, settle
from settlement.transfers import set_bank_account

C = "routing-sib"
PAYERS = f"{C}:payers"


def document() -> dict:
    return {
        "id": C, "name_ja": "支払先テスト", "name_en": "Payee routing SIB", "currency": "JPY",
        "first_fiscal_year": 2021, "last_fiscal_year": 2021,
        "parties": [
            {"id": "city", "name_ja": "市", "kind": "municipality", "roles": ["outcome_payer"]},
            {"id": "spv", "name_ja": "SPV", "kind": "spv", "roles": ["intermediary"]},
            {"id": "thl", "name_ja": "タニタヘルスリンク", "name_en": "Tanita Health Link",
             "kind": "company", "roles": ["service_provider"]},
            {"id": "evaluator", "name_ja": "評価機関", "kind": "university",
             "roles": ["evaluator"]}],
        "payers": [{"party": "city", "authorisation": {
            "max_amount": "4,000,000", "from_fiscal_year": 2021, "to_fiscal_year": 2021}}],
        "kpis": [{"id": "participants", "unit": "people", "direction": "higher",
                  "targets": {2021: "1000"}, "evaluator": "evaluator"},
                 {"id": "steps", "unit": "steps", "direction": "higher",
                  "targets": {2021: "8000"}, "evaluator": "evaluator"}],
        "tranches": [{"id": "fy2021-participants", "kpi": "participants", "fiscal_year": 2021,
                      "max_amount": "1,000,000", "rule": {"type": "pro_rata"}},
                     {"id": "fy2021-steps", "kpi": "steps", "fiscal_year": 2021,
                      "max_amount": "2,000,000", "rule": {"type": "pro_rata"},
                      "payee": "thl"}],
        "consumption_tax": {"rate": "0.10", "applies_to": ["outcome_payments"],
                            "amounts_include_tax": False},
    }


ACCOUNT = {"bank_code": "0001", "bank_name": "みずほ", "branch_code": "001",
           "branch_name": "本店", "account_type": "1", "account_number": "1234567"}


@pytest.fixture
def settled(session):
    terms, problems = validate_document(document(), "routing.yaml")
    assert problems == []
    load_contract(session, terms)
    set_bank_account(session, C, "spv", requested_by="spv", approved_by="admin",
                     holder_kana="ｴｽﾋﾟｰﾌﾞｲ", **ACCOUNT)
    set_bank_account(session, C, "thl", requested_by="spv", approved_by="admin",
                     holder_kana="ﾀﾆﾀﾍﾙｽﾘﾝｸ", **dict(ACCOUNT, account_number="7654321"))
    rows = submit_results(session, [ResultInput(C, 2021, "participants", "800"),
                                    ResultInput(C, 2021, "steps", "6000")], "evaluator")
    for row in rows:
        audit_result(session, row.id, "evaluation committee")
    settle(session, C, 2021)
    return session


def _net(session, book: str, account: str) -> int:
    return read.totals(session, book, account).net_debit_minor


def test_the_provider_tranche_is_owed_to_the_provider_not_the_spv(settled):
    s = settled
    # The SPV book: only its own tranche, as before.
    assert _net(s, C, "receivable:city") == 880_000
    assert _net(s, C, "outcome-income:city") == -800_000
    assert _net(s, C, "tax-payable") == -80_000
    assert {p.links.get("tranche") for p in read.postings(s, C)} == {"fy2021-participants",
                                                                      None}
    # The payers' book: the city's whole cost, its payable to the SPV and to THL.
    assert _net(s, PAYERS, "outcome-cost:city") == 2_530_000
    assert _net(s, PAYERS, "payable:city") == -880_000
    assert _net(s, PAYERS, "payable:city:thl") == -1_650_000
    # THL's receivable: what the city owes it for FY2021.
    assert provider_receivable(s, documents.context(s, C, 2021).contract, "thl") == \
        {("city", 2021): 1_650_000}


def test_two_notices_one_per_payee_tie_out_with_the_ledger(settled):
    s = settled
    ctx = documents.context(s, C, 2021)
    spv = documents.payment_notice(s, ctx, "city")
    thl = documents.payment_notice(s, ctx, "city", "thl")
    assert (spv.header.document_id, spv.payee.party_id, spv.amount_due_minor,
            spv.consumption_tax_minor, [ln.line_id for ln in spv.earned_lines]) == \
        ("ROUTING2021-CITY-FY2021-01", "spv", 880_000, 80_000, ["fy2021-participants"])
    assert (thl.header.document_id, thl.payee.party_id, thl.amount_due_minor,
            thl.consumption_tax_minor, thl.earned_total_minor,
            [(ln.line_id, ln.earned_minor) for ln in thl.earned_lines]) == \
        ("ROUTING2021-CITY-THL-FY2021-01", "thl", 1_650_000, 150_000, 1_500_000,
         [("fy2021-steps", 1_500_000)])
    assert thl.remit_to is not None and thl.remit_to.account_number == "7654321"
    assert spv.remit_to is not None and spv.remit_to.account_number == "1234567"
    assert notice_mismatches(s, spv) == [] and notice_mismatches(s, thl) == []
    assert tie_out_year(s, C, 2021) == []
    # The batch writes both, in each language, under their numbers (stable on rerun).
    paths = [job.path for job in jobs_for_year(s, C, 2021) if job.path.startswith("notices/")]
    assert paths == [f"notices/{n}.{lang}.pdf" for n in ("ROUTING2021-CITY-FY2021-01",
                                                         "ROUTING2021-CITY-THL-FY2021-01")
                     for lang in ("ja", "en")]
    assert paths == [job.path for job in jobs_for_year(s, C, 2021)
                     if job.path.startswith("notices/")]


def test_the_budget_counts_the_providers_part_too(settled):
    # The authorisation is checked on the city's whole cost, and what it has been settled for
    # is 880,000 to the SPV plus 1,650,000 to THL.
    preview_ = preview(settled, C, 2021)
    assert preview_.payers["city"].due_minor == 2_530_000
    assert preview_.payers["city"].spv_due_minor == 880_000
    assert read_payer_years(settled, C, ["city"], 2021)["city"].due_minor == 2_530_000


def test_the_city_pays_the_provider_directly_and_its_receivable_falls(settled):
    """THL is paid 1,000,000 of its 1,650,000 by the city on 20 May 2022: THL's receivable for
    FY2021 falls to 650,000; the SPV's book does not move; the city's FY2021 payments (its
    budget's) count it. Paying more than the rest, or paying a provider no tranche routes to,
    is refused with nothing written."""
    from datetime import date

    from contracts.store import get_contract
    from ledger.errors import SibError
    from settlement.payer_ledger import read_payments_by_results_year
    from settlement.payments import record_provider_payment
    s = settled
    spv_entries = len(read.entries(s, C))
    record_provider_payment(s, C, "city", "thl", 1_000_000, date(2022, 5, 20), "FY2021")
    contract = get_contract(s, C)
    assert provider_receivable(s, contract, "thl") == {("city", 2021): 650_000}
    assert _net(s, PAYERS, "payable:city:thl") == -650_000
    assert len(read.entries(s, C)) == spv_entries
    assert read_payments_by_results_year(s, contract, "city") == {2021: 1_000_000}
    # The same payment again (a retry) is the same entry.
    record_provider_payment(s, C, "city", "thl", 1_000_000, date(2022, 5, 20), "FY2021")
    assert _net(s, PAYERS, "payable:city:thl") == -650_000
    for payee, amount, code in (("thl", 650_001, "PAYMENT_EXCEEDS_DUE"),
                                ("spv", 1, "PAYEE_NOT_FOUND")):
        with pytest.raises(SibError) as refused:
            record_provider_payment(s, C, "city", payee, amount, date(2022, 5, 21), "rest")
        assert refused.value.problems[0].code == code
    assert _net(s, PAYERS, "payable:city:thl") == -650_000


def test_the_pack_shows_what_the_city_owes_and_paid_each_payee(settled):
    """The pack's payer row: everything the city pays for FY2021 — earned 800,000 + 1,500,000
    = 2,300,000, tax 80,000 + 150,000 = 230,000, due 2,530,000 — and THL's part apart
    (1,500,000 + 150,000 = 1,650,000). After the city pays THL 1,000,000, 650,000 is still
    owed to THL; nothing has reached the SPV, whose receivable stays 880,000."""
    from datetime import date

    from contracts.store import get_contract
    from settlement.close import build_pack
    from settlement.payments import record_provider_payment
    s = settled
    record_provider_payment(s, C, "city", "thl", 1_000_000, date(2022, 5, 20), "FY2021")
    [row] = build_pack(s, get_contract(s, C), 2021).payers
    assert (row["earned"], row["tax"], row["due"], row["paid"], row["outstanding"]) == (
        2_300_000, 230_000, 2_530_000, 1_000_000, 880_000)
    assert (row["provider_earned"], row["provider_tax"], row["provider_due"],
            row["provider_paid"], row["provider_outstanding"]) == (
        1_500_000, 150_000, 1_650_000, 1_000_000, 650_000)
