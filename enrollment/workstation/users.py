"""Users of the adjudication workstation: roles, Argon2 password hashes, login throttling, and
the audit trail every page and action writes to.

Roles
    ``adjudicator`` (primary or secondary decisions on grey-zone cases), ``supervisor``
    (final decisions on conflicts, approves or rejects deletion requests), ``regional_officer``
    (files deletion requests for records of their own region) and ``auditor`` (reads the
    queue, cases, reports and audit trail; changes nothing).

Throttling
    :data:`MAX_FAILED_LOGINS` failed logins in a row lock an account for
    :data:`LOCK_MINUTES` minutes; while locked even the right password is refused. Every
    failure is audited.

Examples
--------
>>> from enrollment.store import Store
>>> store = Store("sqlite://")
>>> add_user(store, "ana", "a long passphrase", role="adjudicator")
1
>>> authenticate(store, "ana", "a long passphrase").role
'adjudicator'
>>> for _ in range(MAX_FAILED_LOGINS):
...     try:
...         authenticate(store, "ana", "wrong")
...     except LoginRefused as exc:
...         message = str(exc)
>>> message
'wrong username or password'
>>> try:
...     authenticate(store, "ana", "a long passphrase")
... except LoginRefused as exc:
...     print(str(exc)[:40])
account locked after 5 failed logins unt
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from enrollment.store import Store, StoreError, now, workstation_audit, workstation_users

__all__ = [
    "LOCK_MINUTES",
    "MAX_FAILED_LOGINS",
    "ROLES",
    "LoginRefused",
    "User",
    "add_user",
    "audit",
    "authenticate",
    "get_user",
    "update_user",
]

#: The roles and what they are called on the pages.
ROLES = {
    "adjudicator": "Adjudicator",
    "supervisor": "Supervisor",
    "regional_officer": "Regional officer",
    "auditor": "Auditor (read-only)",
}
#: Failed logins in a row that lock an account.
MAX_FAILED_LOGINS = 5
#: How long a locked account stays locked.
LOCK_MINUTES = 15

_hasher = PasswordHasher()
# verified against when the username is unknown, so both cases cost the same time
_DUMMY_HASH = _hasher.hash("no such user")


class LoginRefused(StoreError):
    """Wrong username or password, a locked or a deactivated account."""


@dataclass(frozen=True)
class User:
    """A workstation user (never the password hash)."""

    id: int
    username: str
    role: str
    region: str
    active: bool


def _user(row: sa.Row) -> User:
    return User(
        id=int(row.id),
        username=row.username,
        role=row.role,
        region=row.region,
        active=bool(row.active),
    )


def add_user(store: Store, username: str, password: str, *, role: str, region: str = "") -> int:
    """Create a user; returns its id.

    Raises
    ------
    StoreError
        Unknown role, empty or taken username, a short password, or a regional officer
        without a six-digit region.
    """
    username = username.strip()
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not username or len(username) > 100 or not username.isprintable():
        raise StoreError("a username is 1..100 printable characters")
    if len(password) < 8:
        raise StoreError("a password has at least 8 characters")
    if role == "regional_officer" and not (len(region) == 6 and region.isdigit()):
        raise StoreError("a regional officer needs --region, a six-digit region code")
    if region and not (len(region) == 6 and region.isdigit()):
        raise StoreError(f"a region is a six-digit code, got {region!r}")
    with store.begin() as conn:
        taken = conn.execute(
            sa.select(workstation_users.c.id).where(workstation_users.c.username == username)
        ).first()
        if taken is not None:
            raise StoreError(f"user {username!r} exists already")
        uid = conn.execute(
            workstation_users.insert().returning(workstation_users.c.id),
            {
                "username": username,
                "password_hash": _hasher.hash(password),
                "role": role,
                "region": region,
                "active": True,
                "failed_logins": 0,
                "locked_until": None,
                "created_at": now(),
            },
        ).scalar_one()
    return int(uid)


def update_user(
    store: Store,
    username: str,
    *,
    actor: str,
    active: bool | None = None,
    password: str | None = None,
) -> None:
    """Deactivate or reactivate a user, or set a new password (which also lifts a lock after
    failed logins); audited under ``actor``.

    Raises
    ------
    StoreError
        Unknown user, a short password, or nothing to change.
    """
    if active is None and password is None:
        raise StoreError("nothing to change: give active and/or password")
    values: dict[str, object] = {}
    if active is not None:
        values["active"] = bool(active)
    if password is not None:
        if len(password) < 8:
            raise StoreError("a password has at least 8 characters")
        values.update(password_hash=_hasher.hash(password), failed_logins=0, locked_until=None)
    with store.begin() as conn:
        done = conn.execute(
            workstation_users.update()
            .where(workstation_users.c.username == username)
            .values(**values)
        ).rowcount
        if not done:
            raise StoreError(f"no user {username!r}")
    changed = ", ".join(
        (["activated" if active else "deactivated"] if active is not None else [])
        + (["password set"] if password is not None else [])
    )
    audit(store, actor, "user-update", username, changed)


def get_user(store: Store, user_id: int, conn: sa.Connection | None = None) -> User | None:
    """The active user with this id, or None."""
    query = sa.select(workstation_users).where(
        workstation_users.c.id == user_id, workstation_users.c.active.is_(True)
    )
    if conn is not None:
        row = conn.execute(query).first()
    else:
        with store.engine.connect() as c:
            row = c.execute(query).first()
    return None if row is None else _user(row)


def _aware(value: datetime.datetime) -> datetime.datetime:
    # SQLite hands back naive datetimes (stored as UTC)
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def authenticate(store: Store, username: str, password: str, *, remote_addr: str = "") -> User:
    """Check a login, counting failures and locking the account after too many.

    Every failure is audited (action ``login_failed``), as is every success (``login``).

    Raises
    ------
    LoginRefused
        With a message that does not tell an unknown user from a wrong password.
    """
    username = username.strip()[:100]
    at = now()
    with store.begin() as conn:
        row = conn.execute(
            sa.select(workstation_users).where(workstation_users.c.username == username)
        ).first()
        if row is None or not row.active:
            _verify(_DUMMY_HASH, password)
            _audit(conn, username, "login_failed", "", "unknown or inactive user", remote_addr)
            failure: str | None = "wrong username or password"
        elif row.locked_until is not None and _aware(row.locked_until) > at:
            until = _aware(row.locked_until)
            _audit(conn, username, "login_failed", "", "account locked", remote_addr)
            failure = (
                f"account locked after {MAX_FAILED_LOGINS} failed logins until "
                f"{until:%H:%M} UTC; try again later"
            )
        elif not _verify(row.password_hash, password):
            failed = int(row.failed_logins) + 1
            values: dict[str, object] = {"failed_logins": failed}
            detail = f"wrong password ({failed} in a row)"
            if failed >= MAX_FAILED_LOGINS:
                values = {
                    "failed_logins": 0,
                    "locked_until": at + datetime.timedelta(minutes=LOCK_MINUTES),
                }
                detail += f"; locked for {LOCK_MINUTES} minutes"
            conn.execute(
                workstation_users.update().where(workstation_users.c.id == row.id).values(values)
            )
            _audit(conn, username, "login_failed", "", detail, remote_addr)
            failure = "wrong username or password"
        else:
            conn.execute(
                workstation_users.update()
                .where(workstation_users.c.id == row.id)
                .values(failed_logins=0, locked_until=None)
            )
            _audit(conn, username, "login", "", "", remote_addr)
            failure = None
    if failure is not None:
        raise LoginRefused(failure)
    return _user(row)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _audit(
    conn: sa.Connection, username: str, action: str, target: str, detail: str, remote: str
) -> None:
    conn.execute(
        workstation_audit.insert(),
        {
            "at": now(),
            "username": username[:100],
            "action": action[:64],
            "target": target[:200],
            "detail": detail[:2000],
            "remote_addr": remote[:64],
        },
    )


def audit(
    store: Store,
    username: str,
    action: str,
    target: str = "",
    detail: str = "",
    *,
    remote_addr: str = "",
    conn: sa.Connection | None = None,
) -> None:
    """Write one audit-trail row: who, what, on what, from where (the time is now)."""
    if conn is not None:
        _audit(conn, username, action, target, detail, remote_addr)
    else:
        with store.begin() as c:
            _audit(c, username, action, target, detail, remote_addr)
