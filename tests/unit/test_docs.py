"""The docs stay true: the event catalogue and the configuration table match the code."""

from __future__ import annotations

from pathlib import Path

from services.casework.config import EXTRA_VARIABLES as CASEWORK
from services.intake.config import EXTRA_VARIABLES as INTAKE
from services.notifications.config import EXTRA_VARIABLES as NOTIFICATIONS
from shared.config import VARIABLES
from shared.events.catalog import render

ROOT = Path(__file__).resolve().parents[2]


def test_the_event_catalogue_is_generated_from_the_contracts() -> None:
    assert (ROOT / "docs" / "events.md").read_text() == render(), (
        "docs/events.md is stale: run `python -m shared.events.catalog > docs/events.md`"
    )


def test_the_readme_configuration_table_lists_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    for var in (*VARIABLES, *INTAKE, *CASEWORK, *NOTIFICATIONS):
        assert f"| `{var.name}` | `{var.default}` |" in readme, var.name


def test_the_readme_lists_every_notification_rule() -> None:
    import yaml

    readme = (ROOT / "README.md").read_text()
    rules = yaml.safe_load((ROOT / "services/notifications/rules.yaml").read_text())["rules"]
    for rule in rules:
        assert f"| `{rule['id']}` | `{rule['event']}` |" in readme, rule["id"]
