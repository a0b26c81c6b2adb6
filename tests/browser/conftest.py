"""Browser tests: Debian's Chromium (headless, through Playwright) against the running system.

The whole system runs as real processes (three APIs, three workers, the web app under gunicorn)
with isolated prefixes and free ports, like the e2e ring. ``deploy/browser.sh`` installs Chromium
and caches axe-core; without them these tests fail with a message that says so.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from deploy.system import SERVICES, System
from tests.browser import support
from tests.support import bearer_headers, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = Path(os.environ.get("SPORTELLO_CACHE", Path.home() / ".cache" / "sportello")) / "axe"
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the session (starting it is the slow part)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} non trovato: esegui deploy/browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    path = AXE / "axe.min.js"
    if not path.exists():
        pytest.fail(f"{path} non trovato: esegui deploy/browser.sh")
    return path.read_text()


@pytest.fixture
def site(environ: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """The whole system with the web app; the base URLs of the web app and of the APIs."""
    env = dict(environ)
    ports = {s: free_port() for s in SERVICES}
    env.update({f"{s.upper()}_PORT": str(p) for s, p in ports.items()})
    env.update({f"{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()})
    web_port = free_port()
    env.update(
        {
            "WEB_PORT": str(web_port),
            "WEB_SECRET_KEY": "browser-test-key",
            "GUNICORN_WORKERS": "1",
        }
    )
    running = System(tmp_path / "run", {**os.environ, **env})
    running.start()
    web = f"http://127.0.0.1:{web_port}"
    try:
        running.wait_ready(timeout_s=60)
        wait_for(lambda: _ready(web), timeout_s=30, what="web app ready")
        urls = {s: f"http://127.0.0.1:{p}/api/v1" for s, p in ports.items()}
        support.authorize(urls["intake"], bearer_headers(environ))
        yield {"web": web, **urls}
    finally:
        running.stop(timeout_s=20)
        for log in sorted((tmp_path / "run" / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")


def _ready(web: str) -> bool:
    try:
        return requests.get(f"{web}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def context(browser) -> Iterator:
    """A fresh browser context (own cookies and storage), tablet-sized, in Italian."""
    ctx = browser.new_context(viewport={"width": 1024, "height": 900}, locale="it-IT")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


def shoot(page, name: str) -> None:
    """Save a full-page screenshot as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def check_accessibility(page, axe_source: str, name: str) -> None:
    """Run axe-core on the page; fail on serious or critical violations (listed by rule)."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document)")
    bad = [v for v in result["violations"] if v.get("impact") in {"serious", "critical"}]
    described = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:3])
        for v in bad
    ]
    assert not bad, f"{name}: violazioni di accessibilità gravi:\n" + "\n".join(described)
