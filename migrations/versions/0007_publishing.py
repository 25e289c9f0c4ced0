"""publishing

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 12:40:00

"""
import sqlalchemy as sa
from alembic import op

from tenants.rls import enable_rls_sql

TENANT_TABLES = ("publications", "sandbox_posts")

# The dispatcher works across agencies, which row-level security hides from the app role
# (and, FORCEd, from the owner). As with migration 0004 it gets one narrow, named path: a
# SECURITY DEFINER function that expires lapsed leases and claims due publications with
# FOR UPDATE SKIP LOCKED (several dispatchers never claim the same row), returning ids
# only. Inside it, and only there, a policy for the owner admits every agency's
# publications. Keep it in step with agency.publishing.dispatch._claim_without_rls (the
# SQLite path): the tests run both.
FUNCTION = "relais_dispatch_publications(timestamptz, timestamptz, integer)"
POLICY = "system_dispatch"
SCAN_VALUE = "dispatch_publications"
CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION relais_dispatch_publications(
    now timestamptz, requeue_before timestamptz, lim integer)
RETURNS TABLE(agency_id uuid, publication_id uuid, state text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public
AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('relais.system_scan', 'dispatch_publications', true);
    -- A worker that has not reported back within its lease may or may not have
    -- published: the outcome is unknown, to be settled by reconciliation.
    UPDATE publications p
       SET state = 'unknown', due_at = now, queued_at = NULL, lease_expires_at = NULL,
           error_code = 'lease_expired', updated_at = now
     WHERE p.state = 'sending' AND p.lease_expires_at <= now;
    RETURN QUERY
    WITH due AS (
        SELECT p.id
          FROM publications p
         WHERE (p.state IN ('scheduled', 'retrying') AND p.due_at <= now)
            OR (p.state = 'queued' AND p.queued_at <= requeue_before)
            OR (p.state = 'unknown' AND p.due_at <= now
                AND (p.queued_at IS NULL OR p.queued_at <= requeue_before))
         ORDER BY p.due_at
         LIMIT lim
         FOR UPDATE SKIP LOCKED)
    UPDATE publications p
       SET state = CASE WHEN p.state = 'unknown' THEN 'unknown' ELSE 'queued' END,
           queued_at = now, dispatches = p.dispatches + 1, updated_at = now
      FROM due
     WHERE p.id = due.id
    RETURNING p.agency_id, p.id, p.state::text;
    PERFORM set_config('relais.system_scan', '', true);
END
$$
"""


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sandbox_posts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('social_account_id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('first_comment', sa.Text(), nullable=False),
    sa.Column('media', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id', 'social_account_id'], ['social_accounts.agency_id', 'social_accounts.id'], name=op.f('fk_sandbox_posts_agency_id_social_account_id_social_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_sandbox_posts_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_posts')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_sandbox_posts_agency_id_id')),
    sa.UniqueConstraint('agency_id', 'social_account_id', 'idempotency_key', name=op.f('uq_sandbox_posts_agency_id_social_account_id_idempotency_key'))
    )
    with op.batch_alter_table('sandbox_posts', schema=None) as batch_op:
        batch_op.create_index('ix_sandbox_posts_agency_id_social_account_id_created_at', ['agency_id', 'social_account_id', 'created_at'], unique=False)

    op.create_table('publications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('social_account_id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.Column('state', sa.Enum('scheduled', 'queued', 'sending', 'published', 'retrying', 'failed', 'unknown', 'needs_attention', 'held', name='publication_state', native_enum=False, length=16), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('dispatches', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('held_reason', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('external_url', sa.String(length=1000), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=False),
    sa.Column('error_code', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id', 'client_id'], ['clients.agency_id', 'clients.id'], name=op.f('fk_publications_agency_id_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id', 'post_id'], ['posts.agency_id', 'posts.id'], name=op.f('fk_publications_agency_id_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id', 'revision_id'], ['revisions.agency_id', 'revisions.id'], name=op.f('fk_publications_agency_id_revision_id_revisions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['agency_id', 'social_account_id'], ['social_accounts.agency_id', 'social_accounts.id'], name=op.f('fk_publications_agency_id_social_account_id_social_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_publications_agency_id_agencies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publications')),
    sa.UniqueConstraint('agency_id', 'id', name=op.f('uq_publications_agency_id_id')),
    sa.UniqueConstraint('agency_id', 'revision_id', 'social_account_id', name=op.f('uq_publications_agency_id_revision_id_social_account_id'))
    )
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.create_index('ix_publications_agency_id_post_id', ['agency_id', 'post_id'], unique=False)
        batch_op.create_index('ix_publications_agency_id_social_account_id_state', ['agency_id', 'social_account_id', 'state'], unique=False)
        batch_op.create_index('ix_publications_agency_id_state', ['agency_id', 'state'], unique=False)
        batch_op.create_index('ix_publications_state_due_at', ['state', 'due_at'], unique=False)

    with op.batch_alter_table('social_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credentials', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('status_reason', sa.String(length=500), nullable=False, server_default=''))

    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            for statement in enable_rls_sql(table):
                op.execute(statement)
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON publications")
        # TO CURRENT_USER: the owner running this migration, who owns the function.
        check = f"current_setting('relais.system_scan', true) = '{SCAN_VALUE}'"
        op.execute(f"CREATE POLICY {POLICY} ON publications FOR ALL TO CURRENT_USER "
                   f"USING ({check}) WITH CHECK ({check})")
        op.execute(CREATE_FUNCTION)
        op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")

    with op.batch_alter_table('social_accounts', schema=None) as batch_op:
        batch_op.drop_column('status_reason')
        batch_op.drop_column('credentials')

    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_index('ix_publications_state_due_at')
        batch_op.drop_index('ix_publications_agency_id_state')
        batch_op.drop_index('ix_publications_agency_id_social_account_id_state')
        batch_op.drop_index('ix_publications_agency_id_post_id')

    op.drop_table('publications')
    with op.batch_alter_table('sandbox_posts', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_posts_agency_id_social_account_id_created_at')

    op.drop_table('sandbox_posts')
