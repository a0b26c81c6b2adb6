"""Where credentials are checked (the web sign-in) attempts are limited per client: then 429."""

from __future__ import annotations

import socket

from services.web.config import load_settings
from services.web.entrypoints.app import create_app


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_the_sign_in_answers_429_after_the_allowed_attempts() -> None:
    down = closed_port_url()
    settings = load_settings(
        {
            "WEB_SECRET_KEY": "k",
            "WEB_SIGNIN_RATE_LIMIT": "3/minute",
            "AUTH_JWT_KEYS": "web:" + "w" * 40,
            "INTAKE_URL": down,
            "CASEWORK_URL": down,
            "NOTIFICATIONS_URL": down,
            "WEB_API_TIMEOUT_S": "1",
        }
    )
    client = create_app(settings).test_client()
    bad = {"username": "X", "role": "operatore"}
    statuses = [client.post("/accesso", data=bad).status_code for _ in range(3)]
    assert statuses == [422, 422, 422]
    refused = client.post("/accesso", data=bad)
    assert refused.status_code == 429
    assert "Troppi tentativi di accesso" in refused.text
    as_json = client.post("/accesso", data=bad, headers={"Accept": "application/json"})
    assert as_json.status_code == 429
    assert as_json.json["status"] == 429 and "Troppi tentativi" in as_json.json["message"]
    # Other pages are not limited.
    assert client.get("/healthz").status_code == 200
