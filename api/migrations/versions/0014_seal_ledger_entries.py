"""seal ledger entries: the ledger's own entries get a keyed seal too

Each book's entries are chained with SHA-256 (ledger_entry.hash), which anyone able to write the
database file can recompute after an edit. From this revision every entry is also sealed in
record_seal (table ledger_entry), keyed with SIB_CHAIN_KEY when it is set, over its deciding
columns and its chain hash: a recomputed chain no longer matches its seals. The entries already
there are sealed as they stand (set the key before upgrading). Down removes those seals.

Revision ID: 0014
Revises: 0013
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from api.seals import seal_pending

    seal_pending(op.get_bind(), {"ledger_entry": None}, backfill=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM record_seal WHERE table_name = 'ledger_entry'"))
