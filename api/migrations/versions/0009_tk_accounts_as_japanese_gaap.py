"""匿名組合 accounts as Japanese GAAP classifies them for the operator (営業者)

The investors' contributions (``units:<class>``) are a liability, 預り匿名組合出資金, and their
share of the profit (``distributions:<class>``) an expense, 匿名組合損益分配額 — not equity.
Books opened before this revision are reclassified here: only each account's type and names
change; no entry or posting is touched (they are insert-only), and every balance keeps its
debits and credits — only the side a report calls "normal" changes with the type.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        UPDATE ledger_account
           SET type = 'liability',
               name_ja = '預り' || name_ja,
               name_en = 'Silent-partnership contributions' || substr(name_en, 6)
         WHERE code LIKE 'units:%' AND type = 'equity'""")
    op.execute("""
        UPDATE ledger_account
           SET type = 'expense',
               name_ja = '匿名組合損益分配額' || substr(name_ja, 4),
               name_en = 'Silent-partnership profit distributions' || substr(name_en, 14)
         WHERE code LIKE 'distributions:%' AND type = 'equity'""")


def downgrade() -> None:
    op.execute("""
        UPDATE ledger_account
           SET type = 'equity',
               name_ja = substr(name_ja, 3),
               name_en = 'Units' || substr(name_en, 33)
         WHERE code LIKE 'units:%' AND type = 'liability'""")
    op.execute("""
        UPDATE ledger_account
           SET type = 'equity',
               name_ja = '分配金' || substr(name_ja, 10),
               name_en = 'Distributions' || substr(name_en, 40)
         WHERE code LIKE 'distributions:%' AND type = 'expense'""")
