"""Wires notifications' handlers to real adapters. The only place that builds them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from services.notifications.adapters.channels import (
    Channel,
    EmailChannel,
    HttpSmsProvider,
    InboxChannel,
    SmsChannel,
)
from services.notifications.adapters.documents import ALIAS, DOCUMENTS
from services.notifications.adapters.repository import NotificationRepository
from services.notifications.adapters.templates import Renderer
from services.notifications.domain.policy import QuietHours
from services.notifications.domain.rules import Directory, Rule, RuleError, parse_rules
from services.notifications.service_layer.handlers import (
    COMMAND_HANDLERS,
    DIGEST_TEMPLATE,
    TASK_TEMPLATE,
    Dependencies,
    Policy,
)
from shared import crypto, mongo
from shared.clock import now_utc
from shared.config import Settings
from shared.events import PoisonEvent, contract, event_type
from shared.messagebus import MessageBus


def _resolve_event(name: str, version: int) -> str:
    full = event_type(name, version)
    contract(full)  # raises for an event nobody declared: a typo stops the start
    return full


def load_rules(path: Path, renderer: Renderer) -> tuple[list[Rule], Directory]:
    """The rules file, checked: known events, recipients, channels and templates."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        rules = parse_rules(raw, _resolve_event)
    except PoisonEvent as exc:  # an event type nobody declared
        raise RuleError(f"{path}: {exc}") from None
    for name in {r.template for r in rules} | {DIGEST_TEMPLATE, TASK_TEMPLATE}:
        if not renderer.exists(name):
            raise RuleError(f"{path}: modello sconosciuto {name}")
    return rules, Directory.parse(raw)


def bootstrap(
    settings: Settings,
    clock: Callable[[], datetime] = now_utc,
    channels: Mapping[str, Channel] | None = None,
) -> Dependencies:
    """Connect to notifications' database and return the handlers' dependencies."""
    # The tenants' contact data and the addresses messages go to are stored encrypted.
    crypto.register(ALIAS, crypto.cipher_from_settings(settings))
    mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    mongo.ensure_indexes(*DOCUMENTS)
    x = settings.extra
    tz = ZoneInfo(x["timezone"])
    renderer = Renderer(tz, x["sms_max_segments"])
    rules, directory = load_rules(x["rules_file"], renderer)
    timeout = x["send_timeout_s"]
    return Dependencies(
        notifications=NotificationRepository(topic=settings.topic("notifications")),
        clock=clock,
        rules=rules,
        directory=directory,
        renderer=renderer,
        policy=Policy(
            quiet=QuietHours.parse(x["quiet_hours"], x["timezone"]),
            digest_at=x["digest_at"],
            max_attempts=x["max_attempts"],
            retry_base_s=x["retry_base_s"],
            retry_max_s=x["retry_max_s"],
            lease=timedelta(seconds=x["send_lease_s"]),
        ),
        channels=channels
        or {
            "email": EmailChannel(x["smtp_host"], x["smtp_port"], x["smtp_from"], timeout),
            "sms": SmsChannel(HttpSmsProvider(x["sms_provider_url"], x["sms_token"], timeout)),
            "inbox": InboxChannel(),
        },
    )


def command_bus(deps: Dependencies) -> MessageBus[Dependencies]:
    """The API's command bus over ``deps``."""
    return MessageBus(COMMAND_HANDLERS, deps)
