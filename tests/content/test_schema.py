"""The OpenAPI schema and the docs page, served with no internet access."""

from io import StringIO

import pytest
import yaml
from django.core.management import call_command


def test_the_schema_validates_without_warnings(db):
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    assert schema["openapi"].startswith("3.")


@pytest.fixture
def schema(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def test_every_endpoint_describes_its_errors_and_needs_a_key(schema):
    for path in ("/api/v1/tips/", "/api/v1/tips/{slug}/", "/api/v1/categories/"):
        operation = schema["paths"][path]["get"]
        assert {"200", "401", "403", "429"} <= set(operation["responses"]), path
        assert operation["security"] == [{"ApiKey": []}]
        assert operation["summary"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"


def test_every_list_parameter_is_described(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/tips/"]["get"]["parameters"]}
    assert set(parameters) == {"category", "tag", "language", "updated_since", "search", "page", "page_size"}
    assert all(p.get("description") for p in parameters.values())


def test_the_docs_page_loads_its_assets_from_this_server(client, db):
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page
    assert "unpkg" not in page
    assert "jsdelivr" not in page
    assert "/static/drf_spectacular_sidecar/" in page
