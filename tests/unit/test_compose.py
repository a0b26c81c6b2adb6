"""deploy/compose.yaml matches what the code reads: service names, ports, variables, commands."""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path

import pytest
import yaml

from services.web.config import load_settings as web_settings
from shared import auth, crypto
from shared.config import VARIABLES, ConfigError, Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "casework", "notifications")


def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]


def test_every_service_has_an_api_and_a_worker_on_real_images() -> None:
    services = compose()
    assert services["mongo"]["image"].startswith("mongo:")
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for service in SERVICES:
        assert f"{service}-api" in services
        assert f"{service}-worker" in services
    for name, spec in services.items():
        assert "healthcheck" in spec or name.endswith("-worker"), name


def test_ports_match_the_configured_defaults() -> None:
    services = compose()
    defaults = Settings.from_env("intake", {})
    for service in SERVICES:
        port = getattr(defaults, f"{service}_port")
        spec = services[f"{service}-api"]
        assert spec["ports"] == [f"{port}:{port}"]
        assert spec["environment"][f"{service.upper()}_PORT"] == str(port)
        assert f"127.0.0.1:{port}/readyz" in " ".join(spec["healthcheck"]["test"])


def test_the_web_app_calls_the_apis_by_their_compose_names_and_needs_a_secret() -> None:
    web = compose()["web"]
    env = web["environment"]
    settings = web_settings(environment(web))
    assert settings.extra["intake_url"] == "http://intake-api:8001"
    assert settings.extra["casework_url"] == "http://casework-api:8002"
    assert settings.extra["notifications_url"] == "http://notifications-api:8003"
    assert env["WEB_SECRET_KEY"].startswith("${WEB_SECRET_KEY:?"), "no default secret in a file"
    assert web["ports"] == ["8000:8000"] and "127.0.0.1:8000/healthz" in str(web["healthcheck"])


# What ``docker compose`` asks the operator for (``${NAME:?message}``), as a value that parses:
# a test run has no secrets, so each required variable gets a well-formed stand-in.
STAND_INS = {
    "FIELD_ENCRYPTION_KEYS": crypto.generate_key(),
    "AUTH_JWT_KEYS": "k1:" + "s" * 40,
    "WEB_SECRET_KEY": "w" * 40,
}
SECRETS = frozenset(STAND_INS)  # never a value in the file: compose must ask for them
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:\?|:-)(?P<arg>[^}]*))?\}")


def resolved(variable: str, raw: str) -> str:
    """``raw`` as compose would pass it: a default filled in, a required value stood in for."""

    def value(m: re.Match) -> str:
        if m["op"] == ":-":
            return m["arg"]
        assert m["op"] == ":?", f"{variable}: {raw} has no default and is not required"
        assert variable in STAND_INS, f"{variable}: add a stand-in value for the test"
        return STAND_INS[variable]

    return INTERPOLATION.sub(value, raw)


def environment(spec: dict) -> dict[str, str]:
    return {k: resolved(k, str(v)) for k, v in (spec.get("environment") or {}).items()}


def service_of(name: str) -> str:
    return name.split("-")[0]


def startup_problems(services: dict) -> list[str]:
    """What would keep each Sportello process of ``services`` from working, checked the way the
    code checks at start-up (an empty list: none).

    - every process loads its service's settings (``services.<service>.config``: the web app's
      secret key, every value well formed);
    - a service with fields encrypted at rest has its keys (``crypto.cipher_from_settings``);
    - every HTTP process (gunicorn) checks or signs access tokens (``shared.web.install_auth``,
      the web app's ``shared.auth.mint``): it needs ``AUTH_JWT_KEYS``, the same for all of them,
      or every API call answers 401.
    """
    problems: list[str] = []
    jwt_keys: dict[str, str] = {}
    for name, spec in services.items():
        if name in {"mongo", "kafka", "mail"}:
            continue
        config = importlib.import_module(f"services.{service_of(name)}.config")
        env = environment(spec)
        try:
            settings = config.load_settings(env)
            if any(v.name == "FIELD_ENCRYPTION_KEYS" for v in config.EXTRA_VARIABLES):
                crypto.cipher_from_settings(settings)
        except ConfigError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if "gunicorn" in spec.get("command", []):
            try:
                auth.signing_key(settings)
            except ConfigError as exc:
                problems.append(f"{name}: {exc}")
            jwt_keys[name] = str((spec.get("environment") or {}).get("AUTH_JWT_KEYS"))
    if len(set(jwt_keys.values())) > 1:
        problems.append(f"AUTH_JWT_KEYS differs in {sorted(jwt_keys)}: tokens would not verify")
    return problems


def test_the_notifications_send_their_emails_to_the_mail_catcher() -> None:
    services = compose()
    worker = services["notifications-worker"]
    settings = importlib.import_module("services.notifications.config").load_settings(
        environment(worker)
    )
    assert (settings.extra["smtp_host"], settings.extra["smtp_port"]) == ("mail", 1025)
    assert worker["depends_on"]["mail"] == {"condition": "service_healthy"}
    assert services["mail"]["image"].startswith("axllent/mailpit:")
    assert "healthcheck" in services["mail"]


def test_every_process_gets_the_variables_the_code_requires() -> None:
    assert startup_problems(compose()) == []


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("casework-api", "AUTH_JWT_KEYS"),
        ("web", "AUTH_JWT_KEYS"),
        ("web", "WEB_SECRET_KEY"),
        ("notifications-worker", "FIELD_ENCRYPTION_KEYS"),
    ],
)
def test_a_process_missing_a_required_variable_is_caught(service: str, variable: str) -> None:
    services = copy.deepcopy(compose())
    del services[service]["environment"][variable]
    problems = startup_problems(services)
    assert any(p.startswith(f"{service}:") and variable in p for p in problems), problems


def test_the_web_app_and_the_apis_must_share_the_token_keys() -> None:
    services = copy.deepcopy(compose())
    services["web"]["environment"]["AUTH_JWT_KEYS"] = "${WEB_JWT_KEYS:?imposta WEB_JWT_KEYS}"
    assert any("AUTH_JWT_KEYS differs" in p for p in startup_problems(services))


def test_environment_names_only_variables_the_code_reads_and_they_parse() -> None:
    for name, spec in compose().items():
        if name in {"mongo", "kafka", "mail"}:
            continue
        config = importlib.import_module(f"services.{service_of(name)}.config")
        known = {v.name for v in (*VARIABLES, *config.EXTRA_VARIABLES)}
        raw = {k: str(v) for k, v in spec["environment"].items()}
        assert set(raw) <= known, (name, set(raw) - known)
        for secret in SECRETS & set(raw):  # never in the file
            assert raw[secret].startswith("${") and ":?" in raw[secret], (name, secret)
        if name != "web":
            assert raw["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
            assert raw["MONGODB_URI"] == "mongodb://mongo:27017/"
        config.load_settings(environment(spec))


def test_commands_point_at_modules_and_files_that_exist() -> None:
    for spec in compose().values():
        command = spec.get("command")
        if not command:
            continue
        if "gunicorn" in command:
            assert (ROOT / command[-1]).is_file(), command
        else:
            module = command[-1]
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), command
