"""Database tables of settlement: KPI results (with versions and states) and settlement runs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

RESULT_STATES = ("draft", "submitted", "audited", "settled")


class KpiResult(SQLModel, table=True):
    """One evaluator result for a KPI, fiscal year, evaluation and (where measured so) payer.

    A result moves draft → submitted → audited → settled. An audited or settled result is never
    changed: a correction is a new version (``supersedes_id``) with a reason, audited again.

    Attributes:
        payer_id: ``""`` for a KPI measured for the whole contract.
        value: the KPI value as exact decimal text (never a float).
        outcomes_per_person: JSON list of outcome counts per person (rate cards), if given.
    """

    __tablename__ = "settlement_kpi_result"
    __table_args__ = (
        UniqueConstraint("contract_id", "fiscal_year", "kpi_id", "payer_id", "evaluation",
                         "version"),
        Index("ix_kpi_result_key", "contract_id", "fiscal_year", "evaluation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64)
    fiscal_year: int
    kpi_id: str = Field(max_length=64)
    payer_id: str = Field(default="", max_length=64)
    evaluation: str = Field(default="final", max_length=16)
    version: int = 1
    value: str = Field(max_length=64)
    outcomes_per_person: str | None = None
    state: str = Field(default="submitted", max_length=16)
    submitted_by: str = Field(default="", max_length=128)
    submitted_at: datetime
    audited_by: str | None = Field(default=None, max_length=128)
    audited_at: datetime | None = None
    settled_run_id: int | None = None
    reason: str = ""
    supersedes_id: int | None = Field(default=None, foreign_key="settlement_kpi_result.id")
    source: str = ""


class SettlementRun(SQLModel, table=True):
    """One settlement of a contract-year evaluation: what was computed and posted, and why.

    Attributes:
        run_no: 1 for the first settlement; a correction creates run 2, 3… superseding it.
        inputs_hash: SHA-256 of the audited result versions used; settling the same inputs again
            returns this run.
        contract_version: the version of the terms that governed the year.
        summary: JSON totals per payer (earned, grant, tax, due).
        trace: JSON list of the calculation traces of every figure.
    """

    __tablename__ = "settlement_run"
    __table_args__ = (UniqueConstraint("contract_id", "fiscal_year", "evaluation", "run_no"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64)
    fiscal_year: int
    evaluation: str = Field(default="final", max_length=16)
    run_no: int
    contract_version: int
    inputs_hash: str = Field(max_length=64)
    supersedes_run_id: int | None = Field(default=None, foreign_key="settlement_run.id")
    settled_on: datetime
    created_by: str = Field(default="", max_length=128)
    summary: str = "{}"
    trace: str = "[]"


class SettlementLine(SQLModel, table=True):
    """One payer's part of one tranche in a run, and the ledger entry that made it real.

    Attributes:
        entry_id: the entry posting the earned amount (the resolution of the commitment, or a
            correcting entry); None when nothing was earned (the commitment was voided).
    """

    __tablename__ = "settlement_line"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="settlement_run.id", index=True)
    tranche_id: str = Field(max_length=64)
    kpi_id: str = Field(default="", max_length=64)
    payer_id: str = Field(max_length=64)
    maximum_minor: int
    earned_minor: int
    entry_id: int | None = Field(default=None, foreign_key="ledger_entry.id")


class PartyBankAccount(SQLModel, table=True):
    """A contract party's bank account, as its bank registered it (for Zengin files).

    Attributes:
        holder_kana: 口座名義 in kana, exactly as the bank holds it.
        requester_code: 振込依頼人コード the party's own bank assigned it, if it sends files.
    """

    __tablename__ = "settlement_bank_account"
    __table_args__ = (UniqueConstraint("contract_id", "party"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64)
    party: str = Field(max_length=64)
    bank_code: str = Field(max_length=4)
    bank_name: str = Field(default="", max_length=15)
    branch_code: str = Field(max_length=3)
    branch_name: str = Field(default="", max_length=15)
    account_type: str = Field(default="1", max_length=1)
    account_number: str = Field(max_length=7)
    holder_kana: str = Field(max_length=40)
    requester_code: str = Field(default="", max_length=10)


class ReceiptApplication(SQLModel, table=True):
    """How much of one received payment a distribution applied: money is spent once.

    A receipt (an ``outcome_receipt`` entry crediting cash) is applied to the waterfall by a
    distribution, in whole or in part; the rows of one distribution are written in the same
    database transaction as its entries. The sum applied of a receipt never exceeds it, so a
    second distribution finds nothing left of the same money. Rows are insert-only (database
    triggers refuse UPDATE and DELETE), like the ledger's entries.

    Attributes:
        distribution_key: the idempotency-key prefix of the distribution's entries.
        receipt_entry_id: the ledger entry of the receipt.
        amount_minor: what this distribution applied of it (> 0).
    """

    __tablename__ = "settlement_receipt_application"
    __table_args__ = (
        UniqueConstraint("distribution_key", "receipt_entry_id"),
        CheckConstraint("amount_minor > 0", name="receipt_application_amount_positive"),
        Index("ix_receipt_application_contract", "contract_id", "receipt_entry_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64)
    distribution_key: str = Field(max_length=200)
    receipt_entry_id: int = Field(foreign_key="ledger_entry.id")
    payer_id: str = Field(max_length=64)
    amount_minor: int = Field(sa_type=BigInteger)
    applied_on: date
    recorded_at: datetime



class NoticeApproval(SQLModel, table=True):
    """A municipality's finance office inspected (検査) and approved a year's payment notice
    for the amount it states: the payer's Zengin file is produced only for approved amounts.

    Insert-only, like the ledger's entries. A settlement corrected after the approval changes
    the amount owed: the new amount needs an approval of its own.

    Attributes:
        amount_minor: what the notice asked for when it was approved (the payer's receivable
            for the year's results).
        inspected_on: the day of the 検査, as the finance office records it.
    """

    __tablename__ = "settlement_notice_approval"
    __table_args__ = (UniqueConstraint("contract_id", "fiscal_year", "payer_id",
                                       "amount_minor"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64)
    fiscal_year: int
    payer_id: str = Field(max_length=64)
    amount_minor: int = Field(sa_type=BigInteger)
    inspected_on: date
    approved_by: str = Field(max_length=128)
    approved_at: datetime


CHANGE_STATES = ("requested", "approved", "rejected")


class ChangeRequest(SQLModel, table=True):
    """A change that takes effect only once a second person approves it (four eyes): a
    party's bank account, the reopening of a closed fiscal year, an early termination.

    The row is the change's history: what it replaces, what it proposes, who asked and why,
    who decided and when. The change itself is applied in the same database transaction as
    the approval (:mod:`settlement.change_requests`).

    Attributes:
        act: what is changed (``bank_account.change``, ``period.reopen``,
            ``contract.early_termination``).
        subject: what it is changed on: the party (a bank account), ``FY2021`` (a period) or
            ``term`` (an early termination).
        proposed: JSON of the new values.
        previous: JSON of the values replaced (``""`` when there were none: a first
            registration).
        state: ``requested``, then ``approved`` or ``rejected``, once.
    """

    __tablename__ = "settlement_change_request"
    __table_args__ = (
        Index("ix_change_request_subject", "contract_id", "act", "subject", "state"),
        # One request awaiting a decision per subject, even when two are sent at once.
        Index("ux_change_request_open", "contract_id", "act", "subject", unique=True,
              sqlite_where=text("state = 'requested'"),
              postgresql_where=text("state = 'requested'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    act: str = Field(max_length=32)
    contract_id: str = Field(max_length=64)
    subject: str = Field(max_length=64)
    proposed: str = "{}"
    previous: str = ""
    reason: str = ""
    state: str = Field(default="requested", max_length=16)
    requested_by: str = Field(max_length=128)
    requested_at: datetime
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = None
    decision_reason: str = ""


class TransferFilePayee(SQLModel, table=True):
    """A payee of a Zengin file that was produced, and the account it was paid to: what the
    next file compares with to say that a payee's account changed since the last file.

    Attributes:
        account_digest: SHA-256 of the account's bank, branch, type, number and holder.
        account_masked: the account as listings show it (``0170-001 1 ****567``).
        transfer_on: the transfer date of the file.
    """

    __tablename__ = "settlement_transfer_file_payee"
    __table_args__ = (Index("ix_transfer_file_payee", "contract_id", "party"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64)
    party: str = Field(max_length=64)
    account_digest: str = Field(max_length=64)
    account_masked: str = Field(max_length=64)
    transfer_on: date
    produced_by: str = Field(default="", max_length=128)
    produced_at: datetime
