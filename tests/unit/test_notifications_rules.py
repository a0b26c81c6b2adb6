"""notifications' rules file, templates and pure policies: no infrastructure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.notifications.adapters.templates import Renderer, RenderError, days_left_it
from services.notifications.bootstrap import load_rules
from services.notifications.domain.model import Consent, Tenant
from services.notifications.domain.policy import QuietHours, backoff, next_digest_at
from services.notifications.domain.rules import RuleError, matching, parse_rules
from shared.events import casework, intake
from shared.events.registry import validate_data

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "services" / "notifications" / "rules.yaml"
ROME = ZoneInfo("Europe/Rome")
T0 = "2026-11-20T09:00:00+00:00"


# Sample event data (JSON form, as published): the integration tests reuse them.


def building(custodians: list[dict] | None = None) -> dict:
    return {
        "id": "bld_saintbon",
        "name": "Via Saint Bon 6",
        "address": "via Saint Bon 6, Milano",
        "municipio": 7,
        "custodians": custodians
        if custodians is not None
        else [{"name": "Custodia Saint Bon", "email": "custodia.saintbon@example.org"}],
    }


def tenant_data(
    tenant_id: str = "ten_1",
    version: int = 1,
    consents: tuple[str, ...] = ("sms", "email"),
    language: str = "it",
    phone: str | None = "+393330000001",
    email: str | None = "mario.rossi@example.org",
) -> dict:
    return {
        "tenant_id": tenant_id,
        "version": version,
        "building_id": "bld_saintbon",
        "apartment": "Scala B, int. 12",
        "first_name": "Mario",
        "last_name": "Rossi",
        "fiscal_code": "RSSMRA60A01F205X",
        "phone": phone,
        "email": email,
        "preferred_language": language,
        "consents": [
            {"channel": c, "granted": True, "recorded_by": "operatore.bianchi", "recorded_at": T0}
            for c in consents
        ],
    }


def appointment_data(starts_at: str, tenant_id: str = "ten_1", **extra: str) -> dict:
    start = datetime.fromisoformat(starts_at)
    return {
        "appointment_id": "app_1",
        "kind": "incontro",
        "case_id": "case_1",
        "tenant_ids": [tenant_id],
        "building_id": "bld_saintbon",
        "location": "Laboratorio Sociale, via Giuffrè 8",
        "starts_at": starts_at,
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        **extra,
    }


def case_opened(urgent: bool = False, custodians: list[dict] | None = None) -> dict:
    return {
        "case_id": "case_1",
        "tenant_id": "ten_1",
        "building": building(custodians),
        "channel": "sportello",
        "needs": ["lettura_bollette"],
        "description": "Conguaglio elevato, ISEE basso.",
        "urgent": urgent,
        "disconnection_date": "2026-12-01" if urgent else None,
        "opened_by": "operatore.bianchi",
        "opened_at": T0,
    }


def referral(path: str = "welfare", **extra) -> dict:
    return {
        "case_id": "case_1",
        "actor": "operatore.bianchi",
        "at": T0,
        "referral_id": "ref_1",
        "path": path,
        "due_date": "2026-12-10",
        **extra,
    }


SAMPLES = {
    "appuntamento_prenotato": (intake.APPOINTMENT_BOOKED, appointment_data(T0)),
    "promemoria_appuntamento": (intake.APPOINTMENT_BOOKED, appointment_data(T0)),
    "appuntamento_spostato": (
        intake.APPOINTMENT_RESCHEDULED,
        appointment_data(T0, previous_starts_at=T0, reason="indisponibilità"),
    ),
    "appuntamento_annullato": (
        intake.APPOINTMENT_CANCELLED,
        appointment_data(T0, reason="malattia"),
    ),
    "caso_aperto_custode": (intake.CASE_OPENED, case_opened()),
    "caso_urgente_custode": (intake.CASE_OPENED, case_opened(urgent=True)),
    "distacco_imminente_custode": (
        casework.DISCONNECTION_DEADLINE_APPROACHING,
        {
            "case_id": "case_1",
            "actor": "sistema",
            "at": T0,
            "disconnection_date": "2026-12-01",
            "days_left": 5,
        },
    ),
    "distacco_imminente_team": (
        casework.DISCONNECTION_DEADLINE_APPROACHING,
        {
            "case_id": "case_1",
            "actor": "sistema",
            "at": T0,
            "disconnection_date": "2026-12-01",
            "days_left": 1,
            "paths": ["amat", "welfare"],
        },
    ),
    "sopralluogo_custode": (
        intake.HOME_VISIT_REQUESTED,
        {"case_id": "case_1", "tenant_id": "ten_1", "building": building(), "requested_for": T0},
    ),
    "sopralluogo_inquilino": (
        intake.HOME_VISIT_REQUESTED,
        {"case_id": "case_1", "tenant_id": "ten_1", "building": building(), "requested_for": T0},
    ),
    "invio_percorso_team": (casework.REFERRAL_SENT, referral(reason="bonus sociale")),
    "invio_scaduto": (casework.REFERRAL_OVERDUE, referral(breach=1)),
    "esito_invio_operatore": (
        casework.REFERRAL_COMPLETED,
        referral(outcome="contributo concesso", outcome_for_tenant="Le è stato concesso un aiuto."),
    ),
    "esito_invio_inquilino": (
        casework.REFERRAL_COMPLETED,
        referral(outcome="contributo concesso", outcome_for_tenant="Le è stato concesso un aiuto."),
    ),
}
SENSITIVE = ("Rossi", "RSSMRA60A01F205X", "ISEE", "contributo", "aiuto", "Conguaglio")


def context(template: str) -> dict:
    type_, data = SAMPLES[template]
    return {
        **validate_data(type_, data),
        "building": {"id": "bld", "name": "Via Saint Bon 6", "address": "via Saint Bon 6"},
        "path_label": "Welfare",
        "tenant": {"first_name": "Mario"},
        "recipient_name": "Custodia Saint Bon",
    }


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(ROME, max_sms_segments=2)


def test_the_rules_file_loads_and_covers_the_issue_rules(renderer: Renderer) -> None:
    rules, directory = load_rules(RULES, renderer)
    by_event = {(r.event.split(".", 3)[-1].rsplit(".", 1)[0], r.recipients) for r in rules}
    for wanted in [
        ("intake.appointment.booked", ("tenant",)),
        ("intake.appointment.rescheduled", ("tenant",)),
        ("intake.appointment.cancelled", ("tenant",)),
        ("intake.case.opened", ("custodians",)),
        ("intake.home_visit.requested", ("custodians",)),
        ("intake.home_visit.requested", ("tenant",)),
        ("casework.referral.sent", ("path_team",)),
        ("casework.case.disconnection_deadline_approaching", ("custodians",)),
        ("casework.case.disconnection_deadline_approaching", ("path_team",)),
        ("casework.referral.overdue", ("path_team", "coordinators")),
        ("casework.referral.completed", ("operator",)),
        ("casework.referral.completed", ("tenant",)),
    ]:
        assert wanted in by_event, wanted
    assert any(r.schedule and r.schedule.hours == 24 for r in rules)
    assert any(r.immediate and r.when == {"urgent": True} for r in rules)
    assert set(directory.teams) == {"welfare", "casa", "amat"}
    assert directory.coordinators


def test_rules_pick_by_event_and_condition(renderer: Renderer) -> None:
    rules, _ = load_rules(RULES, renderer)
    urgent = matching(rules, intake.CASE_OPENED, {"urgent": True})
    calm = matching(rules, intake.CASE_OPENED, {"urgent": False})
    assert [r.id for r in urgent] == ["caso_urgente"]
    assert [r.id for r in calm] == ["caso_aperto"]
    assert matching(rules, casework.CASE_ASSESSED, {}) == []


def test_an_invalid_rules_file_is_refused(tmp_path: Path, renderer: Renderer) -> None:
    with pytest.raises(RuleError, match="destinatari"):
        parse_rules(
            {"rules": [{"id": "x", "event": "e", "to": ["nobody"], "template": "t"}]},
            lambda n, v: n,
        )
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - {id: x, event: intake.nothing, to: [tenant], template: t}\n")
    with pytest.raises(RuleError):
        load_rules(bad, renderer)
    unknown_template = tmp_path / "t.yaml"
    unknown_template.write_text(
        "rules:\n  - {id: x, event: intake.case.opened, to: [custodians], template: nope}\n"
    )
    with pytest.raises(RuleError, match="modello sconosciuto"):
        load_rules(unknown_template, renderer)


@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_every_template_renders_without_sensitive_detail_in_sms_or_subject(
    renderer: Renderer, template: str
) -> None:
    out = renderer.render(template, "it", context(template))
    assert out.subject and out.text and out.html and out.sms
    assert out.sms_segments <= 2
    for secret in SENSITIVE:
        assert secret not in out.sms, (template, secret)
        assert secret not in out.subject, (template, secret)


def test_the_tenant_language_is_used_where_a_translation_exists(renderer: Renderer) -> None:
    english = renderer.render("appuntamento_prenotato", "en", context("appuntamento_prenotato"))
    assert english.language == "en" and english.subject.startswith("Sportello Energia: appoint")
    assert "Dear Mario" in english.text
    # 09:00 UTC is 10:00 in Rome in November.
    assert "10:00" in english.sms and "20/11/2026" in english.sms
    staff = renderer.render("caso_aperto_custode", "en", context("caso_aperto_custode"))
    assert staff.language == "it"
    fallback = renderer.render("appuntamento_prenotato", "fr", context("appuntamento_prenotato"))
    assert fallback.language == "it" and "Gentile Mario" in fallback.text


def test_missing_fields_and_unknown_templates_are_render_errors(renderer: Renderer) -> None:
    ctx = context("appuntamento_prenotato")
    del ctx["starts_at"]
    with pytest.raises(RenderError, match="starts_at"):
        renderer.render("appuntamento_prenotato", "it", ctx)
    with pytest.raises(RenderError, match="sconosciuto"):
        renderer.render("nessun_modello", "it", {})


def test_the_html_part_is_escaped_and_the_text_part_is_not(renderer: Renderer) -> None:
    ctx = {**context("appuntamento_prenotato"), "location": "<b>Sala d'attesa</b>"}
    out = renderer.render("appuntamento_prenotato", "it", ctx)
    assert "&lt;b&gt;" in out.html and "<b>Sala" not in out.html
    assert "<b>Sala d'attesa</b>" in out.text


def test_quiet_hours_hold_a_night_sms_until_morning() -> None:
    quiet = QuietHours.parse("21:00-08:00", "Europe/Rome")
    night = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 23:30 in Rome
    assert quiet.quiet(night)
    assert quiet.release(night) == datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # 08:00 in Rome
    early = datetime(2026, 11, 21, 5, 0, tzinfo=UTC)  # 06:00 in Rome
    assert quiet.release(early) == datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    day = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert not quiet.quiet(day) and quiet.release(day) == day
    summer = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # 22:00 in Rome (CEST)
    assert quiet.release(summer) == datetime(2026, 7, 2, 6, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        QuietHours.parse("21-8", "Europe/Rome")


def test_backoff_doubles_up_to_a_bound_and_digests_are_daily() -> None:
    assert [backoff(a, 30, 200).total_seconds() for a in (1, 2, 3, 4, 5)] == [
        30,
        60,
        120,
        200,
        200,
    ]
    at = next_digest_at(datetime(2026, 11, 20, 16, 0, tzinfo=UTC), time(18), ROME)
    assert at == datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    later = next_digest_at(datetime(2026, 11, 20, 17, 30, tzinfo=UTC), time(18), ROME)
    assert later == datetime(2026, 11, 21, 17, 0, tzinfo=UTC)


def test_a_tenant_is_reachable_only_on_consented_channels_with_an_address() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    tenant = Tenant(
        "ten_1",
        1,
        "bld",
        "Mario",
        "Rossi",
        phone="+39333",
        email=None,
        consents={
            "sms": Consent("sms", False, "op", at),
            "email": Consent("email", True, "op", at),
        },
    )
    usable, reasons = tenant.reachable(["sms", "email"])
    assert usable == []
    assert reasons == ["sms: consenso revocato (2026-11-01)", "email: recapito mancante"]
    tenant.consents.pop("sms")
    assert tenant.reachable(["sms"]) == ([], ["sms: nessun consenso registrato"])


def test_the_docs_list_every_rule(renderer: Renderer) -> None:
    docs = (ROOT / "docs" / "notifications.md").read_text()
    rules, _ = load_rules(RULES, renderer)
    for rule in rules:
        assert f"| `{rule.id}` | `{rule.event.split('.', 3)[-1].rsplit('.', 1)[0]}`" in docs, (
            rule.id
        )


def test_days_left_are_said_in_good_italian() -> None:
    assert [days_left_it(d) for d in (0, 1, 3)] == ["è oggi", "manca 1 giorno", "mancano 3 giorni"]
