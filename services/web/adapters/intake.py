"""The intake API as the web app uses it: counters, buildings, tenants, appointments, cases."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.web.adapters.http import ApiClient

PART = "lo sportello (registrazione inquilini, appuntamenti e apertura dei casi)"


class IntakeClient(ApiClient):
    """Calls to ``INTAKE_URL``."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__(base_url, PART, timeout_s)

    def counters(self) -> list[dict[str, Any]]:
        """Every counter, by name."""
        return self.get("/counters", {"limit": 200})

    def counter(self, counter_id: str) -> dict[str, Any]:
        """One counter."""
        return self.get(f"/counters/{counter_id}")

    def buildings(self) -> list[dict[str, Any]]:
        """Every building, by name."""
        return self.get("/buildings", {"limit": 200})

    def building(self, building_id: str) -> dict[str, Any]:
        """One building."""
        return self.get(f"/buildings/{building_id}")

    def slots(self, counter_id: str, day: date, days: int = 28) -> list[dict[str, Any]]:
        """The counter's slots from ``day`` for ``days`` days."""
        return self.get(
            f"/counters/{counter_id}/slots",
            {"from": day.isoformat(), "to": (day + timedelta(days=days)).isoformat()},
        )

    def appointments(self, counter_id: str, start: str, end: str) -> list[dict[str, Any]]:
        """The counter's appointments starting in [start, end] (ISO datetimes with offset)."""
        return self.get(
            "/appointments", {"counter_id": counter_id, "from": start, "to": end, "limit": 200}
        )

    def find_tenants(self, name: str) -> list[dict[str, Any]]:
        """Tenants whose surname (then first name) starts with ``name``."""
        return self.get("/tenants", {"name": name, "limit": 20})

    def tenant(self, tenant_id: str) -> dict[str, Any]:
        """One tenant."""
        return self.get(f"/tenants/{tenant_id}")

    def register_tenant(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Register a tenant."""
        return self.post("/tenants", body, key)

    def book(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Book a meeting or a home visit."""
        return self.post("/appointments", body, key)

    def open_case(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Open a case (the key makes a retry safe: intake answers the first answer again)."""
        return self.post("/cases", body, key)

    def cases(self, **filters: Any) -> list[dict[str, Any]]:
        """Cases, newest first."""
        return self.get("/cases", {k: v for k, v in filters.items() if v is not None})
