"""Tables of the service edge: users, hashed API tokens, the audit log, idempotent responses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

ROLES = ("admin", "intermediary", "evaluator", "finance_officer", "lender", "investor", "auditor")
# Roles bound to one party, and the prefix of that party's ledger references.
SCOPED_ROLES = {"finance_officer": "payer", "lender": "lender", "investor": "holder"}
# Roles bound to one party that act on the contracts naming it in a role: an evaluator submits
# and audits results only for the contracts whose evaluator its party is.
CONTRACT_SCOPED_ROLES = {"evaluator": "evaluator"}


class User(SQLModel, table=True):
    """Somebody who uses the service.

    Attributes:
        role: one of ``ROLES``.
        scope: for scoped roles, the party they act for (a payer, bank or holder id; for an
            evaluator, the evaluator party of the contracts it evaluates).
        password_hash: the portal password, if one was set (``sib user password``), as
            ``scrypt$N$r$p$salt$key`` (``api.users.hash_password``); never the password.
        password_set_at: when it was last set.
    """

    __tablename__ = "api_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=128, unique=True, index=True)
    display_name: str = ""
    role: str = Field(max_length=32)
    scope: str | None = Field(default=None, max_length=128)
    created_at: datetime
    password_hash: str | None = Field(default=None, max_length=255)
    password_set_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once.

    Attributes:
        prefix: the token's first characters, to tell tokens apart in listings.
        expires_at: after this moment the token is refused (``TOKEN_EXPIRED``); set at creation
            from the settings' token lifetime.
        revoked_at: set by ``sib token revoke``; a revoked token is refused from then on.
        last_used_at: when the token last authenticated a request (to the minute: it is
            written at most once a minute per token).
        purpose: ``api`` (``sib token create``), ``portal_session`` (a portal sign-in's
            session: revoked when the user's password changes) or ``portal_link`` (a
            one-time sign-in link).
    """

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="api_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12)
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    purpose: str = Field(default="api", max_length=16)


class AuditRecord(SQLModel, table=True):
    """Who did what, when: one row per write request (and per CLI write).

    Attributes:
        status: the HTTP status answered (201, or 403, 404, 409, 422 for a refused write);
            0 for a command-line write.
    """

    __tablename__ = "api_audit"
    __table_args__ = (Index("ix_api_audit_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    username: str = Field(max_length=128)
    role: str = Field(max_length=32)
    action: str = Field(max_length=200)
    target: str = ""
    request_id: str = Field(default="", max_length=64)
    idempotency_key: str = Field(default="", max_length=200)
    status: int = 0
    detail: str = ""


class IdempotentResponse(SQLModel, table=True):
    """The first response to a write, replayed for a retry with the same key and body."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="api_user.id")
    key: str = Field(max_length=200)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    body_hash: str = Field(max_length=64)
    status: int
    body: str
    created_at: datetime
