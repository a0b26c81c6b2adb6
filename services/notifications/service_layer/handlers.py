"""notifications' handlers: events become recorded intents (one per event, rule, recipient and
channel), read models stay current, and the API's commands."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from functools import cached_property
from types import SimpleNamespace
from typing import Any

from services.notifications.adapters.channels import Channel as ChannelAdapter
from services.notifications.adapters.repository import (
    BuildingRepository,
    CaseRepository,
    NotificationRepository,
    PreferenceRepository,
    TenantRepository,
    custodians_of,
)
from services.notifications.adapters.templates import Renderer, RenderError
from services.notifications.domain import commands
from services.notifications.domain.model import (
    PENDING,
    Channel,
    Notification,
    Recipient,
    RecipientKind,
    Status,
    Tenant,
)
from services.notifications.domain.policy import QuietHours, next_digest_at
from services.notifications.domain.rules import Directory, Rule, matching
from shared import privacy
from shared.events import Event, PoisonEvent, contracts, make_event
from shared.events.casework import CASE_ANONYMISED
from shared.events.intake import (
    BUILDING_UPDATED,
    CASE_OPENED,
    CONSENT_CHANGED,
    HOME_VISIT_REQUESTED,
    TENANT_ERASURE_REQUESTED,
    TENANT_REGISTERED,
    TENANT_UPDATED,
)
from shared.events.notifications import TENANT_ERASED

log = logging.getLogger(__name__)

DIGEST_TEMPLATE = "riepilogo_giornaliero"
TASK_TEMPLATE = "consegna_a_mano"
PATH_LABELS = {"welfare": "Welfare", "casa": "Casa", "amat": "AMAT"}


@dataclass(frozen=True)
class Policy:
    """Timing and retry policy of deliveries."""

    quiet: QuietHours
    digest_at: time
    max_attempts: int = 5
    retry_base_s: float = 30
    retry_max_s: float = 3600
    lease: timedelta = timedelta(seconds=60)


@dataclass
class Dependencies:
    """What notifications' handlers need; ``bootstrap`` wires the real ones."""

    notifications: NotificationRepository
    clock: Callable[[], datetime]
    tenants: TenantRepository = field(default_factory=TenantRepository)
    cases: CaseRepository = field(default_factory=CaseRepository)
    buildings: BuildingRepository = field(default_factory=BuildingRepository)
    preferences: PreferenceRepository = field(default_factory=PreferenceRepository)
    rules: list[Rule] = field(default_factory=list)
    directory: Directory = field(default_factory=lambda: Directory({}, ()))
    renderer: Renderer | None = None
    policy: Policy | None = None
    channels: Mapping[str, ChannelAdapter] = field(default_factory=dict)


# --- read models ------------------------------------------------------------------------------


@dataclass
class Known:
    """What is known of an event before planning it, so planning need not read it again: the
    building as it now stands, a case the event has just described, and the custodi's choices
    between immediate messages and the digest (read for a whole run in bulk)."""

    building: SimpleNamespace | None = None
    case: SimpleNamespace | None = None
    modes: Mapping[str, str] | None = None


def update_read_models(event: Event, deps: Dependencies) -> Known:
    """Keep what notifications knows about tenants, cases and buildings current (idempotent)."""
    data = event.data
    known = Known()
    if event.type in (TENANT_REGISTERED, TENANT_UPDATED, CONSENT_CHANGED) and privacy.erased(
        deps.notifications.database, data["tenant_id"]
    ):
        return known  # a late snapshot of an erased tenant must not bring their contacts back
    if event.type in (TENANT_REGISTERED, TENANT_UPDATED):
        deps.tenants.apply_snapshot(data)
    elif event.type == CONSENT_CHANGED:
        deps.tenants.apply_consent(data["tenant_id"], data["consent"])
    elif event.type == CASE_OPENED:
        known.building = deps.buildings.record(data["building"])
        known.case = deps.cases.record(data)
    elif event.type == HOME_VISIT_REQUESTED:
        known.building = deps.buildings.record(data["building"])
    elif event.type == BUILDING_UPDATED:
        # A replaced custode is reached from the next notification on, not from the next case.
        known.building = deps.buildings.record(data)
    return known


