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
