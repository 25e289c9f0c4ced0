"""report branding: the agency's colour and logo on its clients' monthly reports

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 20:00:00

White label: the monthly report (agency/results/report.py) shows the agency's logo and
colour, never Relais's. ``brand_color`` is ``#RRGGBB``; ``logo`` holds the re-encoded PNG
or JPEG (at most 300 KB, checked with Pillow before it is stored) and ``logo_type`` its
media type ('' without a logo). ``agencies`` is already under row-level security.
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column('brand_color', sa.String(length=7),
                                      server_default='#1f4e79', nullable=False))
        batch_op.add_column(sa.Column('logo', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('logo_type', sa.String(length=32),
                                      server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column('logo_type')
        batch_op.drop_column('logo')
        batch_op.drop_column('brand_color')
