"""four eyes and token expiry: change requests, the payees of produced Zengin files, and
tokens that expire and record their last use

A bank-account change and a period's reopening are requests a second person approves
(settlement_change_request). Each Zengin file produced records the account each payee was paid
to (settlement_transfer_file_payee), so the next file can say that a payee's account changed.
Tokens get an expiry and a last-used time; tokens issued before this revision expire 90 days
after the upgrade (they never expired before).

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXISTING_TOKENS_VALID_DAYS = 90


def _string(length: int | None = None) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "settlement_change_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("act", _string(32), nullable=False),
        sa.Column("contract_id", _string(64), nullable=False),
        sa.Column("subject", _string(64), nullable=False),
        sa.Column("proposed", _string(), nullable=False),
        sa.Column("previous", _string(), nullable=False),
        sa.Column("reason", _string(), nullable=False),
        sa.Column("state", _string(16), nullable=False),
        sa.Column("requested_by", _string(128), nullable=False),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("decided_by", _string(128), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decision_reason", _string(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_change_request_subject", "settlement_change_request",
                    ["contract_id", "act", "subject", "state"])
    # One request awaiting a decision per subject, even when two are sent at once.
    op.create_index("ux_change_request_open", "settlement_change_request",
                    ["contract_id", "act", "subject"], unique=True,
                    sqlite_where=sa.text("state = 'requested'"),
                    postgresql_where=sa.text("state = 'requested'"))
    op.create_table(
        "settlement_transfer_file_payee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", _string(64), nullable=False),
        sa.Column("party", _string(64), nullable=False),
        sa.Column("account_digest", _string(64), nullable=False),
        sa.Column("account_masked", _string(64), nullable=False),
        sa.Column("transfer_on", sa.Date(), nullable=False),
        sa.Column("produced_by", _string(128), nullable=False),
        sa.Column("produced_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transfer_file_payee", "settlement_transfer_file_payee",
                    ["contract_id", "party"])
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))
        batch.add_column(sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))
    expires = datetime.now(UTC) + timedelta(days=EXISTING_TOKENS_VALID_DAYS)
    token = sa.table("api_token", sa.column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime()))
    op.execute(token.update().where(token.c.expires_at.is_(None)).values(expires_at=expires))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
    op.drop_index("ix_transfer_file_payee", table_name="settlement_transfer_file_payee")
    op.drop_table("settlement_transfer_file_payee")
    op.drop_index("ux_change_request_open", table_name="settlement_change_request")
    op.drop_index("ix_change_request_subject", table_name="settlement_change_request")
    op.drop_table("settlement_change_request")
