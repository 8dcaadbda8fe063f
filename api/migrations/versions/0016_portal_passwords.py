"""portal passwords: a user may have a password (stored as a salted scrypt key), and a token
says what it is for

api_user gets password_hash (``scrypt$N$r$p$salt$key``, never the password) and
password_set_at, both empty until ``sib user password`` (or an administrator in the portal)
sets one. api_token gets purpose: ``api`` (sib token create), ``portal_session`` (a portal
sign-in, revoked when the user's password changes) or ``portal_link`` (a one-time sign-in link).
Tokens already there are ``api`` (the sessions open at the upgrade among them: they end within
the day anyway). Down drops the three columns.

Revision ID: 0016
Revises: 0015
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs on both databases (SQLite takes a NOT NULL column with a default).
    op.add_column("api_user", sa.Column("password_hash",
                                        sqlmodel.sql.sqltypes.AutoString(length=255),
                                        nullable=True))
    op.add_column("api_user", sa.Column("password_set_at",
                                        sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column("api_token", sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=16),
                                         nullable=False, server_default="api"))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35 and later), not a rebuilt table.
    with op.batch_alter_table("api_token", recreate="never") as batch:
        batch.drop_column("purpose")
    with op.batch_alter_table("api_user", recreate="never") as batch:
        batch.drop_column("password_set_at")
        batch.drop_column("password_hash")
