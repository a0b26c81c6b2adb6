"""Notification rules as data: which event tells whom, on which channel, with which template.

The rules live in ``services/notifications/rules.yaml`` (changeable without code); this module
turns the parsed mapping into ``Rule`` objects and decides, for one event, which rules apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

RECIPIENT_KINDS = ("tenant", "custodians", "path_team", "operator", "coordinators")
TENANT_CHANNELS = ("sms", "email")


class RuleError(ValueError):
    """The rules file is invalid (the process refuses to start with it)."""


@dataclass(frozen=True)
class Schedule:
    """Send ``hours`` before the time in the event's field ``before`` (e.g. a 24 h reminder)."""

    before: str
    hours: float

    def due(self, data: dict[str, Any]) -> datetime:
        """When the scheduled message is due; ``KeyError`` when the field is missing."""
        value = data[self.before]
        if not isinstance(value, datetime):
            raise KeyError(self.before)
        return value - timedelta(hours=self.hours)


@dataclass(frozen=True)
class Rule:
    """One rule: an event type (and condition) → recipients → channels → template."""

    id: str
    event: str  # the full, versioned event type
    template: str
    recipients: tuple[str, ...]
    tenant_channels: tuple[str, ...] = TENANT_CHANNELS
    when: dict[str, Any] = field(default_factory=dict)
    schedule: Schedule | None = None
    immediate: bool = False  # never held for a custodian's digest
    cancels: tuple[str, ...] = ()  # rule ids whose pending messages for the appointment end
    custodian_task: bool = True  # last resort for an unreachable tenant

    def applies(self, event_type: str, data: dict[str, Any]) -> bool:
        """Whether this rule fires for the event."""
        return event_type == self.event and all(data.get(k) == v for k, v in self.when.items())


def parse_rules(raw: dict[str, Any], resolve_event: Any) -> list[Rule]:
    """Rules from the parsed rules file; ``resolve_event(name, version)`` gives the full type."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw.get("rules") or []):
        where = f"regola {i + 1} ({item.get('id', '?')})"
        try:
            rule_id = str(item["id"])
            recipients = tuple(item["to"])
            schedule = item.get("schedule")
            rule = Rule(
                id=rule_id,
                event=resolve_event(item["event"], int(item.get("version", 1))),
                template=str(item["template"]),
                recipients=recipients,
                tenant_channels=tuple(item.get("tenant_channels", TENANT_CHANNELS)),
                when=dict(item.get("when") or {}),
                schedule=Schedule(schedule["before"], float(schedule["hours"]))
                if schedule
                else None,
                immediate=bool(item.get("immediate", False)),
                cancels=tuple(item.get("cancels") or ()),
                custodian_task=bool(item.get("custodian_task", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RuleError(f"{where}: {exc!r}") from None
        unknown = [r for r in rule.recipients if r not in RECIPIENT_KINDS]
        if unknown:
            raise RuleError(f"{where}: destinatari sconosciuti {unknown}")
        bad = [c for c in rule.tenant_channels if c not in TENANT_CHANNELS]
        if bad:
            raise RuleError(f"{where}: canali sconosciuti {bad}")
        if rule_id in seen:
            raise RuleError(f"{where}: id ripetuto")
        seen.add(rule_id)
        rules.append(rule)
    return rules


@dataclass(frozen=True)
class Directory:
    """Configured addresses of the referral paths' teams and of the coordinators."""

    teams: dict[str, dict[str, Any]]
    coordinators: tuple[dict[str, Any], ...]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Directory:
        """From the ``teams`` and ``coordinators`` sections of the rules file."""
        teams = {str(k): dict(v) for k, v in (raw.get("teams") or {}).items()}
        coordinators = tuple(dict(c) for c in raw.get("coordinators") or ())
        for entry in (*teams.values(), *coordinators):
            if "name" not in entry or entry.get("channel", "email") not in ("email", "inbox"):
                raise RuleError(f"voce di rubrica non valida: {entry}")
        return cls(teams, coordinators)


def matching(rules: list[Rule], event_type: str, data: dict[str, Any]) -> list[Rule]:
    """The rules that fire for one event, in file order."""
    return [r for r in rules if r.applies(event_type, data)]
