"""API tokens: created by ``seqrisk serve token create``, shown once, kept only as a SHA-256 digest.

A token is ``sqr_`` followed by 43 URL-safe characters (32 random bytes from
the operating system's generator). The store keeps its SHA-256 digest, never
the token: a 256-bit random secret needs no slow hash, and a copy of the store
does not let anyone call the API. A token has a scope: ``read`` (pages and read
endpoints) or ``write`` (everything a read token may, plus submitting,
cancelling and uploading). Revoked tokens are refused at once (every request
looks the digest up).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from seqrisk.exceptions import UsageError
from seqrisk.store import StateStore

__all__ = ["SCOPES", "TOKEN_PREFIX", "Token", "TokenStore", "digest"]

TOKEN_PREFIX = "sqr_"
SCOPES = ("read", "write")
#: Record a token's last use at most this often (seconds), so reads do not write on every request.
_TOUCH_EVERY_S = 60.0

Scope = Literal["read", "write"]


def digest(token: str) -> str:
    """SHA-256 hex digest of a token (what the store keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Token:
    """A token as stored (never the secret itself)."""

    id: str
    name: str
    scope: str
    created_utc: float
    revoked_utc: float | None = None
    last_used_utc: float | None = None

    def allows(self, scope: str) -> bool:
        """A write token may read; a read token may not write; a revoked token may nothing."""
        return self.revoked_utc is None and (self.scope == "write" or scope == "read")

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "scope": self.scope, "created_utc": self.created_utc,
                "revoked_utc": self.revoked_utc, "last_used_utc": self.last_used_utc}


class TokenStore:
    """The ``api_tokens`` table of a state store."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._touched: dict[str, float] = {}

    def create(self, scope: str, name: str = "") -> tuple[str, Token]:
        """A new token of ``scope``: the secret (to show once) and its stored record."""
        if scope not in SCOPES:
            raise UsageError(f"a token's scope is one of {', '.join(SCOPES)}", field="--scope", value=scope)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        h = digest(secret)
        tok = Token(id="tok_" + h[:12], name=name or scope, scope=scope,
                    created_utc=time.time())  # clock-ok: when the token was made (shown, not used)
        with self.state.transaction() as c:
            c.execute("INSERT INTO api_tokens(id, name, scope, hash, created_utc) VALUES (?,?,?,?,?)",
                      (tok.id, tok.name, tok.scope, h, tok.created_utc))
        return secret, tok

    def verify(self, secret: str | None) -> Token | None:
        """The token record of ``secret``, or None (absent, malformed, unknown). Revoked tokens are returned
        with ``revoked_utc`` set, so the caller can say so."""
        if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        row = self.state._conn.execute(
            "SELECT id, name, scope, created_utc, revoked_utc, last_used_utc FROM api_tokens WHERE hash=?",
            (digest(secret),)).fetchone()
        if row is None:
            return None
        tok = Token(*row)
        now = time.time()  # clock-ok: last use of a token (shown in `token list`)
        if tok.revoked_utc is None and now - self._touched.get(tok.id, 0.0) > _TOUCH_EVERY_S:
            self._touched[tok.id] = now
            with self.state.transaction() as c:
                c.execute("UPDATE api_tokens SET last_used_utc=? WHERE id=?", (now, tok.id))
        return tok

    def list(self) -> list[Token]:
        rows = self.state._conn.execute("SELECT id, name, scope, created_utc, revoked_utc, last_used_utc "
                                        "FROM api_tokens ORDER BY created_utc, id").fetchall()
        return [Token(*r) for r in rows]

    def count_active(self) -> int:
        return int(self.state._conn.execute("SELECT COUNT(*) FROM api_tokens WHERE revoked_utc IS NULL")
                   .fetchone()[0])

    def revoke(self, token_id: str) -> Token:
        """Revoke a token by its id (``tok_...``); unknown ids are a usage error."""
        with self.state.transaction() as c:
            n = c.execute("UPDATE api_tokens SET revoked_utc=? WHERE id=? AND revoked_utc IS NULL",
                          (time.time(), token_id)).rowcount  # clock-ok: when it was revoked (shown)
        toks = {t.id: t for t in self.list()}
        if token_id not in toks:
            raise UsageError("no such token (seqrisk serve token list shows the ids)", field="id", value=token_id)
        if n == 0 and toks[token_id].revoked_utc is None:  # pragma: no cover - concurrent un-revoke is impossible
            raise UsageError("token not revoked", field="id", value=token_id)
        return toks[token_id]
