"""Posts, the accounts they target, their revisions and their comments.

A post's editable fields live on the post itself; every save also writes an immutable
``Revision`` whose ``content_hash`` covers exactly what would be published (text,
per-network variants, first comment, media checksums, targets, schedule and the options of
the networks targeted). Approvals
are bound to that hash, never to the post.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agency.extensions import db
from agency.sqltypes import string_enum
from tenants.ids import new_id
from tenants.scoping import TenantMixin


class PostStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    AWAITING_CLIENT = "awaiting_client"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"




class Post(TenantMixin, db.Model):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        Index("ix_posts_agency_id_client_id_scheduled_at", "agency_id", "client_id",
              "scheduled_at"),
        Index("ix_posts_agency_id_status_scheduled_at", "agency_id", "status", "scheduled_at"),
        ForeignKeyConstraint(
            ["agency_id", "client_id"], ["clients.agency_id", "clients.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[PostStatus] = mapped_column(string_enum(PostStatus, "post_status"),
                                               default=PostStatus.DRAFT)
    text: Mapped[str] = mapped_column(Text, default="")
    # {network: text} for networks whose text differs from the base text.
    variants: Mapped[dict] = mapped_column(JSON, default=dict)
    first_comment: Mapped[str] = mapped_column(Text, default="")
    # {network: {option: value}}: what a network publishes beyond the text (a Google
    # event or offer, an Instagram reel, a location tag, an X thread), checked by
    # agency/content/options.py and covered by the content hash like the text.
    options: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    labels: Mapped[list] = mapped_column(JSON, default=list)
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    targets = relationship("PostTarget", viewonly=True, lazy="selectin")
    attachments = relationship("PostMedia", viewonly=True, lazy="selectin",
                               order_by="PostMedia.position")

    @property
    def media(self) -> list:
        """The attached media, in the order they are shown and published."""
        return [a.media for a in self.attachments]


class PostTarget(TenantMixin, db.Model):
    """One account a post goes out on."""

    __tablename__ = "post_targets"
    __table_args__ = (
        UniqueConstraint("agency_id", "post_id", "social_account_id"),
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["posts.agency_id", "posts.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "social_account_id"],
            ["social_accounts.agency_id", "social_accounts.id"], ondelete="CASCADE",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    social_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)

    account = relationship("SocialAccount", viewonly=True, lazy="joined")


class PostMedia(TenantMixin, db.Model):
    """One library file attached to a post, at a position. A file in use cannot be
    deleted from the library (RESTRICT): an approved post must still have what was shown."""

    __tablename__ = "post_media"
    __table_args__ = (
        UniqueConstraint("agency_id", "post_id", "media_id"),
        UniqueConstraint("agency_id", "post_id", "position"),
        Index("ix_post_media_agency_id_media_id", "agency_id", "media_id"),
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["posts.agency_id", "posts.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "media_id"], ["media.agency_id", "media.id"], ondelete="RESTRICT"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    media_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer)

    media = relationship("Media", viewonly=True, lazy="joined")


class Revision(TenantMixin, db.Model):
    """An immutable snapshot of a post as saved; never updated, never deleted alone."""

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("agency_id", "post_id", "number"),
        UniqueConstraint("agency_id", "id"),
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["posts.agency_id", "posts.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CommentVisibility(StrEnum):
    INTERNAL = "internal"  # agency staff only
    CLIENT = "client"  # also shown to the client's contacts


class Comment(TenantMixin, db.Model):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("agency_id", "id"),
        Index("ix_comments_agency_id_post_id_created_at", "agency_id", "post_id", "created_at"),
        ForeignKeyConstraint(
            ["agency_id", "post_id"], ["posts.agency_id", "posts.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Exactly one author: a staff user, or one of the client's contacts (from the portal).
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    # No foreign key: removing a contact must not delete what they wrote (see Decision).
    author_contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    author_label: Mapped[str] = mapped_column(String(254), default="")
    visibility: Mapped[CommentVisibility] = mapped_column(
        string_enum(CommentVisibility, "comment_visibility"), default=CommentVisibility.INTERNAL
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
