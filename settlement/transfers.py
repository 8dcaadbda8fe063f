"""Zengin transfer files for payment runs, from the parties' registered bank accounts.

A bank account is registered or replaced only through a change request another person approves
(:mod:`settlement.change_requests`). Each file produced records the account each payee was paid
to; the next file carries a notice (``BANK_ACCOUNT_CHANGED``) for a payee whose account changed
since, so whoever uploads it confirms the new account first.

``payer_transfer``: a municipality's finance office pays the SPV what it owes for a year (one
data record, the payer's bank as 仕向銀行). ``distribution_transfers``: the SPV pays providers
and lenders what a waterfall run allocated on a date. Every name must already be kana as the
bank holds it; a party without a registered account is refused by name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from contracts.chart import Code, Kind
from contracts.model import Contract
from contracts.store import get_contract
from ledger import read
from ledger.entries import DEBIT
from ledger.errors import NotFound, SibError
from ledger.money import amount_text
from ledger.service import utc_now
from settlement.approvals import require_approved
from settlement.change_requests import (
    Act,
    account_summary,
    approve_change,
    bank_values,
    registered_account,
    request_bank_account,
)
from settlement.tables import ChangeRequest, PartyBankAccount, TransferFilePayee
from settlement.zengin import BankProfile, Transfer, TransferHeader, build_transfer_file


def set_bank_account(session: Session, contract_id: str, party: str, *, requested_by: str,
                     approved_by: str, now: datetime | None = None,
                     **fields: str) -> PartyBankAccount:
    """Register (or replace) a party's bank account as two people do it, in one step: the
    change request of ``requested_by`` approved by ``approved_by`` (set-up scripts such as the
    demo; the command line and the service take the two steps from two users)."""
    try:
        request = request_bank_account(session, contract_id, party, requested_by, "set-up",
                                       now, **fields)
    except SibError as error:
        if error.code != "BANK_ACCOUNT_UNCHANGED":
            raise
        return bank_account(session, contract_id, party)
    approve_change(session, request.id or 0, approved_by, now)
    return bank_account(session, contract_id, party)


def bank_account(session: Session, contract_id: str, party: str) -> PartyBankAccount:
    row = registered_account(session, contract_id, party)
    if row is None:
        raise NotFound(f"{party} has no bank account registered for {contract_id} "
                       "(`sib bank-account set`, then `sib change approve` by another user)",
                       "BANK_ACCOUNT_MISSING", "party")
    return row


@dataclass(frozen=True)
class AccountNotice:
    """A payee of a file whose account changed since the last file that paid it.

    Attributes:
        last_file_on: the transfer date of the last file paying the party (None: the account
            was replaced before any file paid it).
        change_request_id: the approved change that put the current account in place.
    """

    code: str
    party: str
    previous: str
    current: str
    last_file_on: date | None
    change_request_id: int | None
    requested_by: str
    approved_by: str
    approved_at: datetime | None

    def message(self) -> str:
        since = f"the last file (transfer date {self.last_file_on})" if self.last_file_on \
            else "it was first registered"
        who = (f"; change request {self.change_request_id}, requested by {self.requested_by}, "
               f"approved by {self.approved_by}") if self.change_request_id else ""
        return (f"{self.party}'s bank account changed since {since}: {self.previous} -> "
                f"{self.current}{who}. Confirm the new account with {self.party} before "
                "uploading this file.")


@dataclass(frozen=True)
class TransferFile:
    """A Zengin file, what it pays in total, and its payees' account-change notices."""

    data: bytes
    amount_minor: int
    payees: tuple[str, ...]
    notices: tuple[AccountNotice, ...]


def _digest(account: PartyBankAccount) -> str:
    values = bank_values(account) or {}
    key = "|".join(values[name] for name in ("bank_code", "branch_code", "account_type",
                                             "account_number", "holder_kana"))
    return hashlib.sha256(key.encode()).hexdigest()


def _last_file_payee(session: Session, contract_id: str,
                     party: str) -> TransferFilePayee | None:
    return session.scalars(select(TransferFilePayee).where(
        col(TransferFilePayee.contract_id) == contract_id, col(TransferFilePayee.party) == party)
        .order_by(col(TransferFilePayee.id).desc())).first()


def _last_change(session: Session, contract_id: str, party: str) -> ChangeRequest | None:
    return session.scalars(select(ChangeRequest).where(
        col(ChangeRequest.contract_id) == contract_id, col(ChangeRequest.subject) == party,
        col(ChangeRequest.act) == Act.BANK_ACCOUNT_CHANGE.value,
        col(ChangeRequest.state) == "approved").order_by(col(ChangeRequest.id).desc())).first()


