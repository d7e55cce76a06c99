"""Served recommendations and feedback may be about a deal without contacts: the contact may be missing,
and the deal is named.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("served_recommendations", "recommendation_feedback")


def upgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name) as batch:
            batch.alter_column("contact_id", existing_type=sa.String(64), nullable=True)
            batch.add_column(sa.Column("opportunity_id", sa.String(64), nullable=True,
                                       comment="the deal an action on a deal without contacts was about"))


def downgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name) as batch:
            batch.execute(sa.text(f"DELETE FROM {name} WHERE contact_id IS NULL"))
            batch.drop_column("opportunity_id")
            batch.alter_column("contact_id", existing_type=sa.String(64), nullable=False)
