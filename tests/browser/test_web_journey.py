"""In a real browser: an operator opens a case at the counter, the AMAT team accepts and completes
the referral, the custode sees the notification, the coordinator's dashboard counts it. Every page
is screenshotted (test-artifacts/browser/) and checked with axe-core."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, shoot
from tests.browser.support import cases_of, seed
from tests.support import wait_for


def sign_in(page, web: str, username: str, role: str, **scope: str) -> None:
    page.goto(f"{web}/accesso")
    page.get_by_label("Nome utente").fill(username)
    page.locator(f"#role-{role}").check()
    for field, value in scope.items():
        page.locator(f"#{field}").select_option(value)
    page.get_by_role("button", name="Entra").click()
    expect(page.get_by_role("button", name="Esci")).to_be_visible()


def reload_until(page, check, what: str, timeout_s: float = 30) -> None:
    """Reload the page until ``check()`` holds (events travel through Kafka meanwhile)."""

    def attempt() -> bool:
        page.reload()
        return bool(check())

    wait_for(attempt, timeout_s=timeout_s, interval_s=0.3, what=what)


def test_case_from_the_counter_to_the_amat_team_the_custode_and_the_dashboard(
    site, context, axe_source
) -> None:
    web = site["web"]
    data = seed(site["intake"])
    page = context.new_page()

    # Sign-in page.
    page.goto(f"{web}/accesso")
    shoot(page, "01-accesso")
    check_accessibility(page, axe_source, "accesso")

    # The operator at the counter: find the tenant, try without needs, then open the case.
    sign_in(page, web, "operatore.rossi", "operatore", counter_id=data["counter"]["id"])
    expect(page).to_have_url(re.compile(r"/sportello$"))
    page.get_by_label("Cognome (almeno due lettere)").fill("bian")
    page.get_by_role("button", name="Cerca").click()
    page.get_by_role("link", name="Scegli Bianchi Laura").click()
    page.get_by_role("button", name="Apri il caso").click()
    # intake's 422 message, in Italian, next to the needs checkboxes.
    needs_error = page.locator("#form-caso .field-error")
    needs_error.wait_for()
    assert needs_error.inner_text().strip()
    shoot(page, "02-sportello-errore")
    check_accessibility(page, axe_source, "sportello")
    page.get_by_label("Lettura delle bollette").check()
    page.get_by_label("Morosità").check()
    page.get_by_label("Descrizione").fill("Conguaglio elevato, preavviso di distacco.")
    page.get_by_role("button", name="Apri il caso").click()
    page.wait_for_url(re.compile(r"/casi/[^/?]+\?nuovo=1"))
    [case] = cases_of(site["intake"], data["tenant"]["id"])
    assert case["id"] in page.url

    # The case file appears when casework has consumed case.opened; refer it to AMAT.
    reload_until(page, lambda: page.locator("#r-path").count(), "the case file in casework")
    page.get_by_label("Percorso").select_option("amat")
    page.get_by_label("Motivo dell'invio").fill("Lettura bollette e analisi fornitori")
    page.get_by_role("button", name="Invia", exact=True).click()
    expect(page.locator("#ref-t + table tbody tr")).to_have_count(1)
    # Also to Welfare, whose team will decline it.
    page.get_by_label("Percorso").select_option("welfare")
    page.get_by_label("Motivo dell'invio").fill("Valutazione del sostegno economico")
    page.get_by_role("button", name="Invia", exact=True).click()
    expect(page.locator("#ref-t + table tbody tr")).to_have_count(2)
    shoot(page, "03-fascicolo")
    check_accessibility(page, axe_source, "fascicolo")

    # The AMAT team: the referral is new; accept it, then complete it with an outcome.
    team = context.browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    try:
        amat = team.new_page()
        sign_in(amat, web, "amat.bianchi", "percorso", path="amat")
        expect(amat).to_have_url(re.compile(r"/percorso$"))
        new = amat.locator("section", has=amat.get_by_role("heading", name="Nuovi"))
        new.get_by_text(f"Caso {case['id']}").wait_for()
        shoot(amat, "04-percorso-nuovi")
        check_accessibility(amat, axe_source, "percorso")
        new.get_by_role("button", name="Prendi in carico").click()
        progress = amat.locator("section", has=amat.get_by_role("heading", name="In carico"))
        progress.get_by_label("Esito", exact=True).fill("Offerta più conveniente individuata")
        progress.get_by_label("Esito per l'inquilino, in parole semplici").fill(
            "Abbiamo trovato un'offerta che le fa risparmiare."
        )
        progress.get_by_role("button", name="Completa").click()
        done = amat.locator("section", has=amat.get_by_role("heading", name="Conclusi"))
        done.get_by_text("completata").wait_for()
        shoot(amat, "05-percorso-concluso")

        # The Welfare team declines its referral: first without a reason (refused, said why).
        team.clear_cookies()
        welfare = team.new_page()
        sign_in(welfare, web, "welfare.verdi", "percorso", path="welfare")
        welfare.get_by_role("button", name="Rifiuta").click()
        expect(welfare.locator(".referral .form-error")).to_contain_text("Motivo del rifiuto")
        welfare.get_by_label("Motivo del rifiuto").fill("Requisiti ISEE non soddisfatti")
        welfare.get_by_role("button", name="Rifiuta").click()
        closed = welfare.locator("section", has=welfare.get_by_role("heading", name="Conclusi"))
        expect(closed).to_contain_text("rifiutata: Requisiti ISEE non soddisfatti")

        # The custode of the building: the new case is in the inbox, unread first.
        team.clear_cookies()
        custode = team.new_page()
        sign_in(
            custode, web, "custode.giuffre", "custode", custodian="Custodia Sociale Giuffrè-Villani"
        )
        expect(custode).to_have_url(re.compile(r"/custode$"))
        reload_until(
            custode,
            lambda: custode.locator("article.message.unread").count(),
            "the custode's notification",
        )
        first = custode.locator("article.message").first
        assert case["id"] in first.inner_text()
        shoot(custode, "06-custode")
        check_accessibility(custode, axe_source, "custode")
        first.get_by_role("button", name="Segna come letto").click()
        expect(custode.locator("article.message.unread")).to_have_count(0)
        expect(custode.locator("article.message")).not_to_have_count(0)

        # The coordinator: the completed AMAT referral is counted.
        team.clear_cookies()
        coordinator = team.new_page()
        sign_in(coordinator, web, "coord.neri", "coordinatore")
        expect(coordinator).to_have_url(re.compile(r"/coordinamento$"))
        rows = coordinator.locator("#invii-per-percorso tbody tr")
        expect(rows).to_have_count(2)
        completed = rows.filter(has_text="completata")
        expect(completed.locator("th, td")).to_have_text(["amat", "completata", "1"])
        declined = rows.filter(has_text="rifiutata")
        expect(declined.locator("th, td")).to_have_text(["welfare", "rifiutata", "1"])
        expect(coordinator.locator("#totale-casi")).to_contain_text("Casi nel fascicolo: 1")
        # casework's sums: the case went to both paths, each answered once (accept, decline).
        answered = coordinator.locator("#prima-risposta tbody tr")
        expect(answered).to_have_count(2)
        expect(answered.filter(has_text="amat").locator("th, td").nth(1)).to_have_text("1")
        expect(answered.filter(has_text="welfare").locator("th, td").nth(1)).to_have_text("1")
        cases_per_path = coordinator.locator("#c2-t + svg + table tbody tr")
        expect(cases_per_path).to_have_count(2)
        shoot(coordinator, "07-coordinamento")
        check_accessibility(coordinator, axe_source, "coordinamento")

        # The coordinator reads the case file, and is offered no action.
        coordinator.goto(f"{web}/casi/{case['id']}")
        expect(coordinator.locator("#ref-t + table tbody tr")).to_have_count(2)
        expect(coordinator.locator("main form")).to_have_count(0)
        expect(coordinator.get_by_role("button", name="Invia", exact=True)).to_have_count(0)
        shoot(coordinator, "07b-coordinamento-fascicolo")
        check_accessibility(coordinator, axe_source, "fascicolo del coordinamento")
    finally:
        team.close()
