"""jobs: a job queue in the database (issue 15, long jobs in the background)

A job (every statement of a year, a KPI file) and its tasks, the pieces workers claim. No rows
exist before this revision; down drops both tables with whatever jobs they record.

Revision ID: 0013
Revises: 0012
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "state IN ('queued', 'running')"


def _string(length: int | None = None) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _string(32), nullable=False),
        sa.Column("params", _string(), nullable=False),
        sa.Column("queue", _string(32), nullable=False),
        sa.Column("dedupe_key", _string(64), nullable=False),
        sa.Column("state", _string(16), nullable=False),
        sa.Column("started_by", _string(128), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("error", _string(), nullable=False),
        sa.Column("result", _string(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_created_at", "job", ["created_at"])
    # One queued or running job per kind, queue and parameters, even when two are started at
    # the same moment: the second start finds the first.
    op.create_index("ux_job_active_key", "job", ["dedupe_key"], unique=True,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_table(
        "job_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("params", _string(), nullable=False),
        sa.Column("state", _string(16), nullable=False),
        sa.Column("units_total", sa.Integer(), nullable=False),
        sa.Column("units_done", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", _string(128), nullable=False),
        sa.Column("lease_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("error", _string(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "seq"),
    )
    op.create_index("ix_job_task_claim", "job_task", ["state", "lease_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_job_task_claim", table_name="job_task")
    op.drop_table("job_task")
    op.drop_index("ux_job_active_key", table_name="job")
    op.drop_index("ix_job_created_at", table_name="job")
    op.drop_table("job")
