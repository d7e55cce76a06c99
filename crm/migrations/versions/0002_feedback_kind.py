"""Feedback keeps the action's kind, so that done actions reach the effect model as treatments.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recommendation_feedback") as batch:
        batch.add_column(sa.Column("kind", sa.String(32), nullable=True, comment=(
            "the action's kind when the feedback was given (a done action is a treatment of this kind for the "
            "effect model)")))


def downgrade() -> None:
    with op.batch_alter_table("recommendation_feedback") as batch:
        batch.drop_column("kind")
