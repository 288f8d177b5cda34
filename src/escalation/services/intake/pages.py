"""The HTML a signed link opens: a confirm page, the answer to its button, a refusal.

The pages are static apart from escaped text: no script at all, one stylesheet allowed
by its hash, forms that may post only back here, and no framing (a page that can be
framed can have its button clicked through a decoy). The token stays out of caches, and
out of any ``Referer`` sent elsewhere (the pages load and link to nothing else anyway).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from html import escape

from escalation.services.common.links import LinkClaim

HTML = "text/html; charset=utf-8"

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25em 1em}dt{color:#555}"
    "dd{margin:0;overflow-wrap:anywhere}button{font-size:1.1em;padding:.5em 1.5em}"
    ".refused h1{color:#a00}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

HEADERS = {
    "content-security-policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    # Not no-referrer: under it a browser sends "Origin: null" with the form, and that
    # header is how a post from this page is told from one made by another site.
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}
"""Sent with every page here."""

VERBS = {"ack": "Acknowledge", "resolve": "Resolve"}
DONE = {"ack": "Acknowledged", "resolve": "Resolved"}


def _page(title: str, body: str, css_class: str = "") -> bytes:
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{_STYLE}</style></head>"
        f'<body class="{css_class}">{body}</body></html>\n'
    ).encode()


def _facts(rows: list[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def _when(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


def confirm(claim: LinkClaim, customer_id: str, token: str) -> bytes:
    """The page a link opens: what it would do, and a button that posts it."""
    verb = VERBS[claim.action]
    facts = _facts(
        [
            ("Escalation", claim.escalation_id),
            ("Customer", customer_id),
            ("Action", verb.lower()),
            ("Paged at level", str(claim.level)),
            ("Link sent to", claim.target),
            ("Recorded as", claim.principal),
            ("Link expires", _when(claim.expires)),
        ]
    )
    form = (
        f'<form method="post" action="{escape(claim.action)}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f'<button type="submit" id="confirm">{escape(verb)} escalation</button></form>'
    )
    return _page(
        f"{verb} escalation {claim.escalation_id}?",
        f"<h1>{escape(verb)} this escalation?</h1>{facts}"
        "<p>Nothing has changed yet: the button below does it.</p>" + form,
    )


def done(claim: LinkClaim, command_id: str) -> bytes:
    """The answer to the button: the command is written; the escalator applies it."""
    word = DONE[claim.action]
    facts = _facts(
        [
            ("Escalation", claim.escalation_id),
            ("Recorded as", claim.principal),
            ("Command", command_id),
        ]
    )
    return _page(
        f"{word}: {claim.escalation_id}",
        f'<h1 id="outcome">{escape(word)}</h1>{facts}'
        "<p>The command is recorded; the escalation's timeline shows it within seconds. "
        "Acting twice changes nothing more.</p>",
    )


def refused(status: int, title: str, detail: str) -> bytes:
    """Why a link did nothing; every refusal leaves the escalation as it was."""
    return _page(
        title,
        f'<h1 id="outcome">{escape(title)}</h1><p>{escape(detail)}</p>'
        f"<p>Nothing was changed (HTTP {status}). Use the newest page's link, or ask "
        "the on-call lead to act through the API.</p>",
        "refused",
    )
