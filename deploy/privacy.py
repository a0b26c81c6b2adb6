"""The admin's GDPR commands across the three services (an admin token is needed).

    SPORTELLO_TOKEN=<admin token> python -m deploy.privacy export TENANT_ID > inquilino.json
    SPORTELLO_TOKEN=<admin token> python -m deploy.privacy erase TENANT_ID --reason "…" --wait 60

``export`` joins what every service holds about a tenant into one JSON document (GDPR art. 15
and 20). ``erase`` asks intake to erase the tenant (art. 17); intake anonymises its data at once and
the other services follow by events, each confirming; ``--wait`` waits for every confirmation.
The services are found at ``INTAKE_URL``, ``CASEWORK_URL``, ``NOTIFICATIONS_URL`` (default: the
ports of ``make run``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

SERVICES = ("intake", "casework", "notifications")
DEFAULT_URLS = {
    "intake": "http://127.0.0.1:8001",
    "casework": "http://127.0.0.1:8002",
    "notifications": "http://127.0.0.1:8003",
}
TIMEOUT_S = 30


class PrivacyError(Exception):
    """A service refused or failed a request; the message is Italian, for the admin."""


def service_urls(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Each service's base URL, from ``<SERVICE>_URL`` or the default."""
    return {s: environ.get(f"{s.upper()}_URL", DEFAULT_URLS[s]).rstrip("/") for s in SERVICES}


def _call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise PrivacyError(f"{url}: serve un indirizzo http(s)")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - checked above
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("X-Purpose", "esercizio dei diritti dell'interessato (GDPR)")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", "")
        except ValueError:
            message = ""
        raise PrivacyError(f"{method} {url}: {exc.code} {message}".strip()) from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise PrivacyError(f"{url} non raggiungibile: {exc}") from None


def export_tenant(urls: Mapping[str, str], token: str, tenant_id: str) -> dict[str, Any]:
    """Everything the services hold about ``tenant_id``, as one document (one part per service)."""
    quoted = urllib.parse.quote(tenant_id, safe="")
    parts = {
        service: _call("GET", f"{urls[service]}/api/v1/privacy/tenants/{quoted}/export", token)
        for service in SERVICES
    }
    return {
        "tenant_id": tenant_id,
        "generated_at": datetime.now(UTC).isoformat(),
        "services": parts,
    }


def erase_tenant(
    urls: Mapping[str, str], token: str, tenant_id: str, reason: str, wait_s: float = 0
) -> dict[str, Any]:
    """Ask for the erasure; with ``wait_s``, wait (polling) until every service confirmed it."""
    url = f"{urls['intake']}/api/v1/privacy/tenants/{urllib.parse.quote(tenant_id, safe='')}"
    status = _call("POST", f"{url}/erasure", token, {"reason": reason})
    deadline = time.monotonic() + wait_s
    while status["state"] != "completata" and time.monotonic() < deadline:
        time.sleep(0.5)  # polling a remote state; not a test
        status = _call("GET", f"{url}/erasure", token)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """``export`` or ``erase``; prints JSON. Exit 1 on a refused request or an unfinished wait."""
    parser = argparse.ArgumentParser(prog="python -m deploy.privacy", description=__doc__)
    parser.add_argument("--token", default=os.environ.get("SPORTELLO_TOKEN", ""))
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="esporta i dati di un inquilino")
    export.add_argument("tenant_id")
    erase = commands.add_parser("erase", help="cancella (anonimizza) un inquilino ovunque")
    erase.add_argument("tenant_id")
    erase.add_argument("--reason", required=True)
    erase.add_argument("--wait", type=float, default=0, help="secondi di attesa delle conferme")
    args = parser.parse_args(argv)
    if not args.token:
        print("serve un token di amministratore: --token o SPORTELLO_TOKEN", file=sys.stderr)
        return 2
    urls = service_urls()
    try:
        if args.command == "export":
            result = export_tenant(urls, args.token, args.tenant_id)
        else:
            result = erase_tenant(urls, args.token, args.tenant_id, args.reason, args.wait)
    except PrivacyError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 1 if args.command == "erase" and args.wait and result["state"] != "completata" else 0


if __name__ == "__main__":
    sys.exit(main())
