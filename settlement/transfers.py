"""Zengin transfer files for payment runs, from the parties' registered bank accounts.

``payer_transfer``: a municipality's finance office pays the SPV what it owes for a year (one
data record, the payer's bank as 仕向銀行). ``distribution_transfers``: the SPV pays providers
and lenders what a waterfall run allocated on a date. Every name must already be kana as the
bank holds it; a party without a registered account is refused by name.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from contracts.chart import Code, Kind
from contracts.model import Contract
from contracts.store import get_contract
from ledger import read
from ledger.entries import DEBIT
from ledger.errors import NotFound, SibError
from settlement.approvals import require_approved
from settlement.tables import PartyBankAccount
from settlement.zengin import BankProfile, Transfer, TransferHeader, build_transfer_file


def set_bank_account(session: Session, contract_id: str, party: str, **fields: str) -> \
        PartyBankAccount:
    """Register (or replace) a party's bank account for a contract."""
    contract = get_contract(session, contract_id)
    if party not in {p.id for p in contract.parties}:
        raise NotFound(f"{contract_id} has no party {party!r}", "PARTY_NOT_FOUND", "party")
    row = session.scalars(select(PartyBankAccount).where(
        col(PartyBankAccount.contract_id) == contract_id,
        col(PartyBankAccount.party) == party)).first()
    row = row or PartyBankAccount(contract_id=contract_id, party=party, bank_code="",
                                  branch_code="", account_number="", holder_kana="")
    for key, value in fields.items():
        setattr(row, key, value)
    session.add(row)
    session.flush()
    return row


def bank_account(session: Session, contract_id: str, party: str) -> PartyBankAccount:
    row = session.scalars(select(PartyBankAccount).where(
        col(PartyBankAccount.contract_id) == contract_id,
        col(PartyBankAccount.party) == party)).first()
    if row is None:
        raise NotFound(f"{party} has no bank account registered for {contract_id} "
                       "(`sib bank-account set`)", "BANK_ACCOUNT_MISSING", "party")
    return row


def _header(account: PartyBankAccount, on: date) -> TransferHeader:
    if not account.requester_code:
        raise SibError(f"{account.party}'s bank account has no requester code "
                       "(振込依頼人コード)", "REQUESTER_CODE_MISSING", "requester_code")
    return TransferHeader(requester_code=account.requester_code,
                          requester_name=account.holder_kana, transfer_on=on,
                          bank_code=account.bank_code, bank_name=account.bank_name,
                          branch_code=account.branch_code, branch_name=account.branch_name,
                          account_type=account.account_type,
                          account_number=account.account_number)


def _transfer(account: PartyBankAccount, label: str, amount: int) -> Transfer:
    return Transfer(party=label, bank_code=account.bank_code, bank_name=account.bank_name,
                    branch_code=account.branch_code, branch_name=account.branch_name,
                    account_type=account.account_type, account_number=account.account_number,
                    payee_name=account.holder_kana, amount_minor=amount)


def _intermediary(contract: Contract) -> str:
    parties = contract.parties_with_role("intermediary")
    if not parties:
        raise SibError(f"{contract.id} has no intermediary to pay", "INTERMEDIARY_MISSING",
                       "parties")
    return parties[0].id


def payer_transfer(session: Session, contract_id: str, payer: str, on: date,
                   amount_minor: int | None = None,
                   profile: BankProfile = BankProfile()) -> tuple[bytes, int]:
    """The file a payer uploads to pay the SPV (default: everything it owes now), once its
    finance office has approved every notice it still owes for."""
    contract = get_contract(session, contract_id)
    contract.require_payer(payer)
    owed = read.totals(session, contract_id, Code.receivable(payer)).net_debit_minor
    amount = owed if amount_minor is None else amount_minor
    if amount <= 0 or amount > owed:
        raise SibError(f"{payer} owes {owed:,}; cannot pay {amount:,}", "PAYMENT_EXCEEDS_DUE",
                       "amount")
    spv = _intermediary(contract)
    header = _header(bank_account(session, contract_id, payer), on)
    payee = _transfer(bank_account(session, contract_id, spv), contract.party(spv).name_en,
                      amount)
    require_approved(session, contract, payer)
    return build_transfer_file(header, [payee], profile), amount


def distribution_transfers(session: Session, contract_id: str, on: date,
                           profile: BankProfile = BankProfile()) -> tuple[bytes, int]:
    """The SPV's file paying providers and lenders what the waterfall allocated on ``on``."""
    contract = get_contract(session, contract_id)
    paid = read.postings(session, contract_id, on=on, side=DEBIT,
                         kinds=[Kind.PROVIDER_FEE, Kind.INTEREST_PAYMENT,
                                Kind.PRINCIPAL_REPAYMENT])
    per_party: dict[str, int] = {}
    for posting in paid:
        party = (posting.party_ref or "").split(":", 1)[-1]
        per_party[party] = per_party.get(party, 0) + posting.amount_minor
    if not per_party:
        raise SibError(f"nothing was distributed on {on}", "NOTHING_TO_PAY", "on")
    header = _header(bank_account(session, contract_id, _intermediary(contract)), on)
    transfers = [_transfer(bank_account(session, contract_id, party),
                           contract.party(party).name_en, amount)
                 for party, amount in sorted(per_party.items())]
    return build_transfer_file(header, transfers, profile), sum(per_party.values())
