"""Re-encrypt intake's encrypted fields under the first key of ``FIELD_ENCRYPTION_KEYS``.

``python -m services.intake.entrypoints.rotate_keys [--check]``: idempotent and resumable; exits 1
while some value is still under an older key (the procedure is in the README's Security section).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta

from pymongo.collection import Collection

from services.intake.adapters.documents import ALIAS, ENCRYPTED_FIELDS, IntakeTenantDoc
from services.intake.adapters.repository import FiscalCodeLookup
from services.intake.config import SERVICE, load_settings
from services.intake.domain.identifiers import normalize_fiscal_code
from shared import crypto, mongo
from shared.clock import now_utc
from shared.config import Settings


def targets(settings: Settings) -> Mapping[Collection, Sequence[str]]:
    """intake's collections with encrypted fields, and the paths of those fields."""
    db = mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    return {db[collection]: paths for collection, paths in ENCRYPTED_FIELDS.items()}


def reindex(settings: Settings, cipher: crypto.FieldCipher, check_only: bool) -> int:
    """Recompute the tenants' codice fiscale blind index under the first key (it is derived from
    it), and move their codice fiscale claims (the lookup by codice fiscale) to it; returns how
    many tenants are left indexed or claimed under an older key."""
    db = mongo.connect(ALIAS, settings.mongodb_uri, settings.database)
    crypto.register(ALIAS, cipher)  # the claims check their tenants' codice fiscale with it
    tenants = db[IntakeTenantDoc._meta["collection"]]
    left = crypto.reindex_collection(
        tenants, "fiscal_code", "fiscal_code_index", cipher, normalize_fiscal_code, check_only
    )
    grace = timedelta(seconds=settings.extra["claim_grace_s"])
    return left + FiscalCodeLookup(grace, now_utc).sync(cipher, check_only)


def main(argv: Sequence[str] | None = None) -> int:
    """Rotate, then report what is left."""
    try:
        return crypto.rotate_main(argv, SERVICE, targets, load_settings(), reindex)
    finally:
        mongo.disconnect(ALIAS)


if __name__ == "__main__":
    sys.exit(main())
