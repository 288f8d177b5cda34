"""Bearer tokens by name with scopes, stored as SHA-256 digests (tokens are random, not
passwords). A source's token posts contacts; acting on escalations needs a token with the
``escalations`` scope, so a CRM that can report contacts cannot ack or resolve them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from escalation.services.common.credentials import TokenGrant
from escalation.services.common.problems import Problem

_CHALLENGE = 'Bearer realm="escalation"'


def digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "esc_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who a bearer token authenticates: its name in the settings and what it may do."""

    name: str
    scopes: frozenset[str]

    @property
    def by(self) -> str:
        """How an escalation records this principal's actions."""
        return f"token:{self.name}"


class TokenAuth:
    """Maps a bearer token to its principal; open (everyone, unchecked) when none is set."""

    def __init__(self, grants: dict[str, TokenGrant]) -> None:
        # Lower-case both sides: hex digests are case-insensitive, compare_digest is not.
        self._by_digest = {
            grant.digest.partition(":")[2].lower(): Principal(name, frozenset(grant.scopes))
            for name, grant in grants.items()
        }
        self.open = not grants

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The token's principal, None when open; raise 401 when missing or unknown."""
        if self.open:
            return None
        if not authorization:
            raise Problem(
                401,
                "unauthenticated",
                "send 'Authorization: Bearer <token>'",
                headers={"www-authenticate": _CHALLENGE},
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(
                401,
                "unauthenticated",
                "the Authorization header must be 'Bearer <token>'",
                headers={"www-authenticate": _CHALLENGE},
            )
        wanted = hashlib.sha256(token.strip().encode()).hexdigest()
        for known, principal in self._by_digest.items():
            if hmac.compare_digest(known, wanted):
                return principal
        raise Problem(
            401,
            "invalid-token",
            "the bearer token is not known",
            headers={"www-authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        )

    def authorize(self, authorization: str | None, scope: str) -> Principal | None:
        """The principal if its token holds ``scope`` (None when open); else 401 or 403."""
        principal = self.authenticate(authorization)
        if principal is not None and scope not in principal.scopes:
            raise Problem(
                403,
                "insufficient-scope",
                f"token {principal.name!r} has scopes {sorted(principal.scopes)}; this needs "
                f"{scope!r} (set it in ESCALATION_INTAKE_TOKENS)",
                headers={"www-authenticate": f'{_CHALLENGE}, error="insufficient_scope"'},
            )
        return principal

    def source_of(self, authorization: str | None) -> str | None:
        """The source a contacts token posts as (its name), None when open."""
        principal = self.authorize(authorization, "contacts")
        return principal.name if principal is not None else None
