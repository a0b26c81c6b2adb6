"""Every service's HTTP plumbing (error shape, health, readiness, OpenAPI) on the real store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from services.casework.entrypoints.app import create_app as casework_app
from services.intake.entrypoints.app import create_app as intake_app
from services.notifications.entrypoints.app import create_app as notifications_app
from shared import mongo
from tests.support import authorize_app

FACTORIES = {"intake": intake_app, "casework": casework_app, "notifications": notifications_app}


@pytest.fixture(params=list(FACTORIES))
def client(request, settings_for) -> Iterator[FlaskClient]:
    service = request.param
    app = authorize_app(FACTORIES[service](settings_for(service)))
    yield app.test_client()
    mongo.disconnect(service)


def assert_error_shape(body: dict, status: int, code: str) -> None:
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert "correlation_id" in body
    assert "Traceback" not in str(body)


def test_healthz_and_readyz_answer_when_store_and_broker_are_up(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"mongodb": "ok", "kafka": "ok"}


def test_unknown_route_and_wrong_method_answer_in_the_error_shape(client: FlaskClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert_error_shape(missing.json, 404, "not_found")
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405
    assert_error_shape(wrong.json, 405, "method_not_allowed")


def test_the_openapi_document_is_valid_and_documents_errors(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    validate(spec)
    assert spec["paths"], "no endpoint documented"
    assert "Error" in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            assert "default" in op["responses"] or any(
                code.startswith(("4", "5")) for code in op["responses"]
            ), f"{method.upper()} {path} documents no error response"


def test_a_correlation_id_sent_by_the_client_comes_back(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Correlation-ID": "abc-123"})
    assert response.headers["X-Correlation-ID"] == "abc-123"


@pytest.mark.parametrize("service", list(FACTORIES))
def test_readyz_names_kafka_when_the_broker_is_unreachable(settings_for, service: str) -> None:
    # Port 9 (discard) has no broker on this machine: the check must fail fast and name Kafka.
    app = authorize_app(
        FACTORIES[service](settings_for(service, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9"))
    )
    try:
        response = app.test_client().get("/readyz")
    finally:
        mongo.disconnect(service)
    assert response.status_code == 503
    assert_error_shape(response.json, 503, "not_ready")
    assert "kafka" in response.json["message"]
    assert response.json["details"]["checks"]["mongodb"] == "ok"


@pytest.mark.parametrize("service", list(FACTORIES))
def test_readyz_names_the_store_when_it_is_unreachable(settings_for, service: str) -> None:
    app = authorize_app(
        FACTORIES[service](settings_for(service, MONGODB_URI="mongodb://127.0.0.1:9/"))
    )
    try:
        response = app.test_client().get("/readyz")
    finally:
        mongo.disconnect(service)
    assert response.status_code == 503
    assert "mongodb" in response.json["message"]
    assert response.json["details"]["checks"]["kafka"] == "ok"


def test_live_indexes_equal_the_declared_ones(settings_for) -> None:
    from services.casework.adapters.documents import DOCUMENTS as CASEWORK
    from services.intake.adapters.documents import DOCUMENTS as INTAKE
    from services.notifications.adapters.documents import DOCUMENTS as NOTIFICATIONS

    for service, documents in (
        ("intake", INTAKE),
        ("casework", CASEWORK),
        ("notifications", NOTIFICATIONS),
    ):
        app = authorize_app(FACTORIES[service](settings_for(service)))
        assert app
        try:
            for document in documents:
                declared = {
                    tuple((f, int(d)) for f, d in spec)
                    for spec in document.list_indexes()
                    if spec != [("_id", 1)]
                }
                live = {
                    tuple((f, int(d)) for f, d in info["key"])
                    for name, info in document._get_collection().index_information().items()
                    if name != "_id_"
                }
                assert live == declared, document.__name__
        finally:
            mongo.disconnect(service)
