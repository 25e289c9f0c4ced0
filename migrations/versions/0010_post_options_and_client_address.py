"""post options and client address

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 10:00:00

A post carries options per network (a Google Business Profile event or offer, an
Instagram reel, a location tag, an X thread): ``posts.options``, covered by the content
hash (agency/content/revisions.py) and read by the adapters from the approved revision.
A client gets its postal address, shown beside the location tag its posts carry. Both
tables keep their row-level security; the columns need nothing more. Existing rows get
the defaults: no options, no address, France.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("options", sa.JSON(), nullable=False, server_default="{}"))

    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("address_line", sa.String(length=200), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("postal_code", sa.String(length=16), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("city", sa.String(length=120), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=False,
                                   server_default="FR"))


def downgrade():
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("country")
        batch.drop_column("city")
        batch.drop_column("postal_code")
        batch.drop_column("address_line")

    with op.batch_alter_table("posts") as batch:
        batch.drop_column("options")