# --- planning ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """What one event asks for: messages to record, digests to join, reminders to cancel."""

    notifications: list[Notification] = field(default_factory=list)
    digest_items: list[tuple[Notification, Notification]] = field(default_factory=list)
    cancellations: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


class Planner:
    """Turns one event and the rules it matches into a ``Plan`` (rendering every message)."""

    def __init__(
        self, event: Event, deps: Dependencies, now: datetime, known: Known | None = None
    ) -> None:
        assert deps.renderer is not None and deps.policy is not None
        self.event, self.deps, self.now = event, deps, now
        self.renderer, self.policy = deps.renderer, deps.policy
        self.data = event.data
        self.known = known or Known()
        self.plan = Plan()

    @cached_property
    def case(self) -> SimpleNamespace | None:
        """The case the event is about, read only if a rule needs it (most events match none)."""
        return self.known.case or self.deps.cases.get(self.data.get("case_id"))

    def build(self) -> Plan:
        """Plan every matching rule."""
        for rule in matching(self.deps.rules, self.event.type, self.data):
            if rule.cancels and self.data.get("appointment_id"):
                self.plan.cancellations.append((self.data["appointment_id"], rule.cancels))
            due = self.now
            if rule.schedule:
                try:
                    due = rule.schedule.due(self.data)
                except KeyError as exc:
                    raise PoisonEvent(f"regola {rule.id}: campo mancante {exc}") from None
                if due <= self.now:
                    continue  # the moment for this reminder has passed
            for kind in rule.recipients:
                getattr(self, f"_{kind}")(rule, due)
        return self.plan

    # context and rendering

    def building(self) -> dict[str, Any] | None:
        if isinstance(self.data.get("building"), dict):
            return self.data["building"]
        building_id = self.data.get("building_id") or (self.case.building_id if self.case else None)
        doc = self.deps.buildings.get(building_id)
        return {"id": doc.id, "name": doc.name, "address": doc.address} if doc else None

    def building_id(self) -> str | None:
        b = self.building()
        return b["id"] if b else None

    def context(self, **extra: Any) -> dict[str, Any]:
        path = self.data.get("path")
        return {
            **self.data,
            "building": self.building(),
            "path_label": self.path_label(path) if path else None,
            **extra,
        }

    def path_label(self, path: str) -> str:
        """A path's short name: the built-in ones', else its team's name (a path added by
        casework's configuration), else the path itself."""
        team = self.deps.directory.teams.get(path) or {}
        return PATH_LABELS.get(path) or team.get("name") or path

    def team_paths(self) -> list[str]:
        """The paths whose teams an event concerns: a referral's ``path``, or ``paths`` for an
        event about the whole case (an approaching disconnection), each once."""
        if self.data.get("path"):
            return [self.data["path"]]
        return list(dict.fromkeys(self.data.get("paths") or []))

    def render(self, rule: Rule, language: str | None, ctx: dict[str, Any]) -> Any:
        try:
            return self.renderer.render(rule.template, language, ctx)
        except RenderError as exc:
            raise PoisonEvent(f"regola {rule.id}: {exc}") from None

    def message(
        self,
        rule: Rule,
        recipient: Recipient,
        channel: str,
        due: datetime,
        rendered: Any,
        **fields: Any,
    ) -> Notification:
        n = Notification(
            id=Notification.key(self.event.id, rule.id, recipient, channel),
            event_id=self.event.id,
            event_type=self.event.type,
            rule=rule.id,
            case_id=self.data.get("case_id"),
            recipient=recipient,
            channel=Channel(channel),
            template=rule.template,
            created_at=self.now,
            due_at=due,
            language=rendered.language,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            appointment_id=self.data.get("appointment_id"),
            building_id=self.building_id(),
            context={"sms": rendered.sms, "sms_segments": rendered.sms_segments},
        )
        for name, value in fields.items():
            setattr(n, name, value)
        return n

    # recipients

    def _tenant(self, rule: Rule, due: datetime) -> None:
        ids = list(self.data.get("tenant_ids") or [])
        if not ids and self.data.get("tenant_id"):
            ids = [self.data["tenant_id"]]
        if not ids and self.case:
            ids = [self.case.tenant_id]
        for tenant_id in ids:
            self._one_tenant(rule, due, tenant_id, self.deps.tenants.get(tenant_id))

    def _one_tenant(self, rule: Rule, due: datetime, tenant_id: str, tenant: Tenant | None) -> None:
        name = f"{tenant.first_name} {tenant.last_name}" if tenant else tenant_id
        ctx = self.context(tenant={"first_name": tenant.first_name} if tenant else None)
        rendered = self.render(rule, tenant.preferred_language if tenant else None, ctx)
        task = self.task_text(rule, rendered, tenant, name)
        if tenant is None:
            usable, reasons = [], ["inquilino non noto al servizio notifiche"]
        else:
            usable, reasons = tenant.reachable(list(rule.tenant_channels))
        building_id = (tenant.building_id if tenant else None) or self.building_id()
        if not usable:
            recipient = Recipient(RecipientKind.TENANT, name, None, tenant_id)
            n = self.message(
                rule,
                recipient,
                rule.tenant_channels[0],
                due,
                rendered,
                status=Status.NOT_SENT,
                reason="; ".join(reasons),
                building_id=building_id,
            )
            n.context["task"] = task
            self.plan.notifications.append(n)
            if rule.custodian_task:
                self.plan.notifications += custodian_tasks(n, self.deps, self.now)
            return
        channel = usable[0]
        recipient = Recipient(RecipientKind.TENANT, name, tenant.address(channel), tenant_id)  # type: ignore[union-attr]
        if channel == Channel.SMS:
            due = self.policy.quiet.release(due)
        n = self.message(
            rule,
            recipient,
            channel,
            due,
            rendered,
            fallbacks=usable[1:],
            building_id=building_id,
            reason="; ".join(reasons) or None,
        )
        n.context["task"] = task
        self.plan.notifications.append(n)

    def task_text(
        self, rule: Rule, rendered: Any, tenant: Tenant | None, name: str
    ) -> dict[str, str]:
        """The hand-delivery task for the custodian, rendered now so a bad template is found now."""
        ctx = self.context(
            tenant_name=name,
            apartment=tenant.apartment if tenant else None,
            message=rendered.text,
        )
        try:
            task = self.renderer.render(TASK_TEMPLATE, "it", ctx)
        except RenderError as exc:
            raise PoisonEvent(f"regola {rule.id}: {exc}") from None
        return {"subject": task.subject, "text": task.text, "html": task.html}

    def _custodians(self, rule: Rule, due: datetime) -> None:
        # The building as it stands after this event: the event's snapshot, or a newer stored one
        # (a late event must not reach a replaced custode).
        building = self.known.building
        if building is not None:
            custodians = custodians_of(building)
        else:
            custodians = self.deps.buildings.custodians(self.building_id())
        if rule.immediate:
            modes: Mapping[str, str] = {}
        elif self.known.modes is not None:
            modes = self.known.modes
        else:
            modes = self.deps.preferences.modes([c.name for c in custodians])
        for custodian in custodians:
            recipient = custodian.recipient()
            rendered = self.render(rule, "it", self.context(recipient_name=custodian.name))
            n = self.message(rule, recipient, custodian.channel, due, rendered)
            if modes.get(custodian.name) == "riepilogo":
                self.plan.digest_items.append((n, digest_for(n, self.policy, self.now)))
            else:
                self.plan.notifications.append(n)

    def _path_team(self, rule: Rule, due: datetime) -> None:
        for path in self.team_paths():
            self._one_path_team(rule, due, path)

    def _one_path_team(self, rule: Rule, due: datetime, path: str) -> None:
        team = self.deps.directory.teams.get(path)
        ctx = self.context(path=path, path_label=self.path_label(path))
        if team is None:
            # Recorded as not sent, with the reason, rendered like any message (a template may
            # greet its recipient by name).
            recipient = Recipient(RecipientKind.PATH_TEAM, f"team {path}", None, path)
            rendered = self.render(rule, "it", {**ctx, "recipient_name": recipient.name})
            self.plan.notifications.append(
                self.message(
                    rule,
                    recipient,
                    "email",
                    due,
                    rendered,
                    status=Status.NOT_SENT,
                    reason=f"nessun team configurato per il percorso {path}",
                )
            )
            return
        self._staff(rule, due, RecipientKind.PATH_TEAM, team, path, ctx)

    def _coordinators(self, rule: Rule, due: datetime) -> None:
        for coordinator in self.deps.directory.coordinators:
            self._staff(rule, due, RecipientKind.COORDINATOR, coordinator, coordinator["name"], {})

    def _staff(
        self,
        rule: Rule,
        due: datetime,
        kind: RecipientKind,
        entry: dict[str, Any],
        ref: str,
        ctx: dict[str, Any],
    ) -> None:
        channel = entry.get("channel", "email")
        address = entry.get("email") if channel == "email" else entry.get("inbox", entry["name"])
        recipient = Recipient(kind, entry["name"], address, ref)
        rendered = self.render(rule, "it", self.context(recipient_name=entry["name"], **ctx))
        self.plan.notifications.append(self.message(rule, recipient, channel, due, rendered))

    def _operator(self, rule: Rule, due: datetime) -> None:
        operator = self.case.opened_by if self.case else self.data.get("actor")
        if not operator:
            return
        recipient = Recipient(RecipientKind.OPERATOR, operator, operator, operator)
        rendered = self.render(rule, "it", self.context(recipient_name=operator))
        self.plan.notifications.append(self.message(rule, recipient, "inbox", due, rendered))


