"""web's configuration: the shared settings, read for this service, plus its own variables."""

from __future__ import annotations

from collections.abc import Mapping

from shared.config import ConfigError, Settings, Variable, one_of

SERVICE = "web"

# A key anyone can read: accepted only when SPORTELLO_ENV=dev, so it never reaches production.
DEV_SECRET_KEY = "sportello-dev-only-not-secret"  # noqa: S105 - public by design, dev only


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("deve essere una porta tra 1 e 65535")
    return value


def _base_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("deve iniziare con http:// o https://")
    return raw.rstrip("/")


def _timeout(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 30:
        raise ValueError("deve essere un numero di secondi tra 0 e 30")
    return value


def _text(raw: str) -> str:
    return "" if raw == "-" else raw


def _rate(raw: str) -> str:
    count, sep, unit = raw.strip().partition("/")
    if not sep or not count.isdigit() or int(count) <= 0:
        raise ValueError("deve essere <numero>/<second|minute|hour>, es. 10/minute")
    if unit not in {"second", "minute", "hour"}:
        raise ValueError("deve essere <numero>/<second|minute|hour>, es. 10/minute")
    return f"{int(count)}/{unit}"


# web's own environment variables (listed in the README's configuration table).
EXTRA_VARIABLES: tuple[Variable, ...] = (
    Variable("WEB_PORT", "8000", _port, "HTTP port of the web app.", "web_port"),
    Variable(
        "INTAKE_URL",
        "http://127.0.0.1:8001",
        _base_url,
        "Base URL of the intake API.",
        "intake_url",
    ),
    Variable(
        "CASEWORK_URL",
        "http://127.0.0.1:8002",
        _base_url,
        "Base URL of the casework API.",
        "casework_url",
    ),
    Variable(
        "NOTIFICATIONS_URL",
        "http://127.0.0.1:8003",
        _base_url,
        "Base URL of the notifications API.",
        "notifications_url",
    ),
    Variable(
        "WEB_SECRET_KEY",
        "-",
        _text,
        "Key that signs the session cookie; required unless SPORTELLO_ENV=dev.",
        "secret_key",
    ),
    Variable(
        "SPORTELLO_ENV",
        "prod",
        one_of("dev", "prod"),
        "`dev` allows the web app to start without WEB_SECRET_KEY (a fixed, public dev key).",
        "env",
    ),
    Variable(
        "WEB_SIGNIN_RATE_LIMIT",
        "10/minute",
        _rate,
        "Sign-in attempts accepted per client address (then 429). In-memory, per web process.",
        "signin_rate_limit",
    ),
    Variable(
        "WEB_API_TIMEOUT_S",
        "3",
        _timeout,
        "Timeout of each call from the web app to an API, in seconds.",
        "api_timeout_s",
    ),
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings of the web app from the environment; refuses to start without a secret key
    outside development."""
    settings = Settings.from_env(SERVICE, environ, EXTRA_VARIABLES)
    if not settings.extra["secret_key"] and settings.extra["env"] != "dev":
        raise ConfigError(
            "WEB_SECRET_KEY mancante: impostala (o SPORTELLO_ENV=dev per lo sviluppo locale)"
        )
    return settings


def secret_key(settings: Settings) -> str:
    """The key signing the session cookie (the public dev key only in development)."""
    return str(settings.extra["secret_key"] or DEV_SECRET_KEY)
