"""``import-tenants``: a building's tenants from CSV into the real store, safe to run twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.intake.adapters.documents import IntakeTenantDoc
from services.intake.bootstrap import bootstrap
from services.intake.domain import commands
from services.intake.entrypoints.cli import main
from shared import mongo
from shared.events import decode
from shared.outbox import event_text
from tests.support import authorize_app

HEADER = "nome;cognome;codice_fiscale;alloggio;telefono;email;lingua;componenti_nucleo;"
CSV = (
    HEADER
    + """consenso_sms;consenso_email
Mario;Rossi;RSSMRA85T10A562S;Scala A int. 3;+39 333 1234567;mario@example.org;it;3;sì;no
Laura;Bianchi;BNCLRA70C41F205I;Scala B int. 1;;;;2;;si
Pietro;Verdi;RSSMRA85T10A562T;Scala C int. 9;;;;;;
Gina;Neri;RSSMRA85T10A56NH;Scala C int. 2;;non-una-email;;;forse;
Mario;Rossi;RSSMRA85T10A562S;Scala A int. 3;;;;;;
;Gialli;RSSMRA85T10A5RNS;;;;;;;
"""
)


@pytest.fixture
def building_id(settings_for, environ, monkeypatch) -> Iterator[str]:
    settings = settings_for("intake")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    bus = bootstrap(settings)
    building = bus.handle(
        commands.RegisterBuilding(name="Saint Bon", address="via Saint Bon 6", municipio=7)
    )
    yield building.id
    mongo.disconnect("intake")


def run(*args: str) -> int:
    try:
        return main(["import-tenants", *args])
    finally:
        mongo.disconnect("intake")


def test_valid_rows_are_imported_invalid_ones_reported_and_a_rerun_changes_nothing(
    building_id: str, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "inquilini.csv"
    path.write_text(CSV, encoding="utf-8")
    report_path = tmp_path / "esito.json"

    assert run(str(path), "--building", building_id, "--report", str(report_path)) == 1
    output = capsys.readouterr().err
    assert "importati: 2, già presenti: 0, non validi: 4" in output
    assert "RSSMRA85T10A562T" not in output  # the report names rows, not personal data

    rows = {r["line"]: r for r in json.loads(report_path.read_text())}
    assert [rows[n]["status"] for n in range(2, 8)] == [
        "importato",
        "importato",
        "non valido",
        "non valido",
        "non valido",
        "non valido",
    ]
    assert rows[4]["errors"]["codice_fiscale"] == [
        "Carattere di controllo del codice fiscale errato."
    ]
    assert set(rows[5]["errors"]) == {"email", "consenso_sms"}  # every problem of the row
    assert rows[6]["errors"]["codice_fiscale"] == ["Già presente alla riga 2."]
    assert "nome" in rows[7]["errors"]

    mongo.connect("intake", *_db())
    try:
        tenants = {t.fiscal_code: t for t in IntakeTenantDoc.objects}
        assert set(tenants) == {"RSSMRA85T10A562S", "BNCLRA70C41F205I"}  # never half a row
        rossi = tenants["RSSMRA85T10A562S"]
        assert (rossi.household_size, rossi.phone) == (3, "+393331234567")
        assert [(c.channel, c.granted, c.recorded_by) for c in rossi.consents] == [
            ("sms", True, "importazione-csv")
        ]
        events = [decode(event_text(r, "intake").encode()) for r in rossi.outbox]
        assert [e.type.split(".")[-2] for e in events] == ["registered", "consent_changed"]
        published_before = sum(len(t.outbox) for t in IntakeTenantDoc.objects)
    finally:
        mongo.disconnect("intake")

    # Safe to run twice: nothing registered again, nothing published again.
    assert run(str(path), "--building", building_id, "--report", str(report_path)) == 1
    assert "importati: 0, già presenti: 2, non validi: 4" in capsys.readouterr().err
    mongo.connect("intake", *_db())
    try:
        assert IntakeTenantDoc.objects.count() == 2
        assert sum(len(t.outbox) for t in IntakeTenantDoc.objects) == published_before
    finally:
        mongo.disconnect("intake")


def test_a_known_codice_fiscale_with_other_data_is_reported_not_overwritten(
    building_id: str, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("nome,cognome,codice_fiscale\nMario,Rossi,RSSMRA85T10A562S\n", encoding="utf-8")
    assert run(str(path), "--building", building_id) == 0
    path.write_text("nome,cognome,codice_fiscale\nMarco,Rossi,RSSMRA85T10A562S\n", encoding="utf-8")
    assert run(str(path), "--building", building_id) == 1
    assert "in conflitto: 1" in capsys.readouterr().err
    mongo.connect("intake", *_db())
    try:
        assert IntakeTenantDoc.objects.get().first_name == "Mario"
    finally:
        mongo.disconnect("intake")


@pytest.mark.parametrize(
    ("changed", "columns"),
    [
        ({"lingua": "en"}, ["lingua"]),
        ({"componenti_nucleo": "5"}, ["componenti_nucleo"]),
        ({"lingua": "", "componenti_nucleo": ""}, ["lingua", "componenti_nucleo"]),
        ({"consenso_email": "no", "consenso_sms": "sì"}, ["consenso_email", "consenso_sms"]),
        ({"alloggio": "Scala B int. 1", "telefono": "+39 333 7654321"}, ["alloggio", "telefono"]),
    ],
)
def test_a_changed_row_is_a_conflict_naming_the_columns_that_differ(
    building_id: str, tmp_path: Path, capsys, changed: dict[str, str], columns: list[str]
) -> None:
    row = {
        "nome": "Mario",
        "cognome": "Rossi",
        "codice_fiscale": "RSSMRA85T10A562S",
        "alloggio": "Scala A int. 3",
        "telefono": "+39 333 1234567",
        "email": "mario@example.org",
        "lingua": "ar",
        "componenti_nucleo": "3",
        "consenso_email": "sì",
        "consenso_sms": "no",
    }
    path, report_path = tmp_path / "a.csv", tmp_path / "esito.json"
    path.write_text(";".join(row) + "\n" + ";".join(row.values()) + "\n", encoding="utf-8")
    assert run(str(path), "--building", building_id) == 0
    # The same file again: already there, nothing differs.
    assert run(str(path), "--building", building_id, "--report", str(report_path)) == 0
    assert json.loads(report_path.read_text())[0]["status"] == "già presente"
    capsys.readouterr()

    path.write_text(
        ";".join(row) + "\n" + ";".join({**row, **changed}.values()) + "\n", encoding="utf-8"
    )
    assert run(str(path), "--building", building_id, "--report", str(report_path)) == 1
    assert "in conflitto: 1" in capsys.readouterr().err
    [outcome] = json.loads(report_path.read_text())
    assert outcome["status"] == "in conflitto"
    assert list(outcome["errors"]) == columns  # the columns that differ, named
    assert "modificare dall'API" in outcome["errors"][columns[0]][0]
    # Left alone: a change goes through the API, which keeps its history and events.
    mongo.connect("intake", *_db())
    try:
        stored = IntakeTenantDoc.objects.get()
        assert (stored.preferred_language, stored.household_size, stored.version) == ("ar", 3, 1)
    finally:
        mongo.disconnect("intake")


def test_an_unreadable_file_or_unknown_building_imports_nothing(
    building_id: str, tmp_path: Path, capsys
) -> None:
    missing_column = tmp_path / "b.csv"
    missing_column.write_text("nome;codice_fiscale\nMario;RSSMRA85T10A562S\n", encoding="utf-8")
    assert run(str(missing_column), "--building", building_id) == 2
    assert "colonne obbligatorie mancanti: cognome" in capsys.readouterr().err
    unknown_column = tmp_path / "c.csv"
    unknown_column.write_text("nome;cognome;codice_fiscale;iban\n", encoding="utf-8")
    assert run(str(unknown_column), "--building", building_id) == 2
    assert "colonne sconosciute: iban" in capsys.readouterr().err
    good = tmp_path / "d.csv"
    good.write_text("nome;cognome;codice_fiscale\nMario;Rossi;RSSMRA85T10A562S\n", encoding="utf-8")
    assert run(str(good), "--building", "bld_nope") == 2
    assert run(str(tmp_path / "nope.csv"), "--building", building_id) == 2
    mongo.connect("intake", *_db())
    try:
        assert IntakeTenantDoc.objects.count() == 0
    finally:
        mongo.disconnect("intake")


def _db() -> tuple[str, str]:
    from services.intake.config import load_settings

    settings = load_settings()
    return settings.mongodb_uri, settings.database


def test_seed_demo_loads_buildings_counters_and_tenants_once(
    building_id: str, settings_for, capsys
) -> None:
    # The fixture's building makes the store non-empty: seeding must add nothing.
    try:
        assert main(["seed-demo"]) == 0
    finally:
        mongo.disconnect("intake")
    assert "non carico nulla" in capsys.readouterr().out
    mongo.connect("intake", *_db())
    try:
        mongo.database("intake").drop_collection("buildings")
    finally:
        mongo.disconnect("intake")
    try:
        assert main(["seed-demo"]) == 0
    finally:
        mongo.disconnect("intake")
    assert "Complesso Giuffrè-Villani" in capsys.readouterr().out
    mongo.connect("intake", *_db())
    try:
        assert IntakeTenantDoc.objects.count() == 3
        db = mongo.database("intake")
        assert db.counters.count_documents({}) == 3
        giuffre = db.counters.find_one({"name": "Sportello Giuffrè-Villani"})
        assert giuffre["schedules"][0]["every_weeks"] == 2
    finally:
        mongo.disconnect("intake")


def test_old_idempotency_keys_can_be_purged(building_id: str, settings_for, capsys) -> None:
    from services.intake.entrypoints.app import create_app

    app = authorize_app(create_app(settings_for("intake")))
    client = app.test_client()
    body = {"name": "Saint Bon", "address": "via Saint Bon 6", "municipio": 7}
    headers = {"Idempotency-Key": "k-1"}
    first = client.post("/api/v1/buildings", json=body, headers=headers).json
    assert client.post("/api/v1/buildings", json=body, headers=headers).json == first
    mongo.disconnect("intake")
    assert main(["purge-idempotency-keys", "--older-than-hours", "1"]) == 0
    assert "eliminate: 0" in capsys.readouterr().out  # a fresh key is kept
    assert main(["purge-idempotency-keys", "--older-than-hours", "0"]) == 0
    assert "eliminate: 1" in capsys.readouterr().out
    mongo.disconnect("intake")
    app = authorize_app(create_app(settings_for("intake")))
    try:
        # The key is forgotten: the same request is new work again.
        again = app.test_client().post("/api/v1/buildings", json=body, headers=headers).json
        assert again["id"] != first["id"]
    finally:
        mongo.disconnect("intake")
