"""The web app's configuration: its own variables, documented, and no silent dev secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.web.config import DEV_SECRET_KEY, EXTRA_VARIABLES, load_settings, secret_key
from shared.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_lists_the_web_apps_variables() -> None:
    readme = (ROOT / "README.md").read_text()
    for var in EXTRA_VARIABLES:
        assert f"| `{var.name}` | `{var.default}` |" in readme, var.name


def test_defaults_point_at_the_three_apis() -> None:
    settings = load_settings({"WEB_SECRET_KEY": "k"})
    assert settings.extra["web_port"] == 8000
    assert settings.extra["intake_url"] == "http://127.0.0.1:8001"
    assert settings.extra["casework_url"] == "http://127.0.0.1:8002"
    assert settings.extra["notifications_url"] == "http://127.0.0.1:8003"
    assert secret_key(settings) == "k"


def test_without_a_secret_key_it_refuses_to_start_outside_development() -> None:
    with pytest.raises(ConfigError, match="WEB_SECRET_KEY"):
        load_settings({})
    dev = load_settings({"SPORTELLO_ENV": "dev"})
    assert secret_key(dev) == DEV_SECRET_KEY


@pytest.mark.parametrize(
    ("name", "raw"),
    [("INTAKE_URL", "127.0.0.1:8001"), ("WEB_PORT", "0"), ("WEB_API_TIMEOUT_S", "90")],
)
def test_a_wrong_value_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"WEB_SECRET_KEY": "k", name: raw})
