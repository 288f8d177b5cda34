"""Bearer tokens per source, stored as SHA-256 digests (tokens are random, not passwords)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from escalation.services.common.problems import Problem


def digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "esc_" + secrets.token_urlsafe(32)


class TokenAuth:
    """Maps a bearer token to the source it was issued for; open when no token is set."""

    def __init__(self, hashed: dict[str, str]) -> None:
        # Lower-case both sides: hex digests are case-insensitive, compare_digest is not.
        self._by_digest = {d.partition(":")[2].lower(): source for source, d in hashed.items()}
        self.open = not hashed

    def source_of(self, authorization: str | None) -> str | None:
        """The token's source, None when open; raise 401 when the token is missing or wrong."""
        if self.open:
            return None
        if not authorization:
            raise Problem(
                401,
                "unauthenticated",
                "send 'Authorization: Bearer <token>'",
                headers={"www-authenticate": 'Bearer realm="escalation"'},
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(
                401,
                "unauthenticated",
                "the Authorization header must be 'Bearer <token>'",
                headers={"www-authenticate": 'Bearer realm="escalation"'},
            )
        wanted = hashlib.sha256(token.strip().encode()).hexdigest()
        for known, source in self._by_digest.items():
            if hmac.compare_digest(known, wanted):
                return source
        raise Problem(
            401,
            "invalid-token",
            "the bearer token is not known",
            headers={"www-authenticate": 'Bearer realm="escalation", error="invalid_token"'},
        )
