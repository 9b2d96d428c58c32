"""The analytics snapshot: each story's state at the end of each day something happened to it.

Rows are derived from the activity events by the application, not here: after an upgrade
to the newest revision, the application replays the events of every project that has
story events and no rows yet (``fill_missing`` of the analytics snapshot module).

Revision ID: 5d1e7c0a9b43
Revises: 82bf5862019b
Create Date: 2026-11-26 03:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1e7c0a9b43"
down_revision: str | None = "82bf5862019b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("draft", "approved", "in_progress", "review", "done", "blocked")


def upgrade() -> None:
    op.create_table(
        "story_days",
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                *STATUSES,
                name="story_status",
                native_enum=False,
                create_constraint=True,
                length=11,
            ),
            nullable=False,
        ),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("sprint_id", sa.Integer(), nullable=True),
        sa.Column("phase_id", sa.Integer(), nullable=True),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_story_days_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("story_id", "day", name=op.f("pk_story_days")),
    )
    op.create_index("ix_story_days_project_id_sprint_id", "story_days", ["project_id", "sprint_id"])
    op.create_index("ix_story_days_project_id_day", "story_days", ["project_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_story_days_project_id_day", table_name="story_days")
    op.drop_index("ix_story_days_project_id_sprint_id", table_name="story_days")
    op.drop_table("story_days")
