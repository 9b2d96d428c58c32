"""Stories remember what the last plan import gave them, for three-way merges on re-import.

Revision ID: b174e549e5a2
Revises: caf9cfe4d808
Create Date: 2026-11-25 19:36:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b174e549e5a2"
down_revision: str | None = "caf9cfe4d808"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch_op:
        batch_op.add_column(sa.Column("import_baseline", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch_op:
        batch_op.drop_column("import_baseline")
