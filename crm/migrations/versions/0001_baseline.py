"""Baseline: the store as it was when migrations began (what `create_all` made until then).

Revision ID: 0001
Revises: -
Create Date: 2026-11-30 14:31:26.890146
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")
"""crm.store.UtcTimestamp as stored: timestamptz on PostgreSQL, sortable ISO text on SQLite."""


def _create_table(name: str, *items: object, **kw: object) -> None:
    """Skip tables that exist: a store made before migrations (by ``create_all``) is completed, not refused."""
    op.create_table(name, *items, if_not_exists=True, **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    _create_table('accounts',
    sa.Column('account_id', sa.Text(), nullable=False, comment='Unique id of the account.'),
    sa.Column('name', sa.Text(), nullable=True, comment='Company name.'),
    sa.Column('industry', sa.Text(), nullable=True, comment='Industry or sector, free text.'),
    sa.Column('tier', sa.Text(), nullable=True, comment='Key-account tier.'),
    sa.Column('potential', sa.Float(), nullable=True, comment='Yearly business potential.'),
    sa.Column('employees', sa.BigInteger(), nullable=True, comment='Head count.'),
    sa.Column('region', sa.Text(), nullable=True, comment='Country or region.'),
    sa.PrimaryKeyConstraint('account_id'),
    comment='Customer companies.'
    )
    _create_table('data_versions',
    sa.Column('scope', sa.String(length=80), nullable=False, comment="'global' (shared tables) or 'rep:<rep_id>'"),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope')
    )
    _create_table('erased_contacts',
    sa.Column('contact_token', sa.String(length=64), nullable=False, comment='HMAC-SHA256 of the erased contact id'),
    sa.Column('ts', TS, nullable=False),
    sa.PrimaryKeyConstraint('contact_token')
    )
    _create_table('erasure_audit',
    sa.Column('erasure_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('contact_hash', sa.String(length=64), nullable=False),
    sa.Column('ts', TS, nullable=False),
    sa.Column('requested_by', sa.String(length=128), nullable=True),
    sa.Column('rows_deleted', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('erasure_id')
    )
    _create_table('recommendation_feedback',
    sa.Column('feedback_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('rep_id', sa.String(length=64), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ts', TS, nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('feedback_id')
    )
    with op.batch_alter_table('recommendation_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recommendation_feedback_contact_id'), ['contact_id'], unique=False, if_not_exists=True)
        batch_op.create_index(batch_op.f('ix_recommendation_feedback_rep_id'), ['rep_id'], unique=False, if_not_exists=True)

    _create_table('reps',
    sa.Column('rep_id', sa.Text(), nullable=False, comment='Unique id of the rep.'),
    sa.Column('name', sa.Text(), nullable=True, comment='Display name (personal data).'),
    sa.Column('team', sa.Text(), nullable=True, comment='Sales team or region the rep belongs to.'),
    sa.Column('manager', sa.Text(), nullable=True, comment="Name of the rep's manager."),
    sa.Column('office', sa.Text(), nullable=True, comment='Office or regional office.'),
    sa.Column('is_executive', sa.Boolean(), nullable=True, comment='True for our executives, whose presence counts as presence.'),
    sa.Column('started_at', TS, nullable=True, comment='When the rep joined.'),
    sa.PrimaryKeyConstraint('rep_id'),
    comment='Our people who hold customer relationships.'
    )
    _create_table('score_outputs',
    sa.Column('path', sa.Text(), nullable=False, comment='A `guanxi score` output folder (erasure rewrites it)'),
    sa.Column('ts', TS, nullable=False),
    sa.PrimaryKeyConstraint('path')
    )
    _create_table('served_recommendations',
    sa.Column('served_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ts', TS, nullable=False),
    sa.Column('rep_id', sa.String(length=64), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=True),
    sa.Column('model_versions', sa.Text(), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('served_id'),
    comment="What was recommended to whom and when (the manager's view counts it beside the feedback)"
    )
    with op.batch_alter_table('served_recommendations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_served_recommendations_contact_id'), ['contact_id'], unique=False, if_not_exists=True)
        batch_op.create_index(batch_op.f('ix_served_recommendations_rep_id'), ['rep_id'], unique=False, if_not_exists=True)
        batch_op.create_index(batch_op.f('ix_served_recommendations_ts'), ['ts'], unique=False, if_not_exists=True)

    _create_table('write_lock',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('writes', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    _create_table('contacts',
    sa.Column('contact_id', sa.Text(), nullable=False, comment='Unique id of the contact.'),
    sa.Column('account_id', sa.Text(), nullable=False, comment='Account the contact works for.'),
    sa.Column('name', sa.Text(), nullable=True, comment='Display name (personal data).'),
    sa.Column('email', sa.Text(), nullable=True, comment='E-mail address (personal data).'),
    sa.Column('title', sa.Text(), nullable=True, comment='Job title, free text.'),
    sa.Column('seniority', sa.Text(), nullable=True, comment='Seniority level.'),
    sa.Column('buying_role', sa.Text(), nullable=True, comment='Usual role in buying decisions.'),
    sa.Column('birthday_month', sa.BigInteger(), nullable=True, comment='Month of birth (personal data).'),
    sa.Column('birthday_day', sa.BigInteger(), nullable=True, comment='Day of month of birth (personal data).'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id'),
    comment='People at customer accounts.'
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_account', ['account_id'], unique=False, if_not_exists=True)

    _create_table('opportunities',
    sa.Column('opportunity_id', sa.Text(), nullable=False, comment='Unique id of the opportunity.'),
    sa.Column('account_id', sa.Text(), nullable=True, comment='Customer account; null when the source does not say.'),
    sa.Column('owner_rep_id', sa.Text(), nullable=False, comment='Rep who owns the deal.'),
    sa.Column('amount', sa.Float(), nullable=True, comment='Expected value while open (list price when that is all the source has).'),
    sa.Column('closed_amount', sa.Float(), nullable=True, comment='Value booked at close; null until closed. Never a feature.'),
    sa.Column('type', sa.Text(), nullable=True, comment='Kind of deal.'),
    sa.Column('product', sa.Text(), nullable=True, comment='Product or offering, free text.'),
    sa.Column('created_at', TS, nullable=True, comment='When the deal was opened; null when the source does not say.'),
    sa.Column('closed_at', TS, nullable=True, comment='When it was won or lost; null while open.'),
    sa.Column('outcome', sa.Text(), nullable=False, comment='Final outcome, or open.'),
    sa.Column('competitors', sa.BigInteger(), nullable=True, comment='Number of competitors known on the deal.'),
    sa.Column('attributes', sa.Text(), nullable=True, comment='Extra source fields as a JSON object (custom fields).'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_rep_id'], ['reps.rep_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('opportunity_id'),
    comment='Deals, open or closed.'
    )
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index('ix_opportunities_account', ['account_id'], unique=False, if_not_exists=True)

    _create_table('interactions',
    sa.Column('interaction_id', sa.Text(), nullable=False, comment='Unique id of the interaction.'),
    sa.Column('ts', TS, nullable=False, comment='When it happened.'),
    sa.Column('rep_id', sa.Text(), nullable=False, comment='Our side.'),
    sa.Column('contact_id', sa.Text(), nullable=False, comment='Their side.'),
    sa.Column('channel', sa.Text(), nullable=False, comment='Medium.'),
    sa.Column('direction', sa.Text(), nullable=False, comment='outbound: the rep reached out; inbound: the contact did.'),
    sa.Column('duration_min', sa.Float(), nullable=True, comment='Length of a call, meeting or visit.'),
    sa.Column('depth', sa.BigInteger(), nullable=True, comment='Depth ladder: 0 like, 1 greeting, 2 business, 3 consult, 4 personal advice.'),
    sa.Column('occasion', sa.Text(), nullable=True, comment='Why: holiday or birthday greeting, inbound business request, referral.'),
    sa.Column('opportunity_id', sa.Text(), nullable=True, comment='Deal the touch was about, if any.'),
    sa.Column('favor', sa.Text(), nullable=True, comment='given: we helped them; received: they helped us or we asked.'),
    sa.Column('with_executive', sa.Boolean(), nullable=True, comment='One of our executives took part.'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.contact_id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.opportunity_id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rep_id'], ['reps.rep_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('interaction_id'),
    comment='Every touch between a rep and a contact, in either direction.'
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_contact_ts', ['contact_id', 'ts'], unique=False, if_not_exists=True)
        batch_op.create_index('ix_interactions_rep_ts', ['rep_id', 'ts'], unique=False, if_not_exists=True)
        batch_op.create_index('ix_interactions_ts', ['ts'], unique=False, if_not_exists=True)

    _create_table('opportunity_contacts',
    sa.Column('opportunity_id', sa.Text(), nullable=False, comment='The deal.'),
    sa.Column('contact_id', sa.Text(), nullable=False, comment='The contact.'),
    sa.Column('role', sa.Text(), nullable=False, comment='Role on this deal.'),
    sa.Column('stance', sa.Text(), nullable=True, comment='Stance toward us.'),
    sa.Column('added_at', TS, nullable=True, comment="When we learned of the contact's role; null means at creation."),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.contact_id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.opportunity_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('opportunity_id', 'contact_id'),
    comment="The decision chain: each contact's role and stance on a deal."
    )
    with op.batch_alter_table('opportunity_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_opportunity_contacts_contact', ['contact_id'], unique=False, if_not_exists=True)

    _create_table('opportunity_stages',
    sa.Column('opportunity_id', sa.Text(), nullable=False, comment='The deal.'),
    sa.Column('entered_at', TS, nullable=False, comment='When the deal entered the stage.'),
    sa.Column('stage', sa.Text(), nullable=False, comment='Stage entered.'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.opportunity_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('opportunity_id', 'entered_at'),
    comment='Stage history: one row each time a deal entered a stage.'
    )


def downgrade() -> None:
    op.drop_table('opportunity_stages')
    with op.batch_alter_table('opportunity_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunity_contacts_contact')

    op.drop_table('opportunity_contacts')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_ts')
        batch_op.drop_index('ix_interactions_rep_ts')
        batch_op.drop_index('ix_interactions_contact_ts')

    op.drop_table('interactions')
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_account')

    op.drop_table('opportunities')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_account')

    op.drop_table('contacts')
    op.drop_table('write_lock')
    with op.batch_alter_table('served_recommendations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_served_recommendations_ts'))
        batch_op.drop_index(batch_op.f('ix_served_recommendations_rep_id'))
        batch_op.drop_index(batch_op.f('ix_served_recommendations_contact_id'))

    op.drop_table('served_recommendations')
    op.drop_table('score_outputs')
    op.drop_table('reps')
    with op.batch_alter_table('recommendation_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recommendation_feedback_rep_id'))
        batch_op.drop_index(batch_op.f('ix_recommendation_feedback_contact_id'))

    op.drop_table('recommendation_feedback')
    op.drop_table('erasure_audit')
    op.drop_table('erased_contacts')
    op.drop_table('data_versions')
    op.drop_table('accounts')
