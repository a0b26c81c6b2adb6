"""casework's configuration: the shared settings, read for this service."""

from __future__ import annotations

from collections.abc import Mapping

from shared.config import Settings, Variable

SERVICE = "casework"

# casework's own environment variables (listed in the README's configuration table).
EXTRA_VARIABLES: tuple[Variable, ...] = ()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings of the casework service from the environment."""
    return Settings.from_env(SERVICE, environ, EXTRA_VARIABLES)
