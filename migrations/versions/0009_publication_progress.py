"""publication progress: where a multi-step publish got to

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00

Instagram publishes through a container created first, X threads post one by one, and a
retry or a reconciliation must continue from what was already done rather than start
over (a second container or a repeated first post). The adapter saves that progress
through the engine's checkpoint into this column before each step that could make
something visible. The table keeps its row-level security; the column needs nothing more.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("publications") as batch:
        batch.add_column(sa.Column("progress", sa.JSON(), nullable=False, server_default="{}"))


def downgrade():
    with op.batch_alter_table("publications") as batch:
        batch.drop_column("progress")
