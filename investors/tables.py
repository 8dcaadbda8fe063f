"""Database tables of the investors package: the holder registry and per-holder money.

No national identification number (マイナンバー) is stored: the payment records carry name,
reading and address, and the number is added by the filer outside this system.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class Holder(SQLModel, table=True):
    """A bank, citizen or company holding a loan or units.

    Attributes:
        kind: ``bank``, ``individual`` or ``company``.
        tax_category: ``individual``, ``corporate`` or ``tax_exempt`` (withholding rates).
        bank_*: the account distributions are paid to (Zengin 受取人), name in kana.
    """

    __tablename__ = "investor_holder"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(max_length=16)
    name_kanji: str = ""
    name_kana: str = ""
    name_en: str = ""
    email: str = ""
    address: str = ""
    tax_category: str = Field(max_length=32)
    bank_code: str = Field(default="", max_length=4)
    bank_name: str = Field(default="", max_length=15)
    branch_code: str = Field(default="", max_length=3)
    branch_name: str = Field(default="", max_length=15)
    account_type: str = Field(default="1", max_length=1)
    account_number: str = Field(default="", max_length=7)
    account_holder_kana: str = Field(default="", max_length=30)
    created_at: datetime


class Subscription(SQLModel, table=True):
    """Units of a class bought by a holder, and the ledger entry of the money received (one
    entry may carry a whole subscription round)."""

    __tablename__ = "investor_subscription"
    __table_args__ = (UniqueConstraint("contract_id", "unit_class", "holder_id",
                                       "subscribed_on"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64, index=True)
    unit_class: str = Field(max_length=64)
    holder_id: int = Field(foreign_key="investor_holder.id", index=True)
    units: int
    amount_minor: int
    subscribed_on: date
    entry_id: int = Field(foreign_key="ledger_entry.id")


class HolderPayment(SQLModel, table=True):
    """One holder's part of a class payment: gross, tax withheld, net.

    Attributes:
        kind: ``distribution`` (taxed), ``capital_return`` or ``write_down`` (no cash).
        source_entry_id: the class-level waterfall entry this part comes from.
        entry_id: the entry paying the holders (None for a write-down share).
    """

    __tablename__ = "investor_payment"
    __table_args__ = (UniqueConstraint("source_entry_id", "holder_id"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64, index=True)
    unit_class: str = Field(max_length=64)
    holder_id: int = Field(foreign_key="investor_holder.id", index=True)
    paid_on: date
    kind: str = Field(max_length=16)
    income_type: str = Field(default="", max_length=32)
    gross_minor: int
    withheld_minor: int = 0
    net_minor: int
    source_entry_id: int = Field(foreign_key="ledger_entry.id")
    entry_id: int | None = Field(default=None, foreign_key="ledger_entry.id")
