"""receipt applications: what each distribution spent of each receipt (insert-only)

A distribution applies received payments to the waterfall, in whole or in part, and records
how much of each in the same transaction as its entries; a receipt is never applied beyond its
amount, so the same money cannot be distributed twice. Like ledger entries, the rows are never
updated or deleted: the database refuses it.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "settlement_receipt_application"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("distribution_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("receipt_entry_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name="receipt_application_amount_positive"),
        sa.ForeignKeyConstraint(["receipt_entry_id"], ["ledger_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("distribution_key", "receipt_entry_id"),
    )
    op.create_index("ix_receipt_application_contract", TABLE,
                    ["contract_id", "receipt_entry_id"])
    if op.get_bind().dialect.name == "postgresql":
        # ledger_refuse_change() is created by 0002.
        op.execute(f"CREATE TRIGGER {TABLE}_immutable BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_no_{action.lower()} BEFORE {action} ON {TABLE} "
                       f"BEGIN SELECT RAISE(ABORT, 'LEDGER_IMMUTABLE: {TABLE} rows are never "
                       f"{action.lower()}d; a receipt once applied stays applied'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_immutable ON {TABLE}")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{action}")
    op.drop_index("ix_receipt_application_contract", table_name=TABLE)
    op.drop_table(TABLE)
