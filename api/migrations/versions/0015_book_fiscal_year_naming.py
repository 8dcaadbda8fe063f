"""book fiscal-year naming: a book's fiscal years are named by the year they start or end in

A contract names its fiscal years by the calendar year in which they start (Japan: 2019年度 is
April 2019 – March 2020) or in which they end (a US state: FY2026 is July 2025 – June 2026);
its books close their periods by the same names. ledger_book gets fiscal_year_named_by,
'start' or 'end'; every book already there was named by its start year and keeps 'start'. Down
drops the column.

Revision ID: 0015
Revises: 0014
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (SQLite takes a NOT NULL column with a default):
    # ledger_book is never copied and rebuilt, so nothing that refers to it is disturbed.
    op.add_column("ledger_book", sa.Column("fiscal_year_named_by",
                                           sqlmodel.sql.sqltypes.AutoString(length=8),
                                           nullable=False, server_default="start"))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35 and later), not a rebuilt table.
    with op.batch_alter_table("ledger_book", recreate="never") as batch:
        batch.drop_column("fiscal_year_named_by")
