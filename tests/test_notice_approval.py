"""The finance office's 検査 and approval of a notice, and the Zengin file that pays only what
was approved (issue 12, item 3): FY2019 of the five-municipality contract, Ube's notice."""

from __future__ import annotations

from datetime import date

import pytest

from api import db, demo
from contracts.store import load_contract
from contracts.validate import load_contract_file
from ledger import read
from ledger.errors import SibError
from settlement.approvals import approve_notice
from settlement.kpi import ResultInput
from settlement.results import audit_result, correct_result, results_for, submit_results
from settlement.runs import settle
from settlement.transfers import payer_transfer, set_bank_account

C = demo.C
PAYS_ON = date(2020, 5, 20)


@pytest.fixture
def settled(db_url):
    contract, problems = load_contract_file(demo.CONTRACT_FILE)
    assert contract is not None and not problems
    contract_wide, per_payer = demo.RESULTS[2019]
    inputs = [ResultInput(C, 2019, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in per_payer.items()]
    with db.unit_of_work(db_url) as s:
        load_contract(s, contract, demo.CONTRACT_FILE.name)
        for party in ("ube", "twr"):
            bank, bank_name, branch, branch_name, number, holder, code = \
                demo.BANK_ACCOUNTS[party]
            set_bank_account(s, C, party, requested_by="twr", approved_by="admin",
                             bank_code=bank, bank_name=bank_name,
                             branch_code=branch, branch_name=branch_name,
                             account_number=number, holder_kana=holder, requester_code=code)
        for row in submit_results(s, inputs, "evaluator"):
            audit_result(s, row.id or 0, "auditor")
        settle(s, C, 2019)
    return db_url


def _owed(url: str) -> int:
    with db.unit_of_work(url) as s:
        return read.totals(s, C, "receivable:ube").net_debit_minor


def _refused_transfer(url: str) -> SibError:
    with pytest.raises(SibError) as refused, db.unit_of_work(url) as s:
        payer_transfer(s, C, "ube", PAYS_ON)
    return refused.value


def test_a_notice_is_paid_by_zengin_only_once_approved_at_its_amount(settled):
    owed = _owed(settled)
    refused = _refused_transfer(settled)
    assert [(p.code, p.field) for p in refused.problems] == [("NOTICE_NOT_APPROVED", "payer")]
    assert "FY2019" in str(refused)
    with db.unit_of_work(settled) as s:
        approval = approve_notice(s, C, 2019, "ube", "宇部市 会計課",
                                  inspected_on=date(2020, 5, 12))
        # Approved for what the notice asks: Ube's FY2019 receivable.
        assert (approval.amount_minor, approval.inspected_on) == (owed, date(2020, 5, 12))
        data, amount = payer_transfer(s, C, "ube", PAYS_ON)
        assert amount == owed and data

    # A recount corrects the results after the approval: the notice now asks for another
    # amount, which the finance office has not approved — no file until it does.
    with db.unit_of_work(settled) as s:
        row = next(r for r in results_for(s, C, 2019) if r.kpi_id == "participants")
        audit_result(s, correct_result(s, row.id or 0, "7900", "recount", "evaluator").id or 0,
                     "auditor")
        settle(s, C, 2019)
    assert _owed(settled) != owed
    assert _refused_transfer(settled).code == "NOTICE_NOT_APPROVED"
    with db.unit_of_work(settled) as s:
        again = approve_notice(s, C, 2019, "ube", "宇部市 会計課",
                               inspected_on=date(2020, 5, 18))
        now_owed = read.totals(s, C, "receivable:ube").net_debit_minor
        assert again.id != approval.id and again.amount_minor == now_owed
        assert payer_transfer(s, C, "ube", PAYS_ON)[1] == again.amount_minor


def test_an_approval_needs_a_settled_notice_and_an_officer(settled):
    for year, by, code in ((2020, "宇部市 会計課", "NOT_SETTLED"),
                           (2019, "", "APPROVER_REQUIRED")):
        with pytest.raises(SibError) as refused, db.unit_of_work(settled) as s:
            approve_notice(s, C, year, "ube", by)
        assert refused.value.code == code
