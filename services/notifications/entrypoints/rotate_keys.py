"""Re-encrypt notifications' encrypted fields under the first key of ``FIELD_ENCRYPTION_KEYS``.

``python -m services.notifications.entrypoints.rotate_keys [--check]``: idempotent and resumable;
exits 1 while some value is still under an older key (the procedure is in the README's Security
section). Besides the tenants' contact data it rotates the addresses of email and SMS messages
(legacy plaintext included); inbox ids stay in clear.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from pymongo.collection import Collection

from services.notifications.adapters.documents import ALIAS, ENCRYPTED_FIELDS, NotificationDoc
from services.notifications.config import SERVICE, load_settings
from shared import crypto, mongo
from shared.config import Settings

# The channels whose address is personal (an email address, a phone number): stored encrypted.
ENCRYPTED_ADDRESS_CHANNELS = ("email", "sms")


def targets(settings: Settings) -> Mapping[Collection, Sequence[str]]:
    """notifications' collections with encrypted fields, and the paths of those fields."""
    db = mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    return {db[collection]: paths for collection, paths in ENCRYPTED_FIELDS.items()}


def rotate_addresses(settings: Settings, cipher: crypto.FieldCipher, check_only: bool) -> int:
    """Move every email/SMS message's address to the current key; returns how many are left."""
    db = mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    messages = db[NotificationDoc._meta["collection"]]
    query = {"channel": {"$in": list(ENCRYPTED_ADDRESS_CHANNELS)}}
    left = 0
    for doc in messages.find(query, {"recipient.address": 1}).sort("_id", 1):
        address = (doc.get("recipient") or {}).get("address")
        if not isinstance(address, str) or cipher.is_current(address):
            continue
        if check_only:
            left += 1
            continue
        found = {"_id": doc["_id"], "recipient.address": address}
        done = messages.update_one(found, {"$set": {"recipient.address": cipher.rotate(address)}})
        left += 0 if done.modified_count else 1  # changed meanwhile: the next run takes it
    return left


def main(argv: Sequence[str] | None = None) -> int:
    """Rotate, then report what is left."""
    try:
        return crypto.rotate_main(argv, SERVICE, targets, load_settings(), rotate_addresses)
    finally:
        mongo.disconnect(ALIAS)


if __name__ == "__main__":
    sys.exit(main())