def digest_for(item: Notification, policy: Policy, now: datetime) -> Notification:
    """The daily digest ``item`` joins: one per custodian and digest time."""
    due = next_digest_at(now, policy.digest_at, policy.quiet.tz)
    raw = f"{item.recipient.name}|{item.channel}|{due.isoformat()}"
    digest_id = "dig_" + hashlib.sha256(raw.encode()).hexdigest()[:32]
    return Notification(
        id=digest_id,
        event_id=digest_id,
        event_type="riepilogo",
        rule=DIGEST_TEMPLATE,
        case_id=None,
        recipient=item.recipient,
        channel=item.channel,
        template=DIGEST_TEMPLATE,
        created_at=now,
        due_at=due,
    )


def custodian_tasks(n: Notification, deps: Dependencies, now: datetime) -> list[Notification]:
    """Last resort: ask the building's custodi sociali, in their inbox, to deliver by hand."""
    task = n.context.get("task") or {}
    tasks = []
    for custodian in deps.buildings.custodians(n.building_id):
        recipient = Recipient(
            RecipientKind.CUSTODIAN, custodian.name, custodian.name, custodian.name
        )
        tasks.append(
            replace(
                n,
                id=Notification.key(n.event_id, f"{n.rule}:consegna", recipient, "inbox"),
                rule=f"{n.rule}:consegna",
                recipient=recipient,
                channel=Channel.INBOX,
                template=TASK_TEMPLATE,
                status=Status.CREATED,
                subject=task.get("subject", ""),
                text=task.get("text", ""),
                html=task.get("html", ""),
                reason=f"inquilino non raggiungibile: {n.reason}",
                task=True,
                fallbacks=[],
                due_at=now,
                created_at=now,
                attempts=0,
                history=[],
                context={},
            )
        )
    if not tasks:
        log.warning("no custodian to deliver by hand", extra={"notification_id": n.id})
    return tasks


