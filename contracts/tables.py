"""Database tables of the contracts package: every version of every contract, and which ledger
entry holds each tranche's commitment for each payer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class ContractVersion(SQLModel, table=True):
    """One version of a contract's terms, kept forever.

    Attributes:
        document: the validated contract as canonical JSON (amounts as decimal strings).
        document_hash: SHA-256 of ``document``: loading the same terms again is a no-op.
        effective_from: first fiscal year these terms govern (version 1: the first year).
        reason: why the version exists (``initial`` or the amendment's reason).
    """

    __tablename__ = "contract_version"
    __table_args__ = (UniqueConstraint("contract_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64, index=True)
    version: int
    name_ja: str = ""
    name_en: str = ""
    currency: str = Field(max_length=3)
    document: str
    document_hash: str = Field(max_length=64)
    effective_from: int
    reason: str = ""
    source: str = ""
    loaded_at: datetime


class TrancheCommitment(SQLModel, table=True):
    """The pending ledger entry reserving one payer's part of one tranche's maximum.

    Attributes:
        active: False once an amendment replaced it (its entry was voided).
    """

    __tablename__ = "contract_commitment"
    __table_args__ = (UniqueConstraint("entry_id"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64, index=True)
    version: int
    tranche_id: str = Field(max_length=64)
    payer_id: str = Field(max_length=64)
    fiscal_year: int
    evaluation: str = Field(default="final", max_length=16)
    amount_minor: int
    entry_id: int = Field(foreign_key="ledger_entry.id")
    active: bool = True
