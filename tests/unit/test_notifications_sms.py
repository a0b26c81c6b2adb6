"""SMS length: GSM-7 and UCS-2 segments counted, texts capped."""

from __future__ import annotations

from services.notifications.domain.sms import fit, measure


def test_gsm7_texts_count_160_then_153_per_segment() -> None:
    assert measure("a" * 160).segments == 1
    assert measure("a" * 161).segments == 2
    assert measure("a" * 306).segments == 2
    assert measure("a" * 307).segments == 3
    italian = measure("Perché è così? àèìòù")
    assert italian.encoding == "GSM-7"


def test_extension_characters_cost_two_septets() -> None:
    text = "€" * 80
    measured = measure(text)
    assert measured.encoding == "GSM-7" and measured.units == 160 and measured.segments == 1
    assert measure("€" * 81).segments == 2


def test_characters_outside_gsm7_switch_to_ucs2_70_then_67() -> None:
    assert measure("È" + "a" * 69).encoding == "UCS-2"  # capital È is not in GSM-7
    assert measure("È" + "a" * 69).segments == 1
    assert measure("È" + "a" * 70).segments == 2
    assert measure("È" + "a" * 133).segments == 2
    assert measure("È" + "a" * 134).segments == 3


def test_a_long_text_is_cut_at_a_word_to_fit_the_cap() -> None:
    text = " ".join(["parola"] * 100)
    capped = fit(text, 2)
    assert capped.segments <= 2 and capped.text.endswith("...")
    assert capped.text.startswith("parola parola")
    assert fit("breve", 1).text == "breve"
