"""Field-level encryption at rest: the most sensitive free-text fields, with key rotation.

A stored encrypted value is the text ``enc:v1:<Fernet token>``; anything without that prefix is a
value written before encryption (legacy plaintext) and is read as it is, so a store fills with
ciphertext as records are written or as ``rotate`` passes over them.

Keys come from ``FIELD_ENCRYPTION_KEYS``: comma-separated Fernet keys, the first encrypts, every
one decrypts (``MultiFernet``). Each service has its own value of the variable. Rotation: put a new
key first, deploy, rotate (re-encrypts every value under the first key), then drop the old key.

``python -m shared.crypto genkey`` prints a new key. Each service's ``rotate_keys`` command runs
``rotate_collection`` over its own encrypted fields (shared never imports services).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from mongoengine import StringField
from pymongo.collection import Collection

from shared.config import ConfigError, Settings, Variable, one_of

PREFIX = "enc:v1:"
INDEX_PREFIX = "bi:v1:"
# Separates the blind-index key from the key it is derived from (never used to encrypt).
INDEX_INFO = b"sportello blind index v1"
# Anyone can read this key (it is in the source): accepted only with SPORTELLO_ENV=dev.
DEV_KEY = "c3BvcnRlbGxvLWRldi1vbmx5LXB1YmxpYy1rZXktMDA="


class DecryptionError(RuntimeError):
    """A stored value cannot be decrypted with any configured key."""


def _keys(raw: str) -> tuple[str, ...]:
    """Comma-separated Fernet keys; ``-`` for none."""
    if raw == "-":
        return ()
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ValueError(
                "ogni chiave deve essere una chiave Fernet (32 byte in base64 url-safe): "
                "generane una con `python -m shared.crypto genkey`"
            ) from None
    return keys


# Declared by every service that stores encrypted fields (intake and casework).
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "FIELD_ENCRYPTION_KEYS",
        "-",
        _keys,
        "Fernet keys (comma separated) of the fields encrypted at rest: the first encrypts, all"
        " decrypt. Required unless `SPORTELLO_ENV=dev`.",
        "field_encryption_keys",
    ),
    Variable(
        "SPORTELLO_ENV",
        "prod",
        one_of("dev", "prod"),
        "`dev` lets a service start without its keys (a fixed, public development key).",
        "env",
    ),
)


class FieldCipher:
    """Encrypts and decrypts field values with a ring of Fernet keys (the first one encrypts)."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ConfigError("FIELD_ENCRYPTION_KEYS: serve almeno una chiave")
        fernets = [Fernet(k) for k in keys]
        self._current = fernets[0]
        self._ring = MultiFernet(fernets)
        # One blind-index key per Fernet key, derived (HKDF-SHA256): the first one indexes.
        self._index_keys = [_index_key(k) for k in keys]

    def blind_index(self, value: str) -> str:
        """A keyed, deterministic fingerprint of ``value`` under the current key: equal values
        give equal fingerprints, so a store can look up and keep unique what it holds encrypted;
        without the key it says nothing about the value (HMAC-SHA256)."""
        return _fingerprint(self._index_keys[0], value)

    def blind_indexes(self, value: str) -> list[str]:
        """The fingerprints of ``value`` under every configured key (a lookup during a rotation
        finds values indexed under an older key too)."""
        return [_fingerprint(k, value) for k in self._index_keys]

    def encrypt(self, value: str) -> str:
        """``value`` under the current key (an empty value stays empty: it says nothing)."""
        if not value:
            return value
        return PREFIX + self._current.encrypt(value.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The plaintext of ``stored``; a value without the prefix is legacy plaintext."""
        if not is_encrypted(stored):
            return stored
        try:
            return self._ring.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise DecryptionError(
                "un campo cifrato non si decifra con nessuna chiave di FIELD_ENCRYPTION_KEYS "
                "(chiave rimossa prima della rotazione, o chiavi di un altro servizio?)"
            ) from None

    def is_current(self, stored: str) -> bool:
        """Whether ``stored`` needs nothing from a rotation (empty, or under the current key)."""
        if not stored:
            return True
        if not is_encrypted(stored):
            return False
        try:
            self._current.decrypt(stored[len(PREFIX) :].encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, stored: str) -> str:
        """``stored`` under the current key: plaintext is encrypted, old tokens re-encrypted."""
        if self.is_current(stored):
            return stored
        if not is_encrypted(stored):
            return self.encrypt(stored)
        try:
            return PREFIX + self._ring.rotate(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise DecryptionError(
                "rotazione impossibile: un valore è cifrato con una chiave non più configurata"
            ) from None


def _index_key(key: str | bytes) -> bytes:
    raw = base64.urlsafe_b64decode(key.encode() if isinstance(key, str) else key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INDEX_INFO).derive(raw)


def _fingerprint(key: bytes, value: str) -> str:
    return INDEX_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def is_encrypted(value: Any) -> bool:
    """Whether a stored value is an encrypted field."""
    return isinstance(value, str) and value.startswith(PREFIX)


def generate_key() -> str:
    """A new random Fernet key."""
    return Fernet.generate_key().decode()


def cipher_from_settings(settings: Settings) -> FieldCipher:
    """The cipher of a service whose ``EXTRA_VARIABLES`` include ``VARIABLES``.

    Without keys a service refuses to start, except in development (a public key, never secret).
    """
    keys = settings.extra.get("field_encryption_keys") or ()
    if not keys:
        if settings.extra.get("env") != "dev":
            raise ConfigError(
                "FIELD_ENCRYPTION_KEYS mancante: genera una chiave con "
                "`python -m shared.crypto genkey` (o SPORTELLO_ENV=dev per lo sviluppo locale)"
            )
        keys = (DEV_KEY,)
    return FieldCipher(keys)


# One cipher per service (by its database alias): documents' fields find theirs here. A process
# runs one service in production; the tests run several in one process.
_CIPHERS: dict[str, FieldCipher] = {}


def register(alias: str, cipher: FieldCipher) -> None:
    """Make ``cipher`` the one of the service connected as ``alias``."""
    _CIPHERS[alias] = cipher


def cipher_for(alias: str) -> FieldCipher:
    """The cipher registered for ``alias`` (its service's bootstrap registers it)."""
    try:
        return _CIPHERS[alias]
    except KeyError:
        raise ConfigError(f"nessuna chiave di cifratura registrata per '{alias}'") from None


class EncryptedStringField(StringField):
    """A string stored encrypted (``enc:v1:…``) and read back as plaintext.

    Validation sees the plaintext; queries cannot match it (every encryption differs).
    """

    def __init__(self, alias: str, **kwargs: Any) -> None:
        self.cipher_alias = alias
        super().__init__(**kwargs)

    def to_mongo(self, value: Any) -> Any:
        """Encrypt on the way to the store."""
        if value is None or is_encrypted(value):
            return value
        return cipher_for(self.cipher_alias).encrypt(str(value))

    def to_python(self, value: Any) -> Any:
        """Decrypt on the way from the store (legacy plaintext passes through)."""
        if is_encrypted(value):
            return cipher_for(self.cipher_alias).decrypt(value)
        return super().to_python(value)


# --- values at paths inside documents ---------------------------------------------------------


def transform(doc: Any, paths: Iterable[str], fn: Callable[[str], str]) -> Any:
    """``doc`` with ``fn`` applied, in place, to every string at each dotted path.

    ``*`` in a path means every item of a list: ``notes.*.text``, ``visits.*.findings.*``. Paths
    that are missing are skipped, so old documents and optional fields pass.
    """
    for path in paths:
        _apply(doc, path.split("."), fn)
    return doc


def _apply(node: Any, parts: list[str], fn: Callable[[str], str]) -> None:
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(node, list):
            for i, item in enumerate(node):
                if rest:
                    _apply(item, rest, fn)
                elif isinstance(item, str):
                    node[i] = fn(item)
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _apply(node[head], rest, fn)
    elif isinstance(node[head], str):
        node[head] = fn(node[head])


def reindex_collection(
    collection: Collection,
    source: str,
    index: str,
    cipher: FieldCipher,
    normalise: Callable[[str], str],
    check_only: bool = False,
) -> int:
    """Recompute the blind index ``index`` of the (encrypted) field ``source`` under the current
    key, for every document whose index is missing or under an older key; returns how many are
    left (all of them with ``check_only``). Compare-and-set, like ``rotate_collection``."""
    left = 0
    for doc in collection.find({}, {source: 1, index: 1}).sort("_id", 1):
        value = doc.get(source)
        if not isinstance(value, str) or not value:
            continue
        wanted = cipher.blind_index(normalise(cipher.decrypt(value)))
        if doc.get(index) == wanted:
            continue
        if check_only:
            left += 1
            continue
        found = {"_id": doc["_id"], source: value, index: doc.get(index)}
        if not collection.update_one(found, {"$set": {index: wanted}}).modified_count:
            left += 1  # changed meanwhile: the next run takes it
    return left


def rotate_collection(
    collection: Collection, paths: Sequence[str], cipher: FieldCipher, batch: int = 200
) -> int:
    """Re-encrypt every value at ``paths`` under the current key; returns documents rewritten.

    Idempotent and resumable: values already under the current key are left alone, so running it
    again (after an interruption, or to check) rewrites only what is left. Each document is
    rewritten only if its encrypted fields are unchanged since it was read (compare-and-set), so a
    concurrent write is never overwritten; such a document is picked up by the next run.
    """
    fields = sorted({p.split(".")[0] for p in paths})
    projection = dict.fromkeys(fields, 1)
    rewritten = 0
    cursor = collection.find({}, projection).sort("_id", 1).batch_size(batch)
    for doc in cursor:
        if not _has_stale(doc, paths, cipher):
            continue
        before = {f: doc[f] for f in fields if f in doc}
        after = transform(_copy(before), paths, cipher.rotate)
        result = collection.update_one({"_id": doc["_id"], **before}, {"$set": after})
        rewritten += result.modified_count
    return rewritten


def count_stale(collection: Collection, paths: Sequence[str], cipher: FieldCipher) -> int:
    """Documents with a value at ``paths`` not under the current key (0 once rotation is done)."""
    fields = sorted({p.split(".")[0] for p in paths})
    stale = 0
    for doc in collection.find({}, dict.fromkeys(fields, 1)):
        stale += _has_stale(doc, paths, cipher)
    return stale


def _has_stale(doc: dict[str, Any], paths: Sequence[str], cipher: FieldCipher) -> bool:
    found: list[str] = []

    def check(value: str) -> str:
        if not cipher.is_current(value):
            found.append(value)
        return value

    transform(doc, paths, check)
    return bool(found)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def rotate_main(
    argv: Sequence[str] | None,
    service: str,
    targets: Callable[[Settings], Mapping[Collection, Sequence[str]]],
    settings: Settings,
    extra: Callable[[Settings, FieldCipher, bool], int] | None = None,
) -> int:
    """A service's ``rotate_keys`` command: rotate every target, then report what is left.

    ``extra(settings, cipher, check_only)`` moves what a path list cannot describe to the current
    key (intake's blind indexes, notifications' addresses encrypted only on some channels) and
    returns how many documents are still under an older key.
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m services.{service}.entrypoints.rotate_keys",
        description="Ri-cifra i campi cifrati con la prima chiave di FIELD_ENCRYPTION_KEYS.",
    )
    parser.add_argument("--check", action="store_true", help="conta soltanto, non riscrive")
    args = parser.parse_args(argv)
    cipher = cipher_from_settings(settings)
    left = 0
    for collection, paths in targets(settings).items():
        if not args.check:
            done = rotate_collection(collection, paths, cipher)
            print(f"{collection.name}: {done} documenti ri-cifrati")
        stale = count_stale(collection, paths, cipher)
        print(f"{collection.name}: {stale} documenti ancora con una chiave precedente")
        left += stale
    if extra is not None:
        stale = extra(settings, cipher, args.check)
        print(f"altri valori: {stale} documenti ancora con una chiave precedente")
        left += stale
    return 1 if left else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m shared.crypto genkey``: print a new key for FIELD_ENCRYPTION_KEYS."""
    parser = argparse.ArgumentParser(prog="python -m shared.crypto")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("genkey", help="stampa una nuova chiave Fernet")
    parser.parse_args(argv)
    print(generate_key())
    return 0


if __name__ == "__main__":
    sys.exit(main())
