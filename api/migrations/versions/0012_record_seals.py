"""record seals: tamper evidence for every record that decides money

A seal per row of the tables that decide money (KPI results, contract versions and
commitments, bank accounts and change requests, settlement runs and lines, receipt
applications, notice approvals, holders, subscriptions and holder payments, users and the audit
log), chained per table and keyed with SIB_CHAIN_KEY when it is set (see ledger/seals.py).
The rows already there are sealed as they stand: set the key before upgrading.

Revision ID: 0012
Revises: 0011
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int | None = None) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    from api.seals import seal_all

    op.create_table(
        "record_seal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", _string(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", _string(64), nullable=False),
        sa.Column("prev_seal", _string(64), nullable=False),
        sa.Column("seal", _string(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("table_name", "seq"),
    )
    op.create_index("ix_record_seal_row", "record_seal", ["table_name", "row_id"])
    seal_all(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_record_seal_row", table_name="record_seal")
    op.drop_table("record_seal")