def on_event(event: Event, deps: Dependencies) -> None:
    """Apply one consumed event: read models, then every rule it matches (exactly once each)."""
    known = update_read_models(event, deps)
    now = deps.clock()
    plan = Planner(
        event, deps, now, known
    ).build()  # renders everything first: a bad event stores nothing
    for appointment_id, rules in plan.cancellations:
        deps.notifications.cancel_pending(appointment_id, rules, now, event.id)
    for n in plan.notifications:
        if deps.notifications.add_once(n):
            log.info(
                "notification recorded",
                extra={"notification_id": n.id, "case_id": n.case_id, "status": n.status.value},
            )
    for item, digest in plan.digest_items:
        join_digest(item, digest, deps, now)


def on_cases_opened(events: list[Event], deps: Dependencies) -> set[str]:
    """A backlog's run of ``case.opened`` at once (``shared.kafka.BulkHandler``): one read of
    the buildings and one of the custodi's choices, then one write of the cases and two of the
    messages (their send-queue entries, then the messages).

    The run is planned in order, each event against the buildings as they stand at its turn, and
    applied in bulk up to the first event that needs more than new messages to send (a daily
    digest to join, a reminder to cancel, a message recorded as not sent with its event) or
    fails to plan. From there on the consumer applies the run one by one (``on_event``), so
    every event meets the store as one by one would have left it. Returns the ids of the events
    applied; a redelivery (its messages stored already) is left to ``on_event`` too.
    """
    snapshots = [e.data["building"] for e in events]
    stored = deps.buildings.stored([b["id"] for b in snapshots])
    names = {c["name"] for b in [*snapshots, *stored.values()] for c in _custodians_in(b)}
    modes = deps.preferences.modes(sorted(names))
    now = deps.clock()
    current = dict(stored)
    plans: dict[str, Plan] = {}
    for event, snapshot in zip(events, snapshots, strict=True):
        building = current[snapshot["id"]] = deps.buildings.after(
            snapshot, current.get(snapshot["id"])
        )
        known = Known(building, deps.cases.described(event.data), modes)
        try:
            plan = Planner(event, deps, now, known).build()
        except Exception as exc:  # noqa: BLE001 - on_event retries it, then dead-letters it
            log.debug("case.opened %s left to one-by-one: %s", event.id, exc)
            break
        if plan.cancellations or plan.digest_items:
            break
        if any(n.status not in PENDING for n in plan.notifications):
            break
        plans[event.id] = plan
    prefix = events[: len(plans)]
    deps.buildings.record_all(snapshots[: len(prefix)], stored)
    deps.cases.record_all([e.data for e in prefix])
    added = deps.notifications.add_new([n for p in plans.values() for n in p.notifications])
    applied = {
        event_id
        for event_id, plan in plans.items()
        if all(n.id in added for n in plan.notifications)
    }
    log.info("case.opened planned in bulk", extra={"applied": len(applied), "events": len(events)})
    return applied


