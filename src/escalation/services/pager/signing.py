"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from escalation.policy import targets

PREFIX = targets.SECRET_PREFIX
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    pass


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key; the format is checked where the policy's targets are checked."""
    try:
        return targets.secret_key(secret)
    except ValueError as exc:
        raise SignatureError(str(exc)) from exc


class Signer:
    """One secret's HMAC, keyed once: each message copies it, so a target's pages skip
    decoding the secret and HMAC's key setup."""

    def __init__(self, secret: str) -> None:
        self._keyed = hmac.new(secret_key(secret), digestmod=hashlib.sha256)

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """The ``webhook-signature`` header value: ``v1,<base64 HMAC-SHA256>``."""
        mac = self._keyed.copy()
        mac.update(f"{msg_id}.{timestamp}.".encode())
        mac.update(body)
        return "v1," + base64.b64encode(mac.digest()).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,<base64 HMAC-SHA256>``."""
    return Signer(secret).sign(msg_id, timestamp, body)


def verify(secret: str, headers: dict[str, str], body: bytes, now: int) -> str:
    """Check a delivery's signature and freshness; return its webhook-id or raise."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not an integer") from exc
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp outside the tolerance window")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return msg_id
    raise SignatureError("no matching v1 signature")
