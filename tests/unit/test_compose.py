"""deploy/compose.yaml matches what the code reads: service names, ports, variables, commands."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.web.config import load_settings as web_settings
from shared import crypto
from shared.config import VARIABLES, Settings

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
    settings = web_settings({k: str(v) for k, v in env.items()})
    assert settings.extra["intake_url"] == "http://intake-api:8001"
    assert settings.extra["casework_url"] == "http://casework-api:8002"
    assert settings.extra["notifications_url"] == "http://notifications-api:8003"
    assert env["WEB_SECRET_KEY"].startswith("${WEB_SECRET_KEY:?"), "no default secret in a file"
    assert web["ports"] == ["8000:8000"] and "127.0.0.1:8000/healthz" in str(web["healthcheck"])


def test_environment_names_only_variables_the_code_reads_and_they_parse() -> None:
    known = {v.name for v in VARIABLES}
    encrypting = {"intake", "casework", "notifications"}  # services with fields encrypted at rest
    for name, spec in compose().items():
        if name in {"mongo", "kafka", "web"}:
            continue
        env = {k: str(v) for k, v in spec["environment"].items()}
        own = {v.name for v in crypto.VARIABLES} if name.split("-")[0] in encrypting else set()
        assert set(env) <= known | own, set(env) - known - own
        assert not own or env["FIELD_ENCRYPTION_KEYS"].startswith("${"), name  # never in the file
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["MONGODB_URI"] == "mongodb://mongo:27017/"
        Settings.from_env(name.split("-")[0], env)


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
