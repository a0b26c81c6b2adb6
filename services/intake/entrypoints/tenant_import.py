"""Bulk import of a building's tenants from CSV: a validation report per row, never half a row.

Each row is checked with the same schema as ``POST /api/v1/tenants`` and, when valid, registered
with one command (the tenant and its events in one document write). The natural key is the
codice fiscale, so a second run registers nothing twice: a row already imported with the same
data is reported as such; a row whose codice fiscale exists with different data is reported and
left alone (changes go through the API, which keeps their history and events).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from services.intake.domain import commands
from services.intake.domain.identifiers import normalize_fiscal_code, normalize_phone
from services.intake.domain.model import ConsentChannel, Tenant
from services.intake.entrypoints.schemas import TenantInSchema
from shared.domain import Conflict, DomainError
from shared.messagebus import MessageBus

# CSV header (Italian, as the offices write it) → field of the tenant schema.
COLUMNS = {
    "nome": "first_name",
    "cognome": "last_name",
    "codice_fiscale": "fiscal_code",
    "alloggio": "apartment",
    "telefono": "phone",
    "email": "email",
    "lingua": "preferred_language",
    "componenti_nucleo": "household_size",
}
CONSENT_COLUMNS = {"consenso_email": ConsentChannel.EMAIL, "consenso_sms": ConsentChannel.SMS}
REQUIRED_COLUMNS = ("nome", "cognome", "codice_fiscale")
YES = {"si", "sì", "s", "yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}


@dataclass
class RowOutcome:
    """What happened to one row of the file (``line`` counts the header as line 1)."""

    line: int
    status: str  # importato | già presente | non valido | in conflitto
    tenant_id: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ImportReport:
    """The outcome of every row."""

    rows: list[RowOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many rows ended with ``status``."""
        return sum(1 for r in self.rows if r.status == status)

    @property
    def ok(self) -> bool:
        """Whether every row is imported or already present."""
        return all(r.status in {"importato", "già presente"} for r in self.rows)


class ImportFileError(ValueError):
    """The file cannot be read as a tenant CSV at all (no row is imported)."""


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of ``path`` (UTF-8, comma or semicolon separated)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"impossibile leggere {path}: {exc}") from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFileError(f"colonne obbligatorie mancanti: {', '.join(missing)}")
    unknown = [h for h in header if h not in COLUMNS and h not in CONSENT_COLUMNS]
    if unknown:
        raise ImportFileError(f"colonne sconosciute: {', '.join(unknown)}")
    reader.fieldnames = header
    rows = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    return header, rows


def _body(row: dict[str, str], building_id: str, operator: str) -> tuple[dict, dict]:
    body: dict[str, Any] = {"building_id": building_id}
    errors: dict[str, list[str]] = {}
    for column, name in COLUMNS.items():
        value = row.get(column, "")
        if value:
            body[name] = value
    consents = []
    for column, channel in CONSENT_COLUMNS.items():
        value = row.get(column, "").lower()
        if value in YES:
            consents.append({"channel": channel.value, "granted": True, "recorded_by": operator})
        elif value not in NO:
            errors[column] = ["Indicare sì o no."]
    body["consents"] = consents
    return body, errors


def _differences(tenant: Tenant, loaded: dict[str, Any]) -> list[str]:
    """The CSV columns whose value differs from what is registered (in ``COLUMNS`` order).

    Compared as registration would store the row (phone normalised, schema defaults applied),
    so the same row read again differs in nothing.
    """
    row = {**loaded, "phone": normalize_phone(loaded["phone"]) if loaded.get("phone") else None}
    columns = [c for c, name in COLUMNS.items() if name != "fiscal_code"]
    differ = [c for c in columns if getattr(tenant, COLUMNS[c]) != row.get(COLUMNS[c])]
    granted = {c.channel for c in tenant.consents if c.granted}
    wanted = {ConsentChannel(c["channel"]) for c in loaded["consents"]}
    differ += [
        c for c, channel in CONSENT_COLUMNS.items() if (channel in granted) != (channel in wanted)
    ]
    if tenant.building_id != loaded["building_id"]:
        differ.insert(0, "edificio")  # registered in another building (--building)
    return differ


def import_tenants(
    bus: MessageBus,
    rows: Iterable[tuple[int, dict[str, str]]],
    building_id: str,
    operator: str,
    advance: Callable[[], None] = lambda: None,
) -> ImportReport:
    """Validate and register each row; returns the per-row report."""
    schema = TenantInSchema()
    report = ImportReport()
    seen: dict[str, int] = {}
    for line, row in rows:
        body, errors = _body(row, building_id, operator)
        loaded: dict[str, Any] = {}
        try:
            loaded = schema.load(body)
        except ValidationError as exc:
            reverse = {v: k for k, v in COLUMNS.items()}
            for name, messages in exc.messages_dict.items():
                errors[reverse.get(name, name)] = list(messages)
        if errors:
            report.rows.append(RowOutcome(line, "non valido", errors=errors))
            advance()
            continue
        fiscal_code = normalize_fiscal_code(loaded["fiscal_code"])
        if fiscal_code in seen:
            report.rows.append(
                RowOutcome(
                    line,
                    "non valido",
                    errors={"codice_fiscale": [f"Già presente alla riga {seen[fiscal_code]}."]},
                )
            )
            advance()
            continue
        seen[fiscal_code] = line
        existing = bus.deps.tenants.by_fiscal_code(fiscal_code)
        if existing is not None:
            differ = _differences(existing, loaded)
            outcome = RowOutcome(line, "in conflitto" if differ else "già presente", existing.id)
            # Named, never shown: the report carries no personal data.
            outcome.errors = {
                column: [
                    "Diverso da quanto registrato per questo codice fiscale: modificare dall'API."
                ]
                for column in differ
            }
            report.rows.append(outcome)
            advance()
            continue
        consents = [commands.ConsentInput(**c) for c in loaded.pop("consents")]
        try:
            tenant = bus.handle(commands.RegisterTenant(consents=consents, **loaded))
            report.rows.append(RowOutcome(line, "importato", tenant.id))
        except Conflict as exc:  # registered meanwhile by someone else
            report.rows.append(
                RowOutcome(line, "in conflitto", errors={"codice_fiscale": [exc.message]})
            )
        except DomainError as exc:
            report.rows.append(RowOutcome(line, "non valido", errors={"riga": [exc.message]}))
        advance()
    return report