def account_notices(session: Session, contract_id: str,
                    payees: Sequence[str]) -> list[AccountNotice]:
    """A notice for each payee whose account differs from the one the last file paid it to
    (or, never paid by a file, whose first registered account was replaced)."""
    out = []
    for party in payees:
        account = bank_account(session, contract_id, party)
        last = _last_file_payee(session, contract_id, party)
        change = _last_change(session, contract_id, party)
        if last is not None and last.account_digest == _digest(account):
            continue
        if last is None and (change is None or not change.previous):
            continue
        previous = last.account_masked if last is not None else \
            account_summary(json.loads(change.previous) if change else {})
        out.append(AccountNotice(
            BANK_ACCOUNT_CHANGED, party, previous, account_summary(bank_values(account) or {}),
            last.transfer_on if last is not None else None,
            change.id if change else None, change.requested_by if change else "",
            change.decided_by or "" if change else "",
            change.decided_at if change else None))
    return out


def record_transfer_file(session: Session, contract_id: str, payees: Sequence[str],
                         on: date, produced_by: str = "",
                         now: datetime | None = None) -> None:
    """Record the account each payee of a produced file was paid to (what the next file's
    notices compare with)."""
    moment = now or utc_now()
    for party in payees:
        account = bank_account(session, contract_id, party)
        session.add(TransferFilePayee(
            contract_id=contract_id, party=party, account_digest=_digest(account),
            account_masked=account_summary(bank_values(account) or {}), transfer_on=on,
            produced_by=produced_by, produced_at=moment))
    session.flush()


BANK_ACCOUNT_CHANGED = "BANK_ACCOUNT_CHANGED"


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


def _require_yen(contract: Contract) -> None:
    """A Zengin 総合振込 file moves yen between Japanese bank accounts: a contract in another
    currency is paid by its own banks' means, never by a file whose amounts would be its
    minor units read as yen."""
    if contract.currency != "JPY":
        raise SibError(f"{contract.id} is in {contract.currency}: a Zengin transfer file carries "
                       "yen only; pay it through the payer's own bank", "ZENGIN_NOT_YEN",
                       "contract")


def _intermediary(contract: Contract) -> str:
    parties = contract.parties_with_role("intermediary")
    if not parties:
        raise SibError(f"{contract.id} has no intermediary to pay", "INTERMEDIARY_MISSING",
                       "parties")
    return parties[0].id


def payer_transfer_file(session: Session, contract_id: str, payer: str, on: date,
                        amount_minor: int | None = None,
                        profile: BankProfile = BankProfile()) -> TransferFile:
    """The file a payer uploads to pay the SPV (default: everything it owes now), once its
    finance office has approved every notice it still owes for; with a notice if the SPV's
    account changed since the last file."""
    contract = get_contract(session, contract_id)
    contract.require_payer(payer)
    _require_yen(contract)
    owed = read.totals(session, contract_id, Code.receivable(payer)).net_debit_minor
    amount = owed if amount_minor is None else amount_minor
    if amount <= 0 or amount > owed:
        raise SibError(f"{payer} owes {amount_text(owed, contract.currency)}; cannot pay "
                       f"{amount_text(amount, contract.currency)}", "PAYMENT_EXCEEDS_DUE",
                       "amount")
    spv = _intermediary(contract)
    header = _header(bank_account(session, contract_id, payer), on)
    payee = _transfer(bank_account(session, contract_id, spv), contract.party(spv).name_en,
                      amount)
    require_approved(session, contract, payer)
    return TransferFile(build_transfer_file(header, [payee], profile), amount, (spv,),
                        tuple(account_notices(session, contract_id, [spv])))


def payer_transfer(session: Session, contract_id: str, payer: str, on: date,
                   amount_minor: int | None = None,
                   profile: BankProfile = BankProfile()) -> tuple[bytes, int]:
    """:func:`payer_transfer_file`'s file and amount."""
    found = payer_transfer_file(session, contract_id, payer, on, amount_minor, profile)
    return found.data, found.amount_minor


def distribution_transfer_file(session: Session, contract_id: str, on: date,
                               profile: BankProfile = BankProfile()) -> TransferFile:
    """The SPV's file paying providers and lenders what the waterfall allocated on ``on``,
    with a notice for each payee whose account changed since the last file."""
    contract = get_contract(session, contract_id)
    _require_yen(contract)
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
    payees = tuple(sorted(per_party))
    return TransferFile(build_transfer_file(header, transfers, profile),
                        sum(per_party.values()), payees,
                        tuple(account_notices(session, contract_id, payees)))


def distribution_transfers(session: Session, contract_id: str, on: date,
                           profile: BankProfile = BankProfile()) -> tuple[bytes, int]:
    """:func:`distribution_transfer_file`'s file and amount."""
    found = distribution_transfer_file(session, contract_id, on, profile)
    return found.data, found.amount_minor
