"""The pair log: each (rep, contact)'s interactions packed in one row, what a request reads (crm.pair_log).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pair_log",
        sa.Column("rep_id", sa.String(64), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False, comment="interactions of the pair"),
        sa.Column("last_us", sa.BigInteger(), nullable=False, comment="the latest one, µs since 1970 UTC"),
        sa.Column("ts", sa.LargeBinary(), nullable=False,
                  comment="every timestamp, int64 µs little-endian, in order"),
        sa.Column("code", sa.LargeBinary(), nullable=False,
                  comment="every interaction packed (crm.pair_log), int32"),
        sa.PrimaryKeyConstraint("rep_id", "contact_id"),
        comment="Each (rep, contact)'s interactions packed in one row, kept by every write (crm.pair_log)",
    )
    from crm.pair_log import rebuild_all  # a store with interactions gets its pair logs now

    rebuild_all(op.get_bind())


def downgrade() -> None:
    op.drop_table("pair_log")
