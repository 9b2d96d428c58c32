"""Stories keep their acceptance criteria ([{"text", "done"}], in order) from plan documents.

Revision ID: caf9cfe4d808
Revises: a0959b143b7f
Create Date: 2026-11-25 19:31:27.471557+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "caf9cfe4d808"
down_revision: str | None = "a0959b143b7f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Existing stories get an empty list; the default then goes, as the models set the value.
    with op.batch_alter_table("stories") as batch_op:
        batch_op.add_column(
            sa.Column("acceptance_criteria", JSON, nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("stories") as batch_op:
        batch_op.alter_column("acceptance_criteria", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch_op:
        batch_op.drop_column("acceptance_criteria")
