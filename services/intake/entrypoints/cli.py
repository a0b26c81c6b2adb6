"""intake's command line: ``python -m services.intake.entrypoints.cli seed-demo``."""

from __future__ import annotations

import argparse
import sys

from services.intake.bootstrap import bootstrap
from services.intake.config import load_settings
from services.intake.domain import commands
from services.intake.domain.model import ContactChannel, Custodian
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
    """Load the demo buildings named in the brief, only into an empty store."""
    bus = bootstrap(load_settings())
    if bus.deps.buildings.count():
        print("dati demo: l'archivio contiene già edifici, non carico nulla")
        return 0
    for command in DEMO_BUILDINGS:
        building = bus.handle(command)
        print(f"dati demo: {building.name} ({building.id})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.intake.entrypoints.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("seed-demo", help="carica gli edifici demo se l'archivio è vuoto")
    args = parser.parse_args(argv)
    configure_logging("intake", load_settings().log_level)
    if args.command == "seed-demo":
        return seed_demo()
    return 2


if __name__ == "__main__":
    sys.exit(main())
