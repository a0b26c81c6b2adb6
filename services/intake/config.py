"""intake's configuration: the shared settings, read for this service."""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from shared import crypto
from shared.config import Settings, Variable

SERVICE = "intake"


def _zone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (KeyError, ValueError):
        raise ValueError("fuso orario IANA sconosciuto (es. Europe/Rome)") from None


def _seconds(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("deve essere un intero positivo")
    return value


# intake's own environment variables (listed in the README's configuration table).
EXTRA_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "INTAKE_TIMEZONE",
        "Europe/Rome",
        _zone,
        "Time zone of counter schedules, slots and the date filters of case lists.",
        "timezone",
    ),
    Variable(
        "INTAKE_CLAIM_GRACE_S",
        "60",
        _seconds,
        "Age after which a slot or open-case claim whose owner was never stored may be taken over.",
        "claim_grace_s",
    ),
    *crypto.VARIABLES,
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings of the intake service from the environment."""
    return Settings.from_env(SERVICE, environ, EXTRA_VARIABLES)
