"""Turning an API's 422 field errors into messages next to the form's fields."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
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

ISEE_BANDS: dict[str, str] = {
    "fino_9530": "Fino a 9.530 €",
    "9530_15000": "Da 9.530 a 15.000 €",
    "15000_20000": "Da 15.000 a 20.000 €",
    "20000_30000": "Da 20.000 a 30.000 €",
    "oltre_30000": "Oltre 30.000 €",
    "non_disponibile": "ISEE non disponibile",
}

BONUS_SOCIALE: dict[str, bool | None] = {"si": True, "no": False, "": None}

COMMODITIES: dict[str, str] = {"luce": "Luce (kWh, POD)", "gas": "Gas (Smc, PDR)"}
UNITS: dict[str, str] = {"luce": "kWh", "gas": "Smc"}

# The inputs of one bill in the counter's form (named ``bill-<n>-<input>``), and the field of
# intake's bill each fills: the meter code is the POD for electricity, the PDR for gas.
BILL_INPUTS: dict[str, tuple[str, ...]] = {
    "supplier": ("supplier",),
    "offer": ("offer",),
    "commodity": ("commodity",),
    "period_start": ("period_start",),
    "period_end": ("period_end",),
    "meter": ("pod", "pdr"),
    "consumption": ("consumption", "unit"),
    "amount": ("amount_cents",),
    "arrears": ("arrears_cents",),
}
BILL_NAME = re.compile(r"^bill-(\d{1,2})-([a-z_]+)$")
# Inputs that hold something even when the operator typed nothing.
_PRESET = {"commodity"}

Form = dict[str, list[str]]


def _one(form: Form, name: str) -> str:
    values = form.get(name) or [""]
    return str(values[0]).strip()


def _optional(form: Form, name: str) -> str | None:
    return _one(form, name) or None


def bill_indexes(form: Form) -> list[int]:
    """The numbers of the bills in the form, in order (at least bill 0, shown empty)."""
    found = {int(m.group(1)) for name in form if (m := BILL_NAME.match(name))}
    return sorted(found) or [0]


def euro_cents(raw: str) -> int | str:
    """An amount typed in euro («184,50», «1.234,56», «90») as cents; unreadable text as it is
    (intake then says, in Italian, that it is not a number)."""
    text = raw.replace("€", "").replace(" ", "")
    if "," in text:
        text = text.replace(".", "").replace(",", ".")  # Italian: dots group thousands
    try:
        value = Decimal(text)
    except InvalidOperation:
        return raw
    if not value.is_finite():
        return raw
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _number(raw: str) -> float | str:
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return raw  # intake says what is wrong with it


def bills_body(form: Form) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """intake's ``bills`` from the form's bill inputs, skipping bills left empty; and the aliases
    from each bill's API fields (``bills.0.pod``) to the inputs editing them (``bill-2-meter``)."""
    bills: list[dict[str, Any]] = []
    aliases: dict[str, str] = {}
    for index in bill_indexes(form):
        values = {name: _one(form, f"bill-{index}-{name}") for name in BILL_INPUTS}
        if not any(v for name, v in values.items() if name not in _PRESET):
            continue
        commodity = values["commodity"] or "luce"
        bill: dict[str, Any] = {"commodity": commodity, "offer": values["offer"] or None}
        # Required fields left empty are left out: intake answers «campo obbligatorio».
        for name in ("supplier", "period_start", "period_end"):
            if values[name]:
                bill[name] = values[name]
        if values["amount"]:
            bill["amount_cents"] = euro_cents(values["amount"])
        if values["arrears"]:
            bill["arrears_cents"] = euro_cents(values["arrears"])
        if values["meter"]:
            meter = "".join(values["meter"].split()).upper()
            bill["pdr" if commodity == "gas" else "pod"] = meter
        if values["consumption"]:
            bill["consumption"] = _number(values["consumption"])
            bill["unit"] = UNITS.get(commodity)
        position = len(bills)
        for name, api_fields in BILL_INPUTS.items():
            for api_field in api_fields:
                aliases[f"bills.{position}.{api_field}"] = f"bill-{index}-{name}"
        bills.append(bill)
    return bills, aliases


def case_fields(form: Form) -> set[str]:
    """The fields of the case form that can carry a message, bill inputs included."""
    bill_fields = {f"bill-{i}-{name}" for i in bill_indexes(form) for name in BILL_INPUTS}
    return {
        "tenant_id",
        "channel",
        "needs",
        "description",
        "disconnection_date",
        "hardship_kind",
        "isee_band",
        "receives_bonus_sociale",
        "bills",
        *bill_fields,
    }


def case_body(form: Form, counter_id: str, opened_by: str) -> dict[str, Any]:
    """The body of intake's ``POST /cases`` from the counter's form (intake validates it):
    needs, the household's ISEE band and bonus sociale, and the bills brought to the counter."""
    bills, _ = bills_body(form)
    body: dict[str, Any] = {
        "tenant_id": _one(form, "tenant_id"),
        "counter_id": counter_id or None,
        "channel": _one(form, "channel") or "sportello",
        "needs": [n for n in form.get("needs", []) if n],
        "description": _one(form, "description"),
        "disconnection_date": _optional(form, "disconnection_date"),
        "hardship_kind": _one(form, "hardship_kind") or "da_valutare",
        "isee_band": _optional(form, "isee_band"),
        "opened_by": opened_by,
        "bills": bills,
    }
    bonus = _one(form, "receives_bonus_sociale")
    # An unknown answer goes as it is: intake says it is not a yes or a no.
    body["receives_bonus_sociale"] = BONUS_SOCIALE.get(bonus, bonus)
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
