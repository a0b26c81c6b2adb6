"""Sign-in (choosing a demo identity until JWT lands), sign-out, and each role's home."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for

from services.web.domain.identity import ROLES, IdentityError, make_identity
from services.web.entrypoints.common import attempt, back, clients, identity

blp = Blueprint("auth", __name__)

FALLBACK_PATHS = [
    {"name": "amat", "label": "AMAT — Sportello Aiuto Energia"},
    {"name": "welfare", "label": "Comune di Milano — Direzione Welfare e Salute"},
    {"name": "casa", "label": "Comune di Milano — Direzione Casa"},
]


@blp.get("/")
def root() -> Any:
    """Signed in: my home page; otherwise the sign-in page."""
    who = identity()
    return redirect(url_for(who.home if who else "auth.signin"))


def _choices() -> dict[str, Any]:
    api = clients()
    counters = attempt(api.intake.counters, [])
    buildings = attempt(api.intake.buildings, [])
    paths = attempt(api.casework.referral_paths, []) or FALLBACK_PATHS
    custodians = sorted(
        {(c["name"], b["name"]) for b in buildings for c in b.get("custodians") or []}
    )
    return {"roles": ROLES, "counters": counters, "paths": paths, "custodians": custodians}


@blp.get("/accesso")
def signin() -> Any:
    """Choose who you are (a demo identity)."""
    return render_template("signin.html", form={}, errors={}, **_choices())


@blp.post("/accesso")
def signin_post() -> Any:
    """Keep the chosen identity in the signed session cookie and go to the role's home."""
    form = request.form
    custodian = form.get("custodian", "").strip()
    # A custode's token names the buildings it looks after: the APIs show it only those.
    buildings = tuple(
        b["id"]
        for b in (attempt(clients().intake.buildings, []) if custodian else [])
        if any(c.get("name") == custodian for c in b.get("custodians") or [])
    )
    try:
        who = make_identity(
            form.get("username", ""),
            form.get("role", ""),
            {k: form.get(k, "") for k in ("counter_id", "path", "custodian")},
            buildings=buildings,
        )
    except IdentityError as exc:
        errors = {exc.field: [exc.message]}
        return render_template("signin.html", form=form, errors=errors, **_choices()), 422
    session.clear()
    session["identity"] = who.to_session()
    return back(who.home)


@blp.post("/esci")
def signout() -> Any:
    """Forget the identity."""
    session.clear()
    return back("auth.signin")