def _custodians_in(building: dict[str, Any] | SimpleNamespace) -> list[dict[str, Any]]:
    """The custodi of a building snapshot (an event's) or of a stored one."""
    if isinstance(building, dict):
        return building.get("custodians") or []
    return building.custodians or []


def join_digest(
    item: Notification, digest: Notification, deps: Dependencies, now: datetime
) -> None:
    """Hold ``item`` for ``digest``, or record it to go on its own if that digest is on its way.

    The item joins the digest first and is recorded second, so a redelivery can find an item that
    already joined a digest (today's, or the previous one if the day turned meanwhile) but was
    never recorded: it is then recorded as held by that digest, never sent a second time alone.
    """
    notes = deps.notifications
    if notes.exists(item.id):
        return  # a redelivery after both steps: nothing to do
    assert deps.policy is not None
    previous = digest_for(item, deps.policy, now - timedelta(days=1))
    holding = notes.digest_holding(item.id, [digest.id, previous.id])
    if holding is None:
        summary = {"id": item.id, "subject": item.subject, "at": item.created_at.isoformat()}
        if notes.add_to_digest(digest, summary):
            holding = (digest.id, Status.CREATED.value)
    if holding is not None:
        digest_id, digest_status = holding
        item.digest_id = digest_id
        # A digest already delivered has settled its items: this late record is delivered too.
        delivered = digest_status == Status.DELIVERED.value
        item.status = Status.DELIVERED if delivered else Status.IN_DIGEST
    notes.add_once(item)


