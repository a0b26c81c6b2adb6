"""The consumer loop's bookkeeping of refused commits (``shared.kafka.PendingCommits``)."""

from __future__ import annotations

from kafka.structs import OffsetAndMetadata, TopicPartition

from shared.kafka import PendingCommits

P0, P1, P2 = (TopicPartition("t", n) for n in range(3))


def at(offset: int) -> OffsetAndMetadata:
    return OffsetAndMetadata(offset, "", -1)


def test_a_refused_commit_is_retried_for_the_partitions_still_held() -> None:
    pending = PendingCommits()
    pending.refused({P0: at(10), P1: at(5)})
    pending.refused({P0: at(7)})  # an older offset never replaces a newer one
    assert pending.to_retry({P0, P2}) == {P0: at(10)}
    # P1 went to another member: forgotten (its new owner redelivers from the last commit).
    assert pending.offsets == {P0: at(10)}


def test_a_later_commit_settles_what_was_pending() -> None:
    pending = PendingCommits()
    pending.refused({P0: at(10), P1: at(5)})
    pending.committed({P0: at(12)})
    pending.committed({P1: at(4)})  # older than what is pending: P1 still waits
    assert pending.offsets == {P1: at(5)}


def test_mid_rebalance_nothing_is_tried_and_nothing_forgotten() -> None:
    pending = PendingCommits()
    pending.refused({P0: at(3)})
    assert pending.to_retry(set()) == {}
    assert pending.offsets == {P0: at(3)}
