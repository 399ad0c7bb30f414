"""Web portal sessions kept on the server: made at login, loaded (and touched) per request,
listed and ended by their owner, ended in bulk when the account's password changes.

The browser holds only a random token; rows are keyed by its SHA-256, so a copy of the
table opens no session. A session ends when idle for `idle`, or `lifetime` after login.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from groupware.errors import NotFound
from groupware.model.base import utcnow
from groupware.model.websessions import WebSession
from groupware.services.core.access import Principal
from groupware.store import Database

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
PENDING_FOR = timedelta(minutes=5)  # to type the TOTP code after the password
MAX_DATA = 16 * 1024  # bytes of portal state a session may keep
USER_AGENT_CHARS = 256


def session_id(token: str) -> str:
    """The row id of a cookie's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    """Could `token` be one we made? (Anything else is not looked up.)"""
    return len(token) == 43 and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)


@dataclass(frozen=True)
class WebSessionInfo:
    id: str
    user_id: int
    pending: bool
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    authenticated_at: datetime
    peer_ip: str
    user_agent: str
    data: dict[str, Any] = field(default_factory=dict, compare=False)


def end_all(session: Session, user_id: int) -> None:
    """End every session of a user inside the caller's transaction (a password change,
    a disabled account): the next request of each of its browsers is anonymous."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


class WebSessions:
    def __init__(self, database: Database, idle: timedelta, lifetime: timedelta) -> None:
        self._db = database
        self.idle = idle
        self.lifetime = lifetime

    def create(
        self,
        user_id: int,
        peer_ip: str,
        user_agent: str,
        *,
        pending: bool = False,
        authenticated_at: datetime | None = None,
        data: dict[str, Any] | None = None,
    ) -> tuple[str, WebSessionInfo]:
        """A new session and its token (the only time the token exists on the server).
        Expired rows of everyone are cleared on the way: logins are rare enough."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = utcnow()
        expires = now + (PENDING_FOR if pending else min(self.idle, self.lifetime))
        row = WebSession(
            id=session_id(token),
            user_id=user_id,
            pending=pending,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            authenticated_at=authenticated_at or now,
            peer_ip=peer_ip[:64],
            user_agent=_clean_agent(user_agent),
            data=_dump(data or {}),
        )
        with self._db.write() as session:
            # Both limits: session_max_days may have been lowered since a row was made.
            session.execute(
                delete(WebSession).where(
                    (WebSession.expires_at <= now) | (WebSession.created_at <= now - self.lifetime)
                )
            )
            session.add(row)
            session.flush()
            return token, _info(row)

    def load(self, token: str, peer_ip: str, user_agent: str) -> WebSessionInfo | None:
        """The live session of a cookie's token, or None. An active session slides its
        idle expiry forward, written at most once a minute (not on every request)."""
        if not well_formed(token):
            return None
        now = utcnow()
        with self._db.read() as session:
            row = session.get(WebSession, session_id(token))
            if row is None:
                return None
            info = _info(row)
        if info.expires_at <= now or info.created_at + self.lifetime <= now:
            return None
        if info.pending or now - info.last_seen_at < TOUCH_EVERY:
            return info
        expires = min(now + self.idle, info.created_at + self.lifetime)
        peer, agent = peer_ip[:64], _clean_agent(user_agent)
        with self._db.write() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.id == info.id)
                .values(last_seen_at=now, expires_at=expires, peer_ip=peer, user_agent=agent)
            )
        return replace(info, last_seen_at=now, expires_at=expires, peer_ip=peer, user_agent=agent)

    def alive(self, sid: str) -> bool:
        """Whether session `sid` still stands (not ended, not expired): what an open
        live-update stream asks before it carries an event."""
        now = utcnow()
        with self._db.read() as session:
            row = session.get(WebSession, sid)
            return (
                row is not None
                and row.expires_at > now
                and row.created_at + self.lifetime > now
                and not row.pending
            )

    def save_data(self, sid: str, data: dict[str, Any]) -> None:
        """Keep the portal's state of a session (nothing happens if it ended meanwhile)."""
        with self._db.write() as session:
            session.execute(update(WebSession).where(WebSession.id == sid).values(data=_dump(data)))

    def reauthenticated(self, sid: str) -> datetime:
        """The user typed their password again in this session: now, returned."""
        now = utcnow()
        with self._db.write() as session:
            session.execute(
                update(WebSession).where(WebSession.id == sid).values(authenticated_at=now)
            )
        return now

    def end(self, sid: str) -> None:
        """End one session (logout; a finished TOTP step)."""
        with self._db.write() as session:
            session.execute(delete(WebSession).where(WebSession.id == sid))

    def end_own(self, actor: Principal, sid: str) -> None:
        """End one of the actor's own sessions; anyone else's is not found."""
        with self._db.write() as session:
            result = session.execute(
                delete(WebSession).where(WebSession.id == sid, WebSession.user_id == actor.user_id)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound("no such session: it may have ended already")

    def end_all_own(self, actor: Principal) -> None:
        """Sign out everywhere: every session of the actor, this one included."""
        if actor.user_id is None:
            return
        with self._db.write() as session:
            end_all(session, actor.user_id)

    def of(self, actor: Principal) -> list[WebSessionInfo]:
        """The actor's live sessions, the most recently used first (not half-way logins)."""
        now = utcnow()
        with self._db.read() as session:
            rows = session.scalars(
                select(WebSession)
                .where(
                    WebSession.user_id == actor.user_id,
                    WebSession.pending.is_(False),
                    WebSession.expires_at > now,
                    WebSession.created_at > now - self.lifetime,
                )
                .order_by(WebSession.last_seen_at.desc())
            )
            return [_info(row, with_data=False) for row in rows]


def _info(row: WebSession, *, with_data: bool = True) -> WebSessionInfo:
    return WebSessionInfo(
        row.id,
        row.user_id,
        row.pending,
        row.created_at,
        row.last_seen_at,
        row.expires_at,
        row.authenticated_at,
        row.peer_ip,
        row.user_agent,
        _load(row.data) if with_data else {},
    )


def _clean_agent(user_agent: str) -> str:
    printable = "".join(c for c in user_agent if c.isprintable())
    return printable[:USER_AGENT_CHARS]


def _dump(data: dict[str, Any]) -> str:
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > MAX_DATA:
        # Flashes are all that can grow; a flood of them is dropped, not stored.
        text = json.dumps({k: v for k, v in data.items() if k != "_flashes"})
    return text


def _load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
