"""Logging in: delegate link tokens, staff passwords, sessions, roles and the route guard."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.credentials.principals import Principals
from assembly.db import only_reading, reading, utcnow
from assembly.errors import Forbidden, LoginRequired
from assembly.i18n import t

SESSION_COOKIE = "assembly_session"
TOKEN_BYTES = 32  # 256 bits; the issue asks for at least 128


class Role(StrEnum):
    secretariat = "secretariat"
    chair = "chair"
    desk = "desk"
    delegate = "delegate"
    observer = "observer"
    public = "public"


ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.secretariat, Role.chair, Role.desk})
SECRETARIAT = frozenset({Role.secretariat})
DESK = frozenset({Role.secretariat, Role.desk})
CHAIR = frozenset({Role.secretariat, Role.chair})
MEMBERS = frozenset({Role.delegate, Role.observer})
LOGGED_IN = ALL_ROLES - {Role.public}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a staff member, a delegate (or observer), or the public."""

    role: Role
    name: str = ""
    staff_user_id: int | None = None
    delegate_id: int | None = None
    nmo_id: int | None = None
    assembly_id: int | None = None
    is_head: bool = False
    # A delegate's stored screen language (read with the delegate: no query of its own).
    language: str | None = None

    @property
    def actor(self) -> str:
        """How the append-only records name the person who acted."""
        if self.staff_user_id is not None:
            return f"{self.role.value}:{self.name}"
        if self.delegate_id is not None:
            return f"delegate:{self.delegate_id}:{self.name}"
        return "public"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


PUBLIC = Principal(Role.public)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_secret(secret: str) -> str:
    """Tokens and session secrets are random and long, so a plain SHA-256 is the right hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenSealer:
    """Encrypts login tokens at rest with a key derived from ASSEMBLY_SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"assembly-token-seal", info=b"v1"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def unseal(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None


# Argon2id with the library's RFC 9106 "low memory" profile: memory-hard, ~50 ms a check.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


MIN_PASSWORD_LENGTH = 10


def check_password_strength(password: str) -> None:
    from assembly.errors import Invalid

    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            t(
                "A staff password must have at least {min_password_length} characters.",
                min_password_length=MIN_PASSWORD_LENGTH,
            )
        )