# --- commands ---------------------------------------------------------------------------------


def mark_read(cmd: commands.MarkRead, deps: Dependencies) -> Notification:
    """Mark an inbox message read."""
    return deps.notifications.mark_read(cmd.recipient, cmd.notification_id, deps.clock())


def set_custodian_preference(cmd: commands.SetCustodianPreference, deps: Dependencies) -> dict:
    """Record a custodian's choice between immediate messages and a daily digest."""
    deps.preferences.set(cmd.custodian, cmd.mode, cmd.actor, deps.clock())
    return {"custodian": cmd.custodian, "mode": cmd.mode}


COMMAND_HANDLERS: dict[type, Callable[[Any, Dependencies], Any]] = {
    commands.MarkRead: mark_read,
    commands.SetCustodianPreference: set_custodian_preference,
}


# Every event of the services notifications listens to goes to ``on_event``: the rules decide.
def on_tenant_erasure_requested(event: Event, deps: Dependencies) -> None:
    """Forget the tenant's contacts and consents, anonymise the messages to them or about their
    cases, and confirm once (the confirmation is stored with the erasure record, after the work:
    a redelivery after a crash finishes the work and confirms)."""
    tenant_id, erasure_id = event.data["tenant_id"], event.data["erasure_id"]
    db = deps.notifications.database
    if privacy.erased(db, tenant_id) is not None:
        return
    at = deps.clock()
    case_ids = deps.cases.ids_of_tenant(tenant_id)
    records = deps.notifications.erase_tenant(tenant_id, case_ids, at)
    records += deps.tenants.erase(tenant_id)
    deps.cases.unlink(tenant_id, case_ids)
    confirmation = make_event(
        TENANT_ERASED,
        tenant_id,
        {
            "erasure_id": erasure_id,
            "tenant_id": tenant_id,
            "at": at.isoformat(),
            "records": records,
        },
    )
    privacy.record_erasure(
        db,
        tenant_id=tenant_id,
        record={"erasure_id": erasure_id, "at": at, "records": records},
        topic=deps.notifications.topic,
        event=confirmation,
    )
    log.info("tenant erased", extra={"erasure_id": erasure_id, "records": records})


def on_case_anonymised(event: Event, deps: Dependencies) -> None:
    """casework's retention anonymised a closed case: so are the messages about it."""
    on_cases_anonymised([event], deps)


def on_cases_anonymised(events: list[Event], deps: Dependencies) -> set[str]:
    """casework's retention pass anonymises closed cases in batches: a run of them
    (``shared.kafka.BulkHandler``) has the messages about all its cases anonymised at once,
    found by their entries by case (``tenant_refs``), or, until those are backfilled, by a
    query on ``case_id`` that reads every message on FerretDB (so once per run). Every step is
    idempotent: a run that fails is applied again one by one."""
    for event in events:
        on_event(event, deps)  # the rules may still want to tell someone (none does today)
    case_ids = [e.data["case_id"] for e in events]
    deps.notifications.anonymise(deps.notifications.messages_about_cases(case_ids), deps.clock())
    return {e.id for e in events}


EVENT_HANDLERS: dict[str, Callable[[Event, Dependencies], None]] = {
    c.type: on_event for c in contracts() if c.producer in ("intake", "casework")
} | {
    TENANT_ERASURE_REQUESTED: on_tenant_erasure_requested,
    CASE_ANONYMISED: on_case_anonymised,
}
