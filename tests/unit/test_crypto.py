"""Field encryption at rest: encrypt/decrypt, rotation, wrong keys, legacy plaintext, config."""

from __future__ import annotations

import pytest

from services.casework.config import load_settings as casework_settings
from services.intake.config import load_settings as intake_settings
from shared import crypto
from shared.config import ConfigError
from shared.crypto import DecryptionError, FieldCipher, generate_key, transform

OLD, NEW = generate_key(), generate_key()


def test_a_value_is_stored_with_the_prefix_and_read_back() -> None:
    cipher = FieldCipher([OLD])
    stored = cipher.encrypt("Malattia del figlio, debiti con il fornitore")
    assert stored.startswith("enc:v1:")
    assert "Malattia" not in stored
    assert cipher.decrypt(stored) == "Malattia del figlio, debiti con il fornitore"
    assert cipher.encrypt("Malattia") != cipher.encrypt("Malattia")  # no equal ciphertexts


def test_legacy_plaintext_and_empty_values_are_read_as_they_are() -> None:
    cipher = FieldCipher([OLD])
    assert cipher.decrypt("scritto prima della cifratura") == "scritto prima della cifratura"
    assert cipher.encrypt("") == ""
    assert cipher.decrypt("") == ""


def test_a_wrong_key_is_a_clear_error() -> None:
    stored = FieldCipher([OLD]).encrypt("segreto")
    with pytest.raises(DecryptionError, match="FIELD_ENCRYPTION_KEYS"):
        FieldCipher([NEW]).decrypt(stored)
    with pytest.raises(DecryptionError, match="rotazione"):
        FieldCipher([NEW]).rotate(stored)


def test_rotation_moves_values_to_the_first_key_and_then_the_old_key_can_go() -> None:
    stored = FieldCipher([OLD]).encrypt("segreto")
    ring = FieldCipher([NEW, OLD])
    assert ring.decrypt(stored) == "segreto"  # both keys decrypt
    assert not ring.is_current(stored)
    rotated = ring.rotate(stored)
    assert ring.is_current(rotated)
    assert ring.rotate(rotated) == rotated  # idempotent: nothing left to do
    assert FieldCipher([NEW]).decrypt(rotated) == "segreto"
    # Legacy plaintext is encrypted by the rotation too.
    assert ring.decrypt(ring.rotate("in chiaro")) == "in chiaro"
    assert not ring.is_current("in chiaro")


def test_new_values_are_encrypted_with_the_first_key() -> None:
    stored = FieldCipher([NEW, OLD]).encrypt("x")
    assert FieldCipher([NEW]).decrypt(stored) == "x"
    with pytest.raises(DecryptionError):
        FieldCipher([OLD]).decrypt(stored)


def test_transform_reaches_nested_lists_and_skips_missing_paths() -> None:
    doc = {
        "description": "a",
        "notes": [{"text": "b"}, {"text": "c"}],
        "visits": [{"findings": ["d", "e"]}],
        "referrals": [{"shared": {"path": "welfare"}}],
    }
    paths = ("description", "notes.*.text", "visits.*.findings.*", "referrals.*.shared.notes.*")
    out = transform(doc, (*paths, "absent.*.x"), str.upper)
    assert out == {
        "description": "A",
        "notes": [{"text": "B"}, {"text": "C"}],
        "visits": [{"findings": ["D", "E"]}],
        "referrals": [{"shared": {"path": "welfare"}}],
    }


@pytest.mark.parametrize("load", [intake_settings, casework_settings])
def test_a_service_without_keys_does_not_start_outside_development(load) -> None:
    with pytest.raises(ConfigError, match="FIELD_ENCRYPTION_KEYS mancante"):
        crypto.cipher_from_settings(load({}))
    dev = crypto.cipher_from_settings(load({"SPORTELLO_ENV": "dev"}))
    assert FieldCipher([crypto.DEV_KEY]).decrypt(dev.encrypt("x")) == "x"
    keyed = crypto.cipher_from_settings(load({"FIELD_ENCRYPTION_KEYS": f"{NEW}, {OLD}"}))
    assert FieldCipher([NEW]).decrypt(keyed.encrypt("x")) == "x"


@pytest.mark.parametrize("load", [intake_settings, casework_settings])
def test_a_malformed_key_stops_with_a_message_naming_the_variable(load) -> None:
    with pytest.raises(ConfigError, match="FIELD_ENCRYPTION_KEYS"):
        load({"FIELD_ENCRYPTION_KEYS": "not-a-key"})


def test_genkey_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert crypto.main(["genkey"]) == 0
    key = capsys.readouterr().out.strip()
    assert FieldCipher([key]).decrypt(FieldCipher([key]).encrypt("x")) == "x"


def test_a_blind_index_is_keyed_deterministic_and_found_under_every_key() -> None:
    old, new = generate_key(), generate_key()
    ring = FieldCipher([new, old])
    code = "RSSMRA85T10A562S"
    index = ring.blind_index(code)
    assert index.startswith("bi:v1:") and code not in index
    assert index == FieldCipher([new]).blind_index(code)  # deterministic, under the first key
    assert index != ring.blind_index("RSSMRA85T10A562T")
    assert index != FieldCipher([generate_key()]).blind_index(code)  # keyed
    # During a rotation a value indexed under the old key is still found.
    assert FieldCipher([old]).blind_index(code) in ring.blind_indexes(code)
    assert ring.blind_indexes(code)[0] == index