async def principal_for_session(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    secret = connection.cookies.get(SESSION_COOKIE)
    if not secret:
        return PUBLIC
    ctx = connection.app.state.ctx
    principals: Principals = ctx.principals
    key = hash_secret(secret)
    with only_reading():
        await principals.up_to_date(ctx.engine)
        cached = principals.get(key)
        if cached is not None:
            return cached
        generation = principals.generation  # before reading: see Principals.put
        principal, expires_at = await _principal_of(ctx.engine, key)
    principals.put(key, principal, generation, expires_at)
    return principal


@functools.cache
def _principal_columns() -> Select[*tuple[Any, ...]]:
    """What a principal is read from: a session, and its staff user or its delegate with the
    delegate's NMO (built once: building it was a third of a lookup's work)."""
    from assembly.credentials.models import Delegate, LoginSession, Nmo, StaffUser

    return (
        select(
            LoginSession.expires_at,
            LoginSession.staff_user_id,
            StaffUser.role,
            StaffUser.username,
            StaffUser.active,
            Delegate.id,
            Delegate.name,
            Delegate.nmo_id,
            Delegate.role,
            Delegate.language,
            Nmo.assembly_id,
            LoginSession.secret_hash,
        )
        .select_from(LoginSession)
        .outerjoin(StaffUser, StaffUser.id == LoginSession.staff_user_id)
        .outerjoin(Delegate, Delegate.id == LoginSession.delegate_id)
        .outerjoin(Nmo, Nmo.id == Delegate.nmo_id)
    )


@functools.cache
def _principal_query() -> Select[*tuple[Any, ...]]:
    from assembly.credentials.models import LoginSession

    return _principal_columns().where(LoginSession.secret_hash == bindparam("secret_hash"))


@functools.cache
def _delegates_principals_query() -> Select[*tuple[Any, ...]]:
    from assembly.credentials.models import LoginSession

    return _principal_columns().where(
        LoginSession.delegate_id.in_(bindparam("delegate_ids", expanding=True)),
        LoginSession.expires_at > bindparam("now"),
    )


def _principal_from_row(row: Any) -> tuple[Principal, dt.datetime | None]:
    """The principal of a row of _principal_columns and when its session expires (None: no
    such session, or expired)."""
    (expires_at, staff_id, staff_role, username, active) = row[:5]
    (delegate_id, name, nmo_id, delegate_role, language, assembly_id) = row[5:11]
    if expires_at < utcnow():
        return PUBLIC, None
    if staff_id is not None:
        if staff_role is None or not active:
            return PUBLIC, expires_at
        return Principal(Role(staff_role), name=username, staff_user_id=staff_id), expires_at
    if delegate_id is None or assembly_id is None:
        return PUBLIC, expires_at
    role = Role.observer if delegate_role == "observer" else Role.delegate
    principal = Principal(
        role,
        name=name,
        delegate_id=delegate_id,
        nmo_id=nmo_id,
        assembly_id=assembly_id,
        is_head=delegate_role == "head",
        language=language,
    )
    return principal, expires_at


async def _principal_of(
    engine: AsyncEngine, secret_hash: str
) -> tuple[Principal, dt.datetime | None]:
    """The principal of a session and when the session expires (None: no such session), in
    one query: the session, and its staff user or its delegate with the delegate's NMO."""
    async with reading(engine) as conn:
        row = (await conn.execute(_principal_query(), {"secret_hash": secret_hash})).one_or_none()
    if row is None:
        return PUBLIC, None
    return _principal_from_row(row)


async def remember_delegates(
    engine: AsyncEngine, principals: Principals, ids: Iterable[int]
) -> int:
    """Read the principals of these delegates' live sessions into `principals` in one query,
    so that their next requests find them there (see voting.service.BallotSheets: a vote's
    casters, when a process reads its sheet). Returns how many sessions were remembered."""
    delegate_ids = sorted(set(ids))
    if not delegate_ids:
        return 0
    with only_reading():
        await principals.up_to_date(engine)
        generation = principals.generation  # before reading: see Principals.put
        async with reading(engine) as conn:
            rows = (
                await conn.execute(
                    _delegates_principals_query(),
                    {"delegate_ids": delegate_ids, "now": utcnow()},
                )
            ).all()
    remembered = 0
    for row in rows:
        principal, expires_at = _principal_from_row(row)
        if principal is not PUBLIC:
            principals.put(row.secret_hash, principal, generation, expires_at)
            remembered += 1
    return remembered


class SessionAuthMiddleware(AbstractAuthenticationMiddleware):
    """Puts a Principal on every connection: the public one when nobody is logged in."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        return AuthenticationResult(user=await principal_for_session(connection), auth=None)


def roles(allowed: Iterable[Role]) -> dict[str, Any]:
    """The `opt` every route handler carries: which roles may call it (checked by role_guard)."""
    return {"roles": frozenset(allowed)}


async def role_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Fail closed: a handler that declares no roles is reachable by nobody.

    A coroutine on purpose: Litestar runs a plain function guard in its thread pool, a thread
    hand-off on every request for a check that takes microseconds."""
    check_role(connection, handler)


def check_role(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """role_guard's check, for callers that are not Litestar's guard machinery."""
    allowed: frozenset[Role] | None = handler.opt.get("roles")
    principal: Principal = connection.scope.get("user") or PUBLIC
    if allowed is None:
        raise Forbidden(t("This route declares no roles, so nobody may use it."))
    if principal.role in allowed:
        return
    if principal.role is Role.public:
        raise LoginRequired(t("Log in first: this needs a staff login or your delegate link."))
    raise Forbidden(t("A {role} may not do this.", role=principal.role.value))
