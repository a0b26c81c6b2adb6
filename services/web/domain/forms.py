"""Turning an API's 422 field errors into messages next to the form's fields."""

from __future__ import annotations

from typing import Any


def flatten_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested field errors as ``{"bills.0.pod": ["…"]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, path).items():
                flat.setdefault(field, []).extend(messages)
    elif isinstance(errors, list):
        if all(isinstance(e, str) for e in errors):
            flat[prefix or "_form"] = list(errors)
        else:
            for index, value in enumerate(errors):
                for field, messages in flatten_errors(value, f"{prefix}.{index}").items():
                    flat.setdefault(field, []).extend(messages)
    elif errors is not None:
        flat[prefix or "_form"] = [str(errors)]
    return flat


def field_messages(
    errors: Any, fields: set[str], aliases: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """Messages per form field; errors of fields the form does not show go under ``_form``.

    ``aliases`` maps an API field path to the form field that edits it.
    """
    out: dict[str, list[str]] = {}
    for path, messages in flatten_errors(errors).items():
        field = (aliases or {}).get(path, path)
        if field not in fields and path.split(".")[0] in fields:
            field = path.split(".")[0]  # e.g. needs.0 belongs to the needs checkboxes
        if field not in fields:
            field = "_form"
            messages = [f"{path}: {m}" if path != "_form" else m for m in messages]
        out.setdefault(field, []).extend(messages)
    return out


# --- what the counter's forms send to intake ---------------------------------------------------

NEEDS: dict[str, str] = {
    "lettura_bollette": "Lettura delle bollette",
    "analisi_fornitori": "Analisi dei fornitori",
    "morosita": "Morosità",
    "riscaldamento_comfort": "Riscaldamento e comfort",
    "consumi_elettrodomestici": "Consumi degli elettrodomestici",
    "diario_energetico": "Diario energetico",
    "informazioni_lavori": "Informazioni sui lavori",
    "altro": "Altro",
}

CHANNELS: dict[str, str] = {
    "sportello": "Allo sportello",
    "visita_domiciliare": "Visita domiciliare",
    "incontro_plenario": "Incontro plenario",
    "telefono": "Telefono",
}

HARDSHIP_KINDS: dict[str, str] = {
    "da_valutare": "Da valutare",
    "precarieta": "Precarietà energetica (temporanea)",
    "poverta": "Povertà energetica (duratura)",
}

Form = dict[str, list[str]]


def _one(form: Form, name: str) -> str:
    values = form.get(name) or [""]
    return str(values[0]).strip()


def _optional(form: Form, name: str) -> str | None:
    return _one(form, name) or None


def case_body(form: Form, counter_id: str, opened_by: str) -> dict[str, Any]:
    """The body of intake's ``POST /cases`` from the counter's form (intake validates it)."""
    body: dict[str, Any] = {
        "tenant_id": _one(form, "tenant_id"),
        "counter_id": counter_id or None,
        "channel": _one(form, "channel") or "sportello",
        "needs": [n for n in form.get("needs", []) if n],
        "description": _one(form, "description"),
        "disconnection_date": _optional(form, "disconnection_date"),
        "hardship_kind": _one(form, "hardship_kind") or "da_valutare",
        "opened_by": opened_by,
    }
    return body


def appointment_body(form: Form, counter_id: str, booked_by: str) -> dict[str, Any]:
    """The body of intake's ``POST /appointments``: a meeting in a counter slot, or a home visit
    (``starts_at`` from a ``datetime-local`` field is local Milan time, given with its offset by
    the caller in ``starts_at``)."""
    kind = _one(form, "kind") or "incontro"
    body: dict[str, Any] = {
        "kind": kind,
        "tenant_ids": [t for t in [_one(form, "tenant_id")] if t],
        # A meeting takes a slot of the counter; a home visit any local date and time.
        "starts_at": _one(form, "visit_at" if kind == "sopralluogo" else "starts_at"),
        "booked_by": booked_by,
        "notes": _one(form, "notes"),
    }
    if kind == "incontro":
        body["counter_id"] = counter_id
    case_id = _optional(form, "case_id")
    if case_id:
        body["case_id"] = case_id
    return body


def tenant_body(form: Form, recorded_by: str) -> dict[str, Any]:
    """The body of intake's ``POST /tenants`` from the short registration form."""
    body: dict[str, Any] = {
        "building_id": _one(form, "building_id"),
        "first_name": _one(form, "first_name"),
        "last_name": _one(form, "last_name"),
        "fiscal_code": _one(form, "fiscal_code").upper(),
        "apartment": _optional(form, "apartment"),
        "phone": _optional(form, "phone"),
        "email": _optional(form, "email"),
    }
    consents = [
        {"channel": channel, "granted": True, "recorded_by": recorded_by}
        for channel in ("sms", "email")
        if _one(form, f"consent_{channel}") == "on"
    ]
    if consents:
        body["consents"] = consents
    return body
