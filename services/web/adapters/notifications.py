"""The notifications API as the web app uses it: inboxes and delivery tracking."""

from __future__ import annotations

from typing import Any

from services.web.adapters.http import ApiClient

PART = "le notifiche e le caselle dei messaggi"


class NotificationsClient(ApiClient):
    """Calls to ``NOTIFICATIONS_URL``."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__(base_url, PART, timeout_s)

    def for_recipient(self, name: str) -> list[dict[str, Any]]:
        """Every message addressed to ``name`` (any channel), newest first."""
        return self.get("/notifications", {"recipient": name, "limit": 100})

    def inbox(self, address: str) -> list[dict[str, Any]]:
        """The in-app inbox of ``address``, newest first."""
        return self.get(f"/inbox/{address}", {"limit": 100})

    def mark_read(self, address: str, notification_id: str) -> dict[str, Any]:
        """Mark an inbox message read."""
        return self.post(f"/inbox/{address}/{notification_id}/read", {})
