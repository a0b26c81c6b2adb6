"""In a real browser: the counter page goes offline, a case is entered and a meeting booked, the
connection returns, and each exists exactly once (the queue sent them with their
Idempotency-Keys)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import shoot
from tests.browser.support import appointments_of, cases_of, seed
from tests.browser.test_web_journey import sign_in
from tests.support import wait_for


def test_a_case_entered_offline_is_sent_once_when_the_connection_returns(site, context) -> None:
    web = site["web"]
    data = seed(site["intake"])
    page = context.new_page()
    sign_in(page, web, "operatore.rossi", "operatore", counter_id=data["counter"]["id"])
    page.goto(f"{web}/sportello?inquilino={data['tenant']['id']}")
    page.get_by_role("button", name="Apri il caso").wait_for()

    context.set_offline(True)
    page.get_by_label("Analisi dei fornitori").check()
    page.get_by_label("Descrizione").fill("Aperto senza rete al Laboratorio Sociale.")
    page.get_by_role("button", name="Apri il caso").click()
    queue = page.locator("#coda")
    queue.wait_for(state="visible")
    page.get_by_label("Incontro allo sportello").check()
    page.get_by_role("button", name="Prenota").click()
    expect(page.locator("#coda-elenco li")).to_have_count(2)
    assert "in attesa" in page.locator("#coda-elenco").inner_text()
    assert "Senza connessione" in page.locator("#coda-stato").inner_text()
    shoot(page, "08-sportello-offline")
    assert cases_of(site["intake"], data["tenant"]["id"]) == []
    assert appointments_of(site["intake"], data["tenant"]["id"]) == []

    context.set_offline(False)
    queue.wait_for(state="hidden")
    cases = wait_for(
        lambda: cases_of(site["intake"], data["tenant"]["id"]), what="the queued case at intake"
    )
    # A reload flushes the queue again: nothing is left to send, nothing is sent twice.
    page.reload()
    assert page.evaluate("localStorage.getItem('sportello.coda.v1')") == "[]"
    again = cases_of(site["intake"], data["tenant"]["id"])
    assert len(cases) == len(again) == 1
    assert again[0]["needs"] == ["analisi_fornitori"]
    [meeting] = appointments_of(site["intake"], data["tenant"]["id"])
    assert meeting["kind"] == "incontro" and meeting["counter_id"] == data["counter"]["id"]
    shoot(page, "09-sportello-online")


def test_the_counter_page_reloads_offline_from_the_service_worker(site, context) -> None:
    web = site["web"]
    data = seed(site["intake"])
    tenant = data["tenant"]["id"]
    page = context.new_page()
    sign_in(page, web, "operatore.rossi", "operatore", counter_id=data["counter"]["id"])
    page.goto(f"{web}/sportello?inquilino={tenant}")
    page.get_by_role("button", name="Apri il caso").wait_for()
    # The service worker (scope /sportello) has kept this page for a reload without a connection.
    wait_for(
        lambda: page.evaluate("() => caches.match(location.href).then(hit => !!hit)"),
        what="the counter page in the service worker's cache",
    )

    context.set_offline(True)
    page.get_by_label("Lettura delle bollette").check()
    page.get_by_label("Fascia ISEE del nucleo").select_option("fino_9530")
    page.get_by_label("Sì", exact=True).check()
    page.get_by_label("Fornitore").first.fill("Enel Energia")
    page.get_by_label("Periodo dal").fill("2026-09-01")
    page.get_by_label("al", exact=True).fill("2026-10-31")
    page.get_by_label("POD (luce) o PDR (gas)").fill("IT001E12345678")
    page.get_by_label("Importo (€)").fill("184,50")
    # A second bill added and left empty is not sent.
    page.get_by_role("button", name="Aggiungi un'altra bolletta").click()
    expect(page.locator("#bollette fieldset.bill")).to_have_count(2)
    expect(page.locator("#bill-1-commodity")).to_be_focused()
    page.get_by_role("button", name="Apri il caso").click()
    expect(page.locator("#coda-elenco li")).to_have_count(1)

    # Still offline: the page reloads from the service worker, with its form and its queue.
    page.reload()
    expect(page.get_by_role("button", name="Apri il caso")).to_be_visible()
    expect(page.locator("#coda")).to_be_visible()
    expect(page.locator("#coda-elenco li")).to_have_count(1)
    assert "Senza connessione" in page.locator("#coda-stato").inner_text()
    shoot(page, "10-sportello-ricaricato-offline")
    assert cases_of(site["intake"], tenant) == []

    context.set_offline(False)
    page.locator("#coda").wait_for(state="hidden")
    cases = wait_for(lambda: cases_of(site["intake"], tenant), what="the queued case at intake")
    page.reload()
    assert page.evaluate("localStorage.getItem('sportello.coda.v1')") == "[]"
    again = cases_of(site["intake"], tenant)
    assert len(cases) == len(again) == 1
    [case] = again
    assert case["isee_band"] == "fino_9530" and case["receives_bonus_sociale"] is True
    assert [(b["pod"], b["amount_cents"]) for b in case["bills"]] == [("IT001E12345678", 18_450)]

    # Signing out deletes the kept pages: nothing of this counter stays on the device.
    page.get_by_role("button", name="Esci").click()
    page.wait_for_url("**/accesso")
    wait_for(
        lambda: page.evaluate("() => caches.keys().then(names => names.length === 0)"),
        what="the service worker's cache deleted",
    )
