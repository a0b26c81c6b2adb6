"""The case file: timeline, assessment, referrals with their actions, home visits, energy diary."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template, request

from services.web.adapters.http import ApiError, Unavailable
from services.web.domain.charts import diary_columns
from services.web.domain.forms import NEEDS, field_messages
from services.web.entrypoints.auth import FALLBACK_PATHS
from services.web.entrypoints.common import (
    attempt,
    back,
    clients,
    may,
    requires,
    unavailable,
)

blp = Blueprint("cases", __name__, url_prefix="/casi")

ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _check_id(value: str) -> None:
    if not value or len(value) > 64 or not set(value) <= ID_CHARS:
        abort(404)


def _page(case_id: str, status: int = 200, **state: Any) -> Any:
    api = clients().casework
    case_file = None
    missing = False
    try:
        case_file = api.case_file(case_id)
    except Unavailable as down:
        unavailable(down.part)
    except ApiError as exc:
        if exc.status != 404:
            raise
        missing = True
    sections: dict[str, Any] = {}
    if case_file:
        for name, default in (
            ("timeline", []),
            ("referrals", []),
            ("assessments", []),
            ("home-visits", []),
            ("diary", {"entries": [], "periods": []}),
        ):
            sections[name.replace("-", "_")] = attempt(
                lambda name=name: api.section(case_id, name), default
            )
    tenant = None
    if case_file:
        tenant = attempt(lambda: clients().intake.tenant(case_file["tenant_id"]), None)
    diary = sections.get("diary") or {"entries": [], "periods": []}
    context = {
        "case_id": case_id,
        "case": case_file,
        "missing": missing,
        "tenant": tenant,
        "needs": NEEDS,
        "paths": attempt(api.referral_paths, []) or FALLBACK_PATHS,
        "columns": diary_columns(diary.get("periods") or []),
        "diary": diary,
        "referral_form": {},
        "referral_errors": {},
        "diary_form": {},
        "diary_errors": {},
        "just_opened": request.args.get("nuovo") == "1",
        **sections,
    }
    context.update(state)
    return render_template("case.html", **context), status


@blp.get("/<case_id>")
@requires("operatore", "percorso", "coordinatore")
def case_file(case_id: str) -> Any:
    """The case file page."""
    _check_id(case_id)
    return _page(case_id)


def _act(case_id: str, form_key: str, fields: set[str], call: Any) -> Any:
    form = request.form.to_dict(flat=False)
    try:
        call()
    except Unavailable as down:
        unavailable(down.part)
        errors = {"_form": ["Non è stato possibile inviare: riprova tra poco."]}
        return _page(case_id, 503, **{f"{form_key}_form": form, f"{form_key}_errors": errors})
    except ApiError as exc:
        errors = field_messages(exc.field_errors, fields)
        if exc.code != "validation_error" or not errors:
            errors.setdefault("_form", []).insert(0, exc.message)
        return _page(
            case_id, exc.status, **{f"{form_key}_form": form, f"{form_key}_errors": errors}
        )
    return back("cases.case_file", case_id=case_id)


@blp.post("/<case_id>/invii")
@requires("operatore", "percorso", "coordinatore")
@may("refer")
def send_referral(case_id: str) -> Any:
    """Refer the case to a path (proposed and sent in one step)."""
    _check_id(case_id)
    path = request.form.get("path", "")
    reason = request.form.get("reason", "")
    return _act(
        case_id,
        "referral",
        {"path", "reason"},
        lambda: clients().casework.propose_and_send(case_id, path, reason, g.identity.username),
    )


@blp.post("/<case_id>/diario")
@requires("operatore", "percorso", "coordinatore")
@may("add_reading")
def add_reading(case_id: str) -> Any:
    """Add a meter reading (or a note) to the energy diary."""
    _check_id(case_id)
    form = request.form
    body: dict[str, Any] = {
        "read_on": form.get("read_on", ""),
        "commodity": form.get("commodity") or None,
        "note": form.get("note", ""),
        "actor": g.identity.username,
    }
    raw = form.get("value", "").replace(",", ".").strip()
    if raw:
        try:
            body["value"] = float(raw)
        except ValueError:
            body["value"] = raw  # casework answers with the Italian message for it
    return _act(
        case_id,
        "diary",
        {"read_on", "commodity", "value", "note"},
        lambda: clients().casework.add_diary_reading(case_id, body),
    )
