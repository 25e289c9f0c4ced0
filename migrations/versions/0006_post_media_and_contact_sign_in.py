"""post media and contact sign-in

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:02:26

"""
import sqlalchemy as sa
from alembic import op

from tenants.rls import enable_rls_sql

# post_media is new; contacts gets its policy again, now also admitting the signed-in
# user's own contact rows (tenants.rls.EXTRA_VISIBILITY).
RLS_TABLES = ("post_media", "contacts")

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "post_media",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id", "media_id"], ["media.agency_id", "media.id"],
                                name=op.f("fk_post_media_agency_id_media_id_media"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["agency_id", "post_id"], ["posts.agency_id", "posts.id"],
                                name=op.f("fk_post_media_agency_id_post_id_posts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"],
                                name=op.f("fk_post_media_agency_id_agencies"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_media")),
        sa.UniqueConstraint("agency_id", "post_id", "media_id",
                            name=op.f("uq_post_media_agency_id_post_id_media_id")),
        sa.UniqueConstraint("agency_id", "post_id", "position",
                            name=op.f("uq_post_media_agency_id_post_id_position")),
    )
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.create_index("ix_post_media_agency_id_media_id", ["agency_id", "media_id"],
                              unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
        batch_op.create_index("ix_contacts_user_id", ["user_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_contacts_user_id_users"), "users",
                                    ["user_id"], ["id"], ondelete="SET NULL")

    if op.get_bind().dialect.name == "postgresql":
        for table in RLS_TABLES:
            for statement in enable_rls_sql(table):
                op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        # The tenant-only policy again, before the column it mentions goes.
        for statement in enable_rls_sql("contacts", extra=False):
            op.execute(statement)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_contacts_user_id_users"), type_="foreignkey")
        batch_op.drop_index("ix_contacts_user_id")
        batch_op.drop_column("user_id")

    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.drop_index("ix_post_media_agency_id_media_id")

    op.drop_table("post_media")
