"""Email target: SMTP with STARTTLS (aiosmtplib), a plain-text and an HTML part, the links.

The subject and both bodies are the target's templates (HTML autoescaped). The
``Message-ID`` is made from the page id, so a page sent again after a crash carries the
same id, which mail stores and clients use to drop the copy. The connection goes to a
checked address of the server (``outbound.smtp_socket``) and is upgraded with STARTTLS,
verifying the certificate against the server's name, before any login or page is sent.
SMTP answers classify like HTTP ones: 4xx is retried, 5xx rejects the page.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib

from escalation.schemas import PageRequest

from ..delivery import Verdict
from ..outbound import OutboundRefused, smtp_socket
from .base import Links, Target, Wire

SUBJECT_LIMIT = 200


def classify_smtp(error: Exception) -> Verdict:
    """One verdict for every way sending mail fails: the server's reply code decides."""
    detail = f"{type(error).__name__}: {error}"[:500]
    if isinstance(error, OutboundRefused):
        return Verdict("rejected", "forbidden", detail=detail)
    if isinstance(error, ssl.SSLError | aiosmtplib.SMTPNotSupported):
        return Verdict("rejected", "tls", detail=detail)
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        temporary = any(400 <= code < 500 for code in codes)
        if temporary:
            return Verdict("retry", "smtp_4xx", detail=detail)
        return Verdict("rejected", "smtp_5xx", detail=detail)
    if isinstance(error, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return Verdict("retry", "timeout", detail=detail)
    if isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500:
        return Verdict("rejected", "smtp_5xx", detail=detail)
    if isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 400:
        return Verdict("retry", "smtp_4xx", detail=detail)
    if isinstance(error, aiosmtplib.SMTPConnectError | ConnectionError):
        return Verdict("retry", "connect", detail=detail)
    return Verdict("retry", "transport", detail=detail)


class EmailTarget(Target):
    kind = "email"

    def __init__(self, target_id: str, host: str, password: str, spec: Any) -> None:
        self.id = target_id
        self.host = host
        self.port: int = spec.port
        self.starttls: bool = spec.starttls
        self.username: str | None = spec.username
        self.password = password or None
        self.sender: str = spec.sender
        self.to: list[str] = list(spec.to)
        self.configure(spec)

    def message(self, page: PageRequest, links: Links) -> EmailMessage:
        message = EmailMessage()
        subject = " ".join(self.render("subject", page, links).split())[:SUBJECT_LIMIT]
        message["Subject"] = subject or page.reason[:SUBJECT_LIMIT]
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = format_datetime(page.created_at)
        message["Message-ID"] = f"<{page.page_id}.{self.id}@escalation.pager>"
        message["X-Escalation-Id"] = page.escalation_id
        message["X-Escalation-Page-Id"] = page.page_id
        message.set_content(self.render("text", page, links))
        message.add_alternative(self.render("html", page, links), subtype="html")
        return message

    async def attempt(
        self, page: PageRequest, links: Links, wire: Wire, now: int, within: float
    ) -> Verdict:
        message = self.message(page, links)
        try:
            sock = await smtp_socket(self.host, self.port, wire.rules, within)
            try:
                await aiosmtplib.send(
                    message,
                    hostname=self.host,  # for the certificate: the socket is connected
                    sock=sock,
                    start_tls=self.starttls,
                    tls_context=wire.tls if self.starttls else None,
                    username=self.username,
                    password=self.password,
                    timeout=within,
                )
            finally:
                sock.close()
        except (aiosmtplib.SMTPException, OSError, OutboundRefused, ssl.SSLError) as exc:
            return classify_smtp(exc)
        return Verdict("delivered", "ok", detail="250 accepted")
