"""kafka-python checks every record batch's CRC-32C: with the ``crc32c`` package in C, not in its
pure-Python fallback (which took half of a catching-up worker's time)."""

from __future__ import annotations

from kafka.record import _crc32c, util


def test_record_batches_are_checked_with_the_c_crc32c() -> None:
    assert util._crc32c is not _crc32c.crc, "kafka-python fell back to its pure-Python CRC-32C"
    assert util.calc_crc32c(memoryview(b"123456789")) == 0xE3069283  # the check value
