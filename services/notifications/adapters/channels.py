"""Delivery channels: email over SMTP, SMS through a provider (one HTTP adapter), the in-app inbox.

A channel either returns (the message was accepted), or raises ``TemporaryFailure`` (try again
later: the server is down, busy, or timed out) or ``PermanentFailure`` (trying again cannot help:
the address is refused, the request is invalid).
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from services.notifications.domain.model import Notification


class TemporaryFailure(Exception):
    """The message may go through if tried again later."""


class PermanentFailure(Exception):
    """The message will never go through on this channel."""


class Channel(Protocol):
    """Sends one notification."""

    def send(self, n: Notification) -> str:
        """Deliver ``n``; return a short detail (e.g. the provider's message id)."""
        ...


class EmailChannel:
    """Email over SMTP: a text part and an HTML alternative, a stable Message-ID."""

    def __init__(self, host: str, port: int, sender: str, timeout_s: float = 10) -> None:
        self.host, self.port, self.sender, self.timeout_s = host, port, sender, timeout_s

    def message(self, n: Notification) -> EmailMessage:
        """The MIME message of ``n``."""
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = n.recipient.address or ""
        msg["Subject"] = n.subject
        msg["Date"] = formatdate(localtime=False)
        # The same notification always has the same Message-ID: a receiver can drop a resend.
        msg["Message-ID"] = f"<{n.id}@sportello.invalid>"
        msg["X-Sportello-Notification"] = n.id
        msg.set_content(n.text)
        if n.html:
            msg.add_alternative(n.html, subtype="html")
        return msg

    def send(self, n: Notification) -> str:
        """Hand the message to the SMTP server."""
        if not n.recipient.address:
            raise PermanentFailure("indirizzo email mancante")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                refused = smtp.send_message(self.message(n))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(400 <= c < 500 for c in codes):
                raise TemporaryFailure(f"destinatario rifiutato temporaneamente: {codes}") from None
            raise PermanentFailure(f"destinatario rifiutato: {codes}") from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
            raise TemporaryFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"server SMTP non disponibile: {exc}") from None
        if refused:
            # The reason is stored and published: codes only, never the address.
            raise PermanentFailure(f"destinatario rifiutato: {[c for c, _ in refused.values()]}")
        return "accettata dal server SMTP"


class SmsProvider(Protocol):
    """An SMS gateway."""

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        """Send ``text`` to ``to``; the provider drops a second request with the same key."""
        ...


class HttpSmsProvider:
    """A JSON-over-HTTP SMS gateway: ``POST <url>`` with an ``Idempotency-Key`` header."""

    def __init__(self, url: str, token: str = "", timeout_s: float = 10) -> None:
        self.url, self.token, self.timeout_s = url, token, timeout_s

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        """POST the message; 2xx accepted, 4xx permanent (but 408/429), else temporary."""
        body = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, body, headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                answer = response.read(2000).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise PermanentFailure(f"provider SMS: HTTP {exc.code}") from None
            raise TemporaryFailure(f"provider SMS: HTTP {exc.code}") from None
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise TemporaryFailure(f"provider SMS non raggiungibile: {exc}") from None
        try:
            return str(json.loads(answer).get("id", "accettato"))
        except (ValueError, AttributeError):
            return "accettato"


class SmsChannel:
    """SMS through a provider; the notification id is the idempotency key."""

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    def send(self, n: Notification) -> str:
        """Send the SMS text of ``n``."""
        if not n.recipient.address:
            raise PermanentFailure("numero di telefono mancante")
        return self.provider.send(n.recipient.address, n.context.get("sms") or n.text, n.id)


class InboxChannel:
    """The staff's in-app inbox: the notification itself is the inbox item."""

    def send(self, n: Notification) -> str:
        """Nothing leaves the service: marking it delivered puts it in the inbox."""
        if not n.recipient.address:
            raise PermanentFailure("casella del destinatario mancante")
        return "nella casella"
