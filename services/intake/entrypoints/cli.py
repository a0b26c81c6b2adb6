"""intake's command line: ``python -m services.intake.entrypoints.cli <command>``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from services.intake.adapters.repository import IdempotencyStore
from services.intake.bootstrap import bootstrap
from services.intake.config import load_settings
from services.intake.domain import commands
from services.intake.domain.model import (
    ConsentChannel,
    ContactChannel,
    CounterKind,
    Custodian,
    Schedule,
)
from services.intake.entrypoints.tenant_import import (
    ImportFileError,
    ImportReport,
    import_tenants,
    read_rows,
)
from shared.logs import configure_logging

DEMO_BUILDINGS = (
    commands.RegisterBuilding(
        name="Complesso Saint Bon",
        address="via Saint Bon 6, 20147 Milano",
        municipio=7,
        custodians=[
            Custodian(
                "Custodia Sociale Saint Bon",
                "custodia.saintbon@example.org",
                "+39 02 0000 0001",
                ContactChannel.EMAIL,
            )
        ],
        committee_contact="Comitato Inquilini Saint Bon",
    ),
    commands.RegisterBuilding(
        name="Complesso Giuffrè-Villani",
        address="via Giuffrè 8 – via Villani 3, 20161 Milano",
        municipio=9,
        custodians=[
            Custodian(
                "Custodia Sociale Giuffrè-Villani",
                "custodia.giuffre@example.org",
                "+39 02 0000 0002",
                ContactChannel.EMAIL,
            )
        ],
        committee_contact="Laboratorio Sociale MM Giuffrè-Villani",
        works_notes="Lavori di manutenzione in corso.",
    ),
    commands.RegisterBuilding(
        name="Complesso Coppin-Bagarotti",
        address="via Coppin / via Bagarotti, 20153 Milano",
        municipio=7,
        custodians=[Custodian("Custodia Sociale Baggio", "custodia.baggio@example.org")],
        works_notes="Interventi di efficientamento energetico.",
    ),
)


def seed_demo() -> int:
    """Load the demo buildings named in the brief, their counters and a demo tenant each, only
    into an empty store."""
    bus = bootstrap(load_settings())
    if bus.deps.buildings.count():
        print("dati demo: l'archivio contiene già edifici, non carico nulla")
        return 0
    today = datetime.now(bus.deps.zone).date()
    for n, command in enumerate(DEMO_BUILDINGS):
        building = bus.handle(command)
        print(f"dati demo: {building.name} ({building.id})")
        weekday = (1, 3, 2)[n]  # Tuesday, Thursday, Wednesday
        first = today + timedelta(days=(weekday - today.weekday()) % 7)
        counter = bus.handle(
            commands.RegisterCounter(
                name=f"Sportello {command.name.removeprefix('Complesso ')}",
                kind=CounterKind.ITINERANT if n else CounterKind.FIXED,
                building_id=building.id,
                room=command.committee_contact or "Sala comune",
                # Giuffrè-Villani: every second week, as in the seeds.
                schedules=[Schedule(weekday, time(14), time(17), 30, 2 if n == 1 else 1, first)],
                operators=["operatore.demo"],
            )
        )
        print(f"dati demo:   {counter.name} ({counter.id})")
        first_name, last_name, fiscal_code = DEMO_TENANTS[n]
        tenant = bus.handle(
            commands.RegisterTenant(
                building_id=building.id,
                first_name=first_name,
                last_name=last_name,
                fiscal_code=fiscal_code,
                apartment="Scala A, int. 1",
                email=f"{first_name.lower()}.{last_name.lower()}@example.org",
                consents=[commands.ConsentInput(ConsentChannel.EMAIL, True, "operatore.demo")],
            )
        )
        print(f"dati demo:   {tenant.first_name} {tenant.last_name} ({tenant.id})")
    return 0


# Synthetic people with valid codici fiscali (check character included).
DEMO_TENANTS = (
    ("Mario", "Rossi", "RSSMRA85T10A562S"),
    ("Laura", "Bianchi", "BNCLRA70C41F205I"),
    ("Anna", "Verdi", "VRDNNA80A41F205K"),
)


def import_tenants_command(
    path: Path, building_id: str, operator: str, report_path: Path | None
) -> int:
    """Import a building's tenants from CSV; 0 when every row is in, 1 when some are not."""
    console = Console(stderr=True)
    bus = bootstrap(load_settings())
    if bus.deps.buildings.get(building_id) is None:
        console.print(f"[red]edificio {building_id} non trovato: nessuna riga importata[/]")
        return 2
    try:
        _, rows = read_rows(path)
    except ImportFileError as exc:
        console.print(f"[red]{exc}: nessuna riga importata[/]")
        return 2
    with Progress(
        TextColumn("importazione inquilini"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task("righe", total=len(rows))
        report = import_tenants(
            bus,
            ((line, row) for line, row in enumerate(rows, start=2)),
            building_id,
            operator,
            advance=lambda: progress.advance(task),
        )
    print_report(console, report)
    if report_path:
        report_path.write_text(
            json.dumps([vars(r) for r in report.rows], ensure_ascii=False, indent=2, default=str),
            encoding="utf-8",
        )
    return 0 if report.ok else 1


def print_report(console: Console, report: ImportReport) -> None:
    """The summary, then one line per row that was not imported."""
    console.print(
        f"importati: {report.count('importato')}, già presenti: {report.count('già presente')}, "
        f"non validi: {report.count('non valido')}, in conflitto: {report.count('in conflitto')}"
    )
    problems = [r for r in report.rows if r.errors]
    if problems:
        table = Table("riga", "esito", "campo", "problema")
        for row in problems:
            for column, messages in row.errors.items():
                table.add_row(str(row.line), row.status, column, "; ".join(messages))
        console.print(table)


def purge_idempotency_keys(older_than_hours: int) -> int:
    """Forget the answers to Idempotency-Keys older than ``older_than_hours``."""
    bus = bootstrap(load_settings())
    before = bus.deps.clock() - timedelta(hours=older_than_hours)
    print(f"chiavi di idempotenza eliminate: {IdempotencyStore().purge(before)}")
    return 0


def repair_case_lists() -> int:
    """Write the case list entries every stored case should have and drop the stale ones."""
    bus = bootstrap(load_settings())
    cases, dropped = bus.deps.cases.lists.repair(bus.deps.clock())
    print(f"elenchi dei casi: voci verificate per {cases} casi, {dropped} voci superate eliminate")
    return 0


def repair_tenant_lists() -> int:
    """Write the tenant list entries every stored tenant should have and drop the stale ones."""
    bus = bootstrap(load_settings())
    tenants, dropped = bus.deps.tenants.lists.repair(bus.deps.clock())
    print(f"elenchi degli inquilini: voci verificate per {tenants} inquilini, {dropped} eliminate")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.intake.entrypoints.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "seed-demo", help="carica edifici, sportelli e inquilini demo se l'archivio è vuoto"
    )
    imp = sub.add_parser("import-tenants", help="importa gli inquilini di un edificio da CSV")
    imp.add_argument("file", type=Path, help="CSV: nome, cognome, codice_fiscale, alloggio, …")
    imp.add_argument("--building", required=True, help="id dell'edificio")
    imp.add_argument("--operator", default="importazione-csv", help="chi registra i consensi")
    imp.add_argument("--report", type=Path, default=None, help="scrive l'esito per riga in JSON")
    purge = sub.add_parser(
        "purge-idempotency-keys", help="dimentica le risposte alle Idempotency-Key più vecchie"
    )
    purge.add_argument("--older-than-hours", type=int, default=72)
    sub.add_parser(
        "repair-case-lists",
        help="riscrive le voci degli elenchi dei casi (edificio, sportello, inquilino, urgenti)",
    )
    sub.add_parser(
        "repair-tenant-lists",
        help="riscrive le voci degli elenchi degli inquilini (per nome, per edificio)",
    )
    args = parser.parse_args(argv)
    configure_logging("intake", load_settings().log_level)
    if args.command == "seed-demo":
        return seed_demo()
    if args.command == "purge-idempotency-keys":
        return purge_idempotency_keys(args.older_than_hours)
    if args.command == "import-tenants":
        return import_tenants_command(args.file, args.building, args.operator, args.report)
    if args.command == "repair-case-lists":
        return repair_case_lists()
    if args.command == "repair-tenant-lists":
        return repair_tenant_lists()
    return 2


if __name__ == "__main__":
    sys.exit(main())
