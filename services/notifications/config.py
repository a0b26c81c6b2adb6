"""notifications's configuration: the shared settings, read for this service."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.notifications.domain.policy import QuietHours
from shared import crypto
from shared.config import Settings, Variable

SERVICE = "notifications"
PACKAGE_DIR = Path(__file__).resolve().parent


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("deve essere un intero positivo")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("deve essere un numero positivo")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("deve essere una porta tra 1 e 65535")
    return value


def _text(raw: str) -> str:
    return raw.strip()


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("fuso orario IANA sconosciuto (es. Europe/Rome)") from None
    return raw


def _quiet_hours(raw: str) -> str:
    QuietHours.parse(raw, "UTC")
    return raw


def _clock_time(raw: str) -> time:
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise ValueError("formato HH:MM") from None


def _rules_file(raw: str) -> Path:
    path = Path(raw)
    path = path if path.is_absolute() else PACKAGE_DIR / path
    if not path.is_file():
        raise ValueError(f"file non trovato: {path}")
    return path


# notifications's own environment variables (listed in the README's configuration table).
EXTRA_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "NOTIFICATIONS_RULES_FILE",
        "rules.yaml",
        _rules_file,
        (
            "Rules, teams and coordinators (relative to services/notifications/; the rules table"
            " is in docs/notifications.md)."
        ),
        "rules_file",
    ),
    Variable("NOTIFICATIONS_SMTP_HOST", "127.0.0.1", _text, "SMTP server for emails.", "smtp_host"),
    Variable("NOTIFICATIONS_SMTP_PORT", "1025", _port, "SMTP server port.", "smtp_port"),
    Variable(
        "NOTIFICATIONS_SMTP_FROM",
        "Sportello Energia <sportello.energia@example.org>",
        _text,
        "Sender of every email.",
        "smtp_from",
    ),
    Variable(
        "NOTIFICATIONS_SMS_URL",
        "http://127.0.0.1:8025/sms",
        _text,
        "The HTTP SMS provider's endpoint (JSON POST with an Idempotency-Key header).",
        "sms_provider_url",
    ),
    Variable(
        "NOTIFICATIONS_SMS_TOKEN", "", _text, "Bearer token for the SMS provider.", "sms_token"
    ),
    Variable(
        "NOTIFICATIONS_SMS_MAX_SEGMENTS",
        "3",
        _positive_int,
        "Longest SMS, in segments (GSM-7: 160/153 characters, UCS-2: 70/67).",
        "sms_max_segments",
    ),
    Variable(
        "NOTIFICATIONS_TIMEZONE",
        "Europe/Rome",
        _timezone,
        "Local time of quiet hours, digests and dates in messages.",
        "timezone",
    ),
    Variable(
        "NOTIFICATIONS_QUIET_HOURS",
        "21:00-08:00",
        _quiet_hours,
        "No SMS to tenants in this local window: it waits for its end.",
        "quiet_hours",
    ),
    Variable(
        "NOTIFICATIONS_DIGEST_AT",
        "18:00",
        _clock_time,
        "Local time of the custodians' daily digest.",
        "digest_at",
    ),
    Variable(
        "NOTIFICATIONS_MAX_ATTEMPTS",
        "5",
        _positive_int,
        "Send attempts before a temporary failure becomes permanent.",
        "max_attempts",
    ),
    Variable(
        "NOTIFICATIONS_RETRY_BASE_S",
        "30",
        _positive_float,
        "First retry wait; it doubles at each attempt.",
        "retry_base_s",
    ),
    Variable(
        "NOTIFICATIONS_RETRY_MAX_S",
        "3600",
        _positive_float,
        "Longest wait between two attempts.",
        "retry_max_s",
    ),
    Variable(
        "NOTIFICATIONS_SEND_LEASE_S",
        "60",
        _positive_float,
        "A message claimed by a sender that died is taken again after this.",
        "send_lease_s",
    ),
    Variable(
        "NOTIFICATIONS_SENDER_POLL_MS",
        "1000",
        _positive_int,
        "How often an idle sender looks for due messages (a new message wakes it at once).",
        "sender_poll_ms",
    ),
    Variable(
        "NOTIFICATIONS_SEND_TIMEOUT_S",
        "10",
        _positive_float,
        "Timeout of one SMTP or SMS provider call.",
        "send_timeout_s",
    ),
    *crypto.VARIABLES,
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings of the notifications service from the environment."""
    return Settings.from_env(SERVICE, environ, EXTRA_VARIABLES)
