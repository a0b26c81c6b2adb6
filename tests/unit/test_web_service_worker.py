"""The counter's service worker is served where its scope can cover /sportello, never cached
stale, and the sign-in page (where signing out lands) carries the script that forgets it."""

from __future__ import annotations

from services.web.config import load_settings
from services.web.entrypoints.app import create_app
from tests.unit.test_web_signin_limit import closed_port_url


def test_the_service_worker_is_served_at_the_root_and_forgotten_at_sign_in() -> None:
    down = closed_port_url()
    settings = load_settings(
        {
            "WEB_SECRET_KEY": "k",
            "AUTH_JWT_KEYS": "web:" + "w" * 40,
            "INTAKE_URL": down,
            "CASEWORK_URL": down,
            "NOTIFICATIONS_URL": down,
            "WEB_API_TIMEOUT_S": "1",
        }
    )
    client = create_app(settings).test_client()
    worker = client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["Content-Type"].startswith("text/javascript")
    assert worker.headers["Cache-Control"] == "no-cache"
    # The cache name is written in two scripts: they must agree.
    offline = client.get("/static/offline.js").text
    assert 'CACHE = "sportello-sportello-v1"' in worker.text
    assert 'caches.open("sportello-sportello-v1")' in offline
    assert 'register("/sw.js", { scope: "/sportello" })' in offline
    signin = client.get("/accesso")
    assert "/static/forget.js" in signin.text
