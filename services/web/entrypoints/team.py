"""A referral path's inbox: new (overdue highlighted), in progress; accept, decline, complete."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template, request

from services.web.adapters.http import ApiError, Unavailable
from services.web.domain.forms import NEEDS
from services.web.domain.queues import team_inbox
from services.web.entrypoints.cases import _check_id
from services.web.entrypoints.common import (
    attempt,
    back,
    clients,
    may,
    now,
    requires,
    unavailable,
)

blp = Blueprint("team", __name__, url_prefix="/percorso")

ACTIONS = {"accetta": "accept", "rifiuta": "decline", "completa": "complete"}
FIELD_LABELS = {
    "reason": "Motivo del rifiuto",
    "outcome": "Esito",
    "outcome_for_tenant": "Esito per l'inquilino",
}


def _inbox(status: int = 200, **state: Any) -> Any:
    api = clients().casework
    path = g.identity.path
    case_files = attempt(lambda: api.case_files(path=path), [])
    pairs = []
    for case_file in case_files:
        referrals = attempt(lambda c=case_file: api.section(c["id"], "referrals"), [])
        pairs.extend((case_file, r) for r in referrals)
    paths = {p["name"]: p["label"] for p in attempt(api.referral_paths, [])}
    context = {
        "inbox": team_inbox(pairs, path, now().date()),
        "path_label": paths.get(path, path),
        "needs": NEEDS,
        "action_errors": {},
        "action_form": {},
    }
    context.update(state)
    return render_template("team.html", **context), status


@blp.get("")
@requires("percorso")
def inbox() -> Any:
    """My path's referrals."""
    return _inbox()


@blp.post("/<case_id>/<referral_id>/<action>")
@requires("percorso")
@may("answer_referral")
def act(case_id: str, referral_id: str, action: str) -> Any:
    """Accept, decline (with a reason) or complete (with an outcome) a referral."""
    _check_id(case_id)
    _check_id(referral_id)
    if action not in ACTIONS:
        abort(404)
    form = request.form
    body: dict[str, Any] = {"actor": g.identity.username}
    if action == "rifiuta":
        body["reason"] = form.get("reason", "")
    if action == "completa":
        body["outcome"] = form.get("outcome", "")
        body["outcome_for_tenant"] = form.get("outcome_for_tenant", "")
    try:
        clients().casework.referral_action(case_id, referral_id, ACTIONS[action], body)
    except Unavailable as down:
        unavailable(down.part)
        return _inbox(503, action_errors={referral_id: ["Non è stato possibile inviare."]})
    except ApiError as exc:
        messages = [exc.message]
        for field, errors in exc.field_errors.items():
            label = FIELD_LABELS.get(field, field)
            messages.extend(f"{label}: {m}" for m in (errors if isinstance(errors, list) else []))
        return _inbox(
            exc.status,
            action_errors={referral_id: messages},
            action_form={referral_id: form.to_dict()},
        )
    return back("team.inbox")
