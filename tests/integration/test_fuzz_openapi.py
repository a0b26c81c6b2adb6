"""Fuzzing: schemathesis drives every endpoint of each service's OpenAPI document.

A bounded number of generated requests per operation, against the app on the real store, as an
admin: never a 5xx, and every response conforms to the documented schema, status codes and
content type.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.casework.entrypoints.app import create_app as casework_app
from services.intake.entrypoints.app import create_app as intake_app
from services.notifications.entrypoints.app import create_app as notifications_app
from shared import mongo
from tests.support import bearer_headers

MAX_EXAMPLES = 25
FACTORIES = {"intake": intake_app, "casework": casework_app, "notifications": notifications_app}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(params=list(FACTORIES))
def app(request, settings_for) -> Iterator[Flask]:
    service = request.param
    yield FACTORIES[service](settings_for(service))
    mongo.disconnect(service)


@pytest.fixture
def api_schema(app: Flask):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # The coverage phase sends dozens of boundary cases per operation; the bounded random
    # phase is what fits in CI on two cores.
    schema.config.phases.coverage.enabled = False
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    # Only the random phase: schemathesis's pytest integration runs the coverage cases inside
    # hypothesis' explicit phase whatever the project config says, and generating them cost
    # two thirds of this test's time.
    phases=[Phase.generate],
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_responses_match_the_documented_schema(case, environ) -> None:
    # As an admin: every operation is open to it, so the generated data reaches the views.
    case.call_and_validate(checks=CHECKS, headers=bearer_headers(environ))
