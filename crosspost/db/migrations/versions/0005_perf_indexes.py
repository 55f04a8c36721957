"""perf indexes: a covering index for the latest metric snapshot of each post

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:45:00

The report reads the newest snapshot of every (post, metric) of a period; with `id` and `value`
in the index that is an index-only scan, in order, on SQLite and PostgreSQL (bench/reports.py).
It replaces the (delivery_id, name, taken_at) index, of which it is an extension.
"""

from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('metric_snapshots', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_metric_snapshots_delivery_id_name_taken_at_id_value'),
            ['delivery_id', 'name', 'taken_at', 'id', 'value'],
            unique=False,
        )
        batch_op.drop_index(batch_op.f('ix_metric_snapshots_delivery_id_name_taken_at'))


def downgrade() -> None:
    with op.batch_alter_table('metric_snapshots', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_metric_snapshots_delivery_id_name_taken_at'),
            ['delivery_id', 'name', 'taken_at'],
            unique=False,
        )
        batch_op.drop_index(batch_op.f('ix_metric_snapshots_delivery_id_name_taken_at_id_value'))
