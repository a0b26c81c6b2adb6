"""Wires the web app's adapters: one HTTP client per API, from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from services.web.adapters.casework import CaseworkClient
from services.web.adapters.intake import IntakeClient
from services.web.adapters.notifications import NotificationsClient
from shared.config import Settings


@dataclass(frozen=True)
class Clients:
    """The three APIs the pages call."""

    intake: IntakeClient
    casework: CaseworkClient
    notifications: NotificationsClient


def bootstrap(settings: Settings) -> Clients:
    """The API clients (nothing is contacted until a page needs it)."""
    timeout = float(settings.extra["api_timeout_s"])
    return Clients(
        intake=IntakeClient(settings.extra["intake_url"], timeout),
        casework=CaseworkClient(settings.extra["casework_url"], timeout),
        notifications=NotificationsClient(settings.extra["notifications_url"], timeout),
    )
