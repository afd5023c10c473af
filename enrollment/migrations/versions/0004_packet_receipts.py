"""Packets received from the enrolment stations: one row per accepted packet (its
registration id, the SHA-256 of its sealed bytes, the answer given to the station, the
record it became).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "packet_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("registration_id", sa.String(length=160), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256", name="uq_packet_receipts_sha256"),
    )
    op.create_index(
        op.f("ix_packet_receipts_registration_id"),
        "packet_receipts",
        ["registration_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_packet_receipts_record_id"), "packet_receipts", ["record_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_packet_receipts_record_id"), table_name="packet_receipts")
    op.drop_index(op.f("ix_packet_receipts_registration_id"), table_name="packet_receipts")
    op.drop_table("packet_receipts")
