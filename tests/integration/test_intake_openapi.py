"""intake's OpenAPI document validates and describes every endpoint, its errors and headers."""

# ruff: noqa: F811 - the fixtures are shared with the cases API tests

from __future__ import annotations

from openapi_spec_validator import validate

from tests.integration.test_intake_cases_api import app, client  # noqa: F401 - fixtures

ENDPOINTS = {
    ("get", "/api/v1/buildings"),
    ("post", "/api/v1/buildings"),
    ("get", "/api/v1/buildings/{building_id}"),
    ("patch", "/api/v1/buildings/{building_id}"),
    ("get", "/api/v1/counters"),
    ("post", "/api/v1/counters"),
    ("get", "/api/v1/counters/{counter_id}"),
    ("patch", "/api/v1/counters/{counter_id}"),
    ("get", "/api/v1/counters/{counter_id}/slots"),
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/tenants/{tenant_id}"),
    ("patch", "/api/v1/tenants/{tenant_id}"),
    ("post", "/api/v1/tenants/{tenant_id}/consents"),
    ("get", "/api/v1/appointments"),
    ("post", "/api/v1/appointments"),
    ("get", "/api/v1/appointments/{appointment_id}"),
    ("post", "/api/v1/appointments/{appointment_id}/reschedule"),
    ("post", "/api/v1/appointments/{appointment_id}/cancel"),
    ("get", "/api/v1/cases"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases/{case_id}"),
}


def test_every_intake_endpoint_is_documented_with_its_errors(client) -> None:
    spec = client.get("/openapi.json").json
    validate(spec)
    documented = {
        (method, path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in {"get", "post", "patch", "put", "delete"}
    }
    assert documented >= ENDPOINTS
    for method, path in ENDPOINTS:
        op = spec["paths"][path][method]
        errors = {code for code in op["responses"] if code.startswith("4")}
        assert errors, f"{method} {path} documents no error"
        if "{" in path:
            assert "404" in errors, f"{method} {path} does not document 404"
        if method in {"post", "patch"}:
            assert "422" in errors, f"{method} {path} does not document 422"
    cases = spec["paths"]["/api/v1/cases"]
    assert "409" in cases["post"]["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in cases["post"]["parameters"])
    # A list read from its entries says when it was not counted to the end; the others do not.
    headers = cases["get"]["responses"]["200"]["headers"]
    assert {"X-Total-Count", "X-Total-Count-Over"} <= set(headers)
    buildings = spec["paths"]["/api/v1/buildings"]["get"]["responses"]["200"]["headers"]
    assert set(buildings) == {"X-Total-Count"}
    assert "409" in spec["paths"]["/api/v1/appointments"]["post"]["responses"]
    for path in ("/api/v1/buildings/{building_id}", "/api/v1/counters/{counter_id}"):
        patch = spec["paths"][path]["patch"]
        assert "409" in patch["responses"], path  # a stale expected_version
        assert any(p["name"] == "Idempotency-Key" for p in patch["parameters"]), path
