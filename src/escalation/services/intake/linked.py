"""Commands authorised by a signed link (a page's ack or resolve link) instead of a token.

The link opens a confirm page (``GET``, which changes nothing: mail scanners and chat
unfurlers fetch every link they see); its button posts the token back as a form. The
token is the credential, so the post needs no bearer token; what stops another site from
posting it is that it cannot know the token, and, in a browser, the ``Origin`` and
``Sec-Fetch-Site`` headers, which must say the post came from this origin. No cookie
carries any authority here, so there is no session for a cross-site form to ride on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from escalation.services.common.links import LINK_ACTIONS, LinkClaim, LinkError, verify
from escalation.services.common.problems import TITLES, Problem

from . import pages

FORM = "application/x-www-form-urlencoded"

HTML_TITLES = {
    "invalid-link": "This link is not valid",
    "expired-link": "This link has expired",
    "cross-site-request": "Refused: the request came from another site",
    "unknown-escalation": "No such escalation",
    "broker-unavailable": "Not recorded: try again in a moment",
}


def is_form(headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").split(";")[0].strip().lower() == FORM


def wants_html(headers: Mapping[str, str]) -> bool:
    """Browsers ask for HTML; an API client posting a link token gets JSON as usual."""
    return "text/html" in headers.get("accept", "").lower()


def query_token(query: str) -> str | None:
    return _first(_fields(query), "token")


def form_token(body: bytes) -> str | None:
    return _first(_fields(body.decode("utf-8", "replace")), "token")


def _fields(text: str) -> dict[str, list[str]]:
    try:
        return parse_qs(text, max_num_fields=20)
    except ValueError as exc:  # more fields than any link or form of ours has
        raise Problem(400, "malformed-form", "more than 20 fields in the form or query") from exc


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def html_problem(problem: Problem) -> bytes:
    title = HTML_TITLES.get(problem.slug, TITLES.get(problem.status, "Error"))
    return pages.refused(problem.status, title, problem.detail)


@dataclass(frozen=True)
class LinkGate:
    """Verifies link tokens and where a link's form was posted from."""

    keys: Sequence[str]
    public_url: str | None = None

    def claim(self, escalation_id: str, action: str, token: str | None, now: int) -> LinkClaim:
        """What the token attests for this escalation and action at ``now``; else 403."""
        if action not in LINK_ACTIONS:
            raise Problem(
                403,
                "invalid-link",
                f"links act only by {' or '.join(LINK_ACTIONS)}; {action} needs a bearer "
                "token with the 'escalations' scope",
            )
        if not token:
            raise Problem(403, "invalid-link", "the link carries no token: open it as sent")
        if not self.keys:
            raise Problem(403, "invalid-link", "this service holds no link keys")
        try:
            return verify(self.keys, token, escalation_id, action, now)
        except LinkError as exc:
            slug = "expired-link" if exc.reason == "expired" else "invalid-link"
            raise Problem(403, slug, str(exc)) from exc

    def same_origin(self, headers: Mapping[str, str]) -> None:
        """Refuse a browser's post made from another site (403); callers without these
        headers (curl, scripts) pass: for them the token alone is the credential.

        ``Sec-Fetch-Site`` is set by the browser and cannot be forged by a page, so when
        present it decides; older browsers are judged by ``Origin``.
        """
        site = headers.get("sec-fetch-site", "").lower()
        if site:
            if site not in ("same-origin", "none"):
                raise Problem(403, "cross-site-request", f"the form was posted from a {site} page")
            return
        origin = headers.get("origin")
        if origin is None:
            return
        allowed = {f"{scheme}://{headers.get('host', '')}" for scheme in ("http", "https")}
        if self.public_url:
            parts = urlsplit(self.public_url)
            allowed.add(f"{parts.scheme}://{parts.netloc}")
        if origin.rstrip("/").lower() not in {a.lower() for a in allowed}:
            raise Problem(403, "cross-site-request", f"the form was posted from {origin!r}")
