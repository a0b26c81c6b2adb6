"""The counter's day: today's appointments, find or register a tenant, open a case, book.

The three forms post here; the page's script may also send them as JSON with an
``Idempotency-Key`` (from the browser's offline queue), and then gets JSON back.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, g, jsonify, render_template, request

from services.web.adapters.http import ApiError, Unavailable
from services.web.domain.forms import (
    CHANNELS,
    COMMODITIES,
    HARDSHIP_KINDS,
    ISEE_BANDS,
    NEEDS,
    Form,
    appointment_body,
    bill_indexes,
    bills_body,
    case_body,
    case_fields,
    field_messages,
    tenant_body,
)
from services.web.entrypoints.common import (
    ZONE,
    attempt,
    back,
    clients,
    idempotency_key,
    may,
    now,
    requires,
    unavailable,
    wants_json,
)

blp = Blueprint("counter", __name__, url_prefix="/sportello")

APPOINTMENT_FIELDS = {"kind", "tenant_id", "starts_at", "notes", "case_id", "visit_at"}
TENANT_FIELDS = {
    "building_id",
    "first_name",
    "last_name",
    "fiscal_code",
    "apartment",
    "phone",
    "email",
}


def _form() -> Form:
    """The submitted fields, from a form post or from the offline queue's JSON."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return {}
        return {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in data.items()
        }
    return request.form.to_dict(flat=False)


def _day_view(status: int = 200, **state: Any) -> Any:
    """Render the day view with whatever each API can give now."""
    api = clients()
    me = g.identity
    today = now().date()
    start = datetime.combine(today, time.min, ZONE)
    counter = attempt(lambda: api.intake.counter(me.counter_id), None)
    appointments = attempt(
        lambda: api.intake.appointments(
            me.counter_id, start.isoformat(), (start + timedelta(days=1)).isoformat()
        ),
        [],
    )
    query = request.args.get("q", "").strip()
    found: list[dict[str, Any]] = []
    search_error = ""
    if len(query) >= 2:
        try:
            found = api.intake.find_tenants(query)
        except Unavailable as down:
            unavailable(down.part)
        except ApiError as exc:
            search_error = exc.message
    elif query:
        search_error = "Scrivi almeno due lettere del cognome."
    tenant = None
    tenant_id = request.args.get("inquilino") or state.get("tenant_id") or ""
    if tenant_id:
        try:
            tenant = api.intake.tenant(tenant_id)
        except Unavailable as down:
            unavailable(down.part)
        except ApiError:
            tenant = None
    names = {t["id"]: f"{t['last_name']} {t['first_name']}" for t in found}
    if tenant:
        names[tenant["id"]] = f"{tenant['last_name']} {tenant['first_name']}"
    slots = [
        s for s in attempt(lambda: api.intake.slots(me.counter_id, today), []) if s.get("available")
    ][:40]
    buildings = attempt(api.intake.buildings, [])
    recent = attempt(lambda: api.intake.cases(counter_id=me.counter_id, limit=10), [])
    context = {
        "counter": counter,
        "today": today,
        "appointments": appointments,
        "query": query,
        "found": found,
        "search_error": search_error,
        "tenant": tenant,
        "slots": slots,
        "buildings": buildings,
        "recent": recent,
        "needs": NEEDS,
        "channels": CHANNELS,
        "hardship_kinds": HARDSHIP_KINDS,
        "isee_bands": ISEE_BANDS,
        "commodities": COMMODITIES,
        # The bills the case form shows: those sent back with messages, or one empty bill.
        "bill_rows": bill_indexes(state.get("case_form") or {}),
        "case_form": {},
        "case_errors": {},
        "appointment_form": {},
        "appointment_errors": {},
        "tenant_form": {},
        "tenant_errors": {},
        "notice": request.args.get("fatto", ""),
        "names": names,
        # One key per rendered form: a double submit without the script is not a second case.
        "keys": {k: f"web-{uuid.uuid4()}" for k in ("tenant", "case", "appointment")},
    }
    context.update(state)
    return render_template("counter.html", **context), status


@blp.get("")
@requires("operatore")
def day() -> Any:
    """Today at my counter."""
    return _day_view()


def _answer(
    call: Any,
    form: Form,
    fields: set[str],
    form_key: str,
    done: Any,
    aliases: dict[str, str] | None = None,
) -> Any:
    """Send to intake; answer with JSON (offline queue) or the page with messages inline."""
    try:
        created = call()
    except Unavailable as down:
        if wants_json():
            return jsonify(status=503, message=f"Non disponibile ora: {down.part}."), 503
        unavailable(down.part)
        errors = {"_form": ["Non è stato possibile inviare: riprova tra poco."]}
        return _day_view(503, **{f"{form_key}_form": form, f"{form_key}_errors": errors})
    except ApiError as exc:
        errors = field_messages(exc.field_errors, fields, aliases)
        if exc.code != "validation_error" or not errors:
            errors.setdefault("_form", []).insert(0, exc.message)
        if wants_json():
            return jsonify(status=exc.status, message=exc.message, errors=errors), exc.status
        tenant_id = (form.get("tenant_id") or [""])[0]
        state = {f"{form_key}_form": form, f"{form_key}_errors": errors, "tenant_id": tenant_id}
        return _day_view(exc.status, **state)
    if wants_json():
        return jsonify(status=201, id=created.get("id"), replayed=False), 201
    return done(created)


@blp.post("/casi")
@requires("operatore")
@may("open_case")
def open_case() -> Any:
    """Open a case for the chosen tenant."""
    me = g.identity
    form = _form()
    body = case_body(form, me.counter_id, me.username)
    _, bill_aliases = bills_body(form)
    key = idempotency_key()
    return _answer(
        lambda: clients().intake.open_case(body, key),
        form,
        case_fields(form),
        "case",
        lambda case: back("cases.case_file", case_id=case["id"], nuovo=1),
        aliases=bill_aliases,
    )


def _aware(raw: str) -> str:
    """A ``datetime-local`` value (Milan time, no offset) with its offset; others unchanged."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw  # intake says what is wrong with it
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZONE)
    return moment.isoformat()


@blp.post("/appuntamenti")
@requires("operatore")
@may("book")
def book() -> Any:
    """Book the next meeting (a slot of my counter) or a home visit."""
    me = g.identity
    form = _form()
    body = appointment_body(form, me.counter_id, me.username)
    if body["starts_at"]:
        body["starts_at"] = _aware(body["starts_at"])
    key = idempotency_key()
    return _answer(
        lambda: clients().intake.book(body, key),
        form,
        APPOINTMENT_FIELDS,
        "appointment",
        lambda _: back("counter.day", fatto="appuntamento"),
        aliases={
            "tenant_ids": "tenant_id",
            "tenant_ids.0": "tenant_id",
            "starts_at": "visit_at" if body["kind"] == "sopralluogo" else "starts_at",
        },
    )


@blp.post("/inquilini")
@requires("operatore")
@may("register_tenant")
def register_tenant() -> Any:
    """Register a tenant, then choose them for a case."""
    me = g.identity
    form = _form()
    body = tenant_body(form, me.username)
    key = idempotency_key()
    return _answer(
        lambda: clients().intake.register_tenant(body, key),
        form,
        TENANT_FIELDS,
        "tenant",
        lambda tenant: back("counter.day", inquilino=tenant["id"], fatto="inquilino"),
    )
