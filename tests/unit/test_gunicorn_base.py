"""The settings every API's gunicorn shares."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared import gunicorn_base


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_worker_freezes_what_it_built_at_start(unfrozen: None) -> None:
    built_at_start = [object() for _ in range(10)]
    assert gc.get_freeze_count() == 0
    gunicorn_base.post_worker_init(None)
    assert gc.get_freeze_count() >= len(built_at_start)
