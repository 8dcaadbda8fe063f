"""ledger guards: entries and postings are insert-only; entries balance at commit (PostgreSQL)

The application never updates or deletes an entry or a posting; these triggers make the
database refuse it too, so that a bug or a stray SQL session cannot rewrite history. On
PostgreSQL a deferred constraint trigger also checks, at commit, that every entry's postings
balance per currency (django-hordak's approach).

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

IMMUTABLE_TABLES = ("ledger_entry", "ledger_posting")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting")
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
        op.execute("DROP FUNCTION IF EXISTS ledger_check_entry_balanced()")
    else:
        for table in IMMUTABLE_TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def _upgrade_sqlite() -> None:
    for table in IMMUTABLE_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'LEDGER_IMMUTABLE: {table} rows are never "
                f"{action.lower()}d; post a correcting entry'); END")


def _upgrade_postgresql() -> None:
    op.execute("""
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'LEDGER_IMMUTABLE: % rows are never %d; post a correcting entry',
                TG_TABLE_NAME, lower(TG_OP) USING ERRCODE = 'integrity_constraint_violation';
        END $$""")
    for table in IMMUTABLE_TABLES:
        op.execute(f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()")
    op.execute("""
        CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE bad record;
        BEGIN
            SELECT currency,
                   SUM(CASE WHEN side = 'D' THEN amount_minor ELSE -amount_minor END) AS net
              INTO bad
              FROM ledger_posting WHERE entry_id = NEW.entry_id
             GROUP BY currency
            HAVING SUM(CASE WHEN side = 'D' THEN amount_minor ELSE -amount_minor END) <> 0
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'ENTRY_UNBALANCED: entry % does not balance in % (net %)',
                    NEW.entry_id, bad.currency, bad.net
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("CREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting "
               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
               "EXECUTE FUNCTION ledger_check_entry_balanced()")
